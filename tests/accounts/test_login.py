"""Sign-in through the bundled dev auth API over real HTTP."""

import pytest

from accounts.models import TokenSession, User


@pytest.mark.django_db
def test_sign_in_creates_the_user_and_shows_the_display_name(client):
    response = client.post("/login/", {"username": "Chen.MeiLing@example.com", "password": "demo-password"})
    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(email="chen.meiling@example.com")
    assert user.display_name == "陳美玲" and user.job_title == "品質工程師"
    page = client.get("/")
    assert "陳美玲" in page.content.decode()
    session = TokenSession.objects.get(user=user)
    assert session.access_token_enc and "dev-at-" not in session.access_token_enc


@pytest.mark.django_db
def test_sign_in_again_updates_the_same_user(client):
    client.post("/login/", {"username": "ada.lin@example.com", "password": "demo-password"})
    User.objects.filter(email="ada.lin@example.com").update(display_name="Old Name")
    client.post("/logout/")
    client.post("/login/", {"username": "ADA.LIN@example.com", "password": "demo-password"})
    assert User.objects.filter(email="ada.lin@example.com").count() == 1
    assert User.objects.get(email="ada.lin@example.com").display_name == "Ada Lin"


@pytest.mark.django_db
def test_wrong_password_shows_an_error_and_signs_nobody_in(client):
    response = client.post("/login/", {"username": "ada.lin@example.com", "password": "wrong"})
    assert response.status_code == 401
    assert "The email or password is not correct." in response.content.decode()
    assert not User.objects.exists() and not TokenSession.objects.exists()
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_logout_is_post_only_and_ends_the_session(client):
    client.post("/login/", {"username": "ada.lin@example.com", "password": "demo-password"})
    assert client.get("/logout/").status_code == 405
    assert TokenSession.objects.count() == 1
    assert client.post("/logout/").status_code == 302
    assert TokenSession.objects.count() == 0
    assert client.get("/").status_code == 302


# --- Errors a person can act on; nothing half-written ------------------------------
import pytest  # noqa: E402
from django.db import connection  # noqa: E402

from tests.accounts.conftest import ADA, sign_in  # noqa: E402


@pytest.mark.django_db
@pytest.mark.parametrize("username,switches,status,message,retry_button", [
    ("locked.user@example.com", {}, 423, "This account is locked. Contact your IT help desk to unlock it.", False),
    ("disabled.user@example.com", {}, 403, "This account is disabled. Contact your IT help desk.", False),
    (ADA[0], {"fail_mode": "503"}, 503, "The sign-in service is unavailable. Try again", True),
    (ADA[0], {"fail_mode": "garbage"}, 502, "The sign-in service answered something we cannot use", True),
    (ADA[0], {"fail_mode": "429", "retry_after": 600}, 429, "The sign-in service is busy. Try again in 600 seconds.", True),
])
def test_failures_explain_what_to_do_and_write_nothing(client, dev_auth_api, username, switches, status, message,
                                                       retry_button):
    dev_auth_api.configure(**switches)
    response = sign_in(client, username=username)
    body = response.content.decode()
    assert response.status_code == status
    assert message in body
    assert ('data-testid="login-retry"' in body) is retry_button
    assert not TokenSession.objects.exists()
    assert not User.objects.filter(email=ADA[0]).exists()
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_empty_fields_are_refused_without_calling_the_api(client, dev_auth_api):
    response = client.post("/login/", {"username": ADA[0], "password": ""})
    assert response.status_code == 400
    assert "Enter both your email and your password." in response.content.decode()
    assert dev_auth_api.calls("/api/auth/login") == 0


@pytest.mark.django_db
def test_the_session_key_rotates_at_sign_in(client):
    before = client.session
    before["probe"] = "x"
    before.save()
    client.cookies["sessionid"] = before.session_key
    sign_in(client)
    after = client.cookies["sessionid"].value
    assert after and after != before.session_key
    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=before.session_key).exists()
    assert TokenSession.objects.get().session_key == after


