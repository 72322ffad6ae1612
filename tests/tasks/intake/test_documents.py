"""Inputs are recognised by content, checked against the limits, and read one page at a time."""

import io
import zlib

import pikepdf
import pytest
from PIL import Image

from tasks.intake import documents
from tests.tasks.pipeline_helpers import CORPUS, encode, sample_inputs

pytestmark = pytest.mark.db_independent  # reading files, no database

SAMPLES = sample_inputs()


@pytest.mark.parametrize("label", SAMPLES)
def test_every_input_type_is_recognised_by_content_with_its_page_count(label):
    _name, content, mime, pages = SAMPLES[label]
    info = documents.inspect(io.BytesIO(content))
    assert (info.mime_type, info.page_count) == (mime, pages)


@pytest.mark.parametrize("label", SAMPLES)
def test_pages_come_out_one_at_a_time_as_images_with_a_resolution(label, settings):
    settings.OCR_PDF_DPI = 100
    _name, content, mime, pages = SAMPLES[label]
    images = list(documents.iter_pages(io.BytesIO(content), mime))
    assert len(images) == pages
    for image in images:
        assert image.mode in ("L", "RGB") and image.info["dpi"][0] > 0
    if mime == "application/pdf":  # the MediaBox (in points, 1/72 in) at the configured DPI
        boxes = [[float(v) for v in page.mediabox] for page in pikepdf.open(io.BytesIO(content)).pages]
        for image, box in zip(images, boxes, strict=True):  # PDFium rounds up part pixels
            assert abs(image.width - box[2] * 100 / 72) < 1 and abs(image.height - box[3] * 100 / 72) < 1
        assert images[0].info["dpi"] == (100, 100)


def test_the_name_does_not_matter_only_the_content():
    png = SAMPLES["png"][1]
    assert documents.sniff(png[:1024]) == "image/png"
    assert documents.sniff(b"%PDF-1.4 ...") == "application/pdf"
    assert documents.sniff(b"\xef\xbb\xbf%PDF-1.4") == "application/pdf"  # a PDF to readers; inspect() refuses it
    assert documents.sniff(b"GIF89a......") is None
    assert documents.sniff(b"RIFF\x00\x00\x00\x00WAVEfmt ") is None  # RIFF, but not WebP


def test_a_tiff_page_too_large_is_refused_even_if_the_first_is_fine(settings):
    settings.MAX_IMAGE_PIXELS = 1_000_000
    small, large = Image.new("L", (100, 100), 255), Image.new("L", (2000, 1000), 255)
    content = encode(small, "TIFF", save_all=True, append_images=[large])
    with pytest.raises(documents.DocumentError) as err:
        documents.inspect(io.BytesIO(content))
    assert (err.value.code, err.value.status) == ("too_many_pixels", 413)
    assert "Page 2 is 2000 × 1000 pixels" in err.value.message


def test_pdf_pages_are_measured_at_the_render_dpi(settings):
    content = SAMPLES["pdf"][1]
    settings.MAX_IMAGE_PIXELS = 4_000_000  # 609.7 x 789.0 pt at 200 dpi: 1694 x 2192 = 3.7 Mpx, accepted
    settings.OCR_PDF_DPI = 200
    assert documents.inspect(io.BytesIO(content)).page_count == 2
    settings.OCR_PDF_DPI = 300  # 2540.5 x 3287.7, rounded up: 8.4 Mpx per page, refused
    with pytest.raises(documents.DocumentError) as err:
        documents.inspect(io.BytesIO(content))
    assert err.value.code == "too_many_pixels" and "Page 1 is 2541 × 3288 pixels" in err.value.message


def test_page_limit_is_the_setting(settings):
    content = SAMPLES["tiff"][1]
    settings.MAX_PAGES = 1
    with pytest.raises(documents.DocumentError) as err:
        documents.inspect(io.BytesIO(content))
    assert (err.value.code, err.value.status) == ("too_many_pages", 413)
    assert err.value.message == "The document has 2 pages; the most we take is 1."
    settings.MAX_PAGES = 2
    assert documents.inspect(io.BytesIO(content)).page_count == 2


