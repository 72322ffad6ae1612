"""Writes for tasks: create, and the state changes the worker makes."""

import logging

from django.contrib.auth import get_user_model
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from tasks import documents
from tasks.models import AuditLog, Task, TaskFile
from tasks.storage import ORIGINAL_NAMES, delete_task_files, sha256_of

log = logging.getLogger("tool_ocr.tasks")


class TaskLimitReached(Exception):
    def __init__(self, limit):
        self.limit = limit
        super().__init__(f"You already have {limit} tasks waiting or running. Wait for some to finish, then upload again.")


def _safe_display_name(name: str) -> str:
    """The user's file name as data: no path parts, no control characters, bounded length."""
    name = (name or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip() or "upload"
    return name[-255:]


def task_create(*, user, uploaded_file, engine: str = "easyocr", language: str = "en") -> Task:
    """Check the upload, save the task and its original file, and queue it after commit.

    Either both the row and the file exist afterwards, or neither does.
    """
    from django.conf import settings

    info = documents.inspect(uploaded_file)
    digest = sha256_of(uploaded_file)
    task = Task(user=user, filename=_safe_display_name(uploaded_file.name), engine=engine, language=language,
                mime_type=info.mime_type, size_bytes=uploaded_file.size, sha256=digest, page_count=info.page_count)
    saved_files = []
    try:
        with transaction.atomic():
            # Lock the user's row so two parallel uploads cannot both pass the limit.
            get_user_model().objects.select_for_update().filter(pk=user.pk).first()
            active = Task.objects.filter(user=user, status__in=Task.ACTIVE_STATUSES).count()
            if active >= settings.MAX_TASKS_PER_USER:
                raise TaskLimitReached(settings.MAX_TASKS_PER_USER)
            task.save()
            original = TaskFile(task=task, kind=TaskFile.Kind.ORIGINAL, name=task.filename, mime_type=info.mime_type,
                                size_bytes=uploaded_file.size, sha256=digest)
            uploaded_file.seek(0)
            original.file.save(ORIGINAL_NAMES.get(info.mime_type, "original.bin"), File(uploaded_file), save=False)
            saved_files.append(original)
            original.save()
            transaction.on_commit(lambda: task_enqueue(task))
    except BaseException:
        delete_task_files(saved_files)
        raise
    log.info("task created", extra={"task_id": str(task.id), "user_id": user.pk})
    return task


def task_enqueue(task: Task) -> None:
    from tasks.jobs import process_task

    result = process_task.enqueue(str(task.id))
    Task.objects.filter(pk=task.pk).update(queue_result_id=str(result.id))


def task_start(*, task_id, worker_id: str = "") -> Task | None:
    """pending -> processing, once: a second worker with the same task gets None."""
    now = timezone.now()
    updated = Task.objects.filter(pk=task_id, status=Task.Status.PENDING).update(
        status=Task.Status.PROCESSING, started_at=now, heartbeat_at=now, pages_done=0, worker_id=worker_id[:128],
        error_code="", error_message="")
    if not updated:
        return None
    return Task.objects.select_related("user").get(pk=task_id)


class TaskNoLongerProcessing(Exception):
    """The task was cancelled (or taken away by the reaper) while a worker ran it."""


def task_heartbeat(*, task: Task, pages_done: int) -> None:
    """Record progress; raises TaskNoLongerProcessing so the worker stops before the next page."""
    task.pages_done = pages_done
    updated = Task.objects.filter(pk=task.pk, status=Task.Status.PROCESSING).update(
        pages_done=pages_done, heartbeat_at=timezone.now())
    if not updated:
        raise TaskNoLongerProcessing()


def task_complete(*, task: Task, results: dict) -> None:
    """Store the result files and mark the task completed, in one transaction."""
    now = timezone.now()
    saved = []
    try:
        with transaction.atomic():
            for kind, (name, mime, content) in results.items():
                tf = TaskFile(task=task, kind=kind, name=name, mime_type=mime, size_bytes=content.size)
                tf.file.save(f"{kind.replace('_', '.')}", content, save=False)
                saved.append(tf)
                tf.save()
            seconds = (now - task.started_at).total_seconds() if task.started_at else None
            updated = Task.objects.filter(pk=task.pk, status=Task.Status.PROCESSING).update(
                status=Task.Status.COMPLETED, completed_at=now, heartbeat_at=now, pages_done=task.page_count,
                processing_seconds=seconds)
            if not updated:
                raise TaskNoLongerProcessing()
    except BaseException:
        delete_task_files(saved)
        raise


def task_fail(*, task: Task, code: str, message: str) -> None:
    now = timezone.now()
    seconds = (now - task.started_at).total_seconds() if task.started_at else None
    Task.objects.filter(pk=task.pk, status=Task.Status.PROCESSING).update(status=Task.Status.FAILED, completed_at=now, error_code=code[:64],
                                           error_message=message, processing_seconds=seconds)


def audit(*, request=None, user=None, action: str, obj=None, outcome=AuditLog.Outcome.ALLOWED, **details) -> AuditLog:
    """Write one audit row; request gives the user, IP and user agent."""
    if request is not None and user is None and getattr(request, "user", None) and request.user.is_authenticated:
        user = request.user
    return AuditLog.objects.create(
        user=user, user_email=getattr(user, "email", "") or "", action=action,
        object_type=type(obj).__name__.lower() if obj is not None else "",
        object_id=str(getattr(obj, "pk", "") or ""), outcome=outcome,
        ip_address=(request.META.get("REMOTE_ADDR") if request is not None else None) or None,
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:512] if request is not None else ""),
        details=details,
    )


