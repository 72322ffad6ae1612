"""Operator writes across all users: retention cleanup, purging a person, removing orphans.

The management commands and the admin call these; each function is idempotent (a second
run finds nothing to do) and works in bounded batches so a million rows never sit in
memory or in one transaction. Rows go first, in a transaction that also commits a staging
record per task folder (tasks.files.staging); files go after it committed, the same order as
tasks.services.task_delete. A process killed in between leaves the staging records, and the
reaper's staging cleanup removes the files no row names: never a row without its file, and
no file without its row for longer than STAGING_GRACE_SECONDS.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from core.audit import SYSTEM, Actor, audit, with_user
from core.models import AuditAction, AuditLog
from tasks.files import staging
from tasks.files.storage import delete_task_folder, task_folder
from tasks.history import text_index
from tasks.models import Task, TaskFile

log = logging.getLogger("tool_ocr.maintenance")


@dataclass
class Outcome:
    """What a maintenance run did (or would do, in a dry run)."""

    tasks: int = 0
    files: int = 0
    bytes: int = 0
    queue_rows: int = 0
    sessions: int = 0
    errors: list = field(default_factory=list)


def retention_cutoff(days: int, now=None):
    return (now or timezone.now()) - timedelta(days=days)


def expired_tasks(*, days: int, now=None):
    """Finished tasks created before the retention cutoff. Waiting or running ones are the reaper's."""
    return (Task.objects.filter(created_at__lt=retention_cutoff(days, now))
            .exclude(status__in=Task.ACTIVE_STATUSES).order_by("created_at"))


def _file_totals(task_ids) -> tuple[int, int]:
    totals = TaskFile.objects.filter(task_id__in=task_ids).aggregate(n=Count("id"), b=Sum("size_bytes"))
    return totals["n"] or 0, totals["b"] or 0


def tasks_delete_batch(task_ids, outcome: Outcome) -> None:
    """Delete these tasks' rows in one transaction, then their files; errors are collected, not raised."""
    with transaction.atomic():
        tasks = list(Task.objects.select_for_update().filter(pk__in=task_ids).only("id", "user_id"))
        # The text index's count rows, all at once in key order: the order a task finishing takes them in.
        text_index.counts_lock_for_delete([t.pk for t in tasks])
        files = list(TaskFile.objects.filter(task_id__in=task_ids).only("id", "file", "size_bytes", "task_id"))
        Task.objects.filter(pk__in=[t.pk for t in tasks]).delete()
        staged = staging.stage([task_folder(t) for t in tasks], "delete")  # commits with the deletion
    errors_before = len(outcome.errors)
    outcome.tasks += len(tasks)
    outcome.files += len(files)
    outcome.bytes += sum(f.size_bytes for f in files)
    for f in files:
        try:
            if f.file.name:
                default_storage.delete(f.file.name)
        except OSError as exc:
            outcome.errors.append(f"could not delete file {f.file.name}: {exc.__class__.__name__}")
    for task in tasks:
        try:
            delete_task_folder(task)
        except OSError as exc:
            outcome.errors.append(f"could not clean folder of task {task.pk}: {exc.__class__.__name__}")
    if len(outcome.errors) == errors_before:  # else the staging cleanup finishes what is left
        staging.release(staged)


def _count_tasks(queryset, outcome: Outcome) -> None:
    """What a real run would delete: tasks, their files and bytes (for --dry-run)."""
    outcome.tasks = queryset.count()
    outcome.files, outcome.bytes = _file_totals(queryset.values("pk"))


def _delete_tasks_in_batches(queryset, outcome: Outcome, batch_size: int, progress=None) -> None:
    """Delete the tasks of ``queryset`` with their files, ``batch_size`` at a time, reporting progress."""
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return
        tasks_delete_batch(ids, outcome)
        if progress:
            progress(outcome)


