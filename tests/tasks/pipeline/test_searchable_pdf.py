"""The searchable PDF: the page images as they were, and invisible text a viewer finds where the words are.

Checked with PDFium (pypdfium2), the engine of Chrome's PDF viewer. The text here comes from
hand-made boxes; test_ocr_pipeline.py checks the same with real OCR output.
"""

import io
import shutil
import subprocess

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageStat

from tasks.ocr.base import Line, PageResult
from tasks.ocr.layout import page_text
from tasks.pipeline.glyphless_font import glyphless_ttf
from tasks.pipeline.processing import result_text
from tasks.pipeline.searchable_pdf import SearchablePdfWriter
from tests.tasks.pipeline_helpers import PAGES

pytestmark = pytest.mark.db_independent  # PDF writing, no database


def _pdf(pages, title="") -> bytes:
    buf = io.BytesIO()
    writer = SearchablePdfWriter(buf, title=title)
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
    assert "naïve café – “quoted” ☃" in text  # any Unicode, also outside Windows-1252
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


# --- A text layer in any script ---------------------------------------------------------------
# Lines as an engine returns them, in several scripts; the PDF's text, read back by poppler's
# pdftotext and by PDFium, must be result.txt's text up to whitespace.
SCRIPTS = {
    "latin": ["Invoice number 4711", "Total due: 12.50 EUR (brackets) back\\slash"],
    "accented": ["Société générale – reçu n° 12", "Grüße aus Köln, ¿Qué tal? ação", "naïve café “quoted” ☃ €"],
    "greek": ["Καλημέρα κόσμε", "Η συνάντηση είναι την Τρίτη"],
    "cyrillic": ["Привет, мир", "Счёт № 42 от 1 марта"],
    "chinese": ["陳美玲的會議記錄", "会议时间：星期三下午三点"],
    "japanese": ["吉野家の𠮷と東京タワー", "お問い合わせは下記まで。"],
}


def _squash(text: str) -> str:
    return " ".join(text.split())


def _lines(texts, width=1600, line_height=60):
    return [Line(text, 0.9, _box(80, 60 + i * 2 * line_height, 80 + 22 * len(text) * (2 if ord(max(text)) > 0x2E80
                                                                                       else 1),
                                 60 + i * 2 * line_height + line_height))
            for i, text in enumerate(texts)]


def _pdftotext(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode()


def _pdfium_text(pdf: bytes) -> list[str]:
    doc = pdfium.PdfDocument(pdf)
    try:
        return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    finally:
        doc.close()


needs_poppler = pytest.mark.skipif(not shutil.which("pdftotext") or not shutil.which("qpdf"),
                                   reason="poppler-utils and qpdf come with scripts/system_deps.sh")


@needs_poppler
@pytest.mark.parametrize("script", SCRIPTS)
def test_the_text_layer_carries_any_script_and_reads_back_as_result_txt(script, tmp_path):
    lines = _lines(SCRIPTS[script])
    page = _page((1600, 800))
    pdf = _pdf([(page, lines)], title=f"{script}.png")
    expected = _squash(result_text([PageResult(1, page.width, page.height, lines, page_text(lines))]))
    assert _squash(_pdftotext(pdf)) == expected
    assert _squash(" ".join(_pdfium_text(pdf))) == expected
    assert_qpdf_check_passes(pdf, tmp_path)


def assert_qpdf_check_passes(pdf: bytes, folder) -> None:
    path = folder / "checked.pdf"
    path.write_bytes(pdf)
    check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()  # 3 would be warnings
    assert b"No syntax or stream encoding errors" in check.stdout


@needs_poppler
def test_many_scripts_and_pages_in_one_document_keep_their_order():
    pages = []
    for texts in SCRIPTS.values():
        page = _page((1600, 800))
        pages.append((page, _lines(texts)))
    pdf = _pdf(pages)
    expected = result_text([PageResult(n, 1600, 800, lines, page_text(lines)) for n, (_p, lines) in enumerate(pages, 1)])
    extracted = _pdftotext(pdf)
    assert _squash(extracted) == _squash(expected)
    assert [_squash(t) for t in extracted.split("\f")[:len(pages)]] == [_squash(t) for t in expected.split("\f")]


def test_lines_are_written_in_reading_order_whatever_order_the_engine_gave():
    lines = [Line("third line", 0.9, _box(100, 300, 500, 340)), Line("first line", 0.9, _box(100, 50, 500, 90)),
             Line("right half", 0.9, _box(600, 180, 900, 220)), Line("left half", 0.9, _box(100, 180, 500, 220))]
    text = _pdfium_text(_pdf([(_page(), lines)]))[0]
    assert _squash(text) == "first line left half right half third line"


def test_the_glyphless_font_is_a_valid_truetype_font_without_visible_glyphs():
    font = ImageFont.truetype(io.BytesIO(glyphless_ttf()), 40)
    assert font.getname() == ("GlyphLessFont", "Regular")
    image = Image.new("L", (400, 100), 255)
    ImageDraw.Draw(image).text((10, 10), "Nothing shows 陳", font=font, fill=0)
    assert image.getextrema() == (255, 255)


def test_a_large_page_of_cjk_text_renders_invisible():
    """Invisible means invisible in every script: the page renders exactly as the image alone."""
    lines = _lines(SCRIPTS["chinese"] + SCRIPTS["japanese"] + SCRIPTS["greek"])
    pdf = pdfium.PdfDocument(_pdf([(_page((1600, 800)), lines)]))
    rendered = pdf[0].render(scale=1).to_pil().convert("L")
    assert rendered.getextrema()[0] >= 250  # a white page stays white (JPEG noise aside)
    pdf.close()


@needs_poppler
def test_the_document_title_is_the_file_name():
    pdf = _pdf([(_page(), [])], title="Rapport d'été – 陳美玲 (v2).png")
    info = subprocess.run(["pdfinfo", "-enc", "UTF-8", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert "Title:           Rapport d'été – 陳美玲 (v2).png" in info
    doc = pdfium.PdfDocument(pdf)
    assert doc.get_metadata_value("Title") == "Rapport d'été – 陳美玲 (v2).png"
    doc.close()
