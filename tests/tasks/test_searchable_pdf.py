"""The searchable PDF: the page images as they were, and invisible text a viewer finds where the words are.

Checked with PDFium (pypdfium2), the engine of Chrome's PDF viewer. The text here comes from
hand-made boxes; test_ocr_pipeline.py checks the same with real OCR output.
"""

import io

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from tasks.ocr.base import Line
from tasks.searchable_pdf import SearchablePdfWriter
from tests.tasks.pipeline import PAGES


def _pdf(pages) -> bytes:
    buf = io.BytesIO()
    writer = SearchablePdfWriter(buf)
    for image, lines in pages:
        writer.add_page(image, lines)
    writer.close()
    return buf.getvalue()


def _box(left, top, right, bottom):
    return [[left, top], [right, top], [right, bottom], [left, bottom]]


def _page(size=(1000, 400), dpi=200):
    image = Image.new("L", size, 255)
    image.info["dpi"] = (dpi, dpi)
    return image


def test_words_are_found_and_lie_on_their_boxes():
    lines = [Line("Invoice number 4711", 0.9, _box(100, 50, 700, 100)),
             Line("Total due: 12.50 EUR", 0.9, _box(100, 200, 600, 240))]
    pdf = pdfium.PdfDocument(_pdf([(_page(), lines)]))
    page = pdf[0]
    assert page.get_size() == pytest.approx((1000 * 72 / 200, 400 * 72 / 200))  # the image's size at its dpi
    textpage = page.get_textpage()
    text = textpage.get_text_range()
    assert "Invoice number 4711" in text and "Total due: 12.50 EUR" in text

    scale = 72 / 200
    for line in lines:
        start = text.index(line.text)
        boxes = [textpage.get_charbox(i) for i in range(start, start + len(line.text)) if text[i] != " "]
        left, bottom = min(b[0] for b in boxes), min(b[1] for b in boxes)
        right, top = max(b[2] for b in boxes), max(b[3] for b in boxes)
        # In PDF points, y up: the line's box is (left*s, (H-bottom)*s) .. (right*s, (H-top)*s).
        assert left == pytest.approx(line.left * scale, abs=3) and right == pytest.approx(line.right * scale, abs=3)
        assert bottom >= (400 - line.bottom) * scale - 2 and top <= (400 - line.top) * scale + 2
    # A search, as a viewer's "find" does it.
    searcher = textpage.search("12.50")
    assert searcher.get_next() is not None
    pdf.close()


def test_text_is_invisible_the_page_looks_like_the_image():
    image = Image.open(PAGES / "libtasn1_p13.png").convert("L")
    image.info["dpi"] = (150, 150)
    lines = [Line("THIS TEXT MUST NOT SHOW", 0.9, _box(50, 50, image.width - 50, 400))]
    pdf = pdfium.PdfDocument(_pdf([(image, lines)]))
    rendered = pdf[0].render(scale=150 / 72).to_pil().convert("L").resize(image.size)
    difference = ImageStat.Stat(ImageChops.difference(rendered, image)).mean[0]
    print(f"mean difference rendered vs original: {difference:.2f} of 255")
    assert difference < 4  # JPEG at quality 80; visible text would add big dark blocks
    pdf.close()


def test_rotated_and_awkward_lines():
    lines = [
        Line("tilted by the scanner", 0.9, [[100, 120], [600, 100], [602, 150], [102, 170]]),
        Line("(brackets) and back\\slash", 0.9, _box(100, 250, 600, 290)),
        Line("naïve café – “quoted” ☃", 0.9, _box(100, 320, 600, 360)),
        Line("   ", 0.5, _box(10, 10, 20, 20)),  # nothing to place
        Line("zero", 0.5, _box(10, 10, 10, 10)),  # a degenerate box is skipped
    ]
    text = pdfium.PdfDocument(_pdf([(_page(), lines)]))[0].get_textpage().get_text_range()
    assert "tilted by the scanner" in text
    assert "(brackets) and back\\slash" in text
    assert "naïve café – “quoted” ?" in text  # outside Windows-1252: "?"
    assert "zero" not in text


def test_many_pages_in_order_with_their_own_sizes_and_colours():
    pages = []
    for n in range(1, 31):
        image = Image.new("RGB" if n % 2 else "L", (400 + n, 300), "white")
        ImageDraw.Draw(image).text((20, 20), f"page {n}", fill="black")
        image.info["dpi"] = (100, 100)
        pages.append((image, [Line(f"marker{n:02d}", 0.9, _box(20, 20, 200, 40))]))
    pdf = pdfium.PdfDocument(_pdf(pages))
    assert len(pdf) == 30
    for n in (1, 2, 30):
        page = pdf[n - 1]
        assert page.get_size() == pytest.approx(((400 + n) * 0.72, 300 * 0.72))
        assert f"marker{n:02d}" in page.get_textpage().get_text_range()
    pdf.close()


def test_a_page_without_text_is_still_a_page():
    pdf = pdfium.PdfDocument(_pdf([(_page(), [])]))
    assert len(pdf) == 1 and pdf[0].get_textpage().get_text_range() == ""
    pdf.close()
