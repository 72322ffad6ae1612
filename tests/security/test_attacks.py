"""Attacks on the running app (pytest-django's live_server, real HTTP with requests and raw sockets):
SQL injection in every filter and sort parameter, guessed ids, forged and replayed session cookies,
tokens looked for in the database, the logs and every response, login brute force, and oversized
and slow requests.

live_server is Django's threaded development server, not gunicorn: what these tests show about
slow clients holds for the app; docs/security.md says what gunicorn and nginx do in production.
"""

import csv
import io
import json
import logging
import re
import secrets
import threading
import time
import uuid
from datetime import timedelta

import pytest
import requests
from django.contrib.sessions.backends.db import SessionStore
from django.core import signing
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from accounts import crypto
from accounts.models import TokenSession, User
from tasks.models import Task, TaskFile
from tests.security.live import (browser_for, raw_connection, read_body, read_response_head,
                                 signed_in_for_real)
from tests.tasks.history_helpers import make_task, png_bytes
from tests.tasks.pipeline_helpers import stored_names

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(autouse=True)
def _plain_http_cookies(settings):
    """The live server speaks plain HTTP: cookies without the Secure flag (production keeps it)."""
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


@pytest.fixture
def world(live_server, user_a, user_b):
    """A's tasks (one named with an injection payload, one with LIKE wildcards) and B's private ones."""
    names = ["invoice-2024.png", "report ' OR '1'='1.png", "100%_done.png", "scan_a.png", "letter.png",
             "Invoice-old.png", "contract--final.png"]
    statuses = ["completed", "failed", "pending", "processing", "cancelled", "completed", "failed"]
    a_tasks = [make_task(user_a, filename=n, status=s, created_at=timezone.now() - timedelta(days=i),
                         with_files=(s == "completed"))
               for i, (n, s) in enumerate(zip(names, statuses))]
    b_tasks = [make_task(user_b, filename=f"bob-private-{i}.png", status="completed", with_files=True)
               for i in range(3)]
    return {"a": a_tasks, "b": b_tasks, "as_a": browser_for(live_server, user_a),
            "as_b": browser_for(live_server, user_b), "url": live_server.url}


# --- SQL injection ---------------------------------------------------------------------------

PAYLOADS = ["' OR '1'='1", "' OR 1=1 --", '" OR ""="', "1; DROP TABLE tool_ocr_tasks; --",
            "') UNION SELECT id, filename FROM tool_ocr_tasks --", "%", "_", "%' --", "\\", "\\'", "' AND SLEEP(3) --",
            "1' AND (SELECT COUNT(*) FROM tool_ocr_users) > 0 --", "-created_at; DELETE FROM tool_ocr_tasks",
            "created_at DESC, (SELECT 1)", "' OR user_id IS NOT NULL --", "admin'/*", "1 OR 1=1", "\u02bc OR 1=1 --",
            "completed' OR 'x'='x", "2024-01-01' OR '1'='1", "--", "/*", "'", "invoice"]
# Numbers and dates are validated before any query: a few payloads show it.
SHORT = ["' OR '1'='1", "1 OR 1=1", "1; DROP TABLE tool_ocr_tasks; --", "-1", "99999999999999999999", "%"]
FILTERS = {"q": PAYLOADS, "status": PAYLOADS, "ordering": PAYLOADS, "created_from": SHORT, "created_to": SHORT,
           "page": SHORT, "page_size": SHORT}


def _ids_of(kind: str, response) -> set[str]:
    if kind == "page":
        return set(re.findall(r'data-task-id="([0-9a-f-]{36})"', response.text))
    if kind == "api":
        return {row["id"] for row in response.json()["results"]}
    if kind == "csv":
        return {row["id"] for row in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))}
    return {row["id"] for row in response.json()}  # json export


def _requests(world, param, payload):
    """(kind, response) for the list page, the API list, both exports, with ``param`` set to ``payload``."""
    s, url = world["as_a"], world["url"]
    return [
        ("page", s.get(f"{url}/history/", params={"page_size": 100, param: payload}, timeout=30)),
        ("page", s.get(f"{url}/history/", params={param: payload}, headers={"HX-Request": "true"}, timeout=30)),
        ("api", s.get(f"{url}/api/v1/tasks", params={"page_size": 100, param: payload}, timeout=30)),
        ("csv", s.get(f"{url}/history/export/", params={"format": "csv", param: payload}, timeout=30)),
        ("json", s.post(f"{url}/api/v1/history/export", json={"format": "json", param: payload}, timeout=30)),
        ("csv", s.post(f"{url}/api/v1/history/export", data={"format": "csv", param: payload}, timeout=30)),
        ("stats", s.get(f"{url}/history/stats/", params={param: payload}, timeout=30)),
        ("stats", s.get(f"{url}/api/v1/history/stats", params={param: payload}, timeout=30)),
    ]


