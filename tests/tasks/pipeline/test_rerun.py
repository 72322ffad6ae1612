"""Run again with another engine or language (issue 10 item 6): API, task page, service, real engines.

The earlier results stay downloadable while the new run waits and runs, and are swapped for
the new ones in task_complete's transaction; the change is audited in task_retry's.
"""

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from core.audit import SYSTEM
from core.models import AuditLog
from tasks import selectors, services
from tasks.models import Task
from tasks.pipeline import processing
from tests.tasks.pipeline_helpers import PAGES, encode, run_worker, sample_inputs, signed_in, stored_names, task_create

pytestmark = pytest.mark.django_db(transaction=True)

SAMPLES = sample_inputs()


def _completed(user):
    name, content, _mime, _pages = SAMPLES["png"]
    task = task_create(user=user, uploaded_file=SimpleUploadedFile(name, content), engine="easyocr")
    run_worker()
    task.refresh_from_db()
    assert task.status == "completed"
    return task


def _download(client, task, suffix="result.txt"):
    response = client.get(f"/api/v1/tasks/{task.id}/{suffix}")
    return response.status_code, b"".join(response.streaming_content) if response.status_code == 200 else b""


def test_run_again_keeps_the_old_results_until_the_new_run_replaces_them(client, user_a, fake_engine):
    task = _completed(user_a)
    signed_in(client, user_a)
    status, first_text = _download(client, task)
    assert status == 200 and first_text.startswith(b"page1 ")
    old_files = sorted(task.files.values_list("file", flat=True))

    response = client.post(f"/api/v1/tasks/{task.id}/retry", {"engine": "tesseract", "language": "en"},
                           content_type="application/json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["engine"], body["language"], body["retry_count"]) == ("pending", "tesseract", "en", 1)
    assert {f["kind"] for f in body["files"]} == {"original", "result_txt", "result_json", "result_pdf"}
    assert _download(client, task) == (200, first_text)  # still the earlier run's, while waiting
    assert stored_names() == old_files

    entry = AuditLog.objects.get(action="task.retry", object_id=str(task.pk))
    assert entry.user == user_a and entry.user_email == user_a.email and entry.ip_address == "127.0.0.1"
    assert entry.details == {"previous_status": "completed", "engine": "tesseract", "language": "en",
                             "previous_engine": "easyocr", "previous_language": "en", "via": "api"}

    run_worker()  # the fake engine reads "page2 ..." this time
    task.refresh_from_db()
    assert task.status == "completed" and task.engine == "tesseract"
    status, second_text = _download(client, task)
    assert status == 200 and second_text.startswith(b"page2 ")
    new_files = sorted(task.files.values_list("file", flat=True))
    assert len(new_files) == 4 and stored_names() == new_files  # replaced, the earlier files gone from storage
    assert [n for n in new_files if n.endswith(".txt")] == [f"{user_a.id}/{task.id}/result-r1.txt"]


def test_new_results_that_cannot_be_stored_leave_the_earlier_ones(client, user_a, fake_engine, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "tests.tasks.failing_storage.FailingRerunResultsStorage",
        "OPTIONS": {"location": str(tmp_path / "f")}}}
    task = _completed(user_a)
    old_rows = sorted(task.files.values_list("kind", "file", "sha256"))
    services.task_retry(actor=SYSTEM, task=task, engine="tesseract")
    assert processing.run_task(str(task.pk)) == "failed"
    task.refresh_from_db()
    assert (task.status, task.error_code) == ("failed", "storage_unavailable")  # a disk fault says so (issue 16)
    assert "retry the task later" in task.error_message
    assert sorted(task.files.values_list("kind", "file", "sha256")) == old_rows  # no moment with none, no mix
    assert stored_names() == sorted(name for _kind, name, _sha in old_rows)
    signed_in(client, user_a)
    assert _download(client, task)[0] == 200


