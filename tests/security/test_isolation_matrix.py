"""User B acting on user A's objects gets nothing of A's and changes nothing of A's.

The matrix is built from the URL configuration: every route must have a case here (or a
stated reason why it holds no user data), so a new URL without a case fails the test.
"""

import io
import json
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from accounts.models import ApiToken
from core.models import AuditLog
from tasks.models import Task, TaskFile
from tests.security.routes import all_routes
from tests.tasks.history_helpers import make_task, signed_in

STATUSES = ("pending", "processing", "completed", "failed", "cancelled")
SECRET = "alice-secret"


# Routes that hold no user's data, and why.
NO_USER_DATA = {
    "login/": "sign-in form",
    "logout/": "ends the caller's own session",
    "admin/login/": "redirects to /login/",
    "healthz": "liveness, no user data",
    "readyz": "readiness, no user data",
    "metrics": "aggregate metrics behind an IP list or token",
    "api/v1/openapi.json": "the API description",
    "api/v1/docs": "the API description",
    "api/v1/": "API root",
    "api/v1/^.*$": "unknown API paths answer JSON 404",
    "static/<path:path>": "static files",
    ".well-known/security.txt": "where to report security issues (SECURITY_CONTACT)",
}
# HTMX sends these with every request it makes; the views answer partials to them.
HX_HEADERS = {"HX-Request": "true", "HX-Current-URL": "http://testserver/history/"}


def _cases(a_tasks):
    """route -> list of (method, url, data) that user B sends about user A's objects."""
    done = a_tasks["completed"]
    ids = [str(t.id) for t in a_tasks.values()]
    a_token = ApiToken.objects.get(user=done.user)  # A's personal API token (world makes it)
    per_task = lambda fmt: [fmt.format(id=t.id) for t in a_tasks.values()]  # noqa: E731
    cases = {
        "": [("get", "/", None)],
        "tasks/<uuid:task_id>/": [("get", u, None) for u in per_task("/tasks/{id}/")],
        "tasks/<uuid:task_id>/retry/": [("post", u, {}) for u in per_task("/tasks/{id}/retry/")]
        + [("get", u, None) for u in per_task("/tasks/{id}/retry/")],
        "tasks/<uuid:task_id>/cancel/": [("post", u, {}) for u in per_task("/tasks/{id}/cancel/")]
        + [("get", u, None) for u in per_task("/tasks/{id}/cancel/")],
        "tasks/<uuid:task_id>/delete/": [("post", u, {}) for u in per_task("/tasks/{id}/delete/")]
        + [("get", u, None) for u in per_task("/tasks/{id}/delete/")],
        "tasks/<uuid:task_id>/pages/<int:number>/image": [("get", u, None)
                                                           for u in per_task("/tasks/{id}/pages/1/image")],
        "history/": [("get", "/history/", None), ("get", f"/history/?q={SECRET}", None),
                     ("get", "/history/?status=completed&status=failed&page_size=100", None)],
        "history/stats/": [("get", "/history/stats/", None)],
        "history/export/": [("get", "/history/export/?format=csv", None),
                            ("post", "/history/export/", {"format": "json"})],
        "history/bulk/": [("post", "/history/bulk/", {"action": a, "ids": ids})
                          for a in ("download", "retry", "cancel", "delete")],
        "history/tasks/<uuid:task_id>/": [("get", u, None) for u in per_task("/history/tasks/{id}/")],
        "history/tasks/<uuid:task_id>/row/": [("get", u, None) for u in per_task("/history/tasks/{id}/row/")],
        "history/tasks/<uuid:task_id>/<str:action>/": [
            ("post", f"/history/tasks/{t.id}/{a}/", {}) for t in a_tasks.values() for a in ("retry", "cancel", "delete")],
        "nav/badge/": [("get", "/nav/badge/", None)],
        "nav/user-stats/": [("get", "/nav/user-stats/", None)],
        "api/v1/me": [("get", "/api/v1/me", None)],
        "api/v1/ocr/options": [("get", "/api/v1/ocr/options", None)],  # engines and languages: no user data
        "api/v1/tasks": [("get", "/api/v1/tasks?page_size=100", None),
                         ("get", f"/api/v1/tasks?q={SECRET}", None)],
        "api/v1/tasks/<uuidstr:task_id>": [("get", u, None) for u in per_task("/api/v1/tasks/{id}")]
        + [("delete", u, None) for u in per_task("/api/v1/tasks/{id}")],
        "api/v1/tasks/<uuidstr:task_id>/retry": [("post", u, None) for u in per_task("/api/v1/tasks/{id}/retry")],
        "api/v1/tasks/<uuidstr:task_id>/cancel": [("post", u, None) for u in per_task("/api/v1/tasks/{id}/cancel")],
        "api/v1/tasks/<uuidstr:task_id>/result.txt": [("get", f"/api/v1/tasks/{done.id}/result.txt", None)],
        "api/v1/tasks/<uuidstr:task_id>/result.json": [("get", f"/api/v1/tasks/{done.id}/result.json", None)],
        "api/v1/tasks/<uuidstr:task_id>/result.pdf": [("get", f"/api/v1/tasks/{done.id}/result.pdf", None)],
        "api/v1/tasks/<uuidstr:task_id>/original": [("get", u, None) for u in per_task("/api/v1/tasks/{id}/original")],
        "api/v1/history/stats": [("get", "/api/v1/history/stats", None)],
        "api/v1/history/export": [("post", "/api/v1/history/export", {"format": "csv"}),
                                  ("post", "/api/v1/history/export", {"format": "json"})],
        "account/tokens/": [("get", "/account/tokens/", None)],
        "account/tokens/<uuid:token_id>/revoke/": [("get", f"/account/tokens/{a_token.id}/revoke/", None),
                                                   ("post", f"/account/tokens/{a_token.id}/revoke/", {})],
        "api/v1/tokens": [("get", "/api/v1/tokens", None)],
        "api/v1/tokens/<uuidstr:token_id>": [("delete", f"/api/v1/tokens/{a_token.id}", None)],
        "admin/": [("get", "/admin/", None), ("get", "/admin/tasks/task/", None),
                   ("get", f"/admin/tasks/task/{done.id}/change/", None)],
    }
    return cases


