"""Contract tests of the JSON API (shared/docs/http-api.md): every endpoint, every error shape."""

import uuid

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from django.test import Client

from core.models import AuditLog
from tasks.models import Task, TaskFile
from tests.tasks.history_helpers import make_task, png_bytes, png_upload, signed_in

pytestmark = pytest.mark.django_db

TASK_KEYS = {"id", "filename", "status", "engine", "language", "created_at", "started_at", "completed_at",
             "processing_seconds", "page_count", "progress", "size_bytes", "retry_count", "error", "files",
             "pages_read"}


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


@pytest.fixture
def api(client, user_a):
    return signed_in(client, user_a)


def _stored_names(user):
    try:
        folders, _ = default_storage.listdir(str(user.id))
    except FileNotFoundError:
        return []
    return folders


# --- /me ------------------------------------------------------------------------------------

def test_me(api, user_a):
    make_task(user_a, status="pending")
    make_task(user_a, status="processing")
    make_task(user_a, status="completed")
    user_a.job_title, user_a.office_location = "Archivist", "Taipei"
    user_a.save()
    assert api.get("/api/v1/me").json() == {"email": "alice@example.com", "name": "Alice Example",
                                            "job_title": "Archivist", "office_location": "Taipei", "active_tasks": 2}


@pytest.mark.parametrize("method,path", [
    ("get", "/api/v1/me"), ("get", "/api/v1/tasks"), ("post", "/api/v1/tasks"),
    ("get", f"/api/v1/tasks/{uuid.uuid4()}"), ("delete", f"/api/v1/tasks/{uuid.uuid4()}"),
    ("post", f"/api/v1/tasks/{uuid.uuid4()}/retry"), ("post", f"/api/v1/tasks/{uuid.uuid4()}/cancel"),
    ("get", f"/api/v1/tasks/{uuid.uuid4()}/result.txt"), ("get", f"/api/v1/tasks/{uuid.uuid4()}/original"),
    ("get", "/api/v1/history/stats"), ("post", "/api/v1/history/export"),
])
def test_every_endpoint_answers_401_json_when_not_signed_in(method, path):
    client = Client(enforce_csrf_checks=True)
    assert_error(getattr(client, method)(path), 401, "not_authenticated")


# --- POST /tasks ------------------------------------------------------------------------------

def test_upload_one_file(api, user_a):
    response = api.post("/api/v1/tasks", {"files": png_upload("page one.png")})
    assert response.status_code == 201
    (task,) = response.json()["tasks"]
    assert set(task) == TASK_KEYS
    assert task["filename"] == "page one.png" and task["status"] == "pending" and task["engine"] == "tesseract"
    assert task["progress"] == {"pages_done": 0, "pages_total": 1} and task["error"] is None
    assert task["files"] == [{"kind": "original", "name": "page one.png", "size_bytes": len(png_bytes()),
                              "url": f"/api/v1/tasks/{task['id']}/original"}]
    assert Task.objects.get(pk=task["id"]).user == user_a


def test_upload_several_files_gives_one_task_each_in_order(api, user_a):
    response = api.post("/api/v1/tasks", {"files": [png_upload("a.png"), png_upload("b.png"), png_upload("c.png")],
                                          "engine": "easyocr", "language": "en"})
    assert response.status_code == 201
    assert [t["filename"] for t in response.json()["tasks"]] == ["a.png", "b.png", "c.png"]
    assert Task.objects.filter(user=user_a).count() == 3


def test_upload_without_files_is_400(api):
    assert_error(api.post("/api/v1/tasks", {"engine": "easyocr"}), 400, "no_files")
    assert not Task.objects.exists()


def test_upload_of_an_unsupported_type_is_415_and_leaves_nothing(api, user_a):
    error = assert_error(api.post("/api/v1/tasks", {"files": SimpleUploadedFile("notes.png", b"<html>hi</html>")}), 415)
    assert error["details"]["file"] == "notes.png"
    assert not Task.objects.exists() and not TaskFile.objects.exists() and _stored_names(user_a) == []