def test_bad_choices_are_400_and_change_nothing(client, user_a, fake_engine):
    task = _completed(user_a)
    signed_in(client, user_a)
    for body, code, field in (({"language": "xx"}, "invalid_language", "language"),
                              ({"engine": "magic", "language": "en"}, "invalid_engine", "engine")):
        response = client.post(f"/api/v1/tasks/{task.id}/retry", body, content_type="application/json")
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == code and "choose one of" in error["message"] and error["details"][field] == body[field]
    response = client.post(f"/api/v1/tasks/{task.id}/retry", {"language": 5}, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["message"] == "The language must be a string."
    for body, message in (("[]", "The body must be a JSON object."), ("{no", "The body is not valid JSON.")):
        response = client.post(f"/api/v1/tasks/{task.id}/retry", body, content_type="application/json")
        assert response.status_code == 400 and response.json()["error"] == {
            "code": "invalid_json", "message": message, "details": {}}
    task.refresh_from_db()
    assert (task.status, task.retry_count, task.engine) == ("completed", 0, "easyocr") and task.files.count() == 4
    assert not AuditLog.objects.filter(action="task.retry").exists()


def test_run_again_is_409_while_the_task_waits_or_runs(client, user_a, fake_engine):
    task = _completed(user_a)
    services.task_retry(actor=SYSTEM, task=task)
    signed_in(client, user_a)
    response = client.post(f"/api/v1/tasks/{task.id}/retry")
    assert response.status_code == 409 and response.json()["error"]["message"] == "A pending task cannot be retried."
    assert AuditLog.objects.filter(action="task.retry").count() == 1


def test_task_page_offers_run_again_with_engine_and_language(client, user_a, fake_engine):
    task = _completed(user_a)
    signed_in(client, user_a)
    page = client.get(f"/tasks/{task.id}/").content.decode()
    assert "Run again with…" in page and f'action="/tasks/{task.id}/retry/"' in page
    assert 'name="engine" value="tesseract"' in page and '<select name="language"' in page
    response = client.post(f"/tasks/{task.id}/retry/", {"engine": "tesseract", "language": "en"})
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.status, task.engine, task.retry_count) == ("pending", "tesseract", 1)
    page = client.get(f"/tasks/{task.id}/").content.decode()
    assert 'data-testid="earlier-results"' in page and "result.txt" in page and "Run again with…" not in page
    assert AuditLog.objects.filter(action="task.retry", user=user_a, object_id=str(task.pk)).count() == 1


def test_bulk_retry_in_the_history_still_leaves_completed_tasks_alone(client, user_a, fake_engine):
    task = _completed(user_a)
    with pytest.raises(services.InvalidTransition):
        services.task_retry(actor=SYSTEM, task=task, allow_completed=False)
    assert Task.objects.get(pk=task.pk).status == "completed"


@pytest.mark.ocr
def test_real_engines_run_again_with_the_other_engine_and_the_search_follows(client, user_a):
    """Real twin: Tesseract reads the page, then EasyOCR reads it again; the index follows the new text.

    The page is the top of a shared page (its heading and first function, "definitions" four times):
    EasyOCR costs tens of seconds a full page here, and the whole page would prove nothing more.
    """
    with Image.open(PAGES / "libtasn1_p13.png") as page:
        content = encode(page.crop((0, 0, page.width, 462)), "PNG", dpi=page.info["dpi"])
    task = task_create(user=user_a, uploaded_file=SimpleUploadedFile("libtasn1_p13_top.png", content),
                       engine="tesseract")
    run_worker()
    task.refresh_from_db()
    assert task.status == "completed"
    first = task.text_index.text
    assert "definitions" in first.lower()
    assert [t.pk for t in selectors.task_page(user=user_a, filters={"q": "definitions"}).rows] == [task.pk]
    services.task_retry(actor=SYSTEM, task=task, engine="easyocr")
    run_worker()
    task.refresh_from_db()
    assert task.status == "completed" and task.engine == "easyocr"
    task.text_index.refresh_from_db()
    assert task.text_index.text != first and "definitions" in task.text_index.text.lower()
    signed_in(client, user_a)
    status, body = _download(client, task)
    assert status == 200 and body.decode() == task.text_index.text
    assert len(stored_names()) == 4 and not default_storage.exists(f"{user_a.id}/{task.id}/result.txt")
