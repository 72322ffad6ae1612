"""No task stays "processing" forever: the reaper re-queues a task whose worker died, once, then fails it.

The last two tests kill a real ``manage.py db_worker`` process with SIGKILL in the middle of a
task and watch the task recover: once through ``manage.py reap_stuck_tasks``, once through the
periodic reaper job that a fresh worker runs by itself.
"""

import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from PIL import Image

from core.audit import SYSTEM
from tasks import jobs, services
from tasks.models import Task
from tasks.pipeline import transitions
from tasks.reaper import reap_stuck_tasks
from tests.tasks.pipeline_helpers import PAGES, encode, run_worker, sample_inputs, task_create
from tests.tasks.worker_processes import WorkerDatabase, create_tasks, tasks_state

SAMPLES = sample_inputs()


def _create(user, label="png"):
    name, content, _mime, _pages = SAMPLES[label]
    return task_create(user=user, uploaded_file=SimpleUploadedFile(name, content))


def _stuck(task, minutes_ago=30, worker="deadhost:123:abc"):
    """Make the task look like a worker started it and then went silent."""
    task.refresh_from_db()
    beat = timezone.now() - timedelta(minutes=minutes_ago)
    Task.objects.filter(pk=task.pk).update(status="processing", started_at=beat, heartbeat_at=beat, pages_done=1,
                                           worker_id=worker)
    DBTaskResult.objects.filter(pk=task.queue_result_id).update(status=TaskResultStatus.RUNNING, started_at=beat)
    task.refresh_from_db()
    return task


@pytest.mark.django_db(transaction=True)
def test_a_silent_task_is_requeued_once_then_failed_with_a_reason(user_a, fake_engine, settings):
    settings.TASK_HEARTBEAT_TIMEOUT = 600
    task = _stuck(_create(user_a))
    old_job = task.queue_result_id

    report = reap_stuck_tasks()
    assert report.requeued == [str(task.pk)] and report.failed == []
    task.refresh_from_db()
    assert (task.status, task.requeue_count, task.worker_id, task.pages_done) == ("pending", 1, "", 0)
    assert task.error_message == "Its worker stopped responding; the task was queued again."
    dead = DBTaskResult.objects.get(pk=old_job)
    assert dead.status == TaskResultStatus.FAILED and dead.exception_class_path == "tasks.reaper.WorkerLost"
    assert task.queue_result_id != old_job
    assert DBTaskResult.objects.get(pk=task.queue_result_id).status == TaskResultStatus.READY

    _stuck(task)  # and its second worker dies too
    report = reap_stuck_tasks()
    assert report.failed == [str(task.pk)]
    task.refresh_from_db()
    assert (task.status, task.error_code) == ("failed", "worker_lost")
    assert task.error_message.startswith("The worker processing this task stopped responding (no sign of life for "
                                         "10 minutes), for the second time")
    assert reap_stuck_tasks().failed == []  # nothing left to do

    services.task_retry(actor=SYSTEM, task=task)  # a retry by the user gives it a fresh chance
    task.refresh_from_db()
    assert (task.status, task.requeue_count) == ("pending", 0)
    run_worker()
    assert Task.objects.get(pk=task.pk).status == "completed"


@pytest.mark.django_db(transaction=True)
def test_a_task_with_a_recent_heartbeat_is_left_alone(user_a, settings):
    settings.TASK_HEARTBEAT_TIMEOUT = 600
    task = _stuck(_create(user_a), minutes_ago=9)
    assert str(reap_stuck_tasks()) == "re-queued 0 stuck task(s), failed 0, re-sent 0 lost queue job(s)"
    assert Task.objects.get(pk=task.pk).status == "processing"


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_wakes_up_after_the_reaper_cannot_finish_the_task(user_a, settings):
    task = _stuck(_create(user_a))
    reap_stuck_tasks()
    with pytest.raises(transitions.TaskNoLongerProcessing):
        transitions.task_heartbeat(task=task, pages_done=2)  # the old run's view of the task
    assert Task.objects.get(pk=task.pk).status == "pending"


