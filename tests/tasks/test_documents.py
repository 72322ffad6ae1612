"""Inputs are recognised by content, checked against the limits, and read one page at a time."""

import io

import pikepdf
import pytest
from PIL import Image

from tasks import documents
from tests.tasks.pipeline import encode, sample_inputs

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
    assert documents.sniff(b"\xef\xbb\xbf%PDF-1.4") == "application/pdf"  # header after a BOM, as readers allow
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
