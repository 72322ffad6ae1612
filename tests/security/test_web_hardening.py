"""Web hardening: CSRF on every unsafe method of every route, safe ?next= redirects, the production
settings (secure cookies, HSTS, `check --deploy`), clickjacking, and error pages without internals."""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.test import Client

from accounts.models import TokenSession
from tasks.models import Task, TaskFile
from tests.security.routes import all_routes, example_urls
from tests.tasks.history_helpers import make_task, signed_in

ROOT = Path(__file__).resolve().parents[2]
UNSAFE = ("post", "put", "patch", "delete")
pytestmark = pytest.mark.django_db


# --- CSRF ------------------------------------------------------------------------------------

def _state():
    return sorted(Task.objects.values_list("id", "status", "retry_count")), TaskFile.objects.count(), \
        TokenSession.objects.count()


def _send(client, method, url, token=None):
    headers = {"X-CSRFToken": token} if token else {}
    data = {"csrfmiddlewaretoken": token} if token else {}
    if method == "post":
        return client.post(url, data, headers=headers)
    return getattr(client, method)(url, headers=headers)  # put, patch, delete: no form body


def test_every_unsafe_method_of_every_route_needs_the_csrf_token(user_a):
    """Without a token: 403 (or 405 where the route has no such method); with one the route works.

    Routes come from the URL configuration, so a new route is covered as soon as it exists.
    """
    task = make_task(user_a, filename="csrf-target.png", status="failed", with_files=True)
    strict = signed_in(Client(enforce_csrf_checks=True), user_a)
    before = _state()
    refused = {}
    for route in all_routes():
        for url in example_urls(route, task.id):
            for method in UNSAFE:
                response = _send(strict, method, url)
                refused[(route, url, method)] = response.status_code
                if response.status_code == 403 and response["Content-Type"] == "application/json":
                    assert response.json()["error"]["code"] in ("csrf_failed", "forbidden"), url
                elif response.status_code == 403:
                    assert b"CSRF verification failed" in response.content, url
                    assert not url.startswith("/api/v1/tasks"), f"{url}: the API answers JSON errors"
    assert _state() == before, "a request without a CSRF token changed something"

    # Which of them the route really takes (answered with a token, by a fresh session each time).
    takes = set()
    for (route, url, method), status in refused.items():
        relaxed = signed_in(Client(), user_a)
        relaxed.get("/")  # sets the csrftoken cookie
        answer = _send(relaxed, method, url, relaxed.cookies["csrftoken"].value)
        if answer.status_code != 405:
            takes.add((route, method))
            assert status == 403 or (route == "api/v1/^.*$" and status == 404), \
                f"{method.upper()} {url} answered {status} without a CSRF token"
        else:
            assert status in (403, 405), f"{method.upper()} {url} answered {status}"
    for must in [("login/", "post"), ("logout/", "post"), ("", "post"), ("tasks/<uuid:task_id>/delete/", "post"),
                 ("history/bulk/", "post"), ("api/v1/tasks", "post"), ("api/v1/tasks/<uuidstr:task_id>", "delete"),
                 ("api/v1/tasks/<uuidstr:task_id>/retry", "post"), ("api/v1/history/export", "post")]:
        assert must in takes, f"{must} should take its method (the test would be vacuous otherwise)"


# --- ?next= ----------------------------------------------------------------------------------

HOSTILE_NEXT = ["https://evil.example/", "http://evil.example", "//evil.example", "///evil.example",
                "/\\evil.example", "\\\\evil.example", "\\/evil.example", " //evil.example", "\t//evil.example",
                "https:///evil.example", "http://testserver@evil.example/", "javascript:alert(1)",
                "JaVaScRiPt:alert(1)", "java\nscript:alert(1)", "data:text/html,<script>alert(1)</script>",
                "ftp://evil.example/", "http:evil.example"]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_next_never_leads_off_the_site(client, user_a, target):
    signed_in(client, user_a)
    response = client.get("/login/", {"next": target})  # already signed in: straight to next
    assert response.status_code == 302 and response["Location"] == "/"
    admin = client.get("/admin/login/", {"next": target})  # not staff: a page saying so, no redirect at all
    assert admin.status_code == 403 and "Operators only" in admin.content.decode() and "Location" not in admin
    client.logout()
    admin = client.get("/admin/login/", {"next": target})
    assert admin.status_code == 302 and admin["Location"] == "/login/?next=%2Fadmin%2F"


def test_next_after_a_real_sign_in_stays_on_the_site_and_keeps_a_local_path(client):
    for target, expected in [("//evil.example", "/"), ("https://evil.example/x", "/"), ("javascript:alert(1)", "/"),
                             ("/history/?status=failed&q=x", "/history/?status=failed&q=x")]:
        response = client.post("/login/?" + urlencode({"next": target}),
                               {"username": "ada.lin@example.com", "password": "demo-password"})
        assert response.status_code == 302 and response["Location"] == expected, target
        client.post("/logout/")
        htmx = client.post("/login/", {"username": "ada.lin@example.com", "password": "demo-password", "next": target},
                           headers={"HX-Request": "true"})
        assert htmx["HX-Redirect"] == expected, target
        client.post("/logout/")


def test_next_is_escaped_on_the_login_page(client):
    page = client.get("/login/", {"next": '"><script>alert(1)</script>'}).content.decode()
    assert "<script>alert" not in page and "%3Cscript%3Ealert" in page  # kept, as data


# --- Production settings (a separate process with DEBUG off) -------------------------------------

