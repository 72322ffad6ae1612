"""The session guard middleware: revocation, logout, idle and absolute limits, token refresh,
and how a signed-out request is answered (page, HTMX, JSON API)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import crypto
from accounts.breaker import get_breaker
from accounts.models import TokenSession
from accounts.services import token_session_revoke
from tests.accounts.conftest import sign_in

REFRESH = "/api/auth/refresh"
pytestmark = pytest.mark.django_db


def _row():
    return TokenSession.objects.get()


def _signed_out_with(client, response, text, next_path="/"):
    assert response.status_code == 302
    assert response["Location"] == (f"/login/?next={next_path.replace('/', '%2F')}" if next_path else "/login/")
    login_page = client.get(response["Location"])
    assert text in login_page.content.decode()
    assert client.get("/").status_code == 302  # and stays signed out


# --- Revocation and logout --------------------------------------------------------
def test_a_revoked_session_is_signed_out_at_its_next_request(ada_client):
    assert ada_client.get("/").status_code == 200
    token_session_revoke(session=_row())
    row = _row()
    assert row.revoked_at and row.end_reason == "revoked" and not row.has_tokens  # tokens wiped at once
    _signed_out_with(ada_client, ada_client.get("/"), "Your session was ended by an administrator.")


def test_revoking_twice_reports_it(ada_client):
    assert token_session_revoke(session=_row()) is True
    assert token_session_revoke(session=_row()) is False


def test_revocation_only_touches_that_browser(client):
    from django.test import Client

    other = Client()
    sign_in(client)
    sign_in(other)
    first, second = TokenSession.objects.order_by("created_at")
    token_session_revoke(session=first)
    assert client.get("/").status_code == 302
    assert other.get("/").status_code == 200


def test_logout_deletes_the_tokens_and_the_old_cookie_is_dead(ada_client):
    old_cookie = ada_client.cookies["sessionid"].value
    assert ada_client.post("/logout/")["Location"] == "/login/"
    assert not TokenSession.objects.exists()
    ada_client.cookies["sessionid"] = old_cookie  # a copied cookie is worth nothing now
    assert ada_client.get("/").status_code == 302


def test_a_session_without_its_row_is_signed_out(ada_client):
    TokenSession.objects.all().delete()  # e.g. cleanup_sessions removed it
    _signed_out_with(ada_client, ada_client.get("/"), "Your session has ended.")


def test_force_login_gets_a_row_so_other_tests_keep_working(client, user_a):
    client.force_login(user_a)
    assert client.get("/").status_code == 200
    assert TokenSession.objects.get(user=user_a).session_key == client.session.session_key


# --- Who gets what when signed out ------------------------------------------------
def test_htmx_request_of_a_revoked_session_gets_hx_redirect_not_a_login_page(ada_client):
    token_session_revoke(session=_row())
    response = ada_client.get("/", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="http://testserver/history/?page=2")
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/login/?next=%2Fhistory%2F%3Fpage%3D2"
    assert b"<form" not in response.content
    assert "ended by an administrator" in ada_client.get(response["HX-Redirect"]).content.decode()


def test_htmx_request_without_a_session_gets_hx_redirect(client):
    response = client.get("/", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="http://testserver/")
    assert response.status_code == 200 and response["HX-Redirect"] == "/login/?next=%2F"
    assert b"<form" not in response.content


def test_json_api_of_a_revoked_session_gets_a_json_401(ada_client):
    assert ada_client.get("/api/v1/me").status_code == 200
    token_session_revoke(session=_row())
    response = ada_client.get("/api/v1/me")
    assert response.status_code == 401 and response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_authenticated"
    assert "ended by an administrator" in response.json()["error"]["message"]
    assert ada_client.get("/api/v1/me").status_code == 401


def test_no_token_in_pages_or_json_api(ada_client):
    row = _row()
    secrets = [crypto.decrypt(row.access_token_enc), crypto.decrypt(row.refresh_token_enc),
               crypto.decrypt(row.id_token_enc), row.access_token_enc, row.refresh_token_enc]
    for path in ("/", "/api/v1/me"):
        body = ada_client.get(path).content.decode()
        assert not [s for s in secrets if s and s in body]


# --- Idle timeout and absolute lifetime ------------------------------------------
def test_idle_timeout_signs_out(ada_client, settings):
    settings.SESSION_IDLE_TIMEOUT = 1800
    TokenSession.objects.update(last_activity_at=timezone.now() - timedelta(seconds=1801))
    _signed_out_with(ada_client, ada_client.get("/"), "You were signed out after 30 minutes without activity.")


def test_activity_keeps_the_session_alive(ada_client, settings):
    settings.SESSION_IDLE_TIMEOUT = 1800
    earlier = timezone.now() - timedelta(seconds=1700)
    TokenSession.objects.update(last_activity_at=earlier)
    assert ada_client.get("/").status_code == 200
    assert _row().last_activity_at > earlier + timedelta(seconds=1600)


def test_absolute_lifetime_signs_out_however_active(ada_client, settings):
    settings.SESSION_ABSOLUTE_LIFETIME = 8 * 3600
    TokenSession.objects.update(created_at=timezone.now() - timedelta(hours=8, seconds=1))
    _signed_out_with(ada_client, ada_client.get("/"), "Your session reached its maximum length of 8 hours.")


# --- Token refresh in the middleware ----------------------------------------------
@pytest.fixture
def due_client(client, dev_auth_api, settings):
    """Signed in with a token that is inside the refresh buffer (60 s left, buffer 300 s)."""
    settings.TOKEN_REFRESH_BUFFER = 300
    dev_auth_api.configure(expires_in=60)
    assert sign_in(client).status_code == 302
    dev_auth_api.configure(expires_in=4999)
    return client


def _expire_now():
    TokenSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1), refresh_hold_until=None)


def test_a_token_near_expiry_is_refreshed_on_request(due_client, dev_auth_api):
    before = _row()
    assert due_client.get("/").status_code == 200
    after = _row()
    assert dev_auth_api.calls(REFRESH) == 1
    assert after.version == before.version + 1 and after.refreshed_at
    assert after.expires_at > before.expires_at + timedelta(seconds=4000)
    new_access = crypto.decrypt(after.access_token_enc)
    assert new_access != crypto.decrypt(before.access_token_enc) and dev_auth_api.accepts(new_access)
    assert due_client.get("/").status_code == 200
    assert dev_auth_api.calls(REFRESH) == 1  # not due any more


def test_a_refused_refresh_ends_the_session_with_a_message(due_client, dev_auth_api):
    dev_auth_api.configure(refresh_mode="refuse")
    response = due_client.get("/")
    row = _row()
    assert row.revoked_at and row.end_reason == "refresh_refused" and not row.has_tokens
    _signed_out_with(due_client, response, "The company sign-in service ended your session.")


def test_without_a_refresh_endpoint_the_session_ends_at_expiry(due_client, dev_auth_api):
    dev_auth_api.configure(refresh_mode="missing")
    assert due_client.get("/").status_code == 200
    assert due_client.get("/").status_code == 200
    assert dev_auth_api.calls(REFRESH) == 1  # asked once, then waits for expiry
    _expire_now()
    _signed_out_with(due_client, due_client.get("/"), "Your sign-in has expired.")


def test_an_unavailable_api_leaves_the_session_until_the_token_expires(due_client, dev_auth_api):
    dev_auth_api.configure(fail_mode="503")
    assert due_client.get("/").status_code == 200
    assert _row().revoked_at is None and _row().has_tokens
    _expire_now()
    response = due_client.get("/")
    _signed_out_with(due_client, response, "Your sign-in has expired.")


def test_refresh_recovers_after_the_api_comes_back(due_client, dev_auth_api):
    dev_auth_api.configure(fail_mode="503")
    assert due_client.get("/").status_code == 200
    dev_auth_api.configure(fail_mode=None)
    TokenSession.objects.update(refresh_hold_until=timezone.now() - timedelta(seconds=1))  # pause over
    assert due_client.get("/").status_code == 200
    assert _row().version == 1


def test_signed_in_users_keep_working_while_the_breaker_is_open(ada_client, dev_auth_api, settings):
    settings.EXTERNAL_AUTH_BREAKER_FAIL_MAX = 2
    dev_auth_api.configure(fail_mode="503")
    from django.test import Client

    assert sign_in(Client()).status_code == 503
    assert get_breaker().state == "open"
    calls = dev_auth_api.calls("/api/auth/login")
    for _ in range(3):
        assert ada_client.get("/").status_code == 200
    assert dev_auth_api.calls("/api/auth/login") == calls and dev_auth_api.calls(REFRESH) == 0


def test_the_sign_out_message_is_shown_once(ada_client):
    token_session_revoke(session=_row())
    response = ada_client.get("/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/login/")
    assert response.content.decode().count("ended by an administrator") == 1
    assert "ended by an administrator" not in ada_client.get("/login/").content.decode()


def test_the_admin_revoke_action_path_signs_the_browser_out(ada_client):
    from accounts import maintenance  # what the admin action calls

    assert maintenance.session_revoke(session=_row()) is True
    _signed_out_with(ada_client, ada_client.get("/"), "Your session was ended by an administrator.")


@pytest.mark.parametrize("engine, in_table", [
    ("accounts.session_store", True),  # ours, built on Django's database store
    ("django.contrib.sessions.backends.db", True),
    ("django.contrib.sessions.backends.cached_db", True),
    ("django.contrib.sessions.backends.signed_cookies", False),
    ("django.contrib.sessions.backends.cache", False),
])
def test_browser_sessions_are_deleted_from_the_table_for_every_database_store(settings, engine, in_table):
    """A revoke or purge deletes the browser's Session row whenever the configured store keeps one."""
    from accounts import maintenance

    settings.SESSION_ENGINE = engine
    assert maintenance._db_sessions() is in_table


def test_deleting_a_persons_sessions_deletes_their_browser_session_rows(ada_client):
    from django.contrib.sessions.models import Session

    from accounts import maintenance

    key = ada_client.session.session_key
    user = TokenSession.objects.get(session_key=key).user
    assert Session.objects.filter(session_key=key).exists()
    assert maintenance.user_sessions_delete(user=user) == 1
    assert not Session.objects.filter(session_key=key).exists()
    assert ada_client.get("/history/").status_code == 302  # signed out at once
