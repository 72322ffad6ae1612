"""Security tests reuse the sign-in tests' quick retries and fresh breaker."""

from tests.accounts.conftest import _fast_resilience  # noqa: F401 - autouse fixture
