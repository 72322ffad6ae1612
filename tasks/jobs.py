"""Background jobs run by ``manage.py db_worker`` (the Django Tasks API, database backend).

``process_task`` runs the OCR of one task. Every periodic job (the reaper, token refresh,
session and task cleanup, the storage report) is ``periodic_job(name)``: it runs the
management command of that name and queues its own next run ``interval`` seconds later
(``run_after``), so the workers that run the OCR also run the schedule -- one mechanism
wherever a worker runs (``make run``, systemd, a Procfile), no cron or timers beside it.
``ensure_periodic_scheduled`` starts a chain that is missing; the worker start
(``manage.py periodic_jobs --schedule``) and each OCR job call it. The intervals are
settings (PERIODIC_JOBS below; 0 turns a job off); ``manage.py periodic_jobs`` lists them.
"""

import io
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task

log = logging.getLogger("tool_ocr.worker")

PERIODIC_PRIORITY = 100  # due periodic runs go before OCR work
REAPER_PRIORITY = PERIODIC_PRIORITY
FIRST_RUN_DELAY = 60  # seconds after a worker starts (or the chain was missing) before a job's first run


@dataclass(frozen=True)
class PeriodicJob:
    name: str          # the management command it runs
    setting: str       # the setting with its interval in seconds (0: off)
    purpose: str

    @property
    def interval(self) -> int:
        return int(getattr(settings, self.setting))


PERIODIC_JOBS = (
    PeriodicJob("reap_stuck_tasks", "REAPER_INTERVAL", "re-queue or fail tasks whose worker stopped"),
    PeriodicJob("refresh_tokens", "REFRESH_TOKENS_INTERVAL", "renew company tokens of sessions near expiry"),
    PeriodicJob("cleanup_sessions", "CLEANUP_SESSIONS_INTERVAL", "delete dead token and browser sessions"),
    PeriodicJob("cleanup_tasks", "CLEANUP_TASKS_INTERVAL",
                "delete finished tasks older than TASK_RETENTION_DAYS with their files"),
    PeriodicJob("storage_report", "STORAGE_REPORT_INTERVAL",
                "report storage per user and orphans into the worker log (read-only)"),
)
JOBS = {job.name: job for job in PERIODIC_JOBS}


@task()
def process_task(task_id: str) -> str:
    from tasks.pipeline.processing import run_task

    ensure_periodic_scheduled()
    return run_task(task_id)


@task(priority=PERIODIC_PRIORITY)
def periodic_job(name: str) -> str:
    """Run one periodic command now, then queue its next run (also after a failure)."""
    from django.core.management import call_command

    job = JOBS[name]
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(job.name, stdout=out, stderr=err)
        output = out.getvalue().strip()
        lines = output.splitlines()
        summary = next((line for line in lines if line.startswith(f"{name}:")), lines[0] if lines else "")
        log.info("periodic job done", extra={"job": name, "summary": summary[:500]})
        return output[:4000]
    except Exception as exc:
        log.error("periodic job failed", extra={"job": name, "error": str(exc)[:500],
                                                "stderr": err.getvalue()[-1000:]})
        raise
    finally:
        _schedule(job, delay=job.interval)


@task(priority=PERIODIC_PRIORITY)
def reap_stuck_tasks_job() -> str:
    """Kept so that reaper runs queued by the previous release still run: the periodic reaper job, now.

    Through its management command, like every periodic job, so this module (which the reaper
    imports to look up queue jobs) does not import the reaper back.
    """
    try:
        return periodic_job.call("reap_stuck_tasks")
    finally:
        ensure_periodic_scheduled()


def waiting_runs() -> dict:
    """{job name: run_after of its queued (not yet started) run}."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    rows = DBTaskResult.objects.filter(task_path=periodic_job.module_path,
                                       status=TaskResultStatus.READY).values_list("args_kwargs", "run_after")
    waiting = {}
    for args_kwargs, run_after in rows:
        args = (args_kwargs or {}).get("args") or []
        name = args[0] if args else (args_kwargs or {}).get("kwargs", {}).get("name")
        if name:
            waiting[name] = min(filter(None, (waiting.get(name), run_after)), default=None)
    return waiting


def _schedule(job: PeriodicJob, *, delay: int, waiting: dict | None = None) -> bool:
    """Queue the job's next run unless it is off or a run is already waiting; True when queued."""
    if job.interval <= 0:
        return False
    if job.name in (waiting if waiting is not None else waiting_runs()):
        return False
    periodic_job.using(run_after=timezone.now() + timedelta(seconds=delay)).enqueue(job.name)
    return True


def ensure_periodic_scheduled() -> list[str]:
    """Queue the first run of every job whose chain is missing; never lets a failure here stop OCR work."""
    try:
        waiting = waiting_runs()
        return [job.name for job in PERIODIC_JOBS
                if _schedule(job, delay=min(job.interval, FIRST_RUN_DELAY), waiting=waiting)]
    except Exception:  # pragma: no cover - logged; the next call tries again
        log.exception("could not schedule the periodic jobs")
        return []


def ensure_reaper_scheduled() -> None:
    """Older name, kept for callers: every periodic job, the reaper among them."""
    ensure_periodic_scheduled()