@pytest.mark.django_db(transaction=True)
def test_pending_tasks_whose_queue_job_was_lost_are_sent_again(user_a, fake_engine, settings):
    settings.TASK_HEARTBEAT_TIMEOUT = 600
    old = timezone.now() - timedelta(hours=1)
    waiting, no_job, finished_job, claimed_by_dead, fresh = (_create(user_a) for _ in range(5))
    Task.objects.filter(pk__in=[waiting.pk, no_job.pk, finished_job.pk, claimed_by_dead.pk]).update(created_at=old)
    Task.objects.filter(pk=no_job.pk).update(queue_result_id="")
    DBTaskResult.objects.filter(pk=Task.objects.get(pk=finished_job.pk).queue_result_id).update(
        status=TaskResultStatus.SUCCESSFUL)
    DBTaskResult.objects.filter(pk=Task.objects.get(pk=claimed_by_dead.pk).queue_result_id).update(
        status=TaskResultStatus.RUNNING, started_at=old)
    fresh.refresh_from_db()
    DBTaskResult.objects.filter(pk=fresh.queue_result_id).delete()  # lost, but the task is new: not yet
    Task.objects.filter(pk=fresh.pk).update(queue_result_id="")

    report = reap_stuck_tasks()
    assert sorted(report.resent) == sorted(str(t.pk) for t in (no_job, finished_job, claimed_by_dead))
    assert reap_stuck_tasks().resent == []  # their new jobs are waiting now
    run_worker()
    assert set(Task.objects.values_list("status", flat=True)) == {"completed", "pending"}
    assert Task.objects.get(pk=fresh.pk).status == "pending"


@pytest.mark.django_db(transaction=True)
def test_the_command_reports_and_schedules_the_periodic_job(user_a, capsys):
    task = _stuck(_create(user_a))
    call_command("reap_stuck_tasks", "--dry-run")
    out = capsys.readouterr().out
    assert "DRY RUN would have re-queued 1 stuck task(s)" in out and f"would be re-queued: {task.pk}" in out
    assert Task.objects.get(pk=task.pk).status == "processing"
    call_command("reap_stuck_tasks", "--schedule")
    out = capsys.readouterr().out
    assert "re-queued 1 stuck task(s), failed 0, re-sent 0 lost queue job(s)" in out and f"re-queued: {task.pk}" in out
    waiting = DBTaskResult.objects.filter(task_path="tasks.jobs.periodic_job", status=TaskResultStatus.READY)
    assert sorted(r.args_kwargs["args"][0] for r in waiting) == sorted(j.name for j in jobs.PERIODIC_JOBS)
    call_command("reap_stuck_tasks", "--schedule")
    assert waiting.count() == len(jobs.PERIODIC_JOBS)  # never two chains


@pytest.mark.django_db(transaction=True)
def test_the_periodic_job_reaps_and_queues_its_next_run(user_a, settings):
    settings.REAPER_INTERVAL = 120
    task = _stuck(_create(user_a))
    before = timezone.now()
    assert jobs.periodic_job.call("reap_stuck_tasks").startswith("re-queued 1 stuck task(s)")
    assert Task.objects.get(pk=task.pk).status == "pending"
    nxt = DBTaskResult.objects.get(task_path="tasks.jobs.periodic_job", status=TaskResultStatus.READY)
    assert nxt.args_kwargs["args"] == ["reap_stuck_tasks"]
    assert before + timedelta(seconds=119) <= nxt.run_after <= timezone.now() + timedelta(seconds=121)
    assert nxt.priority == 100


@pytest.mark.django_db(transaction=True)
def test_a_reaper_job_queued_by_the_previous_release_still_reaps(user_a, settings):
    settings.REAPER_INTERVAL = 120
    task = _stuck(_create(user_a))
    assert jobs.reap_stuck_tasks_job.call().startswith("re-queued 1 stuck task(s)")
    assert Task.objects.get(pk=task.pk).status == "pending"
    waiting = DBTaskResult.objects.filter(task_path="tasks.jobs.periodic_job", status=TaskResultStatus.READY)
    assert sorted(r.args_kwargs["args"][0] for r in waiting) == sorted(j.name for j in jobs.PERIODIC_JOBS)


# --- real worker processes, really killed ----------------------------------------------------------

