"""The state changes the worker makes: start, heartbeat, complete (with the results), fail.

Each is a conditional update on the task's row that only this worker run's view can make
(``_mine``: still processing, by this worker), so a task cancelled, deleted or handed to
another worker by the reaper meanwhile is left alone: the worker learns it from
``TaskNoLongerProcessing`` and stops. The people's writes (create, retry, cancel, delete)
are tasks.services; the worker's loop is tasks.pipeline.processing.
"""

import logging

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from tasks.files import staging
from tasks.files.file_links import BY_KIND
from tasks.files.object_storage import storage_errors
from tasks.files.storage import StorageUnavailable, sha256_of, task_folder
from tasks.history import search
from tasks.models import Task, TaskFile, TaskText

log = logging.getLogger("tool_ocr.tasks")


class TaskNoLongerProcessing(Exception):
    """The task was cancelled, deleted or taken away by the reaper while a worker ran it."""


def task_start(*, task_id, worker_id: str) -> Task | None:
    """pending -> processing, once: a second worker with the same task gets None."""
    now = timezone.now()
    updated = Task.objects.filter(pk=task_id, status=Task.Status.PENDING).update(
        status=Task.Status.PROCESSING, started_at=now, heartbeat_at=now, pages_done=0, worker_id=worker_id[:128],
        error_code="", error_message="", completed_at=None)
    if not updated:
        return None
    return Task.objects.select_related("user").get(pk=task_id)


def _mine(task: Task):
    """The task's row while it is still being processed by this worker run (not cancelled, reaped or deleted)."""
    return Task.objects.filter(pk=task.pk, status=Task.Status.PROCESSING, worker_id=task.worker_id)


def task_heartbeat(*, task: Task, pages_done: int) -> None:
    """Record progress; raises TaskNoLongerProcessing so the worker stops before the next page."""
    task.pages_done = pages_done
    if not _mine(task).update(pages_done=pages_done, heartbeat_at=timezone.now()):
        raise TaskNoLongerProcessing()


def task_complete(*, task: Task, results: dict) -> None:
    """Store the result files and the searchable text and mark the task completed, in one transaction.

    ``results``: {kind: (download name, mime type, Django File)}. The row is locked first,
    so a cancel or delete at the same moment either comes before (and nothing is stored)
    or after (and sees the files). The results of an earlier run (a task run again) stay
    until here and are swapped for the new ones in the same transaction: a reader sees the
    old set or the new one, never none or a mix; their files go once that has committed.

    The files are written under a staging record (tasks.files.staging): a worker killed or a disk
    filling up half-way leaves no file without its row for long. Raises StorageUnavailable
    when the storage refuses the files (full, read-only, the bucket down).
    """
    now = timezone.now()
    text = _result_text(results)
    staged = staging.stage([task_folder(task)], "results")
    attempted, saved = [], []
    try:
        with transaction.atomic():
            if _mine(task).select_for_update().first() is None:
                raise TaskNoLongerProcessing()
            if text is not None:
                # The text first: its triggers lock the owner's rows of task_term_counts, and a delete (the
                # ORM removes the text, then the files, then the task) locks them before the owner's storage
                # and summary rows too. The same order in both, so two of the owner's tasks finishing and
                # going at once wait for each other instead of deadlocking.
                TaskText.objects.update_or_create(
                    task=task, defaults={"user_id": task.user_id, "text": text,
                                         "terms": search.terms_for(task.user_id, text)})
            old = list(task.files.exclude(kind=TaskFile.Kind.ORIGINAL))
            TaskFile.objects.filter(pk__in=[f.pk for f in old]).delete()
            for kind, (name, mime, content) in results.items():
                content.seek(0)
                tf = TaskFile(task=task, kind=kind, name=name, mime_type=mime, size_bytes=content.size,
                              sha256=sha256_of(content))
                target = default_storage.get_available_name(
                    f"{task_folder(task)}/{_run_file_name(task, BY_KIND[kind].storage_name)}")
                attempted.append(target)  # a write cut short (disk full) leaves a partial file under this name
                try:
                    tf.file.name = default_storage.save(target, content)
                except storage_errors() as exc:
                    log.error("storage failed while saving results: %s", exc, extra={"task_id": str(task.id)})
                    raise StorageUnavailable() from exc
                attempted.append(tf.file.name)
                saved.append(tf)
                tf.save()
            try:
                staging.adopt(staged, [tf.file.name for tf in saved])
            except staging.StagingExpired as exc:
                raise StorageUnavailable() from exc
            seconds = (now - task.started_at).total_seconds() if task.started_at else None
            _mine(task).update(status=Task.Status.COMPLETED, completed_at=now, heartbeat_at=now,
                               pages_done=task.page_count, processing_seconds=seconds,
                               text_layer_pages=task.text_layer_pages)
            if old:  # the earlier run's files: a crash before they go leaves them to the cleanup
                old_staged = staging.stage([task_folder(task)], "delete")
                transaction.on_commit(lambda: staging.delete_then_release(old, old_staged))
    except BaseException:
        _discard_results(task, staged, attempted)
        raise


def _discard_results(task: Task, staged, attempted) -> None:
    """What this attempt wrote goes (also a file a full disk left half-written), then anything else
    in the folder that no row names; the staging record goes last."""
    staging.delete_names(set(attempted))
    try:
        folder = task_folder(task)
        staging.delete_names(staging.unreferenced_files(folder))
    except Exception as exc:  # the database or the storage is down: the cleanup gets it later
        log.warning("could not remove unsaved results yet: %s", exc, extra={"task_id": str(task.id)})
        return
    staging.release(staged)


def _result_text(results: dict) -> str | None:
    """The text of result.txt among ``results`` (what the search index gets), or None."""
    entry = results.get(TaskFile.Kind.RESULT_TXT)
    if entry is None:
        return None
    content = entry[2]
    content.seek(0)
    data = content.read()
    content.seek(0)
    return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)


def _run_file_name(task: Task, name: str) -> str:
    """result.txt for the first run, result-r2.txt for the run after the second retry, ...

    A new run's files are written beside the earlier run's, which stay downloadable until
    the swap in task_complete: on storages that overwrite (S3), one name would lose them.
    """
    if not task.retry_count:
        return name
    stem, dot, ext = name.rpartition(".")
    return f"{stem}-r{task.retry_count}{dot}{ext}"


def task_fail(*, task: Task, code: str, message: str) -> bool:
    """processing -> failed with a reason (only while this worker run still owns the task)."""
    now = timezone.now()
    seconds = (now - task.started_at).total_seconds() if task.started_at else None
    return bool(_mine(task).update(status=Task.Status.FAILED, completed_at=now, error_code=code[:64],
                                   error_message=message, processing_seconds=seconds))
