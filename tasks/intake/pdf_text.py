"""Read a PDF page's own text layer (born-digital PDFs, or scans OCR'd before): exact text and boxes, no OCR.

A page "carries a text layer" when PDFium finds at least MIN_TEXT_CHARS real characters on it
(letters, digits, punctuation: not spaces, not the replacement characters a font without a
Unicode map gives) and at least GOOD_SHARE of its characters are real. A page mostly covered
by a picture needs SCAN_TEXT_CHARS: a scan with a stamped page number, a Bates number or a
"scanned by" line is OCR'd, a scan carrying an earlier OCR's invisible text (hundreds of
characters) is read as it is. Invisible text counts like any other.

Lines are PDFium's text lines, cut where a gap wider than GAP_EMS font sizes opens (table
cells, columns on one baseline); each becomes a Line like an engine's (confidence 1.0), its box
in the pixels of the page rendered at OCR_PDF_DPI, so boxes mean the same on read and OCR'd pages.
"""

import re
import sys
from dataclasses import dataclass

from tasks.ocr.base import Line
from tasks.ocr.layout import rows_text

MIN_TEXT_CHARS = 20
SCAN_TEXT_CHARS = 200
GOOD_SHARE = 0.9
PICTURE_SHARE = 0.5  # of the page's area
GAP_EMS = 2.0


@dataclass
class TextLayerPage:
    """A PDF page read from its own text: its size in pixels at the OCR resolution, its lines and text."""

    width: int
    height: int
    lines: list[Line]
    text: str


# What does not count as text: spaces, control characters, the replacement characters PDFium gives for a
# glyph without a Unicode value, private-use code points (a font's own codes) and lone surrogates.
_NOT_TEXT = re.compile(r"[\s\x00-\x1f\x7f-\x9f\ufffd\ufffe\uffff\ue000-\uf8ff\ud800-\udfff]")
_SPACE = re.compile(r"\s")


def _chars(textpage) -> list[tuple[str, int]]:
    """(character, index of its first code unit) for every character on the page; surrogate pairs joined.

    One call for all code units (FPDFText_GetText), where one call per character costs ~10 ms a page;
    if PDFium's text does not line up with its character indexes, one call per character after all.
    """
    import ctypes
    from array import array

    import pypdfium2.raw as pdfium_c

    count = pdfium_c.FPDFText_CountChars(textpage.raw)
    if count <= 0:
        return []
    buffer = (ctypes.c_ushort * (count + 1))()
    written = pdfium_c.FPDFText_GetText(textpage.raw, 0, count, buffer) - 1  # without the terminating 0
    if written == count:
        units = array("H", bytes(buffer)[:count * 2])
        if sys.byteorder == "big":
            units.byteswap()  # PDFium writes UTF-16LE
    else:
        units = array("H", (pdfium_c.FPDFText_GetUnicode(textpage.raw, i) & 0xFFFF for i in range(count)))
    out, index = [], 0
    while index < count:
        unit = units[index]
        if 0xD800 <= unit < 0xDC00 and index + 1 < count and 0xDC00 <= units[index + 1] < 0xE000:
            out.append((chr(0x10000 + ((unit - 0xD800) << 10) + (units[index + 1] - 0xDC00)), index))
            index += 2
            continue
        out.append((chr(unit), index))
        index += 1
    return out


def _picture_share(page) -> float:
    """The largest share of the page's area one image covers (a scan is one image over the whole page)."""
    import pypdfium2.raw as pdfium_c

    width, height = page.get_size()
    area = max(1.0, width * height)
    largest = 0.0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3):
        left, bottom, right, top = obj.get_bounds()
        covered = max(0.0, min(right, width) - max(left, 0.0)) * max(0.0, min(top, height) - max(bottom, 0.0))
        largest = max(largest, covered / area)
    return largest


def has_text_layer(page, chars: list[tuple[str, int]]) -> bool:
    text = "".join(c for c, _ in chars)
    visible = len(_SPACE.sub("", text))
    real = len(_NOT_TEXT.sub("", text))
    if real < MIN_TEXT_CHARS or real < GOOD_SHARE * visible:
        return False
    return real >= SCAN_TEXT_CHARS or _picture_share(page) < PICTURE_SHARE