def _document(tmp_path: Path, engine: str) -> Path:
    """Several pages, so that a worker is caught in the middle of it."""
    page = Image.open(PAGES / "libtasn1_p13.png").convert("L")
    if engine != "tesseract":  # EasyOCR is slow: a few strips of text are enough
        page = page.crop((0, 0, page.width, 260))
    path = tmp_path / "several-pages.tiff"
    path.write_bytes(encode(page, "TIFF", save_all=True, append_images=[page] * 3, compression="tiff_deflate"))
    return path


def _fast_engine() -> str:
    return "tesseract" if "tesseract" in services.engine_names() else "easyocr"


def _kill_during(db: WorkerDatabase, task_id: str, worker) -> tuple:
    """Wait until the worker is on the task, then SIGKILL it (and anything it started)."""
    hex_id = task_id.replace("-", "")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        rows = db.query(f"SELECT status, pages_done, worker_id FROM {{tasks}} WHERE id = '{hex_id}'")
        if rows and rows[0][0] == "processing":
            os.killpg(worker.pid, signal.SIGKILL)
            assert worker.wait(timeout=30) == -signal.SIGKILL
            return rows[0]
        assert worker.poll() is None, "the worker exited by itself"
        time.sleep(0.05)
    raise AssertionError("the worker never started the task")


def test_sigkilled_worker_task_is_recovered_by_the_reaper_command(tmp_path):
    db = WorkerDatabase(tmp_path)
    try:
        db.migrate()
        engine = _fast_engine()
        [task_id] = create_tasks(db, "alice@example.com", [_document(tmp_path, engine)], engine)
        worker = db.start_worker(cwd=tmp_path / "worker1")
        status, pages_done, dead_worker = _kill_during(db, task_id, worker)
        print(f"killed worker {dead_worker} on page {int(pages_done) + 1} of 4 ({engine})")

        state = tasks_state(db, [task_id])[task_id]
        assert state["status"] == "processing"  # nobody else will ever finish it ...
        assert "re-queued 0" in db.manage("reap_stuck_tasks")  # ... but its heartbeat is still recent
        time.sleep(1.2)
        out = db.manage("reap_stuck_tasks", "--timeout", "1")
        assert "re-queued 1 stuck task(s)" in out and f"re-queued: {task_id}" in out
        state = tasks_state(db, [task_id])[task_id]
        assert (state["status"], state["requeue_count"], state["worker_id"]) == ("pending", 1, "")
        dead_job = db.query("SELECT status, exception_class_path FROM {jobs} WHERE status = 'FAILED'")
        assert dead_job == [("FAILED", "tasks.reaper.WorkerLost")]

        worker = db.start_worker("--batch", cwd=tmp_path / "worker2")
        assert worker.wait(timeout=600) == 0
        state = tasks_state(db, [task_id])[task_id]
        assert state["status"] == "completed", state["error"]
        assert state["pages_done"] == state["page_count"] == 4
        assert state["files"] == ["original", "result_json", "result_pdf", "result_txt"]
        assert state["worker_id"] != dead_worker
    finally:
        db.close()


def test_sigkilled_worker_task_is_recovered_by_the_periodic_job_alone(tmp_path):
    db = WorkerDatabase(tmp_path)
    timings = {"TASK_HEARTBEAT_TIMEOUT": 10, "REAPER_INTERVAL": 5}
    try:
        db.migrate()
        engine = _fast_engine()
        [task_id] = create_tasks(db, "alice@example.com", [_document(tmp_path, engine)], engine)
        worker = db.start_worker(cwd=tmp_path / "worker1", **timings)
        _kill_during(db, task_id, worker)
        killed_at = time.monotonic()

        db.start_worker(cwd=tmp_path / "worker2", **timings)  # a fresh worker, as run_worker.sh would start
        hex_id = task_id.replace("-", "")
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            rows = db.query(f"SELECT status, requeue_count FROM {{tasks}} WHERE id = '{hex_id}'")
            if rows[0][0] in ("completed", "failed"):
                break
            time.sleep(0.5)
        state = tasks_state(db, [task_id])[task_id]
        print(f"recovered {time.monotonic() - killed_at:.0f} s after the kill")
        assert (state["status"], state["requeue_count"]) == ("completed", 1), state["error"]
    finally:
        db.close()
