"""A dependency down is a 503 (issue 16): the branded page, the contract's JSON, probes within their deadline.

Unit tests with the failure injected in-process; tests/faults/ has the real twins (a MariaDB of its
own killed and frozen, tmpfs storage full and read-only, the sign-in API down).
"""

import errno
import re
import time

import pytest
from django.db import OperationalError

from tests.tasks.pipeline_helpers import signed_in

pytestmark = pytest.mark.django_db(transaction=True)


def _database_gone(*args, **kwargs):
    raise OperationalError(2003, "Can't connect to MySQL server on '127.0.0.1' (111)")


def test_session_lookup_failing_outside_any_view_is_a_branded_503_page(client, user_a, monkeypatch):
    signed_in(client, user_a)
    client.raise_request_exception = False  # as a real server: the 500 Django makes is what we replace
    monkeypatch.setattr("django.contrib.sessions.backends.db.SessionStore.load", _database_gone)
    response = client.get("/")
    assert response.status_code == 503
    page = response.content.decode()
    assert "Temporarily unavailable" in page and "The database is not answering" in page and "Try again" in page
    assert response["Retry-After"] and "no-store" in response["Cache-Control"]


def test_the_api_answers_the_contracts_json_when_the_session_lookup_fails(client, user_a, monkeypatch):
    signed_in(client, user_a)
    client.raise_request_exception = False
    monkeypatch.setattr("django.contrib.sessions.backends.db.SessionStore.load", _database_gone)
    response = client.get("/api/v1/tasks")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "service_unavailable" and error["details"]["dependency"] == "database"
    assert "Try again" in error["message"]


def test_a_view_failing_on_the_database_is_503_not_500(client, user_a, monkeypatch):
    signed_in(client, user_a)
    monkeypatch.setattr("tasks.selectors.task_list", _database_gone)
    response = client.get("/")
    assert response.status_code == 503 and "Temporarily unavailable" in response.content.decode()


def test_a_programming_error_is_still_a_500(client, user_a, monkeypatch):
    signed_in(client, user_a)

    def broken(*args, **kwargs):
        raise ValueError("a bug, not a dependency")

    monkeypatch.setattr("tasks.selectors.task_list", broken)
    client.raise_request_exception = False
    assert client.get("/").status_code == 500


def test_probes_skip_the_session_so_a_cookie_does_not_make_them_touch_the_database(client, user_a, monkeypatch):
    signed_in(client, user_a)
    monkeypatch.setattr("django.contrib.sessions.backends.db.SessionStore.load", _database_gone)
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["database"] == "ok"


def test_probes_answer_within_their_deadline_while_a_check_hangs(client, settings, monkeypatch):
    from ops import health

    settings.HEALTH_CHECK_TIMEOUT = 0.5
    release = []

    def hanging():
        for _ in range(100):
            if release:
                return "ok"
            time.sleep(0.05)
        return "ok"

    monkeypatch.setattr(health, "_database", hanging)
    started = time.monotonic()
    response = client.get("/healthz")
    seconds = time.monotonic() - started
    release.append(True)
    assert response.status_code == 503 and response.json()["database"] == "timeout"
    assert seconds < 1.5


def test_temporary_folder_unwritable_makes_uploads_503_and_readyz_unavailable(client, user_a, settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "no-such-folder")
    signed_in(client, user_a)
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post("/api/v1/tasks", {"files": [SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100)]})
    assert response.status_code == 503
    assert response.json()["error"]["details"]["dependency"] == "temp"
    page = client.post("/", {"files": [SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100)]})
    assert page.status_code == 503 and "temporary folder" in page.content.decode()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["temp_folder"] == {"status": "unavailable"}
    from tasks.models import Task

    assert not Task.objects.exists()


def test_the_503_page_renders_without_the_database():
    from django.test import RequestFactory

    from core.dependencies import unavailable_response

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("django.db.backends.base.base.BaseDatabaseWrapper.ensure_connection", _database_gone)
        response = unavailable_response(RequestFactory().get("/history/"), "storage")
    assert response.status_code == 503
    assert "full or read-only" in response.content.decode() and 'href="/history/"' in response.content.decode()


def test_dependency_of_tells_faults_from_bugs():
    from accounts.external_auth import ServiceUnavailable
    from core.dependencies import TempFolderUnavailable, dependency_of

    assert dependency_of(OperationalError("gone")) == "database"
    assert dependency_of(OSError(errno.ENOSPC, "full")) == "storage"
    assert dependency_of(OSError(errno.EROFS, "read-only")) == "storage"
    assert dependency_of(TempFolderUnavailable(errno.ENOENT, "gone")) == "temp"
    assert dependency_of(ServiceUnavailable()) == "auth_api"
    assert dependency_of(FileNotFoundError(errno.ENOENT, "missing")) is None
    assert dependency_of(ValueError("bug")) is None
    try:
        try:
            raise OperationalError("gone")
        except OperationalError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert dependency_of(outer) == "database"


@pytest.mark.parametrize("path", ["//evil.example/phish", "///evil.example/phish"])
def test_the_503_pages_try_again_link_stays_on_this_site(client, user_a, monkeypatch, path):
    """"Try again" links the page asked for; a path that starts with // is a link to another host (a browser
    reads //evil.example/… as https://evil.example/…), so a crafted link must not turn the 503 page into a
    way off the site: the upload page instead."""
    signed_in(client, user_a)
    client.raise_request_exception = False
    monkeypatch.setattr("django.contrib.sessions.backends.db.SessionStore.load", _database_gone)
    response = client.get("/", PATH_INFO=path, QUERY_STRING="a=1")
    assert response.status_code == 503
    again = re.search(r'href="([^"]*)" data-testid="try-again"', response.content.decode()).group(1)
    assert again == "/", again
    ordinary = client.get("/history/", {"page": "2"})
    assert 'href="/history/?page=2" data-testid="try-again"' in ordinary.content.decode()
