"""Token refresh is atomic: concurrent requests and the periodic job renew a session once,
and a late writer never overwrites newer tokens. Threads on a real (committed) database."""

import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts import crypto
from accounts.models import TokenSession
from accounts.services import RefreshOutcome, token_session_refresh
from tests.accounts.conftest import sign_in

REFRESH = "/api/auth/refresh"


def _signed_in_due(dev_auth_api, settings, client=None, username="ada.lin@example.com"):
    settings.TOKEN_REFRESH_BUFFER = 300
    dev_auth_api.configure(expires_in=60)
    client = client or Client()
    assert sign_in(client, username=username).status_code == 302
    dev_auth_api.configure(expires_in=4999)
    return client


needs_shared_database = pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="the in-memory shared-cache SQLite test database answers 'table is locked' to concurrent writers "
           "instead of waiting; these threads run on MariaDB, and test_processes_on_a_sqlite_file_refresh_once "
           "covers SQLite as deployed (a file with a busy timeout)")


def _in_threads(n, target):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(target())
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


@needs_shared_database
@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_renew_once_and_keep_the_newest_token(dev_auth_api, settings):
    _signed_in_due(dev_auth_api, settings)
    row_id = TokenSession.objects.get().pk
    dev_auth_api.configure(delay_seconds=0.3)  # make the calls overlap

    def refresh():
        return token_session_refresh(session=TokenSession.objects.select_related("user").get(pk=row_id))

    outcomes = _in_threads(6, refresh)
    assert sorted(outcomes).count(RefreshOutcome.REFRESHED) == 1
    assert set(outcomes) == {RefreshOutcome.REFRESHED, RefreshOutcome.BUSY}
    assert dev_auth_api.calls(REFRESH) == 1
    row = TokenSession.objects.get()
    assert row.version == 1 and row.refresh_hold_until is None
    state = dev_auth_api.server.state
    assert crypto.decrypt(row.refresh_token_enc) in state.refresh_tokens  # the live (newest) one
    assert dev_auth_api.accepts(crypto.decrypt(row.access_token_enc))


@needs_shared_database
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_of_one_browser_refresh_once(dev_auth_api, settings):
    browser = _signed_in_due(dev_auth_api, settings)
    cookie = browser.cookies["sessionid"].value
    dev_auth_api.configure(delay_seconds=0.3)

    def request():
        tab = Client()
        tab.cookies["sessionid"] = cookie
        return tab.get("/").status_code

    assert _in_threads(4, request) == [200, 200, 200, 200]
    assert dev_auth_api.calls(REFRESH) == 1
    assert TokenSession.objects.get().version == 1


@pytest.mark.django_db
def test_a_stale_copy_cannot_overwrite_newer_tokens(dev_auth_api, settings):
    _signed_in_due(dev_auth_api, settings)
    stale = TokenSession.objects.select_related("user").get()
    fresh = TokenSession.objects.select_related("user").get()
    assert token_session_refresh(session=fresh) == RefreshOutcome.REFRESHED
    newest = TokenSession.objects.get()
    assert token_session_refresh(session=stale) == RefreshOutcome.BUSY
    assert dev_auth_api.calls(REFRESH) == 1
    assert TokenSession.objects.get().access_token_enc == newest.access_token_enc


@pytest.mark.django_db
def test_refresh_keeps_the_old_refresh_token_when_the_api_does_not_rotate_it(dev_auth_api, settings):
    _signed_in_due(dev_auth_api, settings)
    row = TokenSession.objects.select_related("user").get()
    old_refresh = crypto.decrypt(row.refresh_token_enc)
    dev_auth_api.configure(issue_refresh_token=False)
    assert token_session_refresh(session=row) == RefreshOutcome.REFRESHED
    assert crypto.decrypt(TokenSession.objects.get().refresh_token_enc) == old_refresh


# --- The periodic job ---------------------------------------------------------------
@pytest.mark.django_db
def test_refresh_tokens_command_renews_due_sessions_only(dev_auth_api, settings):
    _signed_in_due(dev_auth_api, settings)
    _signed_in_due(dev_auth_api, settings, username="bob.tester@example.com")
    assert sign_in(Client(), username="chen.meiling@example.com").status_code == 302  # 4999 s: not due
    out = StringIO()
    call_command("refresh_tokens", stdout=out)
    assert "2 due; refreshed=2" in out.getvalue()
    assert dev_auth_api.calls(REFRESH) == 2
    assert sorted(TokenSession.objects.values_list("version", flat=True)) == [0, 1, 1]
    out = StringIO()
    call_command("refresh_tokens", stdout=out)
    assert "0 due" in out.getvalue() and dev_auth_api.calls(REFRESH) == 2


