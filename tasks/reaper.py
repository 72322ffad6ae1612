"""Find tasks whose worker died and put them right, so that no task stays "processing" forever.

A worker writes a heartbeat after every page. A task still "processing" whose heartbeat is
older than TASK_HEARTBEAT_TIMEOUT has lost its worker (killed, out of memory, machine
gone): it is queued again once; if that happens a second time it fails with a reason, as
the document itself may be what kills workers. A "pending" task whose queue job was lost
(or whose job was claimed by a worker that died before starting it) is queued again too.

Run by ``manage.py reap_stuck_tasks`` and every REAPER_INTERVAL seconds by the periodic
job ``periodic_job("reap_stuck_tasks")`` (tasks.jobs). Every change is a conditional update, so two
reapers at once (or a worker waking up late) cannot both act on the same task.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.timespan import duration_text
from tasks import services
from tasks.models import Task

log = logging.getLogger("tool_ocr.reaper")

MAX_REQUEUES = 1


class WorkerLost(Exception):
    """Recorded on the queue job of a task whose worker stopped without finishing it."""


@dataclass
class ReapReport:
    requeued: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    resent: list = field(default_factory=list)
    staged: dict = field(default_factory=dict)  # tasks.files.staging.cleanup_stale: folders and files removed
    dry_run: bool = False

    def __str__(self):
        line = (f"re-queued {len(self.requeued)} stuck task(s), failed {len(self.failed)}, "
                f"re-sent {len(self.resent)} lost queue job(s)")
        if self.staged.get("files"):
            line += f", removed {self.staged['files']} file(s) left without a row"
        return f"DRY RUN would have {line}" if self.dry_run else line


def reap_stuck_tasks(*, now=None, timeout: int | None = None, dry_run: bool = False) -> ReapReport:
    """Act on every stuck task (dry_run: only report what would be done)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.TASK_HEARTBEAT_TIMEOUT if timeout is None else timeout)
    report = ReapReport(dry_run=dry_run)
    stuck = Task.objects.filter(status=Task.Status.PROCESSING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff))
    for task in stuck:
        if task.requeue_count < MAX_REQUEUES:
            if dry_run or _requeue(task, now):
                report.requeued.append(str(task.pk))
        elif dry_run or _fail(task, now):
            report.failed.append(str(task.pk))
    for task in Task.objects.filter(status=Task.Status.PENDING, created_at__lt=cutoff):
        if _queue_job_lost(task, cutoff) and (dry_run or _resend(task)):
            report.resent.append(str(task.pk))
    if not dry_run:
        from tasks.files.staging import cleanup_stale

        report.staged = cleanup_stale(now=now)
    if not dry_run and (report.requeued or report.failed or report.resent):
        log.warning("reaper: %s", report, extra={"requeued": report.requeued, "failed": report.failed,
                                                   "resent": report.resent})
    return report


def _still_stuck(task: Task):
    """The row as the reaper saw it: no heartbeat, no other change since."""
    return Task.objects.filter(pk=task.pk, status=Task.Status.PROCESSING, worker_id=task.worker_id,
                               heartbeat_at=task.heartbeat_at)


def _requeue(task: Task, now) -> bool:
    with transaction.atomic():
        updated = _still_stuck(task).update(
            status=Task.Status.PENDING, requeue_count=F("requeue_count") + 1, pages_done=0, started_at=None,
            heartbeat_at=None, worker_id="", error_code="",
            error_message="Its worker stopped responding; the task was queued again.")
        if not updated:
            return False
        old_job = task.queue_result_id
        transaction.on_commit(lambda: (_mark_job_lost(old_job, now), services.task_enqueue(task)))
    log.warning("reaper: re-queued a task whose worker stopped", extra={"task_id": str(task.pk),
                                                                          "worker_id": task.worker_id})
    return True


def requeue_after_outage(*, task_id: str, worker_run_id: str) -> bool:
    """Put back a task its worker had to drop when the database went away (not counted as a re-queue:
    the document was not at fault). Only while that worker run still holds it."""
    now = timezone.now()
    task = Task.objects.filter(pk=task_id, status=Task.Status.PROCESSING, worker_id=worker_run_id).first()
    if task is None:
        return False
    with transaction.atomic():
        updated = _still_stuck(task).update(
            status=Task.Status.PENDING, pages_done=0, started_at=None, heartbeat_at=None, worker_id="",
            error_code="", error_message="The database was unavailable for a while; the task was queued again.")
        if not updated:
            return False
        old_job = task.queue_result_id
        transaction.on_commit(lambda: (_mark_job_lost(old_job, now), services.task_enqueue(task)))
    return True


def _fail(task: Task, now) -> bool:
    span = duration_text(settings.TASK_HEARTBEAT_TIMEOUT)
    seconds = (now - task.started_at).total_seconds() if task.started_at else None
    updated = _still_stuck(task).update(
        status=Task.Status.FAILED, completed_at=now, processing_seconds=seconds, error_code="worker_lost",
        error_message=(f"The worker processing this task stopped responding (no sign of life for {span}), "
                       f"for the second time; it was not tried again. Retry it to try once more."))
    if updated:
        _mark_job_lost(task.queue_result_id, now)
        log.warning("reaper: failed a task whose worker stopped twice", extra={"task_id": str(task.pk)})
    return bool(updated)


def _queue_job_lost(task: Task, cutoff) -> bool:
    """No job for this pending task will ever run it: none recorded, gone, finished, or claimed long ago."""
    from django_tasks.base import TaskResultStatus
    from django_tasks.exceptions import TaskResultDoesNotExist

    from tasks.jobs import process_task

    if not task.queue_result_id:
        return True
    try:
        job = process_task.get_result(task.queue_result_id)
    except TaskResultDoesNotExist:
        return True
    if job.status == TaskResultStatus.READY:
        return False
    if job.status == TaskResultStatus.RUNNING:
        return bool(job.started_at and job.started_at < cutoff)
    return True  # finished, yet the task never started: the job ran for an earlier attempt


def _resend(task: Task) -> bool:
    with transaction.atomic():
        updated = Task.objects.filter(pk=task.pk, status=Task.Status.PENDING,
                                      queue_result_id=task.queue_result_id).update(queue_result_id="")
        if updated:
            transaction.on_commit(lambda: services.task_enqueue(task))
    return bool(updated)


def _mark_job_lost(job_id: str, now) -> None:
    """Close the dead worker's queue job, which would otherwise show "running" forever (database backend only)."""
    if not job_id:
        return
    try:
        from django_tasks.base import TaskResultStatus
        from django_tasks_db.models import DBTaskResult
    except ImportError:  # pragma: no cover - another queue backend
        return
    DBTaskResult.objects.filter(pk=job_id, status=TaskResultStatus.RUNNING).update(
        status=TaskResultStatus.FAILED, finished_at=now, exception_class_path="tasks.reaper.WorkerLost",
        traceback="The worker running this job stopped without finishing it (found by the reaper).")
