"""A searchable PDF, written page by page: each page's image with invisible text on the recognised boxes.

The PDF is hand-written and streamed to a file as pages arrive, so a 300-page document
never sits in memory. The text layer works as Tesseract's own PDF renderer does: a glyph-less
TrueType font (tasks/pipeline/glyphless_font.py) as a Type 0 font with Identity-H encoding, so each
character is a two-byte code, and a ToUnicode map from codes back to Unicode. So any script
the engine returns (CJK, Greek, Cyrillic, accents) is found, selected and copied in a viewer.
Codes are the characters' own UTF-16 values; characters beyond U+FFFF get a code from the
surrogate range (never a character on its own), listed in the ToUnicode map. Each line is
drawn in text render mode 3 (invisible), scaled horizontally to its box and rotated with it,
in the reading order of result.txt, so a viewer's copy gives the text of result.txt.
"""

import io
import math
import zlib

from PIL import Image

from tasks.ocr.base import Line
from tasks.ocr.layout import group_rows
from tasks.pipeline.glyphless_font import ADVANCE, glyphless_ttf

CHAR_ADVANCE = ADVANCE / 1000  # every code is half an em wide (/DW 500)
DESCENT = 0.2  # baseline above the box's bottom, as a share of its height
JPEG_QUALITY = 80
_EXTRA_CODES = range(0xD800, 0xE000)  # codes for characters beyond U+FFFF


def pdf_text_string(text: str) -> bytes:
    """A PDF text string (metadata such as the title): UTF-16BE with its byte-order mark, as hex."""
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


def _num(value: float) -> bytes:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return b"0" if text in ("-0", "") else text.encode()


class CodeMap:
    """Character -> two-byte code of the glyph-less font, for one document."""

    def __init__(self):
        self.extra: dict[str, int] = {}  # characters beyond U+FFFF -> their code

    def encode(self, text: str) -> bytes:
        codes = bytearray()
        for char in text:
            point = ord(char)
            if point > 0xFFFF:
                if char not in self.extra and len(self.extra) < len(_EXTRA_CODES):
                    self.extra[char] = _EXTRA_CODES[len(self.extra)]
                point = self.extra.get(char, 0xFFFD)
            elif 0xD800 <= point < 0xE000:  # a lone surrogate (not a character)
                point = 0xFFFD
            codes += point.to_bytes(2, "big")
        return bytes(codes)

    def to_unicode_cmap(self) -> bytes:
        """The ToUnicode CMap: every code outside the surrogate range is its own character; then the extras."""
        ranges = [b"<%02X00> <%02XFF> <%02X00>" % (hi, hi, hi) for hi in range(256) if not 0xD8 <= hi <= 0xDF]
        out = [b"/CIDInit /ProcSet findresource begin", b"12 dict begin", b"begincmap",
               b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
               b"/CMapName /Adobe-Identity-UCS def", b"/CMapType 2 def",
               b"1 begincodespacerange", b"<0000> <FFFF>", b"endcodespacerange"]
        for start in range(0, len(ranges), 100):  # at most 100 entries per block
            chunk = ranges[start:start + 100]
            out += [b"%d beginbfrange" % len(chunk), *chunk, b"endbfrange"]
        extras = [b"<%04X> <%s>" % (code, char.encode("utf-16-be").hex().upper().encode())
                  for char, code in self.extra.items()]
        for start in range(0, len(extras), 100):
            chunk = extras[start:start + 100]
            out += [b"%d beginbfchar" % len(chunk), *chunk, b"endbfchar"]
        out += [b"endcmap", b"CMapName currentdict /CMap defineresource pop", b"end", b"end"]
        return b"\n".join(out)


