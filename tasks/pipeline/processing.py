"""Run OCR for one task: page by page, with progress and a heartbeat, then store the three results."""

import inspect
import json
import logging
import os
import socket
import tempfile
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings

from django.core.files import File
from django.core.files.base import ContentFile
from django.db import InterfaceError, OperationalError

from core.dependencies import dependency_of
from tasks.files.file_links import RESULT_JSON, RESULT_PDF, RESULT_TXT
from tasks.files.object_storage import bucket_errors
from tasks.files.storage import StorageUnavailable, local_copy
from tasks.intake import documents
from tasks.intake.documents import DocumentError
from tasks.intake.pdf_text import TextLayerPage
from tasks.models import Task, TaskFile
from tasks.ocr import languages, orientation
from tasks.ocr.base import PageResult
from tasks.ocr.engines import get_engine
from tasks.ocr.layout import page_text
from tasks.pipeline import transitions, worker_temp
from tasks.pipeline.searchable_pdf import OriginalPagesUnreadable, SearchablePdfWriter, keep_original_pages

log = logging.getLogger("tool_ocr.worker")
OCR, TEXT_LAYER = "ocr", "text_layer"  # how a page was read


def worker_run_id() -> str:
    """Names this worker process and this run: only the run that started a task may finish it."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


# A reading that scores below this (upright_score) may be of a page lying on its side or upside
# down: only then is Tesseract's orientation detection asked (it costs ~0.5 s a page).
UNSURE_CONFIDENCE = 0.75


@dataclass
class PageRead:
    """One page read: the upright page the boxes refer to, its lines, what was turned, who read it."""

    image: object
    lines: list
    engine: str
    turned: list = field(default_factory=list)  # for a person: "turned 90° clockwise", "straightened by 3.5°"


def mean_confidence(lines) -> float:
    """Confidence of a reading, weighted by text length; 0.0 for no text."""
    weights = [len(l.text.strip()) for l in lines]
    total = sum(weights)
    return sum(l.confidence * w for l, w in zip(lines, weights)) / total if total else 0.0


def upright_score(lines) -> float:
    """How much to trust that a reading is of an upright page: its confidence, times the share of its text
    on lines wider than tall. Tesseract reads a page lying on its side confidently, as vertical lines."""
    weights = [len(l.text.strip()) for l in lines]
    total = sum(weights)
    if not total:
        return 0.0
    level = sum(w for l, w in zip(lines, weights) if (l.right - l.left) >= l.height)
    return mean_confidence(lines) * level / total


def _recognize(engine, image, language):
    # Engines take the task's language; test fakes written before languages existed take only the page.
    if "language" in inspect.signature(engine.recognize).parameters:
        return engine.recognize(image, language=language)
    return engine.recognize(image)


def read_page(image, engine_name: str, language: str) -> PageRead:
    """Turn the page upright, straighten it, and read it (tasks/ocr/orientation.py says how).

    The page is straightened first (a projection profile: ~30 ms) and read. When that reading
    is unsure, Tesseract's orientation detection says whether the page lies on its side or
    upside down; if so, the turned page is read too and the surer reading kept. Upright pages,
    the common case, pay nothing for the check.
    """
    notes = list(image.info.get("turned", []))
    name = engine_name
    engine = get_engine(name)
    straight, angle = orientation.deskew(image)
    lines = _recognize(engine, straight, language)
    best = PageRead(image=straight, lines=lines, engine=name, turned=notes + _skew_note(angle))
    if upright_score(lines) >= UNSURE_CONFIDENCE:
        return best
    degrees, _confidence = orientation.detect_rotation(image)
    if not degrees:
        return best
    upright, angle = orientation.deskew(orientation.turn_clockwise(image, degrees))
    turned_lines = _recognize(engine, upright, language)
    if upright_score(turned_lines) <= upright_score(lines):
        return best
    return PageRead(image=upright, lines=turned_lines, engine=name,
                    turned=notes + [_turn_note(degrees)] + _skew_note(angle))


def _turn_note(degrees: int) -> str:
    return {90: "turned 90° clockwise", 180: "turned 180°", 270: "turned 90° counter-clockwise"}[degrees]


def _skew_note(angle: float) -> list[str]:
    return [f"straightened by {abs(angle):.1f}°"] if angle else []


def result_json(task, pages: list[PageResult], text_layer_pages: set[int] = frozenset()) -> dict:
    """The contract's result.json; each page also says how it was read (``read_from``: ``ocr`` or ``text_layer``)."""
    return {
        "task_id": str(task.id),
        "engine": task.engine,
        "language": task.language,
        "pages": [
            {"number": int(p.number), "width": int(p.width), "height": int(p.height), "text": str(p.text),
             "read_from": TEXT_LAYER if p.number in text_layer_pages else OCR,
             **({"engine": p.engine} if getattr(p, "engine", "") else {}),
             **({"turned": list(p.turned)} if getattr(p, "turned", None) else {}),
             "lines": [{"text": str(l.text), "confidence": round(float(l.confidence), 4),
                        "box": [[round(float(x), 1), round(float(y), 1)] for x, y in l.box]} for l in p.lines]}
            for p in pages
        ],
    }