def _injection_failures(world, param, payloads) -> list[str]:
    """What went wrong with each payload in ``param``: a 5xx, B's rows, or rows beyond the clean answer."""
    a_ids = {str(t.id) for t in world["a"]}
    names = {str(t.id): t.filename for t in world["a"]}
    secrets_of_b = [t.filename for t in world["b"]] + [str(t.id) for t in world["b"]]
    failures = []
    for payload in payloads:
        for kind, response in _requests(world, param, payload):
            where = f"{kind} {response.request.method} {response.url[:80]} {param}={payload!r}"
            if response.status_code >= 500:
                failures.append(f"{where} -> {response.status_code}")
                continue
            if any(secret in response.text for secret in secrets_of_b):
                failures.append(f"{where}: shows B's tasks")
            if kind == "stats" or response.status_code != 200:
                continue  # a refusal (400) lists no rows
            got = _ids_of(kind, response)
            if param == "q" and payload.isascii():  # the clean answer: the tasks whose name holds the text
                wanted = {i for i, n in names.items() if payload.strip().lower() in n.lower()}
                if got != wanted:
                    failures.append(f"{where}: {len(got)} rows, the literal match has {len(wanted)}")
            elif not got <= a_ids:
                failures.append(f"{where}: rows that are not A's")
    return failures


def test_the_clean_answers_are_all_of_a_users_tasks(world):
    a_ids = {str(t.id) for t in world["a"]}
    clean = {kind: _ids_of(kind, r) for kind, r in _requests(world, "q", "") if kind != "stats"}
    assert len(clean) == 4 and all(ids == a_ids for ids in clean.values()), clean


@pytest.mark.parametrize("param", FILTERS)
def test_sql_injection_in_every_filter_and_sort_parameter_finds_nothing_extra(world, param):
    failures = _injection_failures(world, param, FILTERS[param])
    assert failures == [], "\n".join(failures[:20])
    # Nothing was dropped or deleted; a literal payload matches its own row only.
    assert Task.objects.count() == len(world["a"]) + len(world["b"]) and User.objects.count() == 2
    response = world["as_a"].get(world["url"] + "/api/v1/tasks", params={"q": "' OR '1'='1"}, timeout=30)
    assert [row["filename"] for row in response.json()["results"]] == ["report ' OR '1'='1.png"]


def test_a_nul_in_the_search_text_matches_no_file_name(world):
    """Found by this suite: SQLite's LIKE stopped at a NUL, so q='\\x00' matched every row of the user."""
    failures = _injection_failures(world, "q", ["\x00", "invoice\x00"])
    assert failures == [], "\n".join(failures[:20])


# --- Guessed ids -----------------------------------------------------------------------------

def test_guessed_ids_of_other_users_tasks_answer_404_and_change_nothing(world):
    s, url = world["as_b"], world["url"]
    guesses = [str(t.id) for t in world["a"]] + [str(uuid.uuid4()) for _ in range(3)]
    before = sorted(Task.objects.values_list("id", "status", "retry_count"))
    for task_id in guesses:
        for path in (f"/tasks/{task_id}/", f"/history/tasks/{task_id}/", f"/history/tasks/{task_id}/row/",
                     f"/api/v1/tasks/{task_id}", f"/api/v1/tasks/{task_id}/original",
                     f"/api/v1/tasks/{task_id}/result.txt", f"/api/v1/tasks/{task_id}/result.pdf"):
            for headers in ({}, {"HX-Request": "true"}):
                response = s.get(url + path, headers=headers, timeout=30, allow_redirects=False)
                assert response.status_code == 404 and task_id not in response.text, (path, response.status_code)
        for method, path in (("post", f"/tasks/{task_id}/retry/"), ("post", f"/tasks/{task_id}/delete/"),
                             ("post", f"/history/tasks/{task_id}/cancel/"), ("delete", f"/api/v1/tasks/{task_id}"),
                             ("post", f"/api/v1/tasks/{task_id}/retry")):
            assert getattr(s, method)(url + path, timeout=30, allow_redirects=False).status_code == 404, path
    for path in ("/tasks/1/", "/tasks/1%20OR%201=1/", "/api/v1/tasks/1", "/api/v1/tasks/1%20OR%201=1",
                 "/api/v1/tasks/../../admin/", "/history/tasks/..%2f..%2fadmin/"):
        assert s.get(url + path, timeout=30, allow_redirects=False).status_code == 404, path
    assert sorted(Task.objects.values_list("id", "status", "retry_count")) == before


