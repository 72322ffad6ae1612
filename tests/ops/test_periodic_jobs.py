"""One scheduler for every periodic job: the task queue the workers already run (tasks/jobs.py)."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from tasks import jobs
from tasks.models import Task

ROOT = Path(settings.BASE_DIR)
EXPECTED = {"cleanup_tasks", "cleanup_sessions", "reap_stuck_tasks", "refresh_tokens", "storage_report"}

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting():
    return DBTaskResult.objects.filter(task_path="tasks.jobs.periodic_job", status=TaskResultStatus.READY)


def test_every_periodic_command_has_one_scheduler_and_documented_interval():
    assert {job.name for job in jobs.PERIODIC_JOBS} == EXPECTED
    env_example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for job in jobs.PERIODIC_JOBS:
        assert isinstance(job.interval, int)
        assert re.search(rf"^{job.setting}=", env_example, re.M), job.setting
        assert f"| `{job.name}` | `{job.setting}` |" in readme and f"| `{job.setting}` |" in readme
    # Not two mechanisms: no timers, no cron lines beside the queue.
    assert not list((ROOT / "deploy").rglob("*.timer"))
    assert "crontab" not in readme
    # Every way a worker starts queues the jobs: make run's supervisor, the systemd unit, the Procfile.
    for path in ("scripts/run_worker.sh", "deploy/systemd/tool-ocr-worker@.service", "Procfile"):
        assert "periodic_jobs --schedule" in (ROOT / path).read_text(), path


def test_schedule_queues_each_job_once_and_lists_them(capsys):
    call_command("periodic_jobs")
    assert "missing:" in capsys.readouterr().out
    call_command("periodic_jobs", "--schedule")
    out = capsys.readouterr().out
    assert "periodic_jobs: 5 of 5 queued" in out
    for job in jobs.PERIODIC_JOBS:
        assert job.name in out and job.setting in out
    call_command("periodic_jobs", "--schedule")
    assert sorted(r.args_kwargs["args"][0] for r in _waiting()) == sorted(EXPECTED)  # never two chains


def test_a_run_does_its_work_and_queues_the_next_after_its_interval(user_a, settings):
    from tests.tasks.history_helpers import make_task

    settings.CLEANUP_TASKS_INTERVAL = 7200
    settings.TASK_RETENTION_DAYS = 30
    old = make_task(user_a, created_at=timezone.now() - timedelta(days=40))
    busy = make_task(user_a, status="processing", created_at=timezone.now() - timedelta(days=40))
    before = timezone.now()
    summary = jobs.periodic_job.call("cleanup_tasks")
    assert summary.startswith("cleanup_tasks: ") and "1 task" in summary
    assert not Task.objects.filter(pk=old.pk).exists() and Task.objects.filter(pk=busy.pk).exists()
    [nxt] = _waiting()
    assert nxt.args_kwargs["args"] == ["cleanup_tasks"] and nxt.priority == jobs.PERIODIC_PRIORITY
    assert before + timedelta(seconds=7199) <= nxt.run_after <= timezone.now() + timedelta(seconds=7201)


def test_a_failing_run_is_logged_and_still_queues_the_next(settings, monkeypatch):
    from django.core.management.base import CommandError

    def broken(*args, **kwargs):
        raise CommandError("storage unreachable")

    monkeypatch.setattr("django.core.management.call_command", broken)
    with pytest.raises(CommandError):
        jobs.periodic_job.call("storage_report")
    assert [r.args_kwargs["args"][0] for r in _waiting()] == ["storage_report"]


def test_an_interval_of_zero_turns_a_job_off(settings):
    settings.STORAGE_REPORT_INTERVAL = 0
    queued = jobs.ensure_periodic_scheduled()
    assert "storage_report" not in queued and set(queued) == EXPECTED - {"storage_report"}


@pytest.mark.django_db(transaction=False)
def test_a_real_worker_runs_due_jobs(tmp_path):
    """The real db_worker takes a due periodic run from the queue and queues the next one.

    Its own database (a SQLite file, or a scratch MariaDB database on the MariaDB pass): the
    test database of pytest-django is in memory on SQLite and cannot be shared with a process.
    """
    from tests.tasks.worker_processes import WorkerDatabase

    db = WorkerDatabase(tmp_path)
    try:
        db.migrate()
        db.python("""
from django.utils import timezone
from tasks import jobs
jobs.periodic_job.using(run_after=timezone.now()).enqueue("cleanup_sessions")
""")
        db.manage("db_worker", "--batch", "--no-reload", CLEANUP_SESSIONS_INTERVAL="3600", LOG_FORMAT="plain")
        result = db.python("""
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult
rows = DBTaskResult.objects.filter(task_path="tasks.jobs.periodic_job")
result = {"done": [r.args_kwargs["args"][0] for r in rows.filter(status=TaskResultStatus.SUCCESSFUL)],
          "waiting": [r.args_kwargs["args"][0] for r in rows.filter(status=TaskResultStatus.READY)]}
""")
    finally:
        db.close()
    assert result["done"] == ["cleanup_sessions"]
    assert "cleanup_sessions" in result["waiting"]
