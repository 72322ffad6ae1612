"""Run OCR for one task: page by page, with a heartbeat, then store the results."""

import json
import logging
import os
import socket

from django.core.files.base import ContentFile

from tasks import documents, services
from tasks.models import TaskFile
from tasks.ocr.base import PageResult
from tasks.ocr.engines import get_engine
from tasks.ocr.layout import page_text
from tasks.storage import open_task_file

log = logging.getLogger("tool_ocr.worker")

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def result_json(task, pages: list[PageResult]) -> dict:
    return {
        "task_id": str(task.id),
        "engine": task.engine,
        "language": task.language,
        "pages": [
            {"number": p.number, "width": int(p.width), "height": int(p.height), "text": p.text,
             "lines": [{"text": l.text, "confidence": round(float(l.confidence), 4),
                        "box": [[round(float(x), 1), round(float(y), 1)] for x, y in l.box]} for l in p.lines]}
            for p in pages
        ],
    }


def result_text(pages: list[PageResult]) -> str:
    return "\n\n\f".join(p.text for p in pages).rstrip() + "\n"


def run_task(task_id: str) -> str:
    """Process a pending task; returns its final status. Safe to call twice: the second call does nothing."""
    task = services.task_start(task_id=task_id, worker_id=WORKER_ID)
    if task is None:
        return "skipped"
    try:
        engine = get_engine(task.engine)
        original = task.files.get(kind=TaskFile.Kind.ORIGINAL)
        pages = []
        with open_task_file(original) as fh:
            for number, image in enumerate(documents.iter_pages(fh, task.mime_type), start=1):
                lines = engine.recognize(image)
                pages.append(PageResult(number=number, width=image.width, height=image.height, lines=lines,
                                        text=page_text(lines)))
                services.task_heartbeat(task=task, pages_done=number)
        stem = task.filename.rsplit(".", 1)[0] or "result"
        results = {
            TaskFile.Kind.RESULT_TXT: (f"{stem}.txt", "text/plain; charset=utf-8",
                                       ContentFile(result_text(pages).encode("utf-8"))),
            TaskFile.Kind.RESULT_JSON: (f"{stem}.json", "application/json",
                                        ContentFile(json.dumps(result_json(task, pages), ensure_ascii=False).encode())),
        }
        services.task_complete(task=task, results=results)
        log.info("task completed", extra={"task_id": str(task.id), "pages": len(pages)})
        return "completed"
    except services.TaskNoLongerProcessing:
        log.info("task stopped: no longer processing", extra={"task_id": str(task.id)})
        return "stopped"
    except Exception as exc:  # the task fails with a reason; the worker goes on
        log.exception("task failed", extra={"task_id": str(task.id)})
        services.task_fail(task=task, code="processing_error", message=f"OCR failed: {type(exc).__name__}")
        return "failed"