def _to_pixels(page, width_px: int, height_px: int):
    """A function mapping PDF user space (points, y up) to the rendered page's pixels, /Rotate included."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    grain = 16  # FPDF_PageToDevice answers in whole device pixels: ask on a 16x finer grid

    def device(x, y):
        dx, dy = ctypes.c_int(), ctypes.c_int()
        pdfium_c.FPDF_PageToDevice(page.raw, 0, 0, width_px * grain, height_px * grain, 0, x, y, dx, dy)
        return dx.value / grain, dy.value / grain

    (ox, oy), (ax, ay), (bx, by) = device(0.0, 0.0), device(1000.0, 0.0), device(0.0, 1000.0)
    a, b, c, d = (ax - ox) / 1000, (ay - oy) / 1000, (bx - ox) / 1000, (by - oy) / 1000
    return lambda x, y: (ox + a * x + c * y, oy + b * x + d * y)


def _line_pieces(textpage, chars):
    """Runs of characters per text line, cut at line breaks and at wide gaps, each as
    (text, (left, bottom, right, top) of its loose character boxes, in PDF points)."""
    import pypdfium2.raw as pdfium_c

    rect = pdfium_c.FS_RECTF()
    raw = textpage.raw
    text: list[str] = []
    left = bottom = right = top = None
    last_size = 0.0
    for char, index in chars:
        if char in "\r\n":
            if left is not None:
                yield "".join(text), (left, bottom, right, top)
            text, left = [], None
            continue
        if char.isspace():
            text.append(" ")
            continue
        pdfium_c.FPDFText_GetLooseCharBox(raw, index, rect)
        x0, y0, x1, y1 = rect.left, rect.bottom, rect.right, rect.top
        size = y1 - y0  # a loose box is as tall as the font size
        if left is not None and x0 - right > GAP_EMS * (size if size > last_size else last_size):
            yield "".join(text), (left, bottom, right, top)
            text, left = [], None
        if left is None:
            left, bottom, right, top = x0, y0, x1, y1
        else:
            if x0 < left:
                left = x0
            if y0 < bottom:
                bottom = y0
            if x1 > right:
                right = x1
            if y1 > top:
                top = y1
        text.append(char)
        last_size = size
    if left is not None:
        yield "".join(text), (left, bottom, right, top)


def read_text_layer(page, textpage, chars, width_px: int, height_px: int) -> TextLayerPage:
    to_px = _to_pixels(page, width_px, height_px)
    lines: list[Line] = []
    for raw_text, (left, bottom, right, top) in _line_pieces(textpage, chars):
        text = " ".join(raw_text.split())
        if not text:
            continue
        # An axis-aligned box stays one under /Rotate (multiples of 90 degrees): map its corners.
        corners = [to_px(x, y) for x, y in ((left, bottom), (right, bottom), (left, top), (right, top))]
        x0, y0 = max(0.0, min(p[0] for p in corners)), max(0.0, min(p[1] for p in corners))
        x1, y1 = min(float(width_px), max(p[0] for p in corners)), min(float(height_px), max(p[1] for p in corners))
        if x1 <= x0 or y1 <= y0:  # outside the visible page (cropped away): not shown, not read
            continue
        lines.append(Line(text=text, confidence=1.0, box=[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
    return TextLayerPage(width=width_px, height=height_px, lines=lines, text=_page_text(lines))


def _page_text(lines: list[Line]) -> str:
    """Lines in the PDF's own order (its reading order): pieces of one row joined by a space,
    rows by a newline, and a blank line where a gap taller than a line opens (a paragraph)."""
    rows: list[list[Line]] = []
    for line in lines:
        if rows:
            previous = rows[-1][-1]
            same_row = abs((line.top + line.bottom) / 2 - (previous.top + previous.bottom) / 2) < \
                0.5 * max(1.0, min(line.height, previous.height)) and line.left >= previous.right
            if same_row:
                rows[-1].append(line)
                continue
        rows.append([line])
    return rows_text(rows)


def text_layer_page(page, width_px: int, height_px: int) -> TextLayerPage | None:
    """The page read from its text layer, or None when it has none worth reading (then it is OCR'd)."""
    import pypdfium2 as pdfium

    try:
        textpage = page.get_textpage()
    except pdfium.PdfiumError:  # PDFium cannot read its text: OCR it
        return None
    try:
        chars = _chars(textpage)
        if not has_text_layer(page, chars):
            return None
        return read_text_layer(page, textpage, chars, width_px, height_px)
    finally:
        textpage.close()
