"""Run OCR for one task: page by page, with progress and a heartbeat, then store the three results."""

import json
import logging
import os
import socket
import tempfile
import time
import uuid

from django.conf import settings
from django.db import InterfaceError, OperationalError

from django.core.files import File
from django.core.files.base import ContentFile

from tasks import documents, services
from tasks.documents import DocumentError
from tasks.models import Task, TaskFile
from tasks.ocr.base import PageResult
from tasks.ocr.engines import get_engine
from tasks.ocr.layout import page_text
from tasks.searchable_pdf import SearchablePdfWriter
from tasks import worker_temp
from tasks.storage import open_task_file
from tool_ocr.dependencies import dependency_of

log = logging.getLogger("tool_ocr.worker")


def worker_run_id() -> str:
    """Names this worker process and this run: only the run that started a task may finish it."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def result_json(task, pages: list[PageResult]) -> dict:
    return {
        "task_id": str(task.id),
        "engine": task.engine,
        "language": task.language,
        "pages": [
            {"number": int(p.number), "width": int(p.width), "height": int(p.height), "text": str(p.text),
             "lines": [{"text": str(l.text), "confidence": round(float(l.confidence), 4),
                        "box": [[round(float(x), 1), round(float(y), 1)] for x, y in l.box]} for l in p.lines]}
            for p in pages
        ],
    }


def result_text(pages: list[PageResult]) -> str:
    """Pages in order, separated by a blank line and a form feed (the page break of plain text)."""
    return "\n\n\f".join(p.text for p in pages).rstrip() + "\n"


STORAGE_MESSAGE = ("The results could not be stored: the file storage is full or read-only just now. "
                   "Nothing is wrong with the file or the engine; retry the task later.")
TEMP_MESSAGE = ("The OCR worker's temporary folder is full or read-only just now. "
                "Nothing is wrong with the file or the engine; retry the task later.")
READ_MESSAGE = "The uploaded file could not be read from storage just now. Retry the task later."


# (task id, worker run id) of tasks a database outage interrupted in this process (tasks.dbworker.worker).
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
                _drop_connections()
                time.sleep(wait)
                wait = min(wait * 2, settings.WORKER_DB_RETRY_MAX_WAIT)


def _drop_connections() -> None:
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        try:
            conn.close()
        except Exception:  # already broken
            pass


def run_task(task_id: str) -> str:
    """Process a pending task; returns its final status. Safe to call twice: the second call does nothing.

    A database outage in the middle does not fail the task: heartbeats that cannot be written
    are skipped, and storing the results waits for the database (see _DatabaseWait); if it does
    not come back in time, the reaper re-queues the task once it does.
    """
    task = services.task_start(task_id=task_id, worker_id=worker_run_id())
    if task is None:
        return "skipped"
    try:
        _recognise_and_store(task)
    except (OperationalError, InterfaceError):
        log.warning("task interrupted: the database did not come back in time; it goes back to the queue",
                    extra={"task_id": str(task.id)})
        INTERRUPTED.append((str(task.id), task.worker_id))  # the worker re-queues it once the database is back
        raise
    except services.StorageUnavailable:
        log.error("task failed: the storage refused its results", extra={"task_id": str(task.id)})
        services.task_fail(task=task, code="storage_unavailable", message=STORAGE_MESSAGE)
        return "failed"
    except TempFolderFull:
        log.error("task failed: the worker's temporary folder refused a file", extra={"task_id": str(task.id)})
        services.task_fail(task=task, code="temp_folder_unavailable", message=TEMP_MESSAGE)
        return "failed"
    except services.TaskNoLongerProcessing:
        log.info("task stopped: no longer processing", extra={"task_id": str(task.id)})
        return "stopped"
    except (TaskFile.DoesNotExist, FileNotFoundError):
        log.error("task failed: its original file is missing", extra={"task_id": str(task.id)})
        services.task_fail(task=task, code="original_missing",
                           message="The uploaded file is no longer in storage; upload it again.")
        return "failed"
    except DocumentError as exc:  # e.g. a page that the upload check passed but cannot be rendered
        log.warning("task failed: %s", exc.message, extra={"task_id": str(task.id)})
        services.task_fail(task=task, code=exc.code, message=exc.message)
        return "failed"
    except OSError as exc:
        if dependency_of(exc) is None:
            return _failed_unexpectedly(task, exc)
        log.error("task failed: storage read failed: %s", exc, extra={"task_id": str(task.id)})
        services.task_fail(task=task, code="storage_unavailable", message=READ_MESSAGE)
        return "failed"
    except Exception as exc:  # the task fails with a reason; the worker goes on
        return _failed_unexpectedly(task, exc)
    log.info("task completed", extra={"task_id": str(task.id), "pages": task.page_count})
    return "completed"


def _failed_unexpectedly(task, exc) -> str:
    """Anything else fails the task with a reason; the worker goes on."""
    log.exception("task failed", extra={"task_id": str(task.id)})
    services.task_fail(task=task, code="processing_error",
                       message=f"OCR failed ({type(exc).__name__}). Retry the task, or try the other engine.")
    return "failed"


class TempFolderFull(Exception):
    """The worker's temporary folder refused the searchable PDF (read-only, full)."""


def _heartbeat(task: Task, pages_done: int, db: _DatabaseWait) -> None:
    """Progress; skipped (not fatal) while the database is unreachable, so OCR goes on meanwhile."""
    try:
        services.task_heartbeat(task=task, pages_done=pages_done)
        db.ok()
    except (OperationalError, InterfaceError) as exc:
        log.warning("heartbeat skipped: database unavailable: %s", exc, extra={"task_id": str(task.id)})
        _drop_connections()


def _recognise_and_store(task: Task) -> None:
    engine = get_engine(task.engine)
    db = _DatabaseWait()
    original = task.files.get(kind=TaskFile.Kind.ORIGINAL)
    pages: list[PageResult] = []
    # The searchable PDF grows in the worker's own temporary folder (TMPDIR), page by page; a worker
    # killed half-way leaves it there, and its next start removes it (tasks.worker_temp).
    try:
        pdf_fh = tempfile.NamedTemporaryFile(prefix="tool-ocr-", suffix=".pdf", dir=worker_temp.folder())
    except OSError as exc:
        raise TempFolderFull() from exc
    with pdf_fh:
        writer = SearchablePdfWriter(pdf_fh)
        with open_task_file(original) as fh:
            for number, image in enumerate(documents.iter_pages(fh, task.mime_type), start=1):
                lines = engine.recognize(image)
                pages.append(PageResult(number=number, width=image.width, height=image.height, lines=lines,
                                        text=page_text(lines)))
                writer.add_page(image, lines)
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
        stem = task.filename.rsplit(".", 1)[0] or "result"
        results = {
            TaskFile.Kind.RESULT_TXT: (f"{stem}.txt", "text/plain; charset=utf-8",
                                       ContentFile(result_text(pages).encode("utf-8"))),
            TaskFile.Kind.RESULT_JSON: (f"{stem}.json", "application/json",
                                        ContentFile(json.dumps(result_json(task, pages), ensure_ascii=False).encode())),
            TaskFile.Kind.RESULT_PDF: (f"{stem}.ocr.pdf", "application/pdf", File(pdf_fh)),
        }
        db.run(lambda: services.task_complete(task=task, results=results), "storing the results")
