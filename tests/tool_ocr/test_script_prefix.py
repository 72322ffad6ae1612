"""Behind a proxy that mounts the app under a path (SCRIPT_NAME=/ocr), every link, form, HTMX URL,
stylesheet, script and redirect the app writes starts with /ocr/; without a prefix they are the same
paths without it.

The requests are real WSGI environs (PATH_INFO without the prefix, SCRIPT_NAME=/ocr, as gunicorn makes
them) through the test client, whose handler sets the script prefix from the environ first, as
django.core.handlers.wsgi.WSGIHandler does (Django's test handler does not). tests/deploy/test_nginx.py
runs the same through nginx and gunicorn.
"""

import re

import pytest
from django.core.handlers.wsgi import get_script_name
from django.db import OperationalError
from django.test import Client, override_settings
from django.test.client import ClientHandler
from django.urls import set_script_prefix

from tasks.models import TaskFile
from tests.tasks.history_helpers import add_file, make_task, signed_in

pytestmark = pytest.mark.django_db

PREFIX = "/ocr"
# Every attribute that holds a URL the browser follows or fetches.
_URL_ATTRIBUTE = re.compile(r'\s(href|src|action|hx-get|hx-post|hx-put|hx-delete|hx-patch)="([^"]*)"')


class _WsgiHandler(ClientHandler):
    """The test client's handler with what a deployment under the prefix has: the script prefix set from the
    environ (WSGIHandler.__call__'s first line) and STATIC_URL=/ocr/static/ (README, "Under a sub-path")."""

    def __call__(self, environ):
        set_script_prefix(get_script_name(environ))
        static = environ.get("SCRIPT_NAME", "") + "/static/"
        try:
            with override_settings(STATIC_URL=static):
                return super().__call__(environ)
        finally:
            set_script_prefix("/")


def _client(prefix: str) -> Client:
    client = Client(SCRIPT_NAME=prefix) if prefix else Client()
    client.handler = _WsgiHandler(enforce_csrf_checks=False)
    return client


def links(html: str) -> list[str]:
    """The page's own URLs (paths on this site; fragments, query-only links and other sites left out)."""
    return [url.replace("&amp;", "&") for _, url in _URL_ATTRIBUTE.findall(html)
            if url.startswith("/") and not url.startswith("//")]


def urls(response) -> list[str]:
    """A response's links, and where it redirects to."""
    return [*links(response.content.decode()), *[response[h] for h in ("Location", "HX-Redirect") if h in response]]


def _pages(user):
    """Paths of the pages a person sees, with tasks in every state (results to download, a failed one to retry)."""
    done = make_task(user, filename="done.png", status="completed", with_files=True)
    add_file(done, TaskFile.Kind.RESULT_PDF, b"%PDF-1.4", "result.pdf", "done.ocr.pdf")
    running = make_task(user, filename="running.png", status="processing", page_count=3)
    failed = make_task(user, filename="failed.png", status="failed")
    make_task(user, filename="waiting.png", status="pending")
    return ["/", "/history/", "/history/?status=completed&page_size=10", "/history/stats/",
            f"/tasks/{done.id}/", f"/tasks/{running.id}/", f"/tasks/{failed.id}/", f"/tasks/{failed.id}/delete/",
            f"/history/tasks/{done.id}/", f"/history/tasks/{running.id}/row/", "/account/tokens/",
            "/no-such-page/", f"/tasks/{done.id}/pages/999/image"]


def test_every_link_of_every_page_starts_with_the_script_prefix_and_is_unchanged_without_it(user_a):
    paths = _pages(user_a)
    prefixed, plain = signed_in(_client(PREFIX), user_a), signed_in(_client(""), user_a)
    seen = set()
    for path in paths:
        with_prefix, without = prefixed.get(path), plain.get(path)
        assert with_prefix.status_code == without.status_code, path
        found, expected = urls(with_prefix), urls(without)
        assert found, f"{path}: no links at all"
        outside = [url for url in found if not url.startswith(PREFIX + "/")]
        assert not outside, f"{path} (status {with_prefix.status_code}) links outside {PREFIX}/: {outside}"
        assert [url.removeprefix(PREFIX) for url in found] == expected, path
        assert not [url for url in expected if url.startswith(PREFIX + "/")], path
        seen.update(expected)
    # What the pages above link to, so that a page that lost its links does not pass quietly.
    for kind in ("/history", "/tasks", "/api/v1/tasks", "/static/css", "/static/js", "/account/tokens",
                 "/api/v1", "/history/tasks"):
        assert any(url.startswith(kind) for url in seen), (kind, sorted(seen))