def text_operators(lines: list[Line], page_height_px: float, scale: float, codes: CodeMap | None = None) -> bytes:
    """BT/ET block placing each line's text invisibly on its box (pixels -> points by ``scale``).

    Lines go in result.txt's reading order (rows top to bottom, left to right in a row), so a
    viewer's "select all, copy" and text extraction give the text in the same order.
    """
    codes = codes or CodeMap()
    out = [b"BT", b"3 Tr"]
    for line in (line for row in group_rows([l for l in lines if l.text.strip()]) for line in row):
        text = " ".join(line.text.split())
        if not text:
            continue
        (x_tl, y_tl), (x_tr, y_tr), (x_br, y_br), (x_bl, y_bl) = [(float(x), float(y)) for x, y in line.box[:4]]
        # Baseline direction from bottom-left to bottom-right; PDF's y axis points up.
        dx, dy = (x_br - x_bl) * scale, -(y_br - y_bl) * scale
        width = math.hypot(dx, dy)
        height = math.hypot(x_tl - x_bl, y_tl - y_bl) * scale
        if width <= 0 or height <= 0:
            continue
        cos, sin = dx / width, dy / width
        size = height
        origin_x = x_bl * scale - sin * DESCENT * height
        origin_y = (page_height_px - y_bl) * scale + cos * DESCENT * height
        encoded = codes.encode(text)
        stretch = 100 * width / (len(encoded) // 2 * CHAR_ADVANCE * size)
        out.append(b" ".join([b"/F1", _num(size), b"Tf", _num(stretch), b"Tz",
                              _num(cos), _num(sin), _num(-sin), _num(cos), _num(origin_x), _num(origin_y), b"Tm",
                              b"<" + encoded.hex().upper().encode() + b">", b"Tj"]))
    out.append(b"ET")
    return b"\n".join(out)


class SearchablePdfWriter:
    """Write pages with ``add_page`` as they are recognised, then ``close`` once (writes the fonts and trailer).

    ``title`` (the uploaded file's name) becomes the document's title, which viewers show.
    """

    CATALOG, PAGES, FONT = 1, 2, 3

    def __init__(self, fh, title: str = ""):
        self.fh = fh
        self.title = title
        self.offsets: dict[int, int] = {}
        self.page_ids: list[int] = []
        self.next_id = 4
        self.codes = CodeMap()
        self.fh.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def _object(self, obj_id: int, body: bytes, stream: bytes | None = None) -> None:
        self.offsets[obj_id] = self.fh.tell()
        self.fh.write(f"{obj_id} 0 obj\n".encode())
        self.fh.write(body)
        if stream is not None:
            self.fh.write(b"\nstream\n")
            self.fh.write(stream)
            self.fh.write(b"\nendstream")
        self.fh.write(b"\nendobj\n")

    def add_page(self, image: Image.Image, lines: list[Line], dpi: float | None = None) -> None:
        dpi = float(dpi or (image.info.get("dpi") or (150, 150))[0] or 150)
        scale = 72.0 / dpi
        width_pt, height_pt = image.width * scale, image.height * scale
        image_id, content_id, page_id = self._new_id(), self._new_id(), self._new_id()

        picture = image if image.mode in ("L", "RGB") else image.convert("RGB")
        jpeg = io.BytesIO()
        picture.save(jpeg, "JPEG", quality=JPEG_QUALITY, optimize=True)
        colour = b"/DeviceGray" if picture.mode == "L" else b"/DeviceRGB"
        data = jpeg.getvalue()
        self._object(image_id, b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s "
                               b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>"
                     % (picture.width, picture.height, colour, len(data)), data)

        content = b"q " + _num(width_pt) + b" 0 0 " + _num(height_pt) + b" 0 0 cm /Im0 Do Q\n"
        content += text_operators(lines, image.height, scale, self.codes)
        packed = zlib.compress(content, 6)
        self._object(content_id, b"<< /Filter /FlateDecode /Length %d >>" % len(packed), packed)

        self._object(page_id, b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] /Contents %d 0 R "
                              b"/Resources << /XObject << /Im0 %d 0 R >> /Font << /F1 %d 0 R >> >> >>"
                     % (self.PAGES, _num(width_pt), _num(height_pt), content_id, image_id, self.FONT))
        self.page_ids.append(page_id)

    def _write_font(self) -> None:
        """The Type 0 font every page uses; written last, when the ToUnicode map knows every character."""
        cid_font, descriptor, font_file, cid_to_gid, to_unicode = (self._new_id() for _ in range(5))
        self._object(self.FONT, b"<< /Type /Font /Subtype /Type0 /BaseFont /GlyphLessFont /Encoding /Identity-H "
                                b"/DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (cid_font, to_unicode))
        self._object(cid_font, b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /GlyphLessFont "
                               b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
                               b"/FontDescriptor %d 0 R /CIDToGIDMap %d 0 R /DW %d >>"
                     % (descriptor, cid_to_gid, ADVANCE))
        self._object(descriptor, b"<< /Type /FontDescriptor /FontName /GlyphLessFont /Flags 5 "
                                 b"/FontBBox [0 -200 500 800] /ItalicAngle 0 /Ascent 800 /Descent -200 "
                                 b"/CapHeight 800 /StemV 80 /FontFile2 %d 0 R >>" % font_file)
        ttf = glyphless_ttf()
        packed = zlib.compress(ttf, 9)
        self._object(font_file, b"<< /Length %d /Length1 %d /Filter /FlateDecode >>" % (len(packed), len(ttf)), packed)
        packed = zlib.compress(b"\x00\x01" * 65536, 9)  # every code -> glyph 1
        self._object(cid_to_gid, b"<< /Length %d /Filter /FlateDecode >>" % len(packed), packed)
        packed = zlib.compress(self.codes.to_unicode_cmap(), 9)
        self._object(to_unicode, b"<< /Length %d /Filter /FlateDecode >>" % len(packed), packed)

    def close(self) -> None:
        self._write_font()
        kids = b" ".join(b"%d 0 R" % i for i in self.page_ids)
        self._object(self.PAGES, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(self.page_ids)))
        self._object(self.CATALOG, b"<< /Type /Catalog /Pages %d 0 R /ViewerPreferences << /DisplayDocTitle true >> >>"
                     % self.PAGES)
        info_id = self._new_id()
        title = b" /Title " + pdf_text_string(self.title) if self.title else b""
        self._object(info_id, b"<< /Producer (Tool OCR)%s >>" % title)
        xref_at = self.fh.tell()
        size = self.next_id
        self.fh.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
        for obj_id in range(1, size):
            self.fh.write(b"%010d 00000 n \n" % self.offsets[obj_id])
        self.fh.write(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
                      % (size, self.CATALOG, info_id, xref_at))