def _production(tmp_path, code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_", "DATABASE_"))}
    env.update(DEBUG="false", SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="ocr.example.com",
               DATA_DIR=str(tmp_path / "data"), DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
               TOOL_OCR_ENV_FILE=str(tmp_path / "no.env"), DJANGO_SETTINGS_MODULE="tool_ocr.settings",
               PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_with_the_production_settings(tmp_path):
    result = _production(tmp_path, "from django.core.management import execute_from_command_line as run; "
                                   "run(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
client = Client(HTTP_HOST="ocr.example.com")
plain = client.get("/login/")
page = client.get("/login/", secure=True)
csrf = page.cookies["csrftoken"]
print(json.dumps({
    "redirect": [plain.status_code, plain.get("Location")],
    "status": page.status_code,
    "headers": {k: page.get(k) for k in ("Strict-Transport-Security", "X-Frame-Options", "Content-Security-Policy",
                                         "X-Content-Type-Options", "Referrer-Policy")},
    "csrf_cookie": {"secure": bool(csrf["secure"]), "samesite": csrf["samesite"]},
    "settings": {k: getattr(settings, k) for k in ("SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
                 "SESSION_COOKIE_SAMESITE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
                 "X_FRAME_OPTIONS", "DEBUG")},
}))
"""


def test_production_settings_send_secure_cookies_hsts_and_redirect_to_https(tmp_path):
    result = _production(tmp_path, PROBE)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["redirect"] == [301, "https://ocr.example.com/login/"]
    assert out["status"] == 200
    assert out["headers"]["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert out["headers"]["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in out["headers"]["Content-Security-Policy"]
    assert out["headers"]["X-Content-Type-Options"] == "nosniff"
    assert out["csrf_cookie"] == {"secure": True, "samesite": "Lax"}
    assert out["settings"] == {"SESSION_COOKIE_SECURE": True, "SESSION_COOKIE_HTTPONLY": True,
                               "SESSION_COOKIE_SAMESITE": "Lax", "CSRF_COOKIE_SECURE": True,
                               "SECURE_SSL_REDIRECT": True, "SECURE_HSTS_SECONDS": 31536000,
                               "X_FRAME_OPTIONS": "DENY", "DEBUG": False}


def test_the_session_cookie_carries_the_production_flags_after_a_real_sign_in(client, settings):
    settings.SESSION_COOKIE_SECURE = True  # as the production settings have it (test above)
    response = client.post("/login/", {"username": "ada.lin@example.com", "password": "demo-password"}, secure=True)
    assert response.status_code == 302
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"


# --- Clickjacking and other headers on every kind of answer -------------------------------------

def test_no_page_can_be_framed(client, user_a):
    task = make_task(user_a, status="completed", with_files=True)
    anonymous = Client()
    answers = [anonymous.get("/login/"), anonymous.get("/no-such-page/"), anonymous.get("/api/v1/me")]
    signed_in(client, user_a)
    answers += [client.get(u) for u in ("/", f"/tasks/{task.id}/", "/history/", "/history/stats/", "/api/v1/docs",
                                        "/api/v1/tasks", f"/api/v1/tasks/{task.id}/result.txt")]
    answers.append(client.get("/history/", headers={"HX-Request": "true"}))
    for response in answers:
        assert response["X-Frame-Options"] == "DENY", response
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
        assert response["X-Content-Type-Options"] == "nosniff"


def test_the_api_docs_load_nothing_from_another_site(client):
    page = client.get("/api/v1/docs").content.decode()
    links = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert links and all(link.startswith("/static/") for link in links), links


# --- Errors never show internals ---------------------------------------------------------------

TOKEN = "dev-at-" + "Q" * 32


def _boom(*args, **kwargs):
    raise RuntimeError(f"database said no; access token {TOKEN} SECRET_KEY")


def _assert_bland(body: bytes, settings):
    text = body.decode()
    for tell in ("Traceback", "RuntimeError", TOKEN, settings.SECRET_KEY, ".py", str(ROOT), "database said no"):
        assert tell not in text, tell


def test_a_crashing_page_shows_a_plain_500(client, user_a, monkeypatch, settings):
    assert settings.DEBUG is False
    monkeypatch.setattr("tasks.selectors.task_list", _boom)
    signed_in(client, user_a)
    client.raise_request_exception = False
    response = client.get("/")
    assert response.status_code == 500
    _assert_bland(response.content, settings)
    htmx = client.get("/history/", headers={"HX-Request": "true"})
    assert htmx.status_code == 500
    _assert_bland(htmx.content, settings)


def test_a_crashing_api_call_answers_a_plain_json_500(client, user_a, monkeypatch, settings):
    monkeypatch.setattr("tasks.selectors.task_page", _boom)
    signed_in(client, user_a)
    client.raise_request_exception = False
    response = client.get("/api/v1/tasks")
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal_error", "message": "Something went wrong on our side.",
                                         "details": {}}}
    _assert_bland(response.content, settings)


def test_an_unknown_page_does_not_list_the_routes(client, settings):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"URLconf" not in response.content and b"history/" not in response.content
    _assert_bland(response.content, settings)


def test_security_txt_names_the_contact_only_when_one_is_set(client, settings):
    assert client.get("/.well-known/security.txt").status_code == 404
    settings.SECURITY_CONTACT = "security@example.com"
    response = client.get("/.well-known/security.txt")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    lines = response.content.decode().splitlines()
    assert lines[0] == "Contact: mailto:security@example.com" and lines[1].startswith("Expires: ")
