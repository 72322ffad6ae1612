"""The page beside its text on the task page: the page image, the recognised lines drawn over it, the text.

The boxes in result.json refer to the upright page as it was read (turned and straightened,
tasks/pipeline/processing.py), which is not stored as an image; the searchable PDF is: each of its OCR'd
pages is that very upright image, and a page read from a PDF's own text is the original page,
whose boxes were measured on it. So the page image is the searchable PDF's page, drawn (in a
child process under a deadline and a memory cap, as the worker draws PDFs) at screen resolution.
"""

import io
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from tasks import selectors
from tasks.files.storage import open_task_file
from tasks.models import TaskFile
from tasks.ocr.base import Line
from tasks.ocr.layout import group_rows, paragraph_starts

log = logging.getLogger("tool_ocr.tasks")

# Text the engine was less sure of than this (0..1) is marked on the page and in the text.
LOW_CONFIDENCE = 0.6
PAGE_IMAGE_DPI = 110  # enough to read a page on a screen
PAGE_IMAGE_MAX_PIXELS = 2000  # longest side; a large page is drawn at a lower resolution
PAGE_IMAGE_MAX_PDF_MB = 200  # a searchable PDF larger than this is not drawn in the web process
PAGE_IMAGE_CACHE_SECONDS = 600


def page_view(page: dict, number: int) -> dict:
    """What the task page needs of one result.json page: the overlay boxes and the text in rows.

    Rows are grouped as tasks/ocr/layout.page_text groups them (a blank line before a new
    paragraph), so the text reads as in result.txt; each piece keeps the index of its box.
    """
    width, height = page.get("width") or 0, page.get("height") or 0
    raw = page.get("lines") or []
    lines = []
    for index, item in enumerate(raw):
        try:
            box = [[float(x), float(y)] for x, y in item["box"]][:4]
            lines.append((index, Line(text=str(item.get("text", "")), confidence=float(item.get("confidence", 1)),
                                      box=box)))
        except (KeyError, TypeError, ValueError):
            continue
    by_line = {id(line): index for index, line in lines}
    boxes = [{"id": f"p{number}-l{index}", "points": " ".join(f"{x:g},{y:g}" for x, y in line.box),
              "low": line.confidence < LOW_CONFIDENCE, "text": line.text, "confidence": round(line.confidence * 100)}
             for index, line in lines if line.text.strip()]
    rows_out = []
    rows = group_rows([line for _i, line in lines if line.text.strip()])
    for row, gap in zip(rows, paragraph_starts(rows)):
        rows_out.append({"gap": gap, "items": [
            {"id": f"p{number}-l{by_line[id(l)]}", "text": l.text.strip(), "low": l.confidence < LOW_CONFIDENCE,
             "confidence": round(l.confidence * 100)} for l in row]})
    return {"width": width, "height": height, "boxes": boxes, "rows": rows_out,
            "has_overlay": bool(width and height and boxes)}


def _render(data: bytes, index: int):
    """The page drawn at screen resolution (child process, deadline, memory cap), as a PIL image."""
    from tasks.intake.documents import _pdf_open
    from tasks.intake.pdf_render import PageRenderer

    pdf = _pdf_open(io.BytesIO(data))
    try:
        if not 0 <= index < len(pdf):
            return None
        width_pt, height_pt = pdf.get_page_size(index)  # the page tree only: the drawing is not parsed here
    finally:
        pdf.close()
    longest_inch = max(width_pt, height_pt, 1) / 72
    dpi = max(20, min(PAGE_IMAGE_DPI, int(PAGE_IMAGE_MAX_PIXELS / longest_inch)))
    with PageRenderer(data, dpi=dpi, seconds=settings.PDF_PAGE_RENDER_SECONDS,
                      memory_mb=settings.PDF_RENDER_MEMORY_MB) as renderer:
        return renderer.render(index)


@login_required
@require_GET
def page_image(request, task_id, number: int):
    """Page ``number`` of the user's task as the lines' boxes refer to it (JPEG); 404 for another user's task."""
    from tasks.intake.documents import DocumentError
    from tasks.intake.pdf_render import RenderFailed, RenderTimeout

    task_file = selectors.task_file_get(user=request.user, task_id=task_id, kind=TaskFile.Kind.RESULT_PDF)
    if task_file is None or number < 1 or number > max(task_file.task.page_count, 1):
        raise Http404("No such page.")
    # Drawn once per process and result (a new run's result has another name or size): looking again,
    # or scrolling back, costs no drawing. The key is made after the owner check.
    key = f"page-image:{task_file.pk}:{task_file.file.name}:{task_file.size_bytes}:{number}"
    cached = cache.get(key)
    if cached is not None:
        return _jpeg_response(cached)
    if task_file.size_bytes > PAGE_IMAGE_MAX_PDF_MB * 1024 * 1024:
        raise Http404("This document is too large to show its pages here; download the searchable PDF.")
    try:
        with open_task_file(task_file) as fh:
            data = fh.read()
    except OSError:
        raise Http404("The searchable PDF is no longer in storage.") from None
    try:
        image = _render(data, number - 1)
    except (RenderFailed, RenderTimeout, DocumentError) as exc:
        log.warning("page image not drawn task_id=%s page=%s: %s", task_id, number, exc)
        raise Http404("This page could not be drawn.") from None
    if image is None:
        raise Http404("No such page.")
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=80, optimize=True)
    cache.set(key, out.getvalue(), PAGE_IMAGE_CACHE_SECONDS)
    return _jpeg_response(out.getvalue())


def _jpeg_response(body: bytes) -> HttpResponse:
    response = HttpResponse(body, content_type="image/jpeg")
    response["Content-Disposition"] = "inline"
    return response