def test_the_history_rows_drawn_with_and_without_the_template_engine_follow_the_prefix(user_a):
    """The row's open-details link (tasks:detail) was a written-in /tasks/<id>/ in both drawings."""
    from tasks.web import history_rows

    task = make_task(user_a, filename="done.png", status="completed", with_files=True)
    for direct in (True, False):
        history_rows._draw.cache_clear()
        original = history_rows._DIRECT_FOR
        history_rows._DIRECT_FOR = original if direct else "another template"
        try:
            html = signed_in(_client(PREFIX), user_a).get("/history/").content.decode()
        finally:
            history_rows._DIRECT_FOR = original
            history_rows._draw.cache_clear()
        assert f'href="{PREFIX}/tasks/{task.id}/"' in html
        assert f'href="{PREFIX}/api/v1/tasks/{task.id}/result.txt"' in html


def test_redirects_stay_under_the_prefix(user_a):
    anonymous = _client(PREFIX)
    response = anonymous.get("/history/")
    assert response.status_code == 302 and response["Location"] == f"{PREFIX}/login/?next={PREFIX}/history/"
    htmx = anonymous.get("/history/", headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/ocr/history/"})
    assert htmx["HX-Redirect"] == f"{PREFIX}/login/?next=%2Focr%2Fhistory%2F"
    login_page = anonymous.get("/login/")
    assert login_page.status_code == 200
    assert all(url.startswith(PREFIX + "/") for url in links(login_page.content.decode()))
    old_admin = anonymous.get("/admin/tasks/auditlog/", {"action__exact": "login"})
    assert old_admin.status_code == 301 or old_admin.status_code == 302
    assert old_admin["Location"] == f"{PREFIX}/admin/core/auditlog/?action__exact=login"
    assert anonymous.get("/admin/").url.startswith(f"{PREFIX}/admin/login/")
    client = signed_in(_client(PREFIX), user_a)
    assert client.get("/login/")["Location"] == f"{PREFIX}/"  # signed in already: the upload page
    assert client.get("/login/", {"next": f"{PREFIX}/history/"})["Location"] == f"{PREFIX}/history/"
    assert client.post("/logout/")["Location"] == f"{PREFIX}/login/"


def test_the_api_gives_file_urls_under_the_prefix(user_a):
    task = make_task(user_a, status="completed", with_files=True)
    body = signed_in(_client(PREFIX), user_a).get(f"/api/v1/tasks/{task.id}").json()
    assert {f["url"] for f in body["files"]} == {f"{PREFIX}/api/v1/tasks/{task.id}/{s}"
                                                for s in ("original", "result.txt", "result.json")}
    plain = signed_in(_client(""), user_a).get(f"/api/v1/tasks/{task.id}").json()
    assert {f["url"] for f in plain["files"]} == {u.removeprefix(PREFIX) for u in {f["url"] for f in body["files"]}}
    anonymous = _client(PREFIX).get("/api/v1/tasks")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "not_authenticated"


@pytest.mark.django_db(transaction=True)
def test_the_503_page_and_json_under_the_prefix(user_a, monkeypatch):
    def database_gone(*args, **kwargs):
        raise OperationalError(2003, "Can't connect to MySQL server on '127.0.0.1' (111)")

    page_client, api_client, plain = (signed_in(_client(prefix), user_a) for prefix in (PREFIX, PREFIX, ""))
    page_client.raise_request_exception = api_client.raise_request_exception = plain.raise_request_exception = False
    monkeypatch.setattr("django.contrib.sessions.backends.db.SessionStore.load", database_gone)
    page = page_client.get("/history/?page=2")
    html = page.content.decode()
    assert page.status_code == 503 and "Temporarily unavailable" in html
    assert links(html) == [f"{PREFIX}/static/css/app.css", f"{PREFIX}/", f"{PREFIX}/history/?page=2"]
    posted = page_client.post("/history/bulk/")
    assert posted.status_code == 503 and links(posted.content.decode())[1:] == [f"{PREFIX}/", f"{PREFIX}/"]
    api = api_client.get("/api/v1/tasks")  # the contract's JSON, not the page: /api/ is read without the prefix
    assert api.status_code == 503 and api.json()["error"]["code"] == "service_unavailable"
    assert links(plain.post("/history/bulk/").content.decode()) == ["/static/css/app.css", "/", "/"]  # as before


def test_a_too_large_request_links_back_under_the_prefix(settings):
    settings.MAX_REQUEST_MB = 1
    client = _client(PREFIX)
    page = client.post("/", data=b"x", content_type="application/octet-stream", CONTENT_LENGTH=str(2 * 1024 * 1024))
    assert page.status_code == 413 and links(page.content.decode()) == [f"{PREFIX}/"]
    api = client.post("/api/v1/tasks", data=b"x", content_type="application/octet-stream",
                      CONTENT_LENGTH=str(2 * 1024 * 1024))
    assert api.status_code == 413 and api.json()["error"]["code"] == "request_too_large"