def result_text(pages: list[PageResult]) -> str:
    """Pages in order, separated by a blank line and a form feed (the page break of plain text)."""
    return "\n\n\f".join(p.text for p in pages).rstrip() + "\n"


def _rendered_searchable_pdf(task: Task, original_fh, pages: list[PageResult], out_fh) -> None:
    """The searchable PDF as for a scan: every page rendered, with the lines already read (no OCR again)."""
    out_fh.seek(0)
    out_fh.truncate()
    writer = SearchablePdfWriter(out_fh, title=task.filename)
    for page, image in zip(pages, documents.iter_pages(original_fh, task.mime_type), strict=True):
        writer.add_page(image, page.lines)
    writer.close()
    out_fh.flush()


STORAGE_MESSAGE = ("The results could not be stored: the file storage is full or read-only just now. "
                   "Nothing is wrong with the file or the engine; retry the task later.")
TEMP_MESSAGE = ("The OCR worker's temporary folder is full or read-only just now. "
                "Nothing is wrong with the file or the engine; retry the task later.")
READ_MESSAGE = "The uploaded file could not be read from storage just now. Retry the task later."

# (task id, worker run id) of tasks a database outage interrupted in this process (tasks.worker.resilient).
INTERRUPTED: list = []


class _DatabaseWait:
    """While the database is unreachable, a step waits and tries again (doubling the wait, logged),
    for as long as the task can still be this worker's: TASK_HEARTBEAT_TIMEOUT after its last
    heartbeat, after which the reaper may have given it to another worker."""

    def __init__(self):
        self.last_ok = time.monotonic()

    def ok(self):
        self.last_ok = time.monotonic()

    def run(self, step, what: str):
        wait = 0.5
        while True:
            try:
                result = step()
                self.ok()
                return result
            except (OperationalError, InterfaceError) as exc:
                if time.monotonic() + wait > self.last_ok + settings.TASK_HEARTBEAT_TIMEOUT:
                    raise
                log.warning("database unavailable while %s; trying again in %.1f s: %s", what, wait, exc)
                drop_connections()
                time.sleep(wait)
                wait = min(wait * 2, settings.WORKER_DB_RETRY_MAX_WAIT)


def drop_connections() -> None:
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        try:
            conn.close()
        except Exception:  # already broken
            pass


class TempFolderFull(Exception):
    """The worker's temporary folder refused a file (read-only, full)."""


def run_task(task_id: str) -> str:
    """Process a pending task; returns its final status. Safe to call twice: the second call does nothing.

    A database outage in the middle does not fail the task: heartbeats that cannot be written
    are skipped, and storing the results waits for the database (see _DatabaseWait); if it does
    not come back in time, the worker (or else the reaper) puts the task back in the queue.
    Storage and temporary-folder faults fail it with a message that says so (retry later).
    """
    task = transitions.task_start(task_id=task_id, worker_id=worker_run_id())
    if task is None:
        return "skipped"
    try:
        _recognise_and_store(task)
    except (OperationalError, InterfaceError):
        log.warning("task interrupted: the database did not come back in time; it goes back to the queue",
                    extra={"task_id": str(task.id)})
        INTERRUPTED.append((str(task.id), task.worker_id))  # the worker re-queues it once the database is back
        raise
    except StorageUnavailable:
        log.error("task failed: the storage refused its results", extra={"task_id": str(task.id)})
        transitions.task_fail(task=task, code="storage_unavailable", message=STORAGE_MESSAGE)
        return "failed"
    except TempFolderFull:
        log.error("task failed: the worker's temporary folder refused a file", extra={"task_id": str(task.id)})
        transitions.task_fail(task=task, code="temp_folder_unavailable", message=TEMP_MESSAGE)
        return "failed"
    except transitions.TaskNoLongerProcessing:
        log.info("task stopped: no longer processing", extra={"task_id": str(task.id)})
        return "stopped"
    except (TaskFile.DoesNotExist, FileNotFoundError):
        log.error("task failed: its original file is missing", extra={"task_id": str(task.id)})
        transitions.task_fail(task=task, code="original_missing",
                           message="The uploaded file is no longer in storage; upload it again.")
        return "failed"
    except bucket_errors() as exc:  # the bucket failed: nothing was stored, the task can be retried
        log.error("task failed: storage unavailable (%s)", type(exc).__name__, extra={"task_id": str(task.id)})
        transitions.task_fail(task=task, code="storage_unavailable",
                           message="The file storage could not be reached while this task ran; "
                                   "nothing was saved. Retry the task in a moment.")
        return "failed"
    except DocumentError as exc:  # e.g. a page that the upload check passed but cannot be rendered
        log.warning("task failed: %s", exc.message, extra={"task_id": str(task.id)})
        transitions.task_fail(task=task, code=exc.code, message=exc.message)
        return "failed"
    except OSError as exc:
        if dependency_of(exc) is None:
            return _failed_unexpectedly(task, exc)
        log.error("task failed: storage read failed: %s", exc, extra={"task_id": str(task.id)})
        transitions.task_fail(task=task, code="storage_unavailable", message=READ_MESSAGE)
        return "failed"
    except Exception as exc:  # the task fails with a reason; the worker goes on
        return _failed_unexpectedly(task, exc)
    log.info("task completed", extra={"task_id": str(task.id), "pages": task.page_count})
    return "completed"


