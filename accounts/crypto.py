"""Encryption at rest for the company API's tokens (MultiFernet: rotate keys by prepending).

``TOKEN_ENCRYPTION_KEYS`` lists keys newest first: new values are encrypted with the
first, and any listed key decrypts. To rotate: put a new key first, run
``manage.py rotate_token_keys`` (re-encrypts every stored token with it), then drop the
old key. README "Sign-in" describes the steps.
"""

import base64
import hashlib
import logging

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

log = logging.getLogger("tool_ocr.auth")


class UnreadableToken(Exception):
    """No configured key decrypts this value (a key was dropped too early)."""


def _fernet_for(key: str) -> Fernet:
    try:
        return Fernet(key.encode() if isinstance(key, str) else key)
    except (ValueError, TypeError):
        # Accept any passphrase: derive a Fernet key from it.
        digest = hashlib.sha256(key.encode()).digest()
        return Fernet(base64.urlsafe_b64encode(digest))


def _multi() -> MultiFernet:
    keys = list(settings.TOKEN_ENCRYPTION_KEYS)
    return MultiFernet([_fernet_for(k) for k in keys])


def encrypt(value: str) -> str:
    if not value:
        return ""
    return _multi().encrypt(value.encode()).decode()


def decrypt(value: str) -> str:
    """Decrypt with any configured key; '' for an empty or undecryptable value."""
    if not value:
        return ""
    try:
        return _multi().decrypt(value.encode()).decode()
    except InvalidToken:
        log.warning("a stored token cannot be decrypted with any TOKEN_ENCRYPTION_KEYS key")
        return ""


def rotate(value: str) -> str:
    """Re-encrypt with the first (newest) key; UnreadableToken when no key fits."""
    if not value:
        return ""
    try:
        return _multi().rotate(value.encode()).decode()
    except InvalidToken:
        raise UnreadableToken() from None
