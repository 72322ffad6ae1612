"""Sign-in tests: quick backoff so retries cost milliseconds, a fresh breaker, helpers."""

import pytest

from accounts.breaker import reset_breaker

ADA = ("ada.lin@example.com", "demo-password")


@pytest.fixture(autouse=True)
def _fast_resilience(settings):
    settings.EXTERNAL_AUTH_BACKOFF_INITIAL = 0.01
    settings.EXTERNAL_AUTH_BACKOFF_MAX = 0.05
    settings.EXTERNAL_AUTH_TIMEOUT = 2
    settings.EXTERNAL_AUTH_TOTAL_TIMEOUT = 5
    settings.EXTERNAL_AUTH_RETRIES = 2
    settings.EXTERNAL_AUTH_BREAKER_FAIL_MAX = 5
    settings.EXTERNAL_AUTH_BREAKER_RESET_SECONDS = 30
    reset_breaker()
    yield
    reset_breaker()


def sign_in(client, username=ADA[0], password=ADA[1], **extra):
    return client.post("/login/", {"username": username, "password": password}, **extra)


@pytest.fixture
def ada_client(client, db):
    """A browser signed in as Ada through the dev auth API."""
    response = sign_in(client)
    assert response.status_code == 302, response.content[:500]
    return client