# --- Forged and replayed session cookies -------------------------------------------------------

def _signed_in_as(url, cookies) -> str | None:
    """The email /api/v1/me answers for these cookies, or None (and the page sends to the login)."""
    me = requests.get(url + "/api/v1/me", cookies=cookies, timeout=30)
    page = requests.get(url + "/", cookies=cookies, timeout=30, allow_redirects=False)
    if me.status_code == 200:
        return me.json()["email"]
    assert me.status_code == 401 and me.json()["error"]["code"] == "not_authenticated"
    assert page.status_code == 302 and page.headers["Location"].startswith("/login/")
    return None


def test_forged_session_cookies_sign_nobody_in(world, user_a):
    url = world["url"]
    real = world["as_a"].cookies["sessionid"]
    assert _signed_in_as(url, {"sessionid": real}) == user_a.email
    flipped = real[:-1] + ("a" if real[-1] != "a" else "b")
    wrong_secret = signing.dumps({"_auth_user_id": str(user_a.pk),
                                  "_auth_user_backend": "accounts.backends.ExternalAuthBackend"},
                                 key="not-the-secret-key", salt="django.contrib.sessions.backends.signed_cookies",
                                 compress=True)
    right_secret_other_salt = signing.dumps({"_auth_user_id": str(user_a.pk)}, compress=True)
    for forged in (secrets.token_hex(16), flipped, real.upper(), real + "x", wrong_secret, right_secret_other_salt,
                   "' OR '1'='1", str(user_a.pk), ""):
        assert _signed_in_as(url, {"sessionid": forged}) is None, forged


def test_replayed_cookies_after_sign_out_or_revocation_sign_nobody_in(live_server):
    url = live_server.url
    session, response = signed_in_for_real(live_server, "ada.lin@example.com")
    assert response.status_code == 302
    old = session.cookies["sessionid"]
    assert _signed_in_as(url, {"sessionid": old}) == "ada.lin@example.com"
    assert session.post(url + "/logout/", timeout=30, allow_redirects=False).status_code == 302
    assert _signed_in_as(url, {"sessionid": old}) is None
    assert not TokenSession.objects.filter(session_key=old).exists()

    session, _ = signed_in_for_real(live_server, "ada.lin@example.com")
    key = session.cookies["sessionid"]
    TokenSession.objects.filter(session_key=key).update(revoked_at=timezone.now())  # the admin's "revoke"
    assert _signed_in_as(url, {"sessionid": key}) is None


def test_a_session_key_planted_before_sign_in_is_replaced(live_server):
    planted = SessionStore()
    planted.create()
    session = requests.Session()
    session.cookies.set("sessionid", planted.session_key)
    session.get(live_server.url + "/login/", timeout=30)
    response = session.post(live_server.url + "/login/", allow_redirects=False, timeout=30,
                            data={"username": "ada.lin@example.com", "password": "demo-password",
                                  "csrfmiddlewaretoken": session.cookies["csrftoken"]})
    assert response.status_code == 302
    fresh = response.cookies["sessionid"]  # the sign-in answers with a new key...
    assert fresh != planted.session_key
    assert _signed_in_as(live_server.url, {"sessionid": fresh}) == "ada.lin@example.com"
    assert _signed_in_as(live_server.url, {"sessionid": planted.session_key}) is None  # ...the planted one is dead


# --- Tokens never leave the encrypted columns ---------------------------------------------------

