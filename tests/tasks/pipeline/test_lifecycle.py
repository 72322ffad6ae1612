"""Every lifecycle transition, through the services and through the task page (confirmation, POST, CSRF)."""

import json
import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core.audit import SYSTEM
from core.models import AuditLog
from tasks import services
from tasks.models import Task
from tasks.pipeline import processing, transitions
from tests.tasks.pipeline_helpers import queued_jobs, run_worker, sample_inputs, signed_in, stored_names, task_create

SAMPLES = sample_inputs()


def _create(user, label="png", **kwargs):
    name, content, _mime, _pages = SAMPLES[label]
    return task_create(user=user, uploaded_file=SimpleUploadedFile(name, content), **kwargs)


class CancelAfterFirstPage:
    """An engine during whose first page the user presses cancel."""

    def __init__(self, task_id):
        self.task_id, self.pages = task_id, 0

    def recognize(self, image):
        self.pages += 1
        if self.pages == 1:
            services.task_cancel(actor=SYSTEM, task=Task.objects.get(pk=self.task_id))
        return []


# --- services ---------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_pending_processing_completed(user_a, fake_engine):
    task = _create(user_a)
    assert task.status == "pending"
    started = transitions.task_start(task_id=task.pk, worker_id="w1")
    assert started.status == "processing" and started.started_at and started.heartbeat_at
    assert transitions.task_start(task_id=task.pk, worker_id="w2") is None  # only once
    Task.objects.filter(pk=task.pk).update(status="pending")
    assert processing.run_task(str(task.pk)) == "completed"
    task.refresh_from_db()
    assert task.status == "completed" and task.completed_at and task.files.count() == 4


@pytest.mark.django_db(transaction=True)
def test_processing_failed(user_a, monkeypatch):
    task = _create(user_a)

    class Broken:
        def recognize(self, image):
            raise ValueError("bad tensor")

    monkeypatch.setattr("tasks.pipeline.processing.get_engine", lambda name: Broken())
    assert processing.run_task(str(task.pk)) == "failed"
    task.refresh_from_db()
    assert (task.status, task.error_code) == ("failed", "processing_error") and task.completed_at


@pytest.mark.django_db(transaction=True)
def test_pending_cancelled_at_once_and_its_job_then_does_nothing(user_a, fake_engine):
    task = _create(user_a)
    services.task_cancel(actor=SYSTEM, task=task)
    assert (task.status, task.error_code, task.error_message) == ("cancelled", "cancelled", "Cancelled by the user.")
    run_worker()
    task.refresh_from_db()
    assert task.status == "cancelled" and fake_engine.seen == [] and task.files.count() == 1


@pytest.mark.django_db(transaction=True)
def test_processing_cancelled_stops_before_the_next_page(file_storage, user_a, monkeypatch):
    task = _create(user_a, "tiff")  # two pages
    engine = CancelAfterFirstPage(task.pk)
    monkeypatch.setattr("tasks.pipeline.processing.get_engine", lambda name: engine)
    assert processing.run_task(str(task.pk)) == "stopped"
    assert engine.pages == 1  # page 2 never started
    task.refresh_from_db()
    assert task.status == "cancelled" and list(task.files.values_list("kind", flat=True)) == ["original"]
    assert stored_names() == [f"{user_a.id}/{task.id}/original.tif"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["failed", "cancelled", "completed"])