def _snapshot(user):
    tasks = {str(t.id): (t.status, t.retry_count, t.engine, t.filename)
             for t in Task.objects.filter(user=user)}
    files = sorted((str(f.task_id), f.kind, f.file.name, default_storage.exists(f.file.name))
                   for f in TaskFile.objects.filter(task__user=user))
    tokens = sorted((str(t.id), t.name, t.revoked_at) for t in ApiToken.objects.filter(user=user))
    return tasks, files, tokens


def _body(response):
    """The response's bytes; a ZIP (bulk download) is opened so that compressed contents are searched too."""
    body = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    if response.get("Content-Type", "").startswith("application/zip"):
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            body += b"".join(name.encode() + archive.read(name) for name in archive.namelist())
    return body


def _send(client, method, url, data, htmx=False):
    headers = HX_HEADERS if htmx else {}
    if method == "get":
        return client.get(url, headers=headers)
    if method == "delete":
        return client.delete(url, headers=headers)
    if url.startswith("/api/"):
        if data is None:
            return client.post(url, headers=headers)
        return client.post(url, data, headers=headers)
    return client.post(url, data or {}, headers=headers)


def _variants(requests):
    """Every request as a plain one and as HTMX sends it (the partials)."""
    for method, url, data in requests:
        yield method, url, data, False
        yield method, url, data, True


@pytest.fixture
def world(db, user_a, user_b, client):
    a_tasks = {s: make_task(user_a, filename=f"{SECRET}-{s}.png", status=s, with_files=True) for s in STATUSES}
    b_task = make_task(user_b, filename="bob-own.png", status="completed", with_files=True)
    from accounts.services import api_token_create

    api_token_create(user=user_a, name=f"{SECRET}-token")
    signed_in(client, user_b)
    return a_tasks, b_task, client


