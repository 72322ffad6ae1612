"""Never a file without its row (issue 16): staging records, adoption, the cleanup of what dead processes left,
idempotent uploads, the worker's own temporary folder and exact time spans.

In-process unit tests; tests/faults/ kills real web and worker processes for the same guarantees.
"""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from core.audit import SYSTEM
from tasks import services
from tasks.files import staging
from tasks.files.storage import StorageUnavailable
from tasks.models import StagedFolder, Task, TaskFile
from tasks.pipeline import worker_temp
from tests.tasks.history_helpers import png_upload, signed_in
from tests.tasks.pipeline_helpers import task_create

pytestmark = pytest.mark.django_db(transaction=True)


def _all_names(root):
    found = []
    for dirpath, _dirs, files in os.walk(root):
        found += [os.path.relpath(os.path.join(dirpath, f), root) for f in files]
    return sorted(found)


def test_an_upload_leaves_no_staging_record(user_a, settings):
    task = task_create(user=user_a, uploaded_file=png_upload("a.png"))
    assert StagedFolder.objects.count() == 0
    assert _all_names(settings.MEDIA_ROOT) == [f"{user_a.id}/{task.id}/original.png"]


def test_files_a_killed_upload_left_are_removed_after_the_grace_and_rows_kept_files_stay(user_a, settings):
    kept = task_create(user=user_a, uploaded_file=png_upload("kept.png"))
    # What a process killed between writing and committing leaves: a staging record, files, no rows.
    folder = f"{user_a.id}/0123456789abcdef0123456789abcdef"
    staging.stage([folder], "upload")
    default_storage.save(f"{folder}/original.png", ContentFile(b"half"))
    # And a dead worker's partial result next to a task's adopted files.
    staging.stage([f"{user_a.id}/{kept.id}"], "results")
    default_storage.save(f"{user_a.id}/{kept.id}/result.pdf", ContentFile(b"partial"))

    assert staging.cleanup_stale() == {"folders": 0, "files": 0}  # within the grace: a live upload may own them
    StagedFolder.objects.update(created_at=timezone.now() - timedelta(seconds=settings.STAGING_GRACE_SECONDS + 1))
    assert staging.cleanup_stale() == {"folders": 2, "files": 2}
    assert _all_names(settings.MEDIA_ROOT) == [f"{user_a.id}/{kept.id}/original.png"]
    assert StagedFolder.objects.count() == 0 and TaskFile.objects.count() == 1


def test_the_reaper_runs_the_staging_cleanup(user_a, settings):
    from tasks.reaper import reap_stuck_tasks

    folder = f"{user_a.id}/fedcba9876543210fedcba9876543210"
    staging.stage([folder], "upload")
    default_storage.save(f"{folder}/original.png", ContentFile(b"half"))
    StagedFolder.objects.update(created_at=timezone.now() - timedelta(seconds=settings.STAGING_GRACE_SECONDS + 1))
    report = reap_stuck_tasks()
    assert report.staged == {"folders": 1, "files": 1} and "removed 1 file(s) left without a row" in str(report)
    assert _all_names(settings.MEDIA_ROOT) == []


def test_an_adoption_after_the_cleanup_took_its_record_fails_and_keeps_nothing(user_a, monkeypatch):
    original_adopt = staging.adopt

    def cleanup_first(ids, names=()):
        StagedFolder.objects.filter(pk__in=ids).delete()  # the cleanup got there first (a write slower than the grace)
        return original_adopt(ids, names)

    monkeypatch.setattr(staging, "adopt", cleanup_first)
    with pytest.raises(StorageUnavailable):
        task_create(user=user_a, uploaded_file=png_upload("slow.png"))
    assert not Task.objects.exists() and not TaskFile.objects.exists()


