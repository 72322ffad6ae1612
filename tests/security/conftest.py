"""Security tests reuse the sign-in tests' quick retries and fresh breaker, and a fast password hasher
(every failed company sign-in now costs one local hash; tests that time it choose the real hasher)."""

import pytest

from tests.accounts.conftest import _fast_resilience  # noqa: F401 - autouse fixture


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
