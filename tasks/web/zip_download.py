"""Results of several tasks as one ZIP download (bulk "download" in the history list).

Built in a spooled temporary file, so memory stays bounded however large the results;
every file put in the archive is audited like a single download.
"""

import shutil
import tempfile
import zipfile

from django.http import FileResponse
from django.utils import timezone

from core.audit import Actor, audit
from core.models import AuditAction
from tasks.files.object_storage import bucket_errors
from tasks.files.storage import stream_task_file
from tasks.models import TaskFile
from tasks.web.downloads import safe_download_name, storage_unavailable_response

SPOOL_IN_MEMORY = 8 * 1024 * 1024


def _zip_time(task) -> tuple:
    """The task's finish time (else its upload time) in TIME_ZONE: ZIP entries hold local wall-clock time
    without a zone, and before 1980 they cannot go."""
    moment = timezone.localtime(task.completed_at or task.created_at)
    return max((1980, 1, 1, 0, 0, 0), moment.timetuple()[:6])


def results_zip_response(request, tasks) -> FileResponse | None:
    """One folder per task with its result files; None when no selected task has results.

    The bucket down part-way: a 503 in plain words (the archive so far is thrown away).
    """
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    try:
        return _build(request, tasks, spool)
    except bucket_errors():
        spool.close()
        return storage_unavailable_response()


def _build(request, tasks, spool) -> FileResponse | None:
    added, actor = 0, Actor.of(request, via="zip")
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for task in tasks:
            results = [f for f in task.files.all() if f.kind != TaskFile.Kind.ORIGINAL]
            if not results:
                continue
            folder = f"{safe_download_name(task.filename)}-{str(task.id)[:8]}"
            for task_file in sorted(results, key=lambda f: f.kind):
                entry = zipfile.ZipInfo(f"{folder}/{safe_download_name(task_file.name)}", date_time=_zip_time(task))
                entry.compress_type = zipfile.ZIP_DEFLATED
                with stream_task_file(task_file) as source, archive.open(entry, "w") as target:
                    shutil.copyfileobj(source, target, 1024 * 1024)
                audit(actor=actor, action=AuditAction.FILE_DOWNLOAD, obj=task, kind=str(task_file.kind))
                added += 1
    if not added:
        spool.close()
        return None
    spool.seek(0)
    response = FileResponse(spool, as_attachment=True, content_type="application/zip",
                            filename=f"tool-ocr-results-{timezone.localdate().isoformat()}.zip")
    response["X-Content-Type-Options"] = "nosniff"
    return response
