"""Personal API tokens (issue 14 item 8; contract in shared/docs/http-api.md): the /account/tokens/ page,
the session-only token endpoints, Bearer on every other /api/v1/ endpoint, hash-only storage, expiry,
revocation by the owner and by an operator, audit rows, and a real HTTP round trip with the worker."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import api_token_create, api_token_hash
from core.models import AuditLog
from tasks.models import Task
from tests.tasks.history_helpers import make_task, png_upload, signed_in

pytestmark = pytest.mark.django_db

PAGE = Path(__file__).resolve().parents[1] / "data" / "pages" / "libtasn1_p13.png"


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


@pytest.fixture
def session_client(user_a):
    """A browser session that enforces CSRF, as a real browser meets it."""
    client = Client(enforce_csrf_checks=True)
    signed_in(client, user_a)
    client.get("/")  # sets the csrftoken cookie
    return client


def _csrf(client):
    return {"X-CSRFToken": client.cookies["csrftoken"].value}


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


# --- The token endpoints (session only) -------------------------------------------------------
def test_create_list_revoke_through_the_api(session_client, user_a):
    response = session_client.post("/api/v1/tokens", json.dumps({"name": "nightly import", "expires_in_days": 30}),
                                   content_type="application/json", headers=_csrf(session_client))
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["token"].startswith("tocr_") and len(created["token"]) >= 40
    assert created["name"] == "nightly import" and created["prefix"] == created["token"][:11]
    assert created["expires_at"] and created["last_used_at"] is None and created["expired"] is False

    listed = session_client.get("/api/v1/tokens").json()
    assert [t["id"] for t in listed] == [created["id"]]
    assert "token" not in listed[0]  # shown once, at creation only

    response = session_client.delete(f"/api/v1/tokens/{created['id']}", headers=_csrf(session_client))
    assert response.status_code == 204
    assert session_client.get("/api/v1/tokens").json() == []
    assert ApiToken.objects.get(pk=created["id"]).revoked_at is not None
    assert_error(session_client.delete(f"/api/v1/tokens/{created['id']}", headers=_csrf(session_client)), 404,
                 "not_found")
    # Both changes were audited, with the owner.
    actions = list(AuditLog.objects.filter(user=user_a, action__startswith="token.").values_list("action", flat=True))
    assert sorted(actions) == ["token.create", "token.revoke"]


def test_the_token_is_stored_only_as_its_hash(session_client):
    plain = session_client.post("/api/v1/tokens", json.dumps({"name": "x"}), content_type="application/json",
                                headers=_csrf(session_client)).json()["token"]
    row = ApiToken.objects.get()
    assert row.token_hash == api_token_hash(plain) and row.token_hash != plain
    # The plain token is in no column of any table (audit rows and sessions included).
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for record in cursor.fetchall():
                assert not any(plain in str(value) or plain[5:] in str(value) for value in record), table


@pytest.mark.parametrize("body, field", [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": "ok", "expires_in_days": 0}, "expires_in_days"),
    ({"name": "ok", "expires_in_days": 3651}, "expires_in_days"),
    ({"name": "ok", "expires_in_days": "30"}, "expires_in_days"),
    ({"name": "ok", "expires_in_days": 1.5}, "expires_in_days"),
    ({}, "name"),
])
def test_bad_token_requests_are_400_and_make_nothing(session_client, body, field):
    response = session_client.post("/api/v1/tokens", json.dumps(body), content_type="application/json",
                                   headers=_csrf(session_client))
    error = assert_error(response, 400)
    assert field in json.dumps(error["details"]) or field in error["message"]
    assert not ApiToken.objects.exists() and not AuditLog.objects.filter(action="token.create").exists()


def test_the_token_endpoints_need_csrf_with_the_session(session_client):
    response = session_client.post("/api/v1/tokens", json.dumps({"name": "x"}), content_type="application/json")
    assert_error(response, 403, "csrf_failed")
    assert not ApiToken.objects.exists()


def test_a_token_cannot_use_the_token_endpoints(user_a):
    _row, plain = api_token_create(user=user_a, name="script")
    anonymous = Client()
    assert_error(anonymous.get("/api/v1/tokens", headers=_bearer(plain)), 401, "not_authenticated")
    assert_error(anonymous.post("/api/v1/tokens", json.dumps({"name": "more"}), content_type="application/json",
                                headers=_bearer(plain)), 401)
    assert_error(anonymous.delete(f"/api/v1/tokens/{_row.id}", headers=_bearer(plain)), 401)
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 1


def test_another_users_token_id_is_404_and_stays(session_client, user_b):
    theirs, plain = api_token_create(user=user_b, name="bob's")
    assert_error(session_client.delete(f"/api/v1/tokens/{theirs.id}", headers=_csrf(session_client)), 404, "not_found")
    assert session_client.get("/api/v1/tokens").json() == []
    assert session_client.get(f"/account/tokens/{theirs.id}/revoke/").status_code == 404
    assert session_client.post(f"/account/tokens/{theirs.id}/revoke/",
                               {"csrfmiddlewaretoken": session_client.cookies["csrftoken"].value}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    assert Client().get("/api/v1/me", headers=_bearer(plain)).json()["email"] == user_b.email


# --- Bearer on the rest of the API ------------------------------------------------------------
def test_bearer_acts_as_its_owner_without_csrf(user_a, user_b):
    _row, plain = api_token_create(user=user_a, name="script")
    mine = make_task(user_a, filename="mine.png", with_files=True)
    theirs = make_task(user_b, filename="theirs.png", with_files=True)
    client = Client(enforce_csrf_checks=True)
    assert client.get("/api/v1/me", headers=_bearer(plain)).json()["email"] == user_a.email
    listed = client.get("/api/v1/tasks", headers=_bearer(plain)).json()
    assert [t["id"] for t in listed["results"]] == [str(mine.id)]
    download = client.get(f"/api/v1/tasks/{mine.id}/result.txt", headers=_bearer(plain))
    assert b"".join(download.streaming_content) == b"text of mine.png\n"
    assert_error(client.get(f"/api/v1/tasks/{theirs.id}", headers=_bearer(plain)), 404)
    # An unsafe method without any CSRF token: the upload works.
    response = client.post("/api/v1/tasks", {"files": [png_upload("by-script.png")]}, headers=_bearer(plain))
    assert response.status_code == 201, response.content
    assert Task.objects.get(filename="by-script.png").user == user_a
    assert client.delete(f"/api/v1/tasks/{mine.id}", headers=_bearer(plain)).status_code == 204


def test_the_session_still_needs_csrf_for_unsafe_methods(session_client):
    response = session_client.post("/api/v1/tasks", {"files": [png_upload()]})
    assert_error(response, 403, "csrf_failed")
    assert not Task.objects.exists()


def test_last_used_is_recorded_at_most_once_a_minute(user_a, django_assert_num_queries):
    row, plain = api_token_create(user=user_a, name="script")
    client = Client()
    client.get("/api/v1/me", headers=_bearer(plain))
    row.refresh_from_db()
    first = row.last_used_at
    assert first is not None
    client.get("/api/v1/me", headers=_bearer(plain))
    row.refresh_from_db()
    assert row.last_used_at == first  # no write for the second request within the minute
    ApiToken.objects.filter(pk=row.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get("/api/v1/me", headers=_bearer(plain))
    row.refresh_from_db()
    assert row.last_used_at > first


@pytest.mark.parametrize("state", ["revoked", "expired", "unknown", "malformed", "owner deactivated"])
def test_a_dead_token_is_401_in_the_error_shape(user_a, state):
    row, plain = api_token_create(user=user_a, name="script", expires_in_days=1)
    if state == "revoked":
        ApiToken.objects.filter(pk=row.pk).update(revoked_at=timezone.now())
    elif state == "expired":
        ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    elif state == "unknown":
        plain = plain[:-4] + ("AAAA" if not plain.endswith("AAAA") else "BBBB")
    elif state == "malformed":
        plain = "not-a-token"
    else:
        type(user_a).objects.filter(pk=user_a.pk).update(is_active=False)
    client = Client()
    for response in (client.get("/api/v1/me", headers=_bearer(plain)),
                     client.get("/api/v1/tasks", headers=_bearer(plain)),
                     client.post("/api/v1/tasks", {"files": [png_upload()]}, headers=_bearer(plain))):
        assert_error(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert not Task.objects.exists()


def test_a_dead_token_beside_a_live_session_is_still_401(session_client, user_a):
    row, plain = api_token_create(user=user_a, name="script")
    ApiToken.objects.filter(pk=row.pk).update(revoked_at=timezone.now())
    assert_error(session_client.get("/api/v1/me", headers=_bearer(plain)), 401)


def test_a_token_does_not_open_the_html_pages(user_a):
    _row, plain = api_token_create(user=user_a, name="script")
    client = Client()
    for url in ("/", "/history/", "/account/tokens/", "/admin/"):
        response = client.get(url, headers=_bearer(plain))
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_a_token_dies_with_its_user(user_a):
    row, plain = api_token_create(user=user_a, name="script")
    user_a.delete()
    assert not ApiToken.objects.filter(pk=row.pk).exists()
    assert_error(Client().get("/api/v1/me", headers=_bearer(plain)), 401)


def test_purge_removes_tokens_even_when_the_account_is_kept(user_a):
    from tasks.maintenance.cleanup import purge_user

    _row, plain = api_token_create(user=user_a, name="script")
    purge_user(user=user_a, keep_account=True)
    assert not ApiToken.objects.exists()
    assert_error(Client().get("/api/v1/me", headers=_bearer(plain)), 401)


def test_expiry_is_days_from_now(user_a):
    before = timezone.now()
    row, _plain = api_token_create(user=user_a, name="week", expires_in_days=7)
    assert before + timedelta(days=7) <= row.expires_at <= timezone.now() + timedelta(days=7)
    assert api_token_create(user=user_a, name="forever")[0].expires_at is None


def test_too_many_tokens_is_429_with_a_clear_message(session_client, user_a, monkeypatch):
    from accounts import services

    monkeypatch.setattr(services, "API_TOKENS_PER_USER", 2)
    for n in range(2):
        api_token_create(user=user_a, name=f"t{n}")
    error = assert_error(session_client.post("/api/v1/tokens", json.dumps({"name": "third"}),
                                             content_type="application/json", headers=_csrf(session_client)),
                         429, "limit_reached")
    assert "revoke one" in error["message"]
    assert ApiToken.objects.count() == 2


# --- The page -----------------------------------------------------------------------------------
def test_the_tokens_page_creates_shows_once_lists_and_revokes(session_client, user_a):
    csrf = {"csrfmiddlewaretoken": session_client.cookies["csrftoken"].value}
    page = session_client.get("/account/tokens/")
    assert page.status_code == 200 and "You have no tokens." in page.content.decode()
    response = session_client.post("/account/tokens/", {**csrf, "name": "backup script", "expires_in_days": "90"})
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    row = ApiToken.objects.get()
    html = response.content.decode()
    assert "shown only this once" in html and row.prefix in html
    plain = html.split('data-testid="token-value"')[0].rsplit('value="', 1)[1].split('"', 1)[0]
    assert api_token_hash(plain) == row.token_hash
    listing = session_client.get("/account/tokens/").content.decode()
    assert "backup script" in listing and plain not in listing
    confirm = session_client.get(f"/account/tokens/{row.id}/revoke/")
    assert confirm.status_code == 200 and "Revoke the token" in confirm.content.decode()
    assert ApiToken.objects.get().revoked_at is None  # the confirm page changes nothing
    response = session_client.post(f"/account/tokens/{row.id}/revoke/", csrf)
    assert response.status_code == 302 and response["Location"] == "/account/tokens/"
    assert "is revoked" in session_client.get("/account/tokens/").content.decode()
    assert ApiToken.objects.get().revoked_at is not None
    assert_error(Client().get("/api/v1/me", headers=_bearer(plain)), 401)


def test_the_tokens_page_refuses_bad_input_and_keeps_what_was_typed(session_client):
    csrf = {"csrfmiddlewaretoken": session_client.cookies["csrftoken"].value}
    response = session_client.post("/account/tokens/", {**csrf, "name": " ", "expires_in_days": "30"})
    assert response.status_code == 400 and "Give the token a name" in response.content.decode()
    response = session_client.post("/account/tokens/", {**csrf, "name": "kept name", "expires_in_days": "12345"})
    assert response.status_code == 400 and "offered expiry" in response.content.decode()
    assert 'value="kept name"' in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_tokens_page_needs_csrf_and_sign_in(session_client):
    assert session_client.post("/account/tokens/", {"name": "x"}).status_code == 403
    response = Client().get("/account/tokens/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not ApiToken.objects.exists()


# --- The admin ----------------------------------------------------------------------------------
def test_an_operator_revokes_a_token_in_the_admin(client, user_a, make_user):
    row, plain = api_token_create(user=user_a, name="leaked")
    operator = make_user(email="op@example.com", is_staff=True, is_superuser=True)
    signed_in(client, operator)
    listing = client.get("/admin/accounts/apitoken/")
    assert listing.status_code == 200 and "leaked" in listing.content.decode()
    assert row.token_hash not in listing.content.decode()
    assert row.token_hash not in client.get(f"/admin/accounts/apitoken/{row.id}/change/").content.decode()
    response = client.post("/admin/accounts/apitoken/", {"action": "revoke_tokens", "_selected_action": [str(row.id)]})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None
    audit = AuditLog.objects.get(action="token.revoke")
    assert audit.user == operator and audit.details["by"] == "operator" and audit.details["owner"] == user_a.email
    assert_error(Client().get("/api/v1/me", headers=_bearer(plain)), 401)


# --- A real script against the running server ----------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_script_uploads_with_a_token_and_downloads_the_text(live_server, user_a, settings):
    """What docs/api.md shows, over real HTTP: upload with a token, the worker reads it, fetch result.txt."""
    from tests.tasks.pipeline_helpers import run_worker

    _row, plain = api_token_create(user=user_a, name="docs example")
    api = live_server.url + "/api/v1"
    headers = {"Authorization": f"Bearer {plain}"}
    with open(PAGE, "rb") as fh:
        response = requests.post(f"{api}/tasks", headers=headers, files={"files": fh},
                                 data={"engine": "tesseract", "language": "en"}, timeout=60)
    assert response.status_code == 201, response.text
    task_id = response.json()["tasks"][0]["id"]
    run_worker()
    task = requests.get(f"{api}/tasks/{task_id}", headers=headers, timeout=30).json()
    assert task["status"] == "completed", task
    text = requests.get(f"{api}/tasks/{task_id}/result.txt", headers=headers, timeout=30)
    assert text.status_code == 200 and "Function reference" in text.text
    assert requests.get(f"{api}/tasks", headers={"Authorization": "Bearer tocr_wrong"}, timeout=30).status_code == 401
