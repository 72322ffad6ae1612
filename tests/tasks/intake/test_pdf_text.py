"""Born-digital PDFs are read from their own text layer, not OCR'd: exact text, boxes, original pages kept.

The unit tests read PDFs built here (pikepdf, Helvetica, or our own searchable PDF writer for
invisible text over a picture); the pipeline tests run the worker with a fake engine, which
must not be asked for pages that carry text. Real twin with Tesseract: test_ocr_pipeline.py.
"""

import io
import json
import shutil
import subprocess

import pikepdf
import pypdfium2 as pdfium
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw

from tasks.intake import documents
from tasks.intake.pdf_text import MIN_TEXT_CHARS, TextLayerPage
from tasks.ocr.base import Line
from tasks.pipeline.searchable_pdf import SearchablePdfWriter
from tests.quality import cer
from tests.tasks.pipeline_helpers import PDFS, mixed_pdf, pdf_truth, run_worker, task_create

BORN_DIGITAL = PDFS / "mime_spec_p8-9.pdf"
SCANNED = PDFS / "mime_spec_p8-9_scanned.pdf"
needs_poppler = pytest.mark.skipif(not shutil.which("pdftotext") or not shutil.which("qpdf"),
                                   reason="poppler-utils and qpdf come with scripts/system_deps.sh")


def _read_pages(content: bytes) -> list:
    return list(documents.iter_pages(io.BytesIO(content), "application/pdf", text_layers=True))


# /Rotate r turns the page clockwise for display; drawing through this matrix (display -> user space)
# makes the text upright as displayed, as a landscape page made by a word processor is.
_W, _H = 612, 792
UPRIGHT = {0: (1, 0, 0, 1, 0, 0), 90: (0, 1, -1, 0, _W, 0), 180: (-1, 0, 0, -1, _W, _H), 270: (0, -1, 1, 0, 0, _H)}