def test_one_bad_file_refuses_the_whole_upload(api, user_a):
    files = [png_upload("good-1.png"), png_upload("good-2.png"), SimpleUploadedFile("bad.png", b"\x89PNG\r\n\x1a\nxx")]
    error = assert_error(api.post("/api/v1/tasks", {"files": files}), 400)
    assert error["details"]["file"] == "bad.png" and error["details"]["index"] == 2
    assert "bad.png" in error["message"]
    assert not Task.objects.exists() and not TaskFile.objects.exists() and _stored_names(user_a) == []


def test_too_large_is_413_and_leaves_nothing(api, user_a, settings):
    settings.MAX_UPLOAD_MB = 1
    big = SimpleUploadedFile("big.png", png_bytes() + b"\x00" * (1024 * 1024 + 10))
    error = assert_error(api.post("/api/v1/tasks", {"files": [png_upload("small.png"), big]}), 413, "file_too_large")
    assert error["details"]["file"] == "big.png"
    assert not Task.objects.exists() and _stored_names(user_a) == []


def test_task_limit_is_429(api, user_a, settings):
    settings.MAX_TASKS_PER_USER = 2
    make_task(user_a, status="pending")
    error = assert_error(api.post("/api/v1/tasks", {"files": [png_upload("a.png"), png_upload("b.png")]}), 429,
                         "task_limit_reached")
    assert error["details"]["index"] == 1
    assert Task.objects.filter(user=user_a).count() == 1 and _stored_names(user_a) == []


def test_unknown_engine_is_400(api):
    error = assert_error(api.post("/api/v1/tasks", {"files": png_upload(), "engine": "magic"}), 400)
    assert "magic" in error["message"]
    assert not Task.objects.exists()


def test_unsafe_methods_need_the_csrf_token(user_a):
    client = signed_in(Client(enforce_csrf_checks=True), user_a)
    task = make_task(user_a, status="failed")
    assert_error(client.post("/api/v1/tasks", {"files": png_upload()}), 403, "csrf_failed")
    assert_error(client.delete(f"/api/v1/tasks/{task.id}"), 403, "csrf_failed")
    assert_error(client.post(f"/api/v1/tasks/{task.id}/retry"), 403, "csrf_failed")
    assert Task.objects.filter(pk=task.pk, status="failed").exists() and Task.objects.count() == 1
    client.get("/api/v1/me")  # safe methods need no token
    token = client.cookies.get("csrftoken")
    if token is None:  # the cookie comes with the first page that uses the token
        client.get("/")
        token = client.cookies["csrftoken"]
    ok = client.post(f"/api/v1/tasks/{task.id}/retry", headers={"X-CSRFToken": token.value})
    assert ok.status_code == 202


# --- GET /tasks -------------------------------------------------------------------------------

def test_list_paginates_newest_first_with_count(api, user_a, user_b):
    tasks = [make_task(user_a, filename=f"t{i}.png") for i in range(5)]
    make_task(user_b, filename="someone-else.png")
    body = api.get("/api/v1/tasks?page=2&page_size=2").json()
    assert body["count"] == 5 and body["page"] == 2 and body["page_size"] == 2
    assert [t["filename"] for t in body["results"]] == [tasks[2].filename, tasks[1].filename]
    assert set(body["results"][0]) == TASK_KEYS
    assert api.get("/api/v1/tasks?page=9").json()["results"] == []


def test_list_filters(api, user_a):
    make_task(user_a, filename="Invoice-March.png", status="completed")
    make_task(user_a, filename="invoice-april.png", status="failed")
    make_task(user_a, filename="letter.png", status="failed")
    body = api.get("/api/v1/tasks?status=failed&status=completed&q=INVOICE&ordering=filename").json()
    assert [t["filename"] for t in body["results"]] == ["invoice-april.png", "Invoice-March.png"] or \
        [t["filename"] for t in body["results"]] == ["Invoice-March.png", "invoice-april.png"]
    assert body["count"] == 2
    failed = api.get("/api/v1/tasks?status=failed").json()
    assert failed["count"] == 2 and {t["error"]["code"] for t in failed["results"]} == {"ocr_failed"}


def test_list_treats_empty_parameters_as_absent(api, user_a):
    make_task(user_a)
    body = api.get("/api/v1/tasks?created_from=&created_to=&q=&status=").json()
    assert body["count"] == 1