def test_every_route_has_a_case(world):
    a_tasks, _b, _client = world
    cases = _cases(a_tasks)
    missing = [r for r in all_routes() if r not in cases and r not in NO_USER_DATA]
    assert missing == [], f"routes without an isolation case: {missing}"
    stale = [r for r in cases if r not in all_routes()]
    assert stale == [], f"cases for routes that no longer exist: {stale}"


def test_user_b_gets_nothing_of_user_a_and_changes_nothing(world, user_a):
    a_tasks, b_task, client = world
    before = _snapshot(user_a)
    # A's file names (the search term itself may be echoed in the filter box), ids, and file text.
    secrets = [t.filename.encode() for t in a_tasks.values()] + [str(t.id).encode() for t in a_tasks.values()] \
        + [t.id.hex.encode() for t in a_tasks.values()] + [b"text of alice"] \
        + [s for t in ApiToken.objects.all() for s in (t.name.encode(), str(t.id).encode(), t.prefix.encode())]
    failures = []
    for route, requests in _cases(a_tasks).items():
        for method, url, data, htmx in _variants(requests):
            response = _send(client, method, url, data, htmx)
            body = _body(response)
            leaked = [s.decode() for s in secrets if s in body]
            if leaked:
                failures.append(f"{method.upper()} {url}{' (htmx)' if htmx else ''} -> {response.status_code} "
                                f"leaked {leaked[:2]}")
            if url.startswith("/api/") and response.status_code >= 400:
                try:
                    error = json.loads(body)["error"]
                    assert error["code"] and error["message"]
                except (ValueError, KeyError, AssertionError):
                    failures.append(f"{method.upper()} {url} -> {response.status_code} error not in the contract shape")
            if response.status_code in (200, 201, 202, 204) and method != "get" and route not in (
                    "history/bulk/", "history/tasks/<uuid:task_id>/<str:action>/", "api/v1/history/export",
                    "history/export/"):
                failures.append(f"{method.upper()} {url} -> {response.status_code}: an action on A's task succeeded")
    assert failures == []
    assert _snapshot(user_a) == before
    # B's own task is untouched and still B's.
    assert Task.objects.filter(pk=b_task.pk, user=b_task.user).exists()


def test_file_access_to_another_users_task_is_audited_as_denied(world, user_a, user_b):
    a_tasks, _b, client = world
    done = a_tasks["completed"]
    for suffix in ("result.txt", "result.json", "original"):
        assert client.get(f"/api/v1/tasks/{done.id}/{suffix}").status_code == 404
    denied = AuditLog.objects.filter(user=user_b, outcome=AuditLog.Outcome.DENIED)
    assert denied.count() >= 3
    assert not AuditLog.objects.filter(user=user_b, outcome=AuditLog.Outcome.ALLOWED, object_id=str(done.pk)).exists()


def _secrets(a_tasks):
    return [t.filename.encode() for t in a_tasks.values()] + [str(t.id).encode() for t in a_tasks.values()] \
        + [t.id.hex.encode() for t in a_tasks.values()] + [b"text of alice"] \
        + [s for t in ApiToken.objects.all() for s in (t.name.encode(), str(t.id).encode(), t.prefix.encode())]


def test_a_visitor_who_is_not_signed_in_gets_nothing_anywhere(world, user_a):
    """Every route with a case, without a session: a way to the login page (401 in the API), nothing of A's."""
    a_tasks, _b, _client = world
    anonymous = Client()
    before = _snapshot(user_a)
    failures = []
    for route, requests in _cases(a_tasks).items():
        for method, url, data, htmx in _variants(requests):
            response = _send(anonymous, method, url, data, htmx)
            body = _body(response)
            if any(s in body for s in _secrets(a_tasks)):
                failures.append(f"{method.upper()} {url} leaked to a visitor")
            to_login = response.status_code == 302 and response["Location"].startswith(("/login/", "/admin/login/"))
            hx_to_login = response.status_code == 200 and response.get("HX-Redirect", "").startswith("/login/")
            signed_out_badge = route == "nav/badge/" and response.status_code == 286  # HTMX: stop polling
            api_401 = url.startswith("/api/") and response.status_code == 401
            if not (to_login or hx_to_login or signed_out_badge or api_401):
                failures.append(f"{method.upper()} {url}{' (htmx)' if htmx else ''} -> {response.status_code} "
                                "for a visitor (expected the way to the login page)")
    assert failures == []
    assert _snapshot(user_a) == before


