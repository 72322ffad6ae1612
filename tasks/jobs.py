"""Background jobs run by ``manage.py db_worker`` (the Django Tasks API, database backend).

``process_task`` runs the OCR of one task. ``reap_stuck_tasks_job`` runs the reaper and
queues itself again REAPER_INTERVAL seconds later (``run_after``), so any running worker
also keeps the reaper going; ``ensure_reaper_scheduled`` restarts that chain when it is
missing (each OCR job and ``manage.py reap_stuck_tasks --schedule`` call it).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task

log = logging.getLogger("tool_ocr.worker")

REAPER_PRIORITY = 100  # due reaper runs go before OCR work


@task()
def process_task(task_id: str) -> str:
    from tasks.processing import run_task

    ensure_reaper_scheduled()
    return run_task(task_id)


@task(priority=REAPER_PRIORITY)
def reap_stuck_tasks_job() -> str:
    from tasks.reaper import reap_stuck_tasks

    try:
        return str(reap_stuck_tasks())
    finally:
        _schedule_reaper()


def _reaper_waiting() -> bool:
    """A reaper run is already queued (database backend; other backends: assume not)."""
    try:
        from django_tasks.base import TaskResultStatus
        from django_tasks_db.models import DBTaskResult
    except ImportError:  # pragma: no cover
        return False
    return DBTaskResult.objects.filter(task_path=reap_stuck_tasks_job.module_path,
                                       status=TaskResultStatus.READY).exists()


def _schedule_reaper() -> None:
    if not _reaper_waiting():
        reap_stuck_tasks_job.using(run_after=timezone.now() + timedelta(seconds=settings.REAPER_INTERVAL)).enqueue()


def ensure_reaper_scheduled() -> None:
    """Queue the next reaper run unless one is waiting; never lets a failure here stop OCR work."""
    try:
        _schedule_reaper()
    except Exception:  # pragma: no cover - logged; the next call tries again
        log.exception("could not schedule the reaper")