def test_size_limit_is_checked_on_the_file_itself(settings):
    settings.MAX_UPLOAD_MB = 1
    content = b"\x89PNG\r\n\x1a\n" + b"\x00" * (1024 * 1024)
    with pytest.raises(documents.DocumentError) as err:
        documents.inspect(io.BytesIO(content))
    assert (err.value.code, err.value.status) == ("file_too_large", 413)
    assert "larger than 1 MB" in err.value.message


# --- Active content and polyglots (issue 6; the corpus has one file per case) ----------------
def _refusal(content: bytes) -> tuple[str, str]:
    with pytest.raises(documents.DocumentError) as err:
        documents.inspect(io.BytesIO(content))
    return err.value.code, err.value.message


def test_a_script_packed_in_a_compressed_object_stream_is_found_by_walking_the_objects():
    import pypdfium2 as pdfium

    content = (CORPUS / "javascript-link-annotation.pdf").read_bytes()
    assert b"/JS" not in content and b"/JavaScript" not in content  # invisible to a byte scan
    assert pdfium.raw.FPDFDoc_GetJavaScriptActionCount(pdfium.PdfDocument(content).raw) == 0
    assert _refusal(content)[0] == "pdf_javascript"


def test_document_level_scripts_are_counted_by_pdfium():
    import pypdfium2 as pdfium

    content = (CORPUS / "javascript-name-tree.pdf").read_bytes()
    assert pdfium.raw.FPDFDoc_GetJavaScriptActionCount(pdfium.PdfDocument(content).raw) == 1


def test_when_qpdf_cannot_read_a_pdf_the_raw_bytes_are_scanned(monkeypatch):
    def unreadable(*args, **kwargs):
        raise pikepdf.PdfError("cannot read")

    monkeypatch.setattr(pikepdf, "open", unreadable)
    assert _refusal((CORPUS / "javascript-open-action.pdf").read_bytes())[0] == "pdf_javascript"
    assert documents.inspect(io.BytesIO(SAMPLES["pdf"][1])).page_count == 2  # no script named: accepted


def test_ordinary_files_with_look_alike_bytes_are_not_polyglots():
    png, jpeg = SAMPLES["png"][1], SAMPLES["jpeg"][1]
    text_chunk = b"Comment\x00scanned at the office"
    chunk = len(text_chunk).to_bytes(4, "big") + b"tEXt" + text_chunk + \
        zlib.crc32(b"tEXt" + text_chunk).to_bytes(4, "big")
    assert documents.inspect(io.BytesIO(png[:33] + chunk + png[33:])).mime_type == "image/png"
    # A ZIP end record that does not end the file is no archive a ZIP reader would open.
    assert documents.inspect(io.BytesIO(jpeg + b"PK\x05\x06" + b"\x00" * 18 + b"more")).mime_type == "image/jpeg"


def test_each_polyglot_check_names_what_it_found():
    png = SAMPLES["png"][1]
    assert _refusal(png + b"\x00")[1].startswith(
        "The file is also another kind of file (data after the end of the PNG image)")
    assert _refusal(b"\xef\xbb\xbf" + SAMPLES["pdf"][1])[1].startswith(
        "The file is also another kind of file (data before the PDF header)")


def test_the_script_check_has_a_budget_so_a_pdf_of_countless_parts_cannot_hold_a_process(settings, monkeypatch):
    settings.MAX_PAGES = 10_000
    content = (CORPUS / "5000-pages.pdf").read_bytes()
    assert documents.inspect(io.BytesIO(content)).page_count == 5000  # about 10,000 parts: checked in full
    monkeypatch.setattr(documents, "PDF_CHECK_BUDGET", 1000)
    with pytest.raises(documents.DocumentError) as err:
        documents.inspect(io.BytesIO(content))
    assert (err.value.code, err.value.status) == ("pdf_too_complex", 413)
    assert "more than 1,000 parts" in err.value.message
