"""Hostile PDFs made at test time (pikepdf): operation-heavy pages, content bombs, open actions."""

import io
import struct
import zlib

import pikepdf
from pikepdf import Array, Dictionary, Name


def _pdf_bytes(pdf) -> bytes:
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def _page(pdf, contents, size=(612, 792)):
    return pikepdf.Page(Dictionary(Type=Name.Page, MediaBox=[0, 0, *size], Contents=contents, Resources=Dictionary()))


def flate_stream(pdf, data: bytes):
    stream = pikepdf.Stream(pdf, zlib.compress(data, 9))
    stream.Filter = Name.FlateDecode
    return pdf.make_indirect(stream)


def operation_heavy(pages=4, operations=1_000_000, op=b"0 0 m 1 1 l S\n", ops_per=3) -> bytes:
    """Every page draws one shared content stream of ``operations`` tiny drawing operations."""
    pdf = pikepdf.new()
    shared = flate_stream(pdf, op * (operations // ops_per))
    for _ in range(pages):
        pdf.pages.append(_page(pdf, shared))
    return _pdf_bytes(pdf)


def content_bomb(decoded_mb=1024) -> bytes:
    """One page whose content stream is about a KB per MB it inflates to (``decoded_mb`` MB of spaces).

    Made in milliseconds whatever the size: each MB is the same deflate block (a full flush resets the
    compressor, so the next MB compresses to the same bytes), and the Adler-32 of n equal bytes has a closed
    form; compressing the megabytes one by one took 10 s for 2 GB.
    """
    pdf = pikepdf.new()
    block = b" " * (1024 * 1024)
    compressor = zlib.compressobj(9)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush()[:-4]  # the last (empty) block, without the checksum of two MB
    n, mod = decoded_mb * len(block), 65521
    a, b = (1 + ord(" ") * n) % mod, (n + ord(" ") * n * (n + 1) // 2) % mod  # Adler-32 of n spaces
    raw = first + again * (decoded_mb - 1) + end + struct.pack(">I", (b << 16) | a)
    stream = pikepdf.Stream(pdf, raw)
    stream.Filter = Name.FlateDecode
    pdf.pages.append(_page(pdf, pdf.make_indirect(stream)))
    return _pdf_bytes(pdf)


def simple(pages=1, size=(612, 792)) -> bytes:
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.pages.append(_page(pdf, flate_stream(pdf, b"BT /F1 12 Tf 72 720 Td (Hello) Tj ET\n"), size))
    return _pdf_bytes(pdf)


def with_open_action(make_action, where="catalog") -> bytes:
    pdf = pikepdf.Pdf.open(io.BytesIO(simple()))
    action = make_action()
    if where == "catalog":
        pdf.Root.OpenAction = pdf.make_indirect(action)
    elif where == "page-open":
        pdf.pages[0].obj.AA = Dictionary(O=pdf.make_indirect(action))
    elif where == "link":
        pdf.pages[0].obj.Annots = Array([pdf.make_indirect(Dictionary(
            Type=Name.Annot, Subtype=Name.Link, Rect=[72, 700, 200, 720], A=action))])
    return _pdf_bytes(pdf)


def LAUNCH():  # noqa: N802 - a fresh object per PDF (pikepdf objects belong to one document)
    return Dictionary(S=Name.Launch, F=pikepdf.String("calc.exe"))


def URI():  # noqa: N802
    return Dictionary(S=Name.URI, URI=pikepdf.String("https://tracker.example/open"))