@pytest.mark.parametrize("query,field", [
    ("page_size=101", "page_size"), ("page=0", "page"), ("page=two", "page"), ("status=done", "status"),
    ("ordering=user_id", "ordering"), ("created_from=2025-02-30", "created_from"),
    ("created_to=yesterday", "created_to"), ("created_from=2025-03-01&created_to=2025-02-01", "created_to"),
    ("q=" + "x" * 201, "q"),
])
def test_list_rejects_bad_parameters_with_400(api, query, field):
    error = assert_error(api.get(f"/api/v1/tasks?{query}"), 400, "invalid_input")
    assert field in error["details"], error
    assert error["message"] == " ".join(error["details"].values())  # in words, as the history page says it


# --- one task ---------------------------------------------------------------------------------

def test_detail_with_files_and_progress(api, user_a):
    task = make_task(user_a, status="completed", with_files=True, page_count=3)
    body = api.get(f"/api/v1/tasks/{task.id}").json()
    assert set(body) == TASK_KEYS and body["id"] == str(task.id)
    assert body["progress"] == {"pages_done": 3, "pages_total": 3}
    assert [f["kind"] for f in body["files"]] == ["result_txt", "result_json", "original"]
    assert body["files"][0]["url"] == f"/api/v1/tasks/{task.id}/result.txt"


def test_another_users_task_is_404_everywhere_and_unchanged(api, user_b):
    task = make_task(user_b, status="failed", with_files=True)
    for method, suffix in (("get", ""), ("delete", ""), ("post", "/retry"), ("post", "/cancel"),
                           ("get", "/original"), ("get", "/result.txt")):
        assert_error(getattr(api, method)(f"/api/v1/tasks/{task.id}{suffix}"), 404, "not_found")
    task.refresh_from_db()
    assert task.status == "failed" and task.retry_count == 0 and task.files.count() == 1


def test_unknown_and_malformed_ids_are_404(api):
    assert_error(api.get(f"/api/v1/tasks/{uuid.uuid4()}"), 404, "not_found")
    assert_error(api.get("/api/v1/tasks/not-a-uuid"), 404, "not_found")
    assert_error(api.get("/api/v1/nothing/here"), 404, "not_found")


def test_delete_removes_rows_and_files(api, user_a, django_capture_on_commit_callbacks):
    task = make_task(user_a, status="completed", with_files=True)
    names = [f.file.name for f in task.files.all()]
    assert all(default_storage.exists(n) for n in names)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"/api/v1/tasks/{task.id}")
    assert response.status_code == 204 and response.content == b""
    assert not Task.objects.filter(pk=task.pk).exists() and not TaskFile.objects.filter(task_id=task.pk).exists()
    assert not any(default_storage.exists(n) for n in names)
    assert AuditLog.objects.filter(action="task.delete", object_id=str(task.pk)).exists()


def test_retry_a_failed_task(api, user_a):
    task = make_task(user_a, status="failed")
    response = api.post(f"/api/v1/tasks/{task.id}/retry")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending" and body["retry_count"] == 1 and body["error"] is None


def test_retry_with_an_engine_in_the_json_body(api, user_a):
    task = make_task(user_a, status="cancelled")
    assert_error(api.post(f"/api/v1/tasks/{task.id}/retry", {"engine": "magic"}, content_type="application/json"), 400)
    task.refresh_from_db()
    assert task.status == "cancelled"
    response = api.post(f"/api/v1/tasks/{task.id}/retry", {"engine": "easyocr"}, content_type="application/json")
    assert response.status_code == 202 and response.json()["engine"] == "easyocr"


@pytest.mark.parametrize("status", ["pending", "processing"])
def test_retry_in_the_wrong_state_is_409(api, user_a, status):
    task = make_task(user_a, status=status)
    error = assert_error(api.post(f"/api/v1/tasks/{task.id}/retry"), 409, "invalid_state")
    assert error["details"]["status"] == status
    task.refresh_from_db()
    assert task.status == status and task.retry_count == 0