class OriginalPagesUnreadable(Exception):
    """qpdf cannot open the original PDF: its pages cannot be copied (the caller draws them instead)."""


def keep_original_pages(original_fh, ocr_fh, keep: list[bool], out_fh, title: str = "") -> None:
    """The searchable PDF of a PDF with text pages: its own pages where ``keep`` says so, untouched (exact text,
    vector graphics, fonts), and the OCR'd pages from ``ocr_fh`` (written by SearchablePdfWriter, in order) between.

    The original's outline, page labels and metadata stay; the title becomes ``title``.
    """
    import pikepdf

    original_fh.seek(0)
    ocr_fh.seek(0)
    try:
        pdf = pikepdf.open(original_fh)
    except (pikepdf.PdfError, pikepdf.PasswordError) as exc:  # PDFium read it, qpdf cannot
        raise OriginalPagesUnreadable(str(exc)) from exc
    with pdf, pikepdf.open(ocr_fh) as ocr:
        ocr_pages = iter(ocr.pages)
        for index, kept in enumerate(keep):
            if not kept:
                pdf.pages[index] = next(ocr_pages)
        if title:
            if not isinstance(pdf.trailer.get(pikepdf.Name.Info), pikepdf.Dictionary):
                pdf.trailer.Info = pdf.make_indirect(pikepdf.Dictionary())
            pdf.trailer.Info.Title = pikepdf.String(title)  # (Pdf.docinfo costs ~80 ms a call)
            if pikepdf.Name.Metadata in pdf.Root:  # viewers prefer the XMP title where there is one
                with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
                    meta["dc:title"] = title
            pdf.Root.ViewerPreferences = pdf.Root.get(pikepdf.Name.ViewerPreferences, pikepdf.Dictionary())
            pdf.Root.ViewerPreferences.DisplayDocTitle = True
        pdf.save(out_fh)
    out_fh.flush()