class _Keep(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def _tokens_of(session_key) -> set[str]:
    row = TokenSession.objects.get(session_key=session_key)
    values = {crypto.decrypt(getattr(row, field)) for field in TokenSession.SECRET_FIELDS}
    assert all(v.startswith(("dev-at-", "dev-id-", "dev-rt-")) for v in values), "not the dev API's tokens"
    return values


def _database_text() -> str:
    """Every cell of every table, read with raw SQL; session data decoded (it is signed base64)."""
    from django.contrib.sessions.backends.base import SessionBase

    cells = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for cell in row:
                    if isinstance(cell, memoryview):
                        cell = bytes(cell)
                    cells.append(cell.decode("latin-1") if isinstance(cell, bytes) else str(cell))
                if table.endswith("django_session"):
                    cells.append(repr(SessionBase().decode(row[1])))
    return "\n".join(cells)


def _log_text(records, formatter) -> str:
    out = []
    for record in records:
        out.append(record.getMessage())
        out.append(repr(vars(record)))
        out.append(formatter.format(record))
    return "\n".join(out)


def test_tokens_are_never_in_the_database_the_logs_or_any_response(live_server, caplog, settings):
    from tool_ocr.logging import JsonFormatter

    keep = _Keep()
    root = logging.getLogger()
    root.addHandler(keep)
    caplog.set_level(logging.DEBUG)
    responses = []
    try:
        url = live_server.url
        session, response = signed_in_for_real(live_server, "ada.lin@example.com")
        responses.append(response)
        key = session.cookies["sessionid"]
        tokens = _tokens_of(key)
        upload = session.post(url + "/api/v1/tasks", files={"files": ("scan.png", png_bytes(), "image/png")},
                              timeout=30)
        assert upload.status_code == 201
        task_id = upload.json()["tasks"][0]["id"]
        for path in ("/", "/history/", "/history/stats/", f"/tasks/{task_id}/", f"/history/tasks/{task_id}/",
                     "/nav/badge/", "/nav/user-stats/", "/api/v1/me", "/api/v1/tasks", f"/api/v1/tasks/{task_id}",
                     f"/api/v1/tasks/{task_id}/original", "/api/v1/history/stats", "/api/v1/openapi.json",
                     "/api/v1/docs", "/history/export/?format=json", "/login/", "/no-such-page/"):
            htmx = {"HX-Request": "true"} if "history/tasks" in path else {}
            responses.append(session.get(url + path, timeout=30, headers=htmx))
        # The operators' view of the same session (the admin shows sessions, never their tokens).
        User.objects.filter(email="ada.lin@example.com").update(is_staff=True, is_superuser=True)
        row = TokenSession.objects.get(session_key=key)
        for path in ("/admin/accounts/tokensession/", f"/admin/accounts/tokensession/{row.pk}/change/",
                     f"/admin/accounts/user/{row.user_id}/change/", "/admin/core/auditlog/"):
            responses.append(session.get(url + path, timeout=30))
            assert responses[-1].status_code == 200, path
        # A refresh in a request (the token is due), then one by the scheduled command.
        TokenSession.objects.filter(session_key=key).update(expires_at=timezone.now() + timedelta(seconds=60))
        responses.append(session.get(url + "/", timeout=30))
        refreshed = _tokens_of(key)
        assert refreshed.isdisjoint(tokens), "the refresh did not renew the tokens"
        TokenSession.objects.filter(session_key=key).update(expires_at=timezone.now() + timedelta(seconds=60))
        call_command("refresh_tokens", verbosity=0)
        again = _tokens_of(key)
        assert again.isdisjoint(refreshed)
        every = tokens | refreshed | again
        db_text = _database_text()
        assert not [t for t in every if t in db_text], "a token is stored in clear"
        responses.append(session.post(url + "/logout/", timeout=30))
        responses.append(session.get(url + "/", timeout=30))
    finally:
        root.removeHandler(keep)
    for response in responses:
        seen = response.text + repr(dict(response.headers)) + "".join(repr(dict(r.headers)) for r in response.history)
        assert not [t for t in every if t in seen], f"a token in the answer to {response.url}"
    assert len(keep.records) > 20  # the sign-in, refreshes and requests were logged...
    log_text = _log_text(keep.records, JsonFormatter()) + _log_text(caplog.records, JsonFormatter())
    assert not [t for t in every if t in log_text], "a token in the logs"  # ...without a token
    assert not [t for t in every if t in _database_text()]


# --- Login brute force -------------------------------------------------------------------------

def _login(url, email, password, session=None):
    session = session or requests.Session()
    session.get(url + "/login/", timeout=30)
    return session.post(url + "/login/", timeout=30, allow_redirects=False, headers={"HX-Request": "true"},
                        data={"username": email, "password": password,
                              "csrfmiddlewaretoken": session.cookies["csrftoken"]})


def test_login_brute_force_is_stopped_and_does_not_tell_whether_the_account_exists(live_server, settings):
    settings.LOGIN_MAX_ATTEMPTS_PER_ACCOUNT = 3
    settings.LOGIN_MAX_ATTEMPTS_PER_IP = 1000
    url = live_server.url
    answers = {}
    for email in ("ada.lin@example.com", "nobody.here@example.com"):
        tries = [_login(url, email, f"guess-{n}") for n in range(3)]
        assert [r.status_code for r in tries] == [401, 401, 401]
        limited = _login(url, email, "demo-password" if email.startswith("ada") else "guess-4")
        assert limited.status_code == 429 and "Too many failed sign-in attempts." in limited.text
        assert "sessionid" not in limited.cookies
        answers[email] = (tries[0].text, limited.text)
    assert answers["ada.lin@example.com"] == answers["nobody.here@example.com"]  # word for word
    assert not TokenSession.objects.exists()


def test_login_spraying_from_one_address_is_stopped(live_server, settings):
    settings.LOGIN_MAX_ATTEMPTS_PER_ACCOUNT = 100
    settings.LOGIN_MAX_ATTEMPTS_PER_IP = 5
    statuses = [_login(live_server.url, f"user{n}@example.com", "password1").status_code for n in range(7)]
    assert statuses == [401] * 5 + [429] * 2


# --- Oversized and slow requests ----------------------------------------------------------------

def _request_head(method, path, cookies: dict, length: int, content_type="multipart/form-data; boundary=XyZ",
                  extra="") -> bytes:
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return (f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\n"
            f"X-CSRFToken: {cookies.get('csrftoken', '')}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {length}\r\n{extra}\r\n").encode()


def test_a_request_announcing_more_than_the_limit_gets_413_before_its_body_is_sent(world, settings):
    settings.MAX_REQUEST_MB = 2
    cookies = dict(world["as_a"].cookies)
    for path, kind in (("/api/v1/tasks", "application/json"), ("/", "text/html")):
        sock = raw_connection(world["url"])
        try:
            started = time.monotonic()
            sock.sendall(_request_head("POST", path, cookies, 10 * 1024 ** 3))  # 10 GB announced, none sent
            status, headers, rest = read_response_head(sock)
            seconds = time.monotonic() - started
            body = read_body(sock, headers, rest)
        finally:
            sock.close()
        assert status == 413 and headers["content-type"].startswith(kind) and seconds < 5, (status, headers)
        assert int(headers["content-length"]) == len(body)
        assert b"larger than 2 MB" in body
    assert not Task.objects.filter(user__email="alice@example.com").exclude(pk__in=[t.pk for t in world["a"]]).exists()


def test_a_file_over_the_limit_sent_in_chunks_is_cut_off_and_leaves_nothing(world, settings, tmp_path):
    """A real multipart upload over a socket, in 64 KB writes: 413, no row, no stored or temporary file."""
    settings.MAX_UPLOAD_MB = 1
    settings.MAX_REQUEST_MB = 4
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploads")
    (tmp_path / "uploads").mkdir()
    before_files = stored_names()
    content = png_bytes() + b"\x00" * (1024 * 1024 + 300_000)
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"../../big scan.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + content + b"\r\n--XyZ--\r\n")
    cookies = dict(world["as_a"].cookies)
    sock = raw_connection(world["url"], timeout=30)
    try:
        sock.sendall(_request_head("POST", "/api/v1/tasks", cookies, len(body)))
        for start in range(0, len(body), 64 * 1024):
            sock.sendall(body[start:start + 64 * 1024])
            time.sleep(0.005)
        status, headers, rest = read_response_head(sock, deadline=30)
        answer = json.loads(read_body(sock, headers, rest))
    finally:
        sock.close()
    assert status == 413
    assert answer["error"]["code"] == "file_too_large" and answer["error"]["details"]["file"] == "big scan.png"
    assert "larger than 1 MB" in answer["error"]["message"]
    assert Task.objects.count() == len(world["a"]) + len(world["b"]) and stored_names() == before_files
    assert list((tmp_path / "uploads").iterdir()) == []


@pytest.mark.timeout(60)
def test_slow_clients_do_not_stop_the_server_from_answering_others(world):
    """Ten clients trickle a body a byte at a time and ten never finish their headers; others are served."""
    url, cookies = world["url"], dict(world["as_a"].cookies)
    slow = []
    try:
        for _ in range(10):
            sock = raw_connection(world["url"], timeout=5)
            sock.sendall(_request_head("POST", "/api/v1/tasks", cookies, 100_000))
            slow.append(sock)
        for _ in range(10):
            sock = raw_connection(world["url"], timeout=5)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Half: ")
            slow.append(sock)
        served, stop = [], threading.Event()

        def others():
            while not stop.is_set():
                started = time.monotonic()
                response = world["as_b"].get(url + "/api/v1/tasks", timeout=10)
                served.append((response.status_code, time.monotonic() - started))

        worker = threading.Thread(target=others)
        worker.start()
        for _ in range(12):  # three seconds of trickling
            for sock in slow[:10]:
                sock.sendall(b"x")
            time.sleep(0.25)
        stop.set()
        worker.join(10)
    finally:
        for sock in slow:
            sock.close()
    assert len(served) >= 3 and all(status == 200 for status, _ in served)
    assert max(seconds for _, seconds in served) < 10
    assert requests.get(url + "/healthz", timeout=5).status_code == 200
