"""AUTH_MODE: external (company API; local passwords for staff only), local, both."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from accounts.auth_mode import backends_for
from accounts.models import TokenSession, User
from tests.accounts.conftest import ADA, sign_in

ROOT = Path(__file__).resolve().parents[2]
LOGIN = "/api/auth/login"


@pytest.fixture
def mode(settings):
    def set_mode(name):
        settings.AUTH_MODE = name
        settings.AUTHENTICATION_BACKENDS = backends_for(name)
    return set_mode


@pytest.fixture
def operator(db):
    return User.objects.create_superuser("ops@example.com", "local-pass-123", display_name="Ops Person")


@pytest.fixture
def local_user(db):
    return User.objects.create_user("clerk@example.com", "clerk-pass-123", display_name="Clerk",
                                    auth_source=User.AuthSource.LOCAL)


def test_external_mode_lets_a_staff_operator_in_even_while_the_api_is_down(client, mode, operator, dev_auth_api):
    mode("external")
    dev_auth_api.configure(fail_mode="503")
    response = sign_in(client, "ops@example.com", "local-pass-123")
    assert response.status_code == 302
    # The company API is asked first (auth_mode: every failed name then costs the same one hash).
    assert dev_auth_api.calls(LOGIN) >= 1
    row = TokenSession.objects.get(user=operator)
    assert not row.has_tokens and row.expires_at is None
    assert "Ops Person" in client.get("/").content.decode()


def test_external_mode_never_lets_a_local_password_sign_in_a_non_staff_user(client, mode, local_user, dev_auth_api):
    mode("external")
    response = sign_in(client, "clerk@example.com", "clerk-pass-123")
    assert response.status_code == 401  # the company API does not know this password
    assert dev_auth_api.calls(LOGIN) == 1
    assert not TokenSession.objects.exists()


def test_local_mode_uses_local_accounts_only(client, mode, local_user, dev_auth_api):
    mode("local")
    assert sign_in(client, ADA[0], ADA[1]).status_code == 401
    assert dev_auth_api.calls(LOGIN) == 0
    assert sign_in(client, "clerk@example.com", "clerk-pass-123").status_code == 302
    page = client.get("/").content.decode()
    assert "Clerk" in page and "Local account" in page


def test_both_mode_accepts_local_users_and_company_users(client, mode, local_user, dev_auth_api):
    mode("both")
    assert sign_in(client, "clerk@example.com", "clerk-pass-123").status_code == 302
    client.post("/logout/")
    assert sign_in(client).status_code == 302
    assert TokenSession.objects.get(user__email=ADA[0]).has_tokens


def test_a_stale_backend_list_cannot_widen_a_mode(client, settings, local_user):
    settings.AUTH_MODE = "external"
    settings.AUTHENTICATION_BACKENDS = ["accounts.backends.LocalAccountBackend"]
    assert sign_in(client, "clerk@example.com", "clerk-pass-123").status_code == 401
    settings.AUTH_MODE = "local"
    settings.AUTHENTICATION_BACKENDS = backends_for("external")
    assert sign_in(client, ADA[0], ADA[1]).status_code == 401


def _settings_in_subprocess(**env):
    code = "import django; django.setup(); from django.conf import settings; print(settings.AUTHENTICATION_BACKENDS)"
    full_env = {**os.environ, "DEBUG": "true", **env}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**full_env, "DJANGO_SETTINGS_MODULE": "tool_ocr.settings"},
                          capture_output=True, text=True, timeout=120)


def test_settings_derive_the_backends_from_auth_mode_and_reject_a_bad_mode():
    local = _settings_in_subprocess(AUTH_MODE="local")
    assert local.returncode == 0, local.stderr
    assert local.stdout.strip() == "['accounts.backends.LocalAccountBackend']"
    external = _settings_in_subprocess(AUTH_MODE="external")
    assert "accounts.backends.ExternalAuthBackend" in external.stdout
    bad = _settings_in_subprocess(AUTH_MODE="ldap")
    assert bad.returncode != 0
    assert "AUTH_MODE='ldap' is not valid: use one of external, local, both." in bad.stderr
