"""Serve a task's file to its owner: attachment, safe name, nosniff, and an audit row every time."""

import logging
import re
import unicodedata

from django.core.exceptions import SuspiciousFileOperation
from django.http import FileResponse, Http404, HttpResponse

from core.audit import Actor, audit, audit_denied
from core.models import AuditAction, AuditLog
from tasks.files.object_storage import bucket_errors
from tasks.files.storage import stream_task_file
from tasks.selectors import task_file_get

log = logging.getLogger("tool_ocr.tasks")

MAX_DOWNLOAD_NAME = 150


def shorten_middle(name: str, limit: int = MAX_DOWNLOAD_NAME) -> str:
    """Keep the start (what people recognise) and the extension (".ocr.pdf"); cut the middle with "…"."""
    if len(name) <= limit:
        return name
    match = re.search(r"(\.[A-Za-z0-9]{1,5}){1,2}$", name)  # ".pdf", ".ocr.pdf", ".tar.gz"
    ext = match.group(0) if match else ""
    stem = name[:len(name) - len(ext)]
    room = limit - len(ext) - 1
    head = max(1, room * 2 // 3)
    return stem[:head].rstrip() + "…" + stem[len(stem) - (room - head):].lstrip() + ext


def safe_download_name(name: str) -> str:
    """Printable, no path separators or quotes; non-Latin letters kept (sent as RFC 5987 by Django)."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.sub(r'[\x00-\x1f\x7f/\\"<>:|?*]', "_", name).strip(" .") or "download"
    return shorten_middle(name)


def serve_task_file(request, *, task_id, kind) -> FileResponse:
    """The user's file or 404 (also for another user's); denied attempts are audited too."""
    task_file = task_file_get(user=request.user, task_id=task_id, kind=kind)
    actor = Actor.of(request)
    if task_file is None:
        audit_denied(actor=actor, action=AuditAction.FILE_DOWNLOAD, task_id=str(task_id), kind=str(kind))
        raise Http404("No such file.")
    try:
        fh = stream_task_file(task_file)
    except SuspiciousFileOperation:  # a stored name outside the owner's folder: a tampered row
        log.error("refused a task file outside its owner's folder", extra={"task_id": str(task_id)})
        audit(actor=actor, action=AuditAction.FILE_DOWNLOAD, obj=task_file.task, outcome=AuditLog.Outcome.DENIED,
              kind=str(kind), reason="storage name outside the owner's folder")
        raise Http404("No such file.") from None
    except OSError:
        audit(actor=actor, action=AuditAction.FILE_DOWNLOAD, obj=task_file.task, outcome=AuditLog.Outcome.FAILED,
              kind=str(kind), reason="missing from storage")
        raise Http404("The file is no longer in storage.") from None
    except bucket_errors() as exc:
        log.error("download failed: the bucket is unavailable (%s)", type(exc).__name__, extra={"task_id": str(task_id)})
        audit(actor=actor, action=AuditAction.FILE_DOWNLOAD, obj=task_file.task, outcome=AuditLog.Outcome.FAILED,
              kind=str(kind), reason="storage unavailable")
        return storage_unavailable_response()
    audit(actor=actor, action=AuditAction.FILE_DOWNLOAD, obj=task_file.task, kind=str(kind))
    # Streamed through the app, chunk by chunk, after the access check and the audit row (docs/scaling.md
    # says why this and not a presigned redirect): the bucket need not be reachable from browsers.
    response = FileResponse(fh, as_attachment=True,
                            filename=safe_download_name(task_file.name),
                            content_type=task_file.mime_type or "application/octet-stream")
    if getattr(fh, "size", None) and not response.has_header("Content-Length"):
        response["Content-Length"] = str(fh.size)
    response["X-Content-Type-Options"] = "nosniff"
    return response


def storage_unavailable_response() -> HttpResponse:
    """503 in plain words when the file storage cannot be reached (a dependency down is never a 500)."""
    response = HttpResponse("The file storage cannot be reached just now. Try again in a moment.\n",
                            status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = "30"
    return response