def _failed_unexpectedly(task, exc) -> str:
    """Anything else fails the task with a reason; the worker goes on."""
    log.exception("task failed", extra={"task_id": str(task.id)})
    transitions.task_fail(task=task, code="processing_error",
                       message=f"OCR failed ({type(exc).__name__}). Retry the task, or try the other engine.")
    return "failed"


def _heartbeat(task: Task, pages_done: int, db: _DatabaseWait) -> None:
    """Progress; skipped (not fatal) while the database is unreachable, so OCR goes on meanwhile."""
    try:
        transitions.task_heartbeat(task=task, pages_done=pages_done)
        db.ok()
    except (OperationalError, InterfaceError) as exc:
        log.warning("heartbeat skipped: database unavailable: %s", exc, extra={"task_id": str(task.id)})
        drop_connections()


def _temp_file():
    """A temporary file in this worker's own folder (tasks.pipeline.worker_temp); a worker killed half-way leaves
    it there, and the next worker that starts on the host removes it."""
    try:
        return tempfile.NamedTemporaryFile(prefix="tool-ocr-", suffix=".pdf", dir=worker_temp.folder())
    except OSError as exc:
        raise TempFolderFull() from exc


def _recognise_and_store(task: Task) -> None:
    db = _DatabaseWait()
    language = task.language or settings.OCR_DEFAULT_LANGUAGE
    original = task.files.get(kind=TaskFile.Kind.ORIGINAL)
    pages: list[PageResult] = []
    text_layer_pages: set[int] = set()  # PDF pages read from their own text, not OCR'd
    # The original is copied into this worker's own temporary folder (TMPDIR) once, so a worker host needs
    # no shared disk; the searchable PDF grows there too, page by page.
    with (_temp_file() as pdf_fh, _temp_file() as merged_fh,
          local_copy(original, folder=worker_temp.folder()) as original_fh):
        writer = SearchablePdfWriter(pdf_fh, title=task.filename)
        for number, image in enumerate(documents.iter_pages(original_fh, task.mime_type, text_layers=True), start=1):
            if isinstance(image, TextLayerPage):
                pages.append(PageResult(number=number, width=image.width, height=image.height,
                                        lines=image.lines, text=image.text))
                text_layer_pages.add(number)
            else:  # engines load only when a page needs one
                read = read_page(image, task.engine, language)
                upright, lines = read.image, read.lines
                upright.info.setdefault("dpi", image.info.get("dpi"))
                text = page_text(lines)
                if languages.is_cjk(language):
                    text = languages.drop_cjk_spaces(text)
                pages.append(PageResult(number=number, width=upright.width, height=upright.height, lines=lines,
                                        text=text, engine=read.engine, turned=read.turned))
                writer.add_page(upright, lines)
                del upright, read
            del image
            _heartbeat(task, number, db)
        try:
            writer.close()
            pdf_fh.flush()
        except OSError as exc:
            raise TempFolderFull() from exc
        if task.page_count != len(pages):  # the upload check counted differently: record what was read
            db.run(lambda: Task.objects.filter(pk=task.pk).update(page_count=len(pages)), "recording pages")
            task.page_count = len(pages)
        if text_layer_pages:  # the searchable PDF keeps those pages as they are in the original
            try:
                keep_original_pages(original_fh, pdf_fh, [n in text_layer_pages for n in range(1, len(pages) + 1)],
                                    merged_fh, title=task.filename)
            except OriginalPagesUnreadable as exc:
                log.warning("original PDF pages cannot be copied (%s): drawing every page", exc,
                            extra={"task_id": str(task.id)})
                _rendered_searchable_pdf(task, original_fh, pages, merged_fh)
            pdf_fh = merged_fh
        task.text_layer_pages = sorted(text_layer_pages)  # saved with the results by task_complete
        stem = task.filename.rsplit(".", 1)[0] or "result"
        contents = {
            RESULT_TXT: ContentFile(result_text(pages).encode("utf-8")),
            RESULT_JSON: ContentFile(json.dumps(result_json(task, pages, text_layer_pages),
                                                ensure_ascii=False).encode()),
            RESULT_PDF: File(pdf_fh),
        }
        results = {k.kind: (f"{stem}{k.name_ending}", k.content_type, content) for k, content in contents.items()}
        db.run(lambda: transitions.task_complete(task=task, results=results), "storing the results")