class InvalidTransition(Exception):
    """The task is in the wrong state for this action (the API answers 409)."""

    def __init__(self, task: Task, action: str):
        self.task, self.action = task, action
        super().__init__(f"A {task.get_status_display().lower()} task cannot be {action}.")


def task_retry(*, task: Task, engine: str | None = None) -> Task:
    """failed or cancelled -> pending, retry_count + 1, optionally with another engine; queued after commit."""
    from django.conf import settings

    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=task.user_id).first()
        fields = {"status": Task.Status.PENDING, "retry_count": task.retry_count + 1, "pages_done": 0,
                  "started_at": None, "completed_at": None, "heartbeat_at": None, "processing_seconds": None,
                  "error_code": "", "error_message": "", "worker_id": ""}
        if engine:
            fields["engine"] = engine
        active = Task.objects.filter(user_id=task.user_id, status__in=Task.ACTIVE_STATUSES).count()
        if active >= settings.MAX_TASKS_PER_USER:
            raise TaskLimitReached(settings.MAX_TASKS_PER_USER)
        updated = Task.objects.filter(pk=task.pk, status__in=(Task.Status.FAILED, Task.Status.CANCELLED)).update(**fields)
        if not updated:
            task.refresh_from_db()
            raise InvalidTransition(task, "retried")
        # Results of the earlier run go; the original stays.
        old = list(task.files.exclude(kind=TaskFile.Kind.ORIGINAL))
        TaskFile.objects.filter(pk__in=[f.pk for f in old]).delete()
        transaction.on_commit(lambda: delete_task_files(old))
        task.refresh_from_db()
        transaction.on_commit(lambda: task_enqueue(task))
    log.info("task retried", extra={"task_id": str(task.id), "user_id": task.user_id})
    return task


def task_cancel(*, task: Task) -> Task:
    """pending -> cancelled at once; processing -> cancelled, and the worker stops before its next page."""
    now = timezone.now()
    updated = Task.objects.filter(pk=task.pk, status__in=Task.ACTIVE_STATUSES).update(
        status=Task.Status.CANCELLED, completed_at=now, error_code="cancelled", error_message="Cancelled by the user.")
    task.refresh_from_db()
    if not updated:
        raise InvalidTransition(task, "cancelled")
    log.info("task cancelled", extra={"task_id": str(task.id), "user_id": task.user_id})
    return task


def task_delete(*, task: Task) -> None:
    """Delete the task's rows, then its files once the deletion committed."""
    files = list(task.files.all())
    with transaction.atomic():
        task.delete()
        transaction.on_commit(lambda: delete_task_files(files))
    log.info("task deleted", extra={"task_id": str(task.pk), "user_id": task.user_id})
