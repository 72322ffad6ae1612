"""Helpers for the pipeline tests: sample inputs of every type, a fake engine, the worker, storage listings.

The sample inputs are made from the shared real pages (tests/data, copied from ../shared/data), converted to each
type at test time, so only the bad-input corpus is committed.
"""

import functools
import io
from pathlib import Path

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from PIL import Image

from tasks import services
from tasks.ocr.base import Line
from tests.signin import signed_in  # noqa: F401  (re-exported for the tests that import it from here)

SHARED = Path(__file__).resolve().parents[1] / "data"
PAGES = SHARED / "pages"
PDFS = SHARED / "pdf"
CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def task_create(*, user, uploaded_file, engine: str | None = None, language: str | None = None):
    """One file through the upload service (services.tasks_create, as the page and the API); its task."""
    return services.tasks_create(user=user, uploaded_files=[uploaded_file], engine=engine, language=language).tasks[0]


def truth(path: Path) -> str:
    return path.with_suffix("").with_suffix(".gt.txt").read_text() if path.suffix != ".pdf" else ""


def pdf_truth(path: Path, page: int) -> str:
    return (path.parent / f"{path.stem}.page{page}.gt.txt").read_text()


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def sample_inputs() -> dict[str, tuple[str, bytes, str, int]]:
    """{label: (file name, content, expected mime type, pages)} for every input type we take."""
    return dict(_sample_inputs())


@functools.cache
def _sample_inputs() -> dict[str, tuple[str, bytes, str, int]]:
    """Encoded once per process (ten test modules use them; lossless WebP and TIFF take a while)."""
    p13 = Image.open(PAGES / "libtasn1_p13.png")
    p22 = Image.open(PAGES / "libtasn1_p22.png")
    return {
        "png": ("libtasn1_p13.png", (PAGES / "libtasn1_p13.png").read_bytes(), "image/png", 1),
        "jpeg": ("libtasn1_p13_scan.jpg", (PAGES / "libtasn1_p13_scan.jpg").read_bytes(), "image/jpeg", 1),
        "tiff": ("two-pages.tiff", encode(p13, "TIFF", save_all=True, append_images=[p22], compression="tiff_deflate",
                                          dpi=(150, 150)), "image/tiff", 2),
        "bmp": ("page.bmp", encode(p13, "BMP"), "image/bmp", 1),
        "webp": ("page.webp", encode(p13, "WEBP", lossless=True), "image/webp", 1),
        "pdf": ("mime_spec_p8-9.pdf", (PDFS / "mime_spec_p8-9.pdf").read_bytes(), "application/pdf", 2),
        "scanned-pdf": ("mime_spec_p8-9_scanned.pdf", (PDFS / "mime_spec_p8-9_scanned.pdf").read_bytes(),
                        "application/pdf", 2),
    }


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


class FakeEngine:
    """Stands in for an OCR engine in fast tests (its real twins: test_ocr_pipeline.py).

    It "reads" one line per page naming the page's size, boxed across the top of the page,
    and remembers the pages it saw.
    """

    name = "fake"

    def __init__(self):
        self.seen: list[tuple[int, int, str]] = []

    def recognize(self, image):
        self.seen.append((image.width, image.height, image.mode))
        n = len(self.seen)
        w, h = image.width, image.height
        return [Line(text=f"page{n} size {w}x{h}", confidence=0.9,
                     box=[[w * 0.1, h * 0.1], [w * 0.9, h * 0.1], [w * 0.9, h * 0.15], [w * 0.1, h * 0.15]]),
                Line(text="second line", confidence=0.8,
                     box=[[w * 0.1, h * 0.2], [w * 0.5, h * 0.2], [w * 0.5, h * 0.24], [w * 0.1, h * 0.24]])]


def run_worker() -> None:
    """The real worker command, in this process, until the queue is empty."""
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", "--interval", "0", verbosity=0)


def stored_names() -> list[str]:
    """Every file in the test's storage, as storage names."""
    found = []

    def walk(folder):
        try:
            dirs, files = default_storage.listdir(folder)
        except FileNotFoundError:
            return
        for f in files:
            found.append(f"{folder}/{f}" if folder else f)
        for d in dirs:
            walk(f"{folder}/{d}" if folder else d)

    walk("")
    return sorted(found)


def queued_jobs(task_path: str = "tasks.jobs.process_task") -> int:
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path=task_path).count()


def mixed_pdf() -> bytes:
    """Three pages: born-digital page 1, the scanned copy of page 2 (an image, no text), born-digital page 2."""
    import pikepdf

    out = pikepdf.new()
    with pikepdf.open(PDFS / "mime_spec_p8-9.pdf") as digital, pikepdf.open(PDFS / "mime_spec_p8-9_scanned.pdf") as scan:
        out.pages.append(digital.pages[0])
        out.pages.append(scan.pages[1])
        out.pages.append(digital.pages[1])
        buf = io.BytesIO()
        out.save(buf)
    return buf.getvalue()
