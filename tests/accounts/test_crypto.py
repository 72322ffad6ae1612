"""Tokens at rest: Fernet ciphertext only, key rotation with rotate_token_keys."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from accounts import crypto
from accounts.models import TokenSession
from tests.accounts.conftest import sign_in

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def _tokens(row):
    return [crypto.decrypt(getattr(row, f)) for f in TokenSession.SECRET_FIELDS]


@pytest.mark.django_db
def test_key_rotation_re_encrypts_every_token_with_the_newest_key(client, settings, dev_auth_api):
    settings.TOKEN_ENCRYPTION_KEYS = [OLD]
    sign_in(client)
    before = TokenSession.objects.get()
    plain = _tokens(before)
    assert all(plain) and plain[0] in dev_auth_api.server.state.access_tokens

    settings.TOKEN_ENCRYPTION_KEYS = [NEW, OLD]  # step 1: new key first, old still readable
    assert _tokens(TokenSession.objects.get()) == plain
    assert client.get("/").status_code == 200
    out = StringIO()
    call_command("rotate_token_keys", stdout=out)  # step 2
    assert "1 sessions re-encrypted with the newest key" in out.getvalue()
    after = TokenSession.objects.get()
    assert after.access_token_enc != before.access_token_enc

    settings.TOKEN_ENCRYPTION_KEYS = [NEW]  # step 3: drop the old key
    assert _tokens(TokenSession.objects.get()) == plain
    settings.TOKEN_ENCRYPTION_KEYS = [OLD]  # and the old key alone can no longer read them
    assert _tokens(TokenSession.objects.get()) == ["", "", ""]


@pytest.mark.django_db
def test_rotation_reports_tokens_no_key_can_read(client, settings):
    settings.TOKEN_ENCRYPTION_KEYS = [OLD]
    sign_in(client)
    settings.TOKEN_ENCRYPTION_KEYS = [NEW]  # old key dropped too early
    with pytest.raises(CommandError, match="1 sessions could not be decrypted with any configured key"):
        call_command("rotate_token_keys", stdout=StringIO())
    settings.TOKEN_ENCRYPTION_KEYS = [OLD]
    assert all(_tokens(TokenSession.objects.get()))  # left untouched: restoring the key recovers them


@pytest.mark.django_db
def test_a_session_whose_tokens_cannot_be_read_carries_on_until_expiry(client, settings, dev_auth_api):
    settings.TOKEN_ENCRYPTION_KEYS = [OLD]
    settings.TOKEN_REFRESH_BUFFER = 300
    dev_auth_api.configure(expires_in=60)
    sign_in(client)
    settings.TOKEN_ENCRYPTION_KEYS = [NEW]
    assert client.get("/").status_code == 200  # cannot refresh (no readable refresh token), not expired yet
    assert dev_auth_api.calls("/api/auth/refresh") == 0


def test_passphrases_work_as_keys(settings):
    settings.TOKEN_ENCRYPTION_KEYS = ["a long passphrase that is not a fernet key"]
    sealed = crypto.encrypt("dev-at-secret")
    assert "dev-at-secret" not in sealed and crypto.decrypt(sealed) == "dev-at-secret"
    assert crypto.encrypt("") == "" and crypto.decrypt("") == ""