def test_the_same_idempotency_key_returns_the_first_uploads_tasks(client, user_a):
    api = signed_in(client, user_a)
    first = api.post("/api/v1/tasks", {"files": [png_upload("a.png"), png_upload("b.png")]},
                     headers={"Idempotency-Key": "batch-1"})
    assert first.status_code == 201 and "Idempotent-Replayed" not in first
    again = api.post("/api/v1/tasks", {"files": [png_upload("a.png"), png_upload("b.png")]},
                     headers={"Idempotency-Key": "batch-1"})
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert [t["id"] for t in again.json()["tasks"]] == [t["id"] for t in first.json()["tasks"]]
    assert Task.objects.count() == 2
    other = api.post("/api/v1/tasks", {"files": [png_upload("c.png", size=(300, 90))]},
                     headers={"Idempotency-Key": "batch-1"})
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    bad = api.post("/api/v1/tasks", {"files": [png_upload("a.png")]}, headers={"Idempotency-Key": "has space"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_idempotency_key"
    assert Task.objects.count() == 2


def test_the_upload_page_sent_twice_with_its_key_makes_the_tasks_once(client, user_a):
    signed_in(client, user_a)
    page = client.get("/").content.decode()
    key = page.split('name="upload_key" value="', 1)[1].split('"', 1)[0]
    assert len(key) == 32
    for _ in range(2):
        response = client.post("/", {"files": [png_upload("a.png"), png_upload("b.png")], "upload_key": key},
                               follow=True)
        assert response.status_code == 200
    assert "already received earlier" in response.content.decode()
    assert Task.objects.filter(user=user_a, upload_key_row__key=key).count() == 2


def test_deleting_a_task_leaves_no_staging_record_and_no_file(user_a, settings):
    task = task_create(user=user_a, uploaded_file=png_upload("a.png"))
    services.task_delete(actor=SYSTEM, task=task)
    assert StagedFolder.objects.count() == 0 and _all_names(settings.MEDIA_ROOT) == []


def test_cleanup_and_purge_leave_no_staging_record_and_no_file(user_a, settings):
    from tasks.maintenance import cleanup

    task = task_create(user=user_a, uploaded_file=png_upload("old.png"))
    Task.objects.filter(pk=task.pk).update(status="completed", created_at=timezone.now() - timedelta(days=400))
    outcome = cleanup.cleanup_tasks(days=30)
    assert (outcome.tasks, outcome.files, outcome.errors) == (1, 1, [])
    assert StagedFolder.objects.count() == 0 and _all_names(settings.MEDIA_ROOT) == []


def test_files_a_maintenance_run_could_not_delete_are_finished_by_the_staging_cleanup(user_a, settings):
    """A cleanup whose file deletion fails (or a process killed after the rows went) leaves its staging
    record; the staging cleanup then removes the files no row names."""
    from tasks.maintenance import cleanup

    task = task_create(user=user_a, uploaded_file=png_upload("old.png"))
    Task.objects.filter(pk=task.pk).update(status="completed", created_at=timezone.now() - timedelta(days=400))
    from unittest import mock

    default_storage.exists("x")  # set up the lazy storage, to patch its class
    with mock.patch.object(type(default_storage._wrapped), "delete", side_effect=OSError("disk gone")):
        outcome = cleanup.cleanup_tasks(days=30)
    assert outcome.tasks == 1 and outcome.errors and not Task.objects.exists()
    assert _all_names(settings.MEDIA_ROOT) == [f"{user_a.id}/{task.id}/original.png"]
    assert StagedFolder.objects.filter(reason="delete").count() == 1
    StagedFolder.objects.update(created_at=timezone.now() - timedelta(seconds=settings.STAGING_GRACE_SECONDS + 1))
    assert staging.cleanup_stale() == {"folders": 1, "files": 1}
    assert _all_names(settings.MEDIA_ROOT) == [] and StagedFolder.objects.count() == 0


def test_a_killed_workers_temporary_folder_is_removed_by_the_next_worker(tmp_path):
    """Real processes: one takes a folder and is SIGKILLed; a live one's folder is never touched."""
    code = ("import sys, time; sys.path.insert(0, %r); from tasks.pipeline import worker_temp; "
            "folder, _ = worker_temp.claim(%r); open(folder + '/tool-ocr-x.pdf', 'w').write('x'); "
            "print(folder, flush=True); time.sleep(60)") % (str(os.getcwd()), str(tmp_path))
    live = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    dead = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    live_folder, dead_folder = live.stdout.readline().strip(), dead.stdout.readline().strip()
    dead.kill()
    dead.wait()
    try:
        assert worker_temp.sweep(str(tmp_path)) == 1
        assert not os.path.exists(dead_folder) and os.path.exists(live_folder + "/tool-ocr-x.pdf")
    finally:
        live.kill()
        live.wait()
    assert worker_temp.sweep(str(tmp_path)) == 1 and os.listdir(tmp_path) == []


def test_the_reapers_message_says_the_configured_timeout(user_a, settings):
    from tasks.reaper import reap_stuck_tasks

    settings.TASK_HEARTBEAT_TIMEOUT = 30
    task = task_create(user=user_a, uploaded_file=png_upload("a.png"))
    old = timezone.now() - timedelta(seconds=31)
    Task.objects.filter(pk=task.pk).update(status="processing", worker_id="h:1:x", started_at=old, heartbeat_at=old,
                                           requeue_count=1)
    reap_stuck_tasks()
    task.refresh_from_db()
    assert "(no sign of life for 30 seconds)" in task.error_message


def test_a_task_interrupted_by_a_database_outage_is_requeued_without_using_its_requeue(user_a):
    from tasks.reaper import requeue_after_outage

    task = task_create(user=user_a, uploaded_file=png_upload("a.png"))
    Task.objects.filter(pk=task.pk).update(status="processing", worker_id="h:1:x", heartbeat_at=timezone.now())
    assert not requeue_after_outage(task_id=str(task.pk), worker_run_id="other:2:y")
    assert requeue_after_outage(task_id=str(task.pk), worker_run_id="h:1:x")
    task.refresh_from_db()
    assert (task.status, task.requeue_count, task.worker_id) == ("pending", 0, "")
    assert "database was unavailable" in task.error_message