@pytest.mark.django_db
def test_token_row_records_the_browser_and_stores_only_ciphertext(client, dev_auth_api):
    sign_in(client, HTTP_USER_AGENT="Mozilla/5.0 TestBrowser", REMOTE_ADDR="10.1.2.3")
    row = TokenSession.objects.get()
    assert row.ip_address == "10.1.2.3" and row.user_agent == "Mozilla/5.0 TestBrowser"
    assert row.issued_at and row.expires_at > row.issued_at and row.last_activity_at
    from accounts import crypto

    state = dev_auth_api.server.state
    access, refresh = crypto.decrypt(row.access_token_enc), crypto.decrypt(row.refresh_token_enc)
    assert access in state.access_tokens and refresh in state.refresh_tokens  # the real tokens
    table = TokenSession._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT access_token_enc, id_token_enc, refresh_token_enc FROM {table}")
        raw = " ".join(cursor.fetchone())
    assert access not in raw and refresh not in raw and "dev-" not in raw


@pytest.mark.django_db
def test_htmx_sign_in_answers_with_hx_redirect_or_a_fragment(client):
    bad = sign_in(client, password="wrong", HTTP_HX_REQUEST="true")
    assert bad.status_code == 401
    assert "<html" not in bad.content.decode() and 'data-testid="login-error"' in bad.content.decode()
    good = client.post("/login/?next=/history/", {"username": ADA[0], "password": ADA[1]}, HTTP_HX_REQUEST="true")
    assert good.status_code == 200 and good["HX-Redirect"] == "/history/"


@pytest.mark.django_db
def test_next_is_honoured_for_local_paths_only(client):
    assert client.post("/login/?next=https://evil.example/", {"username": ADA[0], "password": ADA[1]})["Location"] == "/"


@pytest.mark.django_db
def test_login_page_shows_the_worst_case_wait(client, settings):
    settings.EXTERNAL_AUTH_TOTAL_TIMEOUT = 7
    settings.EXTERNAL_AUTH_TIMEOUT = 5
    page = client.get("/login/").content.decode()
    assert 'data-testid="login-loading"' in page and "up to 7 seconds" in page


@pytest.mark.django_db
def test_admin_login_goes_through_the_one_login_page(client):
    response = client.get("/admin/login/?next=/admin/accounts/")
    assert response.status_code == 302 and response["Location"] == "/login/?next=%2Fadmin%2Faccounts%2F"
    assert client.get("/admin/login/?next=https://evil.example/")["Location"] == "/login/?next=%2Fadmin%2F"


@pytest.mark.django_db
def test_header_shows_name_and_a_user_menu(ada_client):
    page = ada_client.get("/").content.decode()
    assert 'data-testid="user-name">Ada Lin<' in page
    assert 'data-testid="user-email">ada.lin@example.com<' in page
    assert 'data-testid="user-job-title">Process Engineer<' in page
    assert 'data-testid="user-office">Kaohsiung<' in page
    assert 'data-testid="sign-out"' in page


@pytest.mark.django_db
def test_company_users_get_an_unusable_password_so_sign_in_never_hashes(client):
    sign_in(client)
    client.post("/logout/")
    user = User.objects.get(email=ADA[0])
    assert user.password.startswith("!") and not user.has_usable_password()
    User.objects.filter(pk=user.pk).update(password="")  # rows from before this fix
    sign_in(client)
    assert User.objects.get(pk=user.pk).password.startswith("!")


@pytest.mark.django_db
def test_a_person_deactivated_in_tool_ocr_cannot_sign_in(client):
    sign_in(client)
    client.post("/logout/")
    User.objects.filter(email=ADA[0]).update(is_active=False)
    response = sign_in(client)
    assert response.status_code == 403
    assert "This account is disabled in Tool OCR. Contact an administrator." in response.content.decode()
    assert not TokenSession.objects.exists()