@pytest.mark.django_db
def test_refresh_tokens_command_ends_refused_sessions_and_spares_them_when_the_api_is_down(dev_auth_api, settings):
    browser = _signed_in_due(dev_auth_api, settings)
    dev_auth_api.configure(fail_mode="503")
    out = StringIO()
    call_command("refresh_tokens", stdout=out)
    assert "unavailable=1" in out.getvalue()
    assert TokenSession.objects.get().revoked_at is None
    assert browser.get("/").status_code == 200  # still valid: keeps working

    dev_auth_api.configure(fail_mode=None, refresh_mode="refuse")
    TokenSession.objects.update(refresh_hold_until=timezone.now() - timedelta(seconds=1))
    out = StringIO()
    call_command("refresh_tokens", stdout=out)
    assert "refused=1" in out.getvalue()
    assert TokenSession.objects.get().end_reason == "refresh_refused"
    response = browser.get("/")
    assert response.status_code == 302
    assert "The company sign-in service ended your session." in browser.get(response["Location"]).content.decode()


# --- Separate processes on a SQLite file (web workers + the job, as deployed) ------------
_PREPARE = """
import django; django.setup()
from accounts import external_auth, services
result = external_auth.authenticate_user("ada.lin@example.com", "demo-password")
user = services.user_upsert_from_external(result.user)
services.token_session_create(user=user, session_key="process-test-session", result=result)
"""

_REFRESH_AT = """
import os, time, django; django.setup()
from accounts.models import TokenSession
from accounts.services import token_session_refresh
row = TokenSession.objects.select_related("user").get()   # every process reads version 0
open(os.path.join(os.environ["SYNC_DIR"], f"ready-{os.getpid()}"), "w").close()
go = os.path.join(os.environ["SYNC_DIR"], "go")
while not os.path.exists(go):   # all start together, however slowly each one started up
    time.sleep(0.01)
print(token_session_refresh(session=row).value)
"""


def test_processes_on_a_sqlite_file_refresh_once(dev_auth_api, tmp_path):
    import os
    import sqlite3
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    db = tmp_path / "concurrency.sqlite3"
    env = {**os.environ, "DEBUG": "true", "DATABASE_URL": f"sqlite:///{db}", "DJANGO_SETTINGS_MODULE": "tool_ocr.settings",
           "EXTERNAL_AUTH_API_URL": dev_auth_api.url, "TOKEN_REFRESH_BUFFER": "300", "DATA_DIR": str(tmp_path)}

    def run(*args, **kw):
        done = subprocess.run([sys.executable, *args], cwd=root, env={**env, **kw}, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    run("manage.py", "migrate", "-v0")
    dev_auth_api.configure(expires_in=60)
    run("-c", _PREPARE)
    dev_auth_api.configure(expires_in=4999, delay_seconds=0.5)
    sync = tmp_path / "sync"
    sync.mkdir()
    workers = [subprocess.Popen([sys.executable, "-c", _REFRESH_AT], cwd=root, env={**env, "SYNC_DIR": str(sync)},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    deadline = time.monotonic() + 90
    while len(list(sync.glob("ready-*"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    (sync / "go").touch()
    outcomes = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err[-2000:]
        outcomes.append(out.strip().splitlines()[-1])
    assert sorted(outcomes) == ["busy", "busy", "busy", "refreshed"]
    assert dev_auth_api.calls(REFRESH) == 1
    with sqlite3.connect(db) as raw:
        version, token = raw.execute(f"SELECT version, refresh_token_enc FROM {TokenSession._meta.db_table}").fetchone()
    assert version == 1
    assert "dev-rt-" not in token


@pytest.mark.django_db
def test_the_job_leaves_sessions_without_a_refresh_endpoint_and_dead_ones_alone(dev_auth_api, settings):
    settings.SESSION_IDLE_TIMEOUT = 3600
    _signed_in_due(dev_auth_api, settings)
    dev_auth_api.configure(refresh_mode="missing")
    call_command("refresh_tokens", stdout=StringIO())
    call_command("refresh_tokens", stdout=StringIO())
    assert dev_auth_api.calls(REFRESH) == 1  # asked once; the session will end at expiry
    dev_auth_api.configure(refresh_mode="ok")
    TokenSession.objects.update(refresh_hold_until=None, expires_at=timezone.now() - timedelta(seconds=3601))
    out = StringIO()
    call_command("refresh_tokens", stdout=out)
    assert "0 due" in out.getvalue() and dev_auth_api.calls(REFRESH) == 1