def cleanup_tasks(*, days: int, batch_size: int = 500, dry_run: bool = False, progress=None, now=None) -> Outcome:
    """Delete finished tasks older than ``days`` with their files, and finished queue rows as old."""
    outcome = Outcome()
    queryset = expired_tasks(days=days, now=now)
    if dry_run:
        _count_tasks(queryset, outcome)
        outcome.queue_rows = _old_queue_rows(days, now).count()
        return outcome
    _delete_tasks_in_batches(queryset, outcome, batch_size, progress)
    outcome.queue_rows = _delete_old_queue_rows(days, now, batch_size)
    if outcome.tasks or outcome.queue_rows:
        audit(actor=SYSTEM, action=AuditAction.MAINTENANCE_CLEANUP_TASKS, object_type="task", tasks=outcome.tasks,
              files=outcome.files, bytes=outcome.bytes, queue_rows=outcome.queue_rows, retention_days=days,
              errors=len(outcome.errors))
    log.info("cleanup_tasks done", extra={"tasks": outcome.tasks, "files": outcome.files,
                                          "queue_rows": outcome.queue_rows, "errors": len(outcome.errors)})
    return outcome


def _old_queue_rows(days, now):
    """Finished rows of the django-tasks queue table; nothing reads them after the task row settled."""
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(status__in=["SUCCESSFUL", "FAILED"],
                                       finished_at__lt=retention_cutoff(days, now))


def _delete_old_queue_rows(days, now, batch_size) -> int:
    deleted = 0
    queryset = _old_queue_rows(days, now).order_by()
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        deleted += queryset.model.objects.filter(pk__in=ids).delete()[0]


def user_find(email: str):
    return get_user_model().objects.filter(email=(email or "").strip().lower()).first()


def user_was_purged(email: str) -> bool:
    return AuditLog.objects.filter(action=AuditAction.MAINTENANCE_PURGE_USER, user_email=email,
                                   details__account="deleted").exists()


def purge_user(*, user, dry_run: bool = False, keep_account: bool = False, batch_size: int = 500,
               progress=None, actor: Actor = SYSTEM) -> Outcome:
    """Delete a person's tasks, files and sessions (and the account unless kept); audit rows stay.

    The audit rows keep ``user_email``; their user link is cleared when the account goes.
    Tasks go in batches (each its own transaction, files after it); the sessions, the
    account and the ``maintenance.purge_user`` audit row (filed under the person's email, naming
    the operator who did it, or "command") go in one last transaction.
    """
    from accounts.maintenance import user_sessions_delete

    outcome = Outcome()
    queryset = Task.objects.filter(user=user).order_by("created_at")
    if dry_run:
        _count_tasks(queryset, outcome)
        outcome.sessions = user_sessions_delete(user=user, dry_run=True)
        return outcome
    _delete_tasks_in_batches(queryset, outcome, batch_size, progress)
    email, user_id = user.email, user.pk
    with transaction.atomic():
        outcome.sessions = user_sessions_delete(user=user)
        from accounts.models import ApiToken

        ApiToken.objects.filter(user_id=user_id).delete()  # also when the account is kept (deactivated)
        if keep_account:
            type(user).objects.filter(pk=user_id).update(is_active=False)
        else:
            user.delete()
        audit(actor=with_user(actor, None), action=AuditAction.MAINTENANCE_PURGE_USER, object_type="user",
              object_id=str(user_id), user_email=email, tasks=outcome.tasks, files=outcome.files,
              sessions=outcome.sessions, account="deactivated" if keep_account else "deleted",
              errors=len(outcome.errors), by=getattr(actor.user, "email", "") or "command")
    log.info("user purged", extra={"user_id": user_id, "tasks": outcome.tasks, "files": outcome.files})
    return outcome


def orphan_files_delete(names, outcome: Outcome) -> None:
    for name in names:
        try:
            default_storage.delete(name)
            outcome.files += 1
        except OSError as exc:
            outcome.errors.append(f"could not delete {name}: {exc.__class__.__name__}")


def missing_file_rows_delete(row_ids, outcome: Outcome) -> None:
    """Rows whose file is gone from storage: the row goes too, so no page offers a broken download."""
    outcome.files += TaskFile.objects.filter(pk__in=list(row_ids)).delete()[0]
