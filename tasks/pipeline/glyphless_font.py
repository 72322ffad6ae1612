"""A TrueType font with no visible glyphs, for the searchable PDF's invisible text layer.

The same idea as Tesseract's own ``pdf.ttf``: every character code maps (through the PDF's
CIDToGIDMap) to one empty glyph half an em wide, and a ToUnicode map says which character it
was. So the text layer can carry any Unicode text (CJK, Greek, Cyrillic, accents) without
embedding real fonts. Built here in a few hundred bytes rather than read from Tesseract's data
folder, so it works on any machine and with either engine.
"""

import functools
import struct

UNITS_PER_EM = 1000
ADVANCE = 500  # half an em: the PDF's /DW, used to stretch each line onto its box
ASCENT, DESCENT = 800, -200


def _checksum(data: bytes) -> int:
    data += b"\0" * (-len(data) % 4)
    return sum(struct.unpack(f">{len(data) // 4}I", data)) & 0xFFFFFFFF


def _name_table(family: str) -> bytes:
    """Family, subfamily, full and PostScript names, in the Windows (UTF-16BE) platform."""
    records = [(1, family), (2, "Regular"), (4, family), (6, family)]
    strings = b""
    entries = b""
    for name_id, value in records:
        raw = value.encode("utf-16-be")
        entries += struct.pack(">6H", 3, 1, 0x409, name_id, len(raw), len(strings))
        strings += raw
    header = struct.pack(">3H", 0, len(records), 6 + 12 * len(records))
    return header + entries + strings


@functools.cache
def glyphless_ttf() -> bytes:
    """The font file's bytes: glyph 0 (.notdef) and glyph 1, both empty, glyph 1 ``ADVANCE`` wide."""
    num_glyphs = 2
    head = struct.pack(">HHIIIHHqqhhhhHHhhh", 1, 0, 0x00010000, 0, 0x5F0F3CF5, 0b1011, UNITS_PER_EM,
                       0, 0, 0, DESCENT, ADVANCE, ASCENT, 0, 8, 2, 0, 0)
    hhea = struct.pack(">HHhhhHhhhhhhhhhhhH", 1, 0, ASCENT, DESCENT, 0, ADVANCE, 0, 0, ADVANCE, 1, 0, 0,
                       0, 0, 0, 0, 0, num_glyphs)
    maxp = struct.pack(">IH13H", 0x00010000, num_glyphs, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0)
    hmtx = struct.pack(">4H", 0, 0, ADVANCE, 0)
    loca = struct.pack(">3H", 0, 0, 0)  # short offsets; equal offsets: both glyphs have no outline
    glyf = b"\0\0\0\0"  # some readers reject an empty table; loca never points into these bytes
    # cmap: one format-4 subtable with only the mandatory end segment (characters reach glyphs via the PDF).
    fmt4 = struct.pack(">12H", 4, 24, 0, 2, 2, 0, 0, 0xFFFF, 0, 0xFFFF, 1, 0)
    cmap = struct.pack(">HHHHI", 0, 1, 3, 1, 12) + fmt4
    post = struct.pack(">IIhhIIIII", 0x00030000, 0, 0, 0, 0, 0, 0, 0, 0)
    os2 = struct.pack(">HhHHHhhhhhhhhhh", 3, ADVANCE, 400, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    os2 += b"\0" * 12 + b"\0" * 16 + b"NONE" + struct.pack(">HHH", 0x40, 0x20, 0xFFFF)
    os2 += struct.pack(">hhhHH", ASCENT, DESCENT, 0, ASCENT, -DESCENT) + b"\0" * 8
    os2 += struct.pack(">hhHHH", 0, 0, 0, 0x20, 0)
    tables = {b"OS/2": os2, b"cmap": cmap, b"glyf": glyf, b"head": head, b"hhea": hhea, b"hmtx": hmtx,
              b"loca": loca, b"maxp": maxp, b"name": _name_table("GlyphLessFont"), b"post": post}

    count = len(tables)
    search = 1 << (count.bit_length() - 1)
    header = struct.pack(">IHHHH", 0x00010000, count, search * 16, search.bit_length() - 1, count * 16 - search * 16)
    offset = len(header) + 16 * count
    directory, body = b"", b""
    for tag in sorted(tables):
        data = tables[tag]
        directory += struct.pack(">4sIII", tag, _checksum(data), offset + len(body), len(data))
        body += data + b"\0" * (-len(data) % 4)
    font = bytearray(header + directory + body)
    head_at = offset + sum(len(tables[t]) + (-len(tables[t]) % 4) for t in sorted(tables) if t < b"head")
    struct.pack_into(">I", font, head_at + 8, (0xB1B0AFBA - _checksum(bytes(font))) & 0xFFFFFFFF)
    return bytes(font)