def test_every_refused_change_of_another_users_task_is_audited(world, user_b, monkeypatch):
    """Retry, cancel and delete of A's tasks by B, on pages, partials and the API: one 'denied' row each
    (below the per-user cap on denied rows, tested in test_round_two.py)."""
    from core import audit

    monkeypatch.setattr(audit, "DENIED_AUDIT_PER_MINUTE", 10_000)
    a_tasks, _b, client = world
    expected = []
    for route, requests in _cases(a_tasks).items():
        if "task_id" not in route:
            continue
        for method, url, data in requests:
            if method == "get":
                continue
            response = _send(client, method, url, data)
            assert response.status_code == 404, f"{method.upper()} {url} -> {response.status_code}"
            task_id = next(str(t.id) for t in a_tasks.values() if str(t.id) in url)
            verb = "delete" if method == "delete" else url.rstrip("/").rsplit("/", 1)[-1]
            expected.append((task_id, f"task.{verb}", url))
    rows = AuditLog.objects.filter(user=user_b, outcome=AuditLog.Outcome.DENIED).exclude(action="file.download")
    got = sorted((r.details["task_id"], r.action, r.details["path"]) for r in rows)
    assert got == sorted(expected)
    row = rows.first()
    assert row.user_email == user_b.email and row.ip_address == "127.0.0.1" and row.created_at


def test_bulk_actions_with_mixed_ids_touch_only_the_callers_own_tasks(world, user_a, user_b):
    """B selects A's tasks together with B's own: only B's are acted on; the ZIP holds only B's files."""
    a_tasks, b_task, client = world
    before = _snapshot(user_a)
    ids = [str(t.id) for t in a_tasks.values()] + [str(b_task.id)]
    response = client.post("/history/bulk/", {"action": "download", "ids": ids})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    body = _body(response)
    assert not [s for s in _secrets(a_tasks) if s in body] and b"text of bob-own.png" in body
    spare = make_task(user_b, filename="bob-spare.png", status="failed", with_files=True)
    response = client.post("/history/bulk/", {"action": "delete", "ids": ids[:-1] + [str(spare.id)]},
                           headers=HX_HEADERS)
    assert response.status_code == 200 and "1 task deleted." in response.content.decode()
    assert not Task.objects.filter(pk=spare.pk).exists()
    assert _snapshot(user_a) == before


def test_user_bs_api_token_gets_nothing_of_user_a(world, user_a, user_b):
    """Every API case again with B's personal API token (no session, no CSRF): nothing of A's, no change to A's;
    the token endpoints refuse a token outright (session only)."""
    from accounts.services import api_token_create

    a_tasks, _b, _client = world
    _row, plain = api_token_create(user=user_b, name="bob-script")
    script = Client(headers={"Authorization": f"Bearer {plain}"})
    before = _snapshot(user_a)
    failures = []
    for route, requests in _cases(a_tasks).items():
        if not route.startswith("api/v1/"):
            continue
        for method, url, data in requests:
            response = _send(script, method, url, data)
            body = _body(response)
            if any(s in body for s in _secrets(a_tasks)):
                failures.append(f"{method.upper()} {url} leaked to B's token")
            if route.startswith("api/v1/tokens") and response.status_code != 401:
                failures.append(f"{method.upper()} {url} -> {response.status_code} with a token (session only: 401)")
            if response.status_code in (200, 201, 202, 204) and method != "get" and route != "api/v1/history/export":
                failures.append(f"{method.upper()} {url} -> {response.status_code}: an action on A's object succeeded")
    assert failures == []
    assert _snapshot(user_a) == before