def test_cancel_a_pending_task(api, user_a):
    task = make_task(user_a, status="pending")
    response = api.post(f"/api/v1/tasks/{task.id}/cancel")
    assert response.status_code == 202 and response.json()["status"] == "cancelled"


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_cancel_in_the_wrong_state_is_409(api, user_a, status):
    task = make_task(user_a, status=status)
    assert_error(api.post(f"/api/v1/tasks/{task.id}/cancel"), 409, "invalid_state")
    task.refresh_from_db()
    assert task.status == status


def test_downloads(api, user_a):
    task = make_task(user_a, filename="scan.png", status="completed", with_files=True)
    text = api.get(f"/api/v1/tasks/{task.id}/result.txt")
    assert text.status_code == 200 and b"".join(text.streaming_content) == b"text of scan.png\n"
    assert text["Content-Disposition"].startswith("attachment") and text["X-Content-Type-Options"] == "nosniff"
    original = api.get(f"/api/v1/tasks/{task.id}/original")
    assert b"".join(original.streaming_content) == png_bytes()
    assert api.get(f"/api/v1/tasks/{task.id}/result.json").status_code == 200
    assert_error(api.get(f"/api/v1/tasks/{task.id}/result.pdf"), 404, "not_found")  # none made for this task


# --- protocol errors ----------------------------------------------------------------------------

def test_wrong_method_is_405_json(api):
    error = assert_error(api.put("/api/v1/tasks"), 405, "method_not_allowed")
    assert set(error["details"]["allowed"]) == {"GET", "POST"}
    assert_error(api.post("/api/v1/me"), 405, "method_not_allowed")


def test_too_large_request_body_is_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    assert_error(api.post("/api/v1/history/export", {"format": "csv", "q": "x" * 500}), 413)


def test_database_down_is_503(api, monkeypatch):
    def down(**kwargs):
        raise OperationalError("server has gone away")

    monkeypatch.setattr("tasks.selectors.task_active_count", down)
    assert_error(api.get("/api/v1/me"), 503, "service_unavailable")


def test_history_endpoints_404_when_history_is_off(api, user_a, settings):
    settings.ENABLE_TASK_HISTORY = False
    assert_error(api.get("/api/v1/history/stats"), 404, "not_found")
    assert_error(api.post("/api/v1/history/export", {"format": "csv"}), 404, "not_found")
    created = api.post("/api/v1/tasks", {"files": png_upload()})  # OCR keeps working
    assert created.status_code == 201
    assert api.get(f"/api/v1/tasks/{created.json()['tasks'][0]['id']}").status_code == 200


def test_every_stored_file_kind_has_one_row_in_the_table():
    """tasks.files.file_links.KINDS is the one table of kinds: a new TaskFile.Kind without its row fails here."""
    from tasks.files.file_links import KINDS
    from tasks.models import TaskFile

    assert sorted(k.kind for k in KINDS) == sorted(TaskFile.Kind.values)
    for field in ("suffix", "storage_name", "label", "short_label"):
        assert len({getattr(k, field) for k in KINDS}) == len(KINDS), field


def test_openapi_describes_every_endpoint(client):
    spec = client.get("/api/v1/openapi.json").json()
    paths = spec["paths"]
    expected = {"/api/v1/me": {"get"}, "/api/v1/tasks": {"get", "post"},
                "/api/v1/tasks/{task_id}": {"get", "delete"}, "/api/v1/tasks/{task_id}/retry": {"post"},
                "/api/v1/tasks/{task_id}/cancel": {"post"}, "/api/v1/tasks/{task_id}/result.txt": {"get"},
                "/api/v1/tasks/{task_id}/result.json": {"get"}, "/api/v1/tasks/{task_id}/result.pdf": {"get"},
                "/api/v1/tasks/{task_id}/original": {"get"}, "/api/v1/history/stats": {"get"},
                "/api/v1/history/export": {"post"}, "/api/v1/ocr/options": {"get"},
                "/api/v1/tokens": {"get", "post"}, "/api/v1/tokens/{token_id}": {"delete"}}
    assert {p: set(ops) for p, ops in paths.items()} == expected
    list_params = {p["name"] for p in paths["/api/v1/tasks"]["get"]["parameters"]}
    assert {"page", "page_size", "status", "q", "created_from", "created_to", "ordering"} <= list_params