def text_pdf(pages: list[list[str]], rotate: int = 0) -> bytes:
    """A born-digital PDF: each page's lines in Helvetica 12 pt, top-down from 72 pt below the top as displayed."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica, Encoding=pikepdf.Name.WinAnsiEncoding))
    display_height = _H if rotate in (0, 180) else _W
    for lines in pages:
        ops = "q %s cm\n" % " ".join(str(v) for v in UPRIGHT[rotate])
        ops += "".join(f"BT /F1 12 Tf 72 {display_height - 72 - 18 * i} Td ({text}) Tj ET\n"
                       for i, text in enumerate(lines)) + "Q\n"
        page = pikepdf.Page(pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=[0, 0, _W, _H],
                                               Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
                                               Contents=pdf.make_stream(ops.encode("cp1252"))))
        if rotate:
            page.obj.Rotate = rotate
        pdf.pages.append(page)
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def scan_pdf(invisible_text: str = "", size=(1275, 1650)) -> bytes:
    """A "scanned" page (a picture covering it) with optional invisible text, as a stamp or an earlier OCR leaves."""
    image = Image.new("L", size, 255)
    ImageDraw.Draw(image).text((100, 100), "A scanned page: only pixels here.", fill=0)
    image.info["dpi"] = (150, 150)
    lines = [Line(invisible_text, 0.9, [[100, 40], [1100, 40], [1100, 70], [100, 70]])] if invisible_text else []
    buf = io.BytesIO()
    writer = SearchablePdfWriter(buf)
    writer.add_page(image, lines)
    writer.close()
    return buf.getvalue()


# --- Which pages carry a text layer -------------------------------------------------------

def test_the_born_digital_pdf_is_read_exactly_from_its_text():
    pages = _read_pages(BORN_DIGITAL.read_bytes())
    assert [type(p) for p in pages] == [TextLayerPage, TextLayerPage]
    for number, page in enumerate(pages, start=1):
        rate = cer(page.text, pdf_truth(BORN_DIGITAL, number))
        print(f"text layer CER page {number}: {rate:.4f}")
        assert rate == 0.0
        assert all(line.confidence == 1.0 for line in page.lines)


def test_the_scanned_pdf_has_no_text_layer_and_is_rendered_for_ocr(settings):
    settings.OCR_PDF_DPI = 100
    assert [type(p) for p in _read_pages(SCANNED.read_bytes())] == [Image.Image, Image.Image]
    # Without text_layers (the old behaviour) every page is a picture.
    plain = list(documents.iter_pages(io.BytesIO(BORN_DIGITAL.read_bytes()), "application/pdf"))
    assert all(isinstance(p, Image.Image) for p in plain)


@pytest.mark.parametrize(("invisible", "read"), [
    ("12", False),  # a stray page number on a scan
    ("Scanned by ACME Copier 3000 on 2024-05-01, page 3 of 12", False),  # a stamp: under SCAN_TEXT_CHARS
    ("An earlier OCR left this invisible text over the whole scanned page. " * 5, True),  # counts as text
    ("\ue000" * 80, False),  # a font without Unicode values: private-use codes are no text
])
def test_what_counts_as_a_text_layer_on_a_scanned_page(invisible, read):
    pages = _read_pages(scan_pdf(invisible))
    assert isinstance(pages[0], TextLayerPage) is read
    if read:
        assert pages[0].text == " ".join(invisible.split())


def test_a_page_ocrd_before_in_any_script_is_read_back_from_its_text():
    """Our own searchable PDF uploaded again: CJK (also beyond U+FFFF: 𠮷), Greek, Cyrillic come back as they went in."""
    from tasks.ocr.layout import page_text
    from tests.tasks.pipeline.test_searchable_pdf import SCRIPTS, _lines

    lines = _lines(SCRIPTS["chinese"] * 6 + SCRIPTS["japanese"] * 6 + SCRIPTS["greek"] + SCRIPTS["cyrillic"])
    image = Image.new("L", (2400, 3600), 255)
    image.info["dpi"] = (300, 300)
    buf = io.BytesIO()
    writer = SearchablePdfWriter(buf)
    writer.add_page(image, lines)
    writer.close()
    page = _read_pages(buf.getvalue())[0]
    assert isinstance(page, TextLayerPage)
    assert " ".join(page.text.split()) == " ".join(page_text(lines).split())
    assert "吉野家の𠮷と東京タワー" in page.text


def test_a_short_born_digital_page_without_pictures_is_read_a_blank_page_is_not():
    title = "Annual report 2025 - summary"
    assert len(title.replace(" ", "")) >= MIN_TEXT_CHARS
    pages = _read_pages(text_pdf([[title], [], ["p. 3"]]))
    assert isinstance(pages[0], TextLayerPage) and pages[0].text == title
    assert isinstance(pages[1], Image.Image) and isinstance(pages[2], Image.Image)


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_boxes_are_in_the_pixels_of_the_rendered_page_also_when_turned(settings, rotate):
    settings.OCR_PDF_DPI = 100
    lines = ["First line of a born-digital page", "Second line, somewhat longer than the first one",
             "Third"]
    content = text_pdf([lines], rotate=rotate)
    page = _read_pages(content)[0]
    assert [line.text for line in page.lines] == lines
    assert page.text == "\n".join(lines)
    rendered = pdfium.PdfDocument(content)[0].render(scale=100 / 72).to_pil().convert("L")
    assert (page.width, page.height) == rendered.size
    for line in page.lines:
        x0, y0, x1, y1 = line.left, line.top, line.right, line.bottom
        assert 0 <= x0 < x1 <= page.width and 0 <= y0 < y1 <= page.height
        # The ink of the line lies inside its box; just outside it (a margin beyond) is paper.
        inside = rendered.crop((int(x0), int(y0), int(x1) + 1, int(y1) + 1))
        assert inside.getextrema()[0] < 100, f"no ink in the box of {line.text!r} (rotate {rotate})"
    for line in page.lines:  # upright as displayed: wide boxes, top to bottom
        assert line.right - line.left > line.bottom - line.top
    assert [line.top for line in page.lines] == sorted(line.top for line in page.lines)
    assert page.width == (850 if rotate in (0, 180) else 1100)  # 8.5 x 11 in at 100 dpi, turned


def test_a_cropped_page_gives_boxes_on_what_is_shown_and_leaves_out_what_is_cropped_away(settings):
    settings.OCR_PDF_DPI = 100
    content = text_pdf([["First line of a born-digital page", "Second line, somewhat longer than the first one",
                         *[""] * 30, "A line far below, cropped away from the page"]])
    pdf = pikepdf.open(io.BytesIO(content))
    pdf.pages[0].obj.CropBox = [40, 300, 500, 760]  # the shown part starts 32 pt left of the text
    buf = io.BytesIO()
    pdf.save(buf)
    page = _read_pages(buf.getvalue())[0]
    assert (page.width, page.height) == (639, 639)
    assert [line.text for line in page.lines] == ["First line of a born-digital page",
                                                  "Second line, somewhat longer than the first one"]
    assert page.lines[0].left == pytest.approx(32 * 100 / 72, abs=2)
    rendered = pdfium.PdfDocument(buf.getvalue())[0].render(scale=100 / 72).to_pil().convert("L")
    for line in page.lines:
        assert rendered.crop((int(line.left), int(line.top), int(line.right) + 1, int(line.bottom) + 1)).getextrema()[0] < 100


def test_a_wide_gap_on_one_baseline_makes_two_lines():
    content = text_pdf([["Total amount due" + " " * 60 + "1,234.50 EUR"]])
    page = _read_pages(content)[0]
    assert page.text == "Total amount due 1,234.50 EUR"  # one row of text
    assert [line.text for line in page.lines] == ["Total amount due", "1,234.50 EUR"]  # two boxes, as table cells


# --- Through the worker ----------------------------------------------------------------------

def _run(user, name: str, content: bytes, **kwargs):
    task = task_create(user=user, uploaded_file=SimpleUploadedFile(name, content), **kwargs)
    run_worker()
    task.refresh_from_db()
    assert task.status == "completed", task.error_message
    return task


def _read(task, kind) -> bytes:
    with default_storage.open(task.files.get(kind=kind).file.name) as fh:
        return fh.read()


def _contents(pdf: pikepdf.Pdf, index: int) -> bytes:
    page = pikepdf.Page(pdf.pages[index])
    return page.obj.Contents.read_bytes() if isinstance(page.obj.Contents, pikepdf.Stream) else \
        b"".join(s.read_bytes() for s in page.obj.Contents)


def _pdftotext(content: bytes) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=content, capture_output=True,
                          check=True).stdout.decode()


def _qpdf_check(content: bytes, tmp_path) -> None:
    path = tmp_path / "result.pdf"
    path.write_bytes(content)
    check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()


@needs_poppler
@pytest.mark.django_db(transaction=True)
def test_a_born_digital_pdf_is_read_without_ocr_and_keeps_its_pages(user_a, fake_engine, tmp_path, client):
    task = _run(user_a, "Shared MIME spec.pdf", BORN_DIGITAL.read_bytes(), engine="tesseract")
    assert fake_engine.seen == []  # no page was rendered or OCR'd
    assert task.text_layer_pages == [1, 2] and task.pages_done == task.page_count == 2
    assert task.pages_read == {"text_layer": [1, 2], "ocr": []}

    result = json.loads(_read(task, "result_json"))
    assert [p["read_from"] for p in result["pages"]] == ["text_layer", "text_layer"]
    for page in result["pages"]:
        assert set(page) == {"number", "width", "height", "text", "read_from", "lines"}
        assert (page["width"], page["height"]) == documents.pdf_page_pixels(pdfium.PdfDocument(BORN_DIGITAL)[0], 200)
        assert cer(page["text"], pdf_truth(BORN_DIGITAL, page["number"])) == 0.0
        line = page["lines"][0]
        assert set(line) == {"text", "confidence", "box"} and line["confidence"] == 1.0
        assert len(line["box"]) == 4 and all(type(v) is float for point in line["box"] for v in point)
    text = _read(task, "result_txt").decode()
    assert text.split("\f")[0].strip() == result["pages"][0]["text"]

    produced = _read(task, "result_pdf")
    with pikepdf.open(io.BytesIO(produced)) as out, pikepdf.open(BORN_DIGITAL) as original:
        assert len(out.pages) == 2
        for index in range(2):  # the very pages of the original: same drawing, same fonts, no picture
            assert _contents(out, index) == _contents(original, index)
            assert not pikepdf.Page(out.pages[index]).get_images()
        assert str(out.docinfo.Title) == "Shared MIME spec.pdf"
    _qpdf_check(produced, tmp_path)
    assert _pdftotext(produced) == _pdftotext(BORN_DIGITAL.read_bytes())  # a viewer finds the original's text

    client.force_login(user_a)
    api = client.get(f"/api/v1/tasks/{task.id}").json()
    assert api["pages_read"] == {"text_layer": [1, 2], "ocr": []}
    page = client.get(f"/tasks/{task.id}/").content.decode()
    assert "Pages 1–2: read from the PDF&#x27;s own text (exact, no OCR)." in page


@needs_poppler
@pytest.mark.django_db(transaction=True)
def test_in_a_mixed_pdf_only_the_pages_without_text_are_ocrd(user_a, fake_engine, tmp_path, client, settings):
    settings.OCR_PDF_DPI = 100
    task = _run(user_a, "mixed.pdf", mixed_pdf(), engine="tesseract")
    assert len(fake_engine.seen) == 1  # page 2 only
    assert task.pages_read == {"text_layer": [1, 3], "ocr": [2]}
    result = json.loads(_read(task, "result_json"))
    assert [p["read_from"] for p in result["pages"]] == ["text_layer", "ocr", "text_layer"]
    assert result["pages"][1]["text"].startswith("page1 size")
    assert cer(result["pages"][0]["text"], pdf_truth(BORN_DIGITAL, 1)) == 0.0
    assert cer(result["pages"][2]["text"], pdf_truth(BORN_DIGITAL, 2)) == 0.0

    produced = _read(task, "result_pdf")
    _qpdf_check(produced, tmp_path)
    with pikepdf.open(io.BytesIO(produced)) as out, pikepdf.open(BORN_DIGITAL) as original:
        assert len(out.pages) == 3
        assert _contents(out, 0) == _contents(original, 0) and _contents(out, 2) == _contents(original, 1)
        assert len(pikepdf.Page(out.pages[1]).get_images()) == 1  # the OCR'd page: its picture and our text
        assert "/GlyphLessFont" in str(out.pages[1].Resources.Font.F1.BaseFont)
        assert str(out.docinfo.Title) == "mixed.pdf"
    pages_text = _pdftotext(produced).split("\f")
    assert " ".join(pages_text[1].split()) == " ".join(result["pages"][1]["text"].split())

    client.force_login(user_a)
    assert client.get(f"/api/v1/tasks/{task.id}").json()["pages_read"] == {"text_layer": [1, 3], "ocr": [2]}
    body = client.get(f"/tasks/{task.id}/").content.decode()
    assert "Pages 1, 3: read from the PDF&#x27;s own text (exact, no OCR)." in body
    assert "Page 2: no text in the PDF, recognised by OCR (Tesseract)." in body


@pytest.mark.django_db(transaction=True)
def test_when_qpdf_cannot_open_the_original_its_pages_are_drawn_instead(user_a, fake_engine, monkeypatch, settings):
    """A PDF that PDFium reads and qpdf does not (a fake failure: the usual path above is the real twin)."""
    settings.OCR_PDF_DPI = 100

    def refuse(*args, **kwargs):
        raise pikepdf.PdfError("unreadable for this test")

    monkeypatch.setattr(pikepdf, "open", refuse)
    task = _run(user_a, "odd.pdf", BORN_DIGITAL.read_bytes())
    assert fake_engine.seen == [] and task.pages_read == {"text_layer": [1, 2], "ocr": []}
    doc = pdfium.PdfDocument(_read(task, "result_pdf"))
    assert len(doc) == 2 and doc.get_metadata_value("Title") == "odd.pdf"
    text = " ".join(doc[0].get_textpage().get_text_range().split())
    assert "If a matching pattern is provided by two or more MIME types" in text  # the text layer, drawn by us
    doc.close()


@pytest.mark.django_db(transaction=True)
def test_a_scanned_pdf_is_ocrd_page_by_page(user_a, fake_engine, client, settings):
    settings.OCR_PDF_DPI = 100
    task = _run(user_a, "scan.pdf", SCANNED.read_bytes())
    assert len(fake_engine.seen) == 2
    assert task.text_layer_pages == [] and task.pages_read == {"text_layer": [], "ocr": [1, 2]}
    client.force_login(user_a)
    assert client.get(f"/api/v1/tasks/{task.id}").json()["pages_read"] == {"text_layer": [], "ocr": [1, 2]}
    assert 'data-testid="how-read"' not in client.get(f"/tasks/{task.id}/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_task_not_yet_read_says_nothing_about_how(user_a, client):
    task = task_create(user=user_a, uploaded_file=SimpleUploadedFile("a.pdf", BORN_DIGITAL.read_bytes()))
    client.force_login(user_a)
    assert client.get(f"/api/v1/tasks/{task.id}").json()["pages_read"] is None


def test_keeping_original_pages_sets_the_title_also_in_the_xmp_metadata_viewers_prefer():
    from tasks.pipeline.searchable_pdf import keep_original_pages

    pdf = pikepdf.open(io.BytesIO(text_pdf([["A born-digital page with a title of its own in XMP"]])))
    with pdf.open_metadata() as meta:
        meta["dc:title"] = "Draft 7 (old title)"
    original = io.BytesIO()
    pdf.save(original)
    ocr = io.BytesIO()
    SearchablePdfWriter(ocr).close()  # no OCR'd pages
    out = io.BytesIO()
    keep_original_pages(original, ocr, [True], out, title="Quarterly report – été.pdf")
    with pikepdf.open(io.BytesIO(out.getvalue())) as result:
        assert str(result.trailer.Info.Title) == "Quarterly report – été.pdf"
        assert result.open_metadata()["dc:title"] == "Quarterly report – été.pdf"
        assert bool(result.Root.ViewerPreferences.DisplayDocTitle) is True
