"""Brute-force limit: failed sign-ins per typed account and per client IP, kept in the database."""

import re
from datetime import timedelta

import pytest

from accounts.models import LoginFailure
from tests.accounts.conftest import sign_in

LOGIN = "/api/auth/login"
TOO_MANY = "Too many failed sign-in attempts."


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_MAX_ATTEMPTS_PER_ACCOUNT = 3
    settings.LOGIN_MAX_ATTEMPTS_PER_IP = 5
    settings.LOGIN_ATTEMPT_WINDOW = 600


@pytest.mark.django_db
def test_an_account_is_paused_after_its_failures_even_with_the_right_password(client, dev_auth_api):
    for _ in range(3):
        assert sign_in(client, password="wrong").status_code == 401
    response = sign_in(client)
    body = response.content.decode()
    assert response.status_code == 429 and TOO_MANY in body and "Wait 10 minutes, then try again." in body
    assert dev_auth_api.calls(LOGIN) == 3  # the paused attempt never reached the API
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_an_unknown_account_gets_the_same_answers(client):
    answers = [sign_in(client, "nobody@example.com", "wrong") for _ in range(4)]
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert TOO_MANY in answers[-1].content.decode()
    known = [sign_in(client, "bob.tester@example.com", "wrong", REMOTE_ADDR="10.0.0.2") for _ in range(4)]
    assert [(k.status_code, _feedback(k)) for k in known] == [(a.status_code, _feedback(a)) for a in answers]


def _feedback(response):
    match = re.search(r'<div id="login-feedback".*?</div>', response.content.decode(), re.S)
    return match.group(0)


@pytest.mark.django_db
def test_the_account_limit_ignores_case_and_spaces(client):
    for name in ("Ada.Lin@example.com", " ada.lin@EXAMPLE.com", "ada.lin@example.com"):
        sign_in(client, name, "wrong")
    assert sign_in(client).status_code == 429


@pytest.mark.django_db
def test_one_ip_is_limited_across_accounts(client):
    for i in range(5):
        assert sign_in(client, f"guess{i}@example.com", "wrong").status_code == 401
    assert sign_in(client).status_code == 429
    other_ip = sign_in(client, REMOTE_ADDR="10.9.9.9")
    assert other_ip.status_code == 302


@pytest.mark.django_db
def test_the_proxy_header_names_the_client_when_configured(client, settings):
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    for i in range(5):
        sign_in(client, f"guess{i}@example.com", "wrong", HTTP_X_FORWARDED_FOR="1.2.3.4, 10.0.0.7")
    assert sign_in(client, HTTP_X_FORWARDED_FOR="1.2.3.4, 10.0.0.7").status_code == 429
    # A different client behind the same proxy is not affected; spoofed first entries are ignored.
    assert sign_in(client, HTTP_X_FORWARDED_FOR="10.0.0.7, 10.0.0.8").status_code == 302


@pytest.mark.django_db
def test_failures_leave_the_window(client):
    for _ in range(3):
        sign_in(client, password="wrong")
    LoginFailure.objects.update(created_at=LoginFailure.objects.first().created_at - timedelta(seconds=601))
    assert sign_in(client).status_code == 302


@pytest.mark.django_db
def test_success_forgives_the_account_but_not_the_ip(client):
    for _ in range(2):
        sign_in(client, password="wrong")
    assert sign_in(client).status_code == 302
    assert not LoginFailure.objects.filter(scope="account").exists()
    assert LoginFailure.objects.filter(scope="ip").count() == 2


@pytest.mark.django_db
def test_api_outages_do_not_count_as_failures(client, dev_auth_api):
    dev_auth_api.configure(fail_mode="503")
    for _ in range(4):
        assert sign_in(client).status_code == 503
    assert not LoginFailure.objects.exists()


@pytest.mark.django_db
def test_the_table_never_holds_what_was_typed(client):
    sign_in(client, "secret-typo-password@example.com", "wrong", REMOTE_ADDR="10.20.30.40")
    rows = list(LoginFailure.objects.values_list("key_hash", flat=True))
    assert len(rows) == 3 and all(len(r) == 64 for r in rows)  # (account, IP), account, IP
    assert not any("secret" in r or "10.20" in r for r in rows)