def test_retry_queues_again_with_count_and_optionally_the_other_engine(file_storage, user_a, fake_engine, how):
    task = _create(user_a)
    run_worker()
    Task.objects.filter(pk=task.pk).update(status=how, error_code="x", error_message="y", requeue_count=1)
    jobs_before = queued_jobs()
    other = next((n for n in services.engine_names() if n != "easyocr"), "easyocr")
    services.task_retry(actor=SYSTEM, task=task, engine=other)
    task.refresh_from_db()
    assert (task.status, task.retry_count, task.engine, task.error_message, task.requeue_count) == (
        "pending", 1, other, "", 0)
    old = sorted(task.files.values_list("file", flat=True))
    assert len(old) == 4 and stored_names() == old  # the earlier run's results stay until the new run completes
    assert queued_jobs() == jobs_before + 1
    run_worker()
    task.refresh_from_db()
    assert task.status == "completed" and task.retry_count == 1 and task.files.count() == 4
    new = sorted(task.files.values_list("file", flat=True))
    assert stored_names() == new and set(new) - set(old) == {n for n in new if not n.endswith("original.png")}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("status", ["pending", "processing"])
def test_retry_is_refused_while_waiting_or_running(user_a, status):
    task = _create(user_a)
    Task.objects.filter(pk=task.pk).update(status=status)
    with pytest.raises(services.InvalidTransition) as err:
        services.task_retry(actor=SYSTEM, task=task)
    assert (err.value.status, err.value.code) == (409, "invalid_state")
    assert err.value.message == f"A {status} task cannot be retried."


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_cancel_is_refused_once_finished(user_a, status):
    task = _create(user_a)
    Task.objects.filter(pk=task.pk).update(status=status)
    with pytest.raises(services.InvalidTransition) as err:
        services.task_cancel(actor=SYSTEM, task=task)
    assert err.value.status == 409 and err.value.message == f"A {status} task cannot be cancelled."


@pytest.mark.django_db(transaction=True)
def test_retry_respects_the_active_task_limit(user_a, settings):
    settings.MAX_TASKS_PER_USER = 1
    failed = _create(user_a)
    Task.objects.filter(pk=failed.pk).update(status="failed")
    _create(user_a)
    with pytest.raises(services.TaskLimitReached) as err:
        services.task_retry(actor=SYSTEM, task=failed)
    assert err.value.status == 429
    assert Task.objects.get(pk=failed.pk).status == "failed"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("status", ["pending", "completed", "failed", "cancelled"])
def test_delete_removes_rows_and_every_file(file_storage, user_a, fake_engine, status):
    task = _create(user_a)
    if status != "pending":
        run_worker()
        Task.objects.filter(pk=task.pk).update(status=status)
    default_storage.save(f"{user_a.id}/{task.id}/leftover.tmp", SimpleUploadedFile("x", b"x"))
    services.task_delete(actor=SYSTEM, task=task)
    assert not Task.objects.filter(pk=task.pk).exists()
    assert stored_names() == []


@pytest.mark.django_db(transaction=True)
def test_delete_while_processing_stops_the_worker_and_leaves_nothing(file_storage, user_a, monkeypatch):
    task = _create(user_a, "tiff")

    class DeleteDuringPage:
        def recognize(self, image):
            services.task_delete(actor=SYSTEM, task=Task.objects.get(pk=task.pk))
            return []

    monkeypatch.setattr("tasks.pipeline.processing.get_engine", lambda name: DeleteDuringPage())
    assert processing.run_task(str(task.pk)) == "stopped"
    assert not Task.objects.exists() and stored_names() == []


# --- the task page ------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_task_page_polls_while_active_and_stops_when_finished(client, user_a, fake_engine):
    signed_in(client, user_a)
    task = _create(user_a, "tiff")
    page = client.get(f"/tasks/{task.id}/").content.decode()
    assert f'hx-get="/tasks/{task.id}/"' in page and 'hx-trigger="every 2s"' in page
    assert "0 / 2" in page and "Cancel…" in page and "Run again with…" not in page

    Task.objects.filter(pk=task.pk).update(status="processing", pages_done=1)
    partial = client.get(f"/tasks/{task.id}/", HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert body.lstrip().startswith("{#") is False and 'id="task-status"' in body and "<html" not in body
    assert 'value="50"' in body and "1 / 2" in body and "hx-get" in body

    Task.objects.filter(pk=task.pk).update(status="pending", pages_done=0)
    run_worker()
    body = client.get(f"/tasks/{task.id}/", HTTP_HX_REQUEST="true").content.decode()
    assert "hx-get" not in body and "hx-trigger" not in body  # polling stops
    assert "Completed" in body and "2 / 2" in body and 'value="100"' in body
    assert "<h3>Page 1</h3>" in body and "<h3>Page 2</h3>" in body and "page1 size" in body
    for suffix in ("result.txt", "result.json", "result.pdf", "original"):
        assert f'href="/api/v1/tasks/{task.id}/{suffix}"' in body


@pytest.mark.django_db(transaction=True)
def test_the_task_pages_download_links_give_the_results(client, user_a, fake_engine):
    task = _create(user_a)
    run_worker()
    signed_in(client, user_a)
    body = client.get(f"/tasks/{task.id}/").content.decode()
    links = re.findall(r'<a href="([^"]+)" download>', body)
    assert len(links) == 4
    got = {}
    for link in links:
        response = client.get(link)
        assert response.status_code == 200, link
        got[link.rsplit("/", 1)[1]] = (response["Content-Type"], b"".join(response.streaming_content))
    assert got["result.txt"][1].startswith(b"page1 size") and got["result.pdf"][0] == "application/pdf"
    assert json.loads(got["result.json"][1])["task_id"] == str(task.id)
    assert got["original"][1] == SAMPLES["png"][1]
    assert AuditLog.objects.filter(action="file.download", outcome="allowed").count() == 4


@pytest.mark.django_db(transaction=True)
def test_cancel_retry_delete_ask_for_confirmation_then_act_on_post(client, user_a, fake_engine):
    signed_in(client, user_a)
    task = _create(user_a)

    confirm = client.get(f"/tasks/{task.id}/cancel/")
    assert confirm.status_code == 200 and "Cancel “libtasn1_p13.png”?" in confirm.content.decode()
    assert Task.objects.get(pk=task.pk).status == "pending"  # GET changes nothing
    response = client.post(f"/tasks/{task.id}/cancel/")
    assert response.status_code == 302 and Task.objects.get(pk=task.pk).status == "cancelled"

    confirm = client.get(f"/tasks/{task.id}/retry/").content.decode()
    assert "Run “libtasn1_p13.png” again?" in confirm and 'name="engine"' in confirm and 'name="language"' in confirm
    response = client.post(f"/tasks/{task.id}/retry/", {"engine": "easyocr"})
    assert response.status_code == 302
    assert Task.objects.get(pk=task.pk).status == "pending" and Task.objects.get(pk=task.pk).retry_count == 1

    response = client.post(f"/tasks/{task.id}/retry/", {"engine": "easyocr"}, follow=True)
    assert "A pending task cannot be retried." in response.content.decode()

    assert "Delete “libtasn1_p13.png”?" in client.get(f"/tasks/{task.id}/delete/").content.decode()
    response = client.post(f"/tasks/{task.id}/delete/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert not Task.objects.filter(pk=task.pk).exists() and stored_names() == []
    assert AuditLog.objects.filter(action="task.delete", object_id=str(task.pk)).exists()


@pytest.mark.django_db(transaction=True)
def test_actions_need_csrf_and_are_the_owners_only(user_a, user_b):
    task = _create(user_a)
    strict = signed_in(Client(enforce_csrf_checks=True), user_a)
    assert strict.post(f"/tasks/{task.id}/delete/").status_code == 403
    assert strict.post(f"/tasks/{task.id}/cancel/").status_code == 403
    other = signed_in(Client(), user_b)
    for action in ("cancel", "retry", "delete"):
        assert other.get(f"/tasks/{task.id}/{action}/").status_code == 404
        assert other.post(f"/tasks/{task.id}/{action}/").status_code == 404
    assert Task.objects.get(pk=task.pk).status == "pending"
