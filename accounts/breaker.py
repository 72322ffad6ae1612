"""The circuit breaker in front of the company API (per process, in memory).

pybreaker keeps the state machine (closed → open → half-open, the failure counter, when it
opened). We ask it before each HTTP attempt and report the outcome after, instead of wrapping
the attempt in ``CircuitBreaker.call``: that method holds one lock for the whole wrapped call,
which would let only one sign-in per process talk to the API at a time (pybreaker issue #55).
Once the reset timeout has passed, the first call moves the breaker to pybreaker's half-open
state and is the trial; while it runs, the others keep failing fast; its outcome closes the
breaker or opens it again. The breaker's storage is ours (pybreaker's public
``CircuitMemoryStorage``), so when it opened is read without reaching into pybreaker.
"""

import threading
from datetime import datetime, timezone

import pybreaker
from django.conf import settings


class BreakerOpen(Exception):
    """The API failed repeatedly; no call is made until ``retry_in`` seconds pass."""

    def __init__(self, retry_in: float):
        super().__init__(f"circuit open, retry in {retry_in:.0f}s")
        self.retry_in = retry_in


def _noop():
    return None


def _raise(exc):
    raise exc


class ApiBreaker:
    def __init__(self, fail_max: int, reset_timeout: float):
        self.fail_max = fail_max
        self.reset_timeout = reset_timeout
        self._storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self._cb = pybreaker.CircuitBreaker(fail_max=fail_max, reset_timeout=reset_timeout, state_storage=self._storage,
                                            name="external_auth", throw_new_error_on_trip=False)
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        """'closed', 'open' (also past its reset timeout, until a call tries) or 'half-open' (a trial call runs)."""
        return self._cb.current_state

    @property
    def fail_counter(self) -> int:
        return self._cb.fail_counter

    def retry_in(self) -> float:
        """Seconds until the next trial call may go through (0 when not open)."""
        opened_at = self._storage.opened_at
        if self._cb.current_state != pybreaker.STATE_OPEN or opened_at is None:
            return 0.0
        elapsed = (datetime.now(timezone.utc) - opened_at).total_seconds()
        return max(0.0, self.reset_timeout - elapsed)

    def before_call(self) -> None:
        """Allow the call, or raise BreakerOpen; past the reset timeout the first caller becomes the trial."""
        with self._lock:
            state = self._cb.current_state
            if state == pybreaker.STATE_CLOSED:
                return
            if state == pybreaker.STATE_HALF_OPEN:
                raise BreakerOpen(1.0)  # another call is the trial: its outcome decides
            wait = self.retry_in()
            if wait > 0:
                raise BreakerOpen(wait)
            self._cb.half_open()

    def record_success(self) -> None:
        """Closes a half-open breaker and resets the failure counter."""
        with self._lock:
            try:
                self._cb.call(_noop)
            except pybreaker.CircuitBreakerError:
                pass  # reopened by another thread meanwhile; its timeout stands

    def record_failure(self, exc: Exception) -> None:
        """Counts the failure; at ``fail_max`` (or a failed trial) the breaker opens."""
        with self._lock:
            try:
                self._cb.call(_raise, exc)
            except pybreaker.CircuitBreakerError:
                pass
            except Exception as raised:
                if raised is not exc:
                    raise


_current: ApiBreaker | None = None
_current_lock = threading.Lock()


def get_breaker() -> ApiBreaker:
    """The process's breaker, rebuilt (closed) when its settings change."""
    global _current
    fail_max = settings.EXTERNAL_AUTH_BREAKER_FAIL_MAX
    reset_timeout = settings.EXTERNAL_AUTH_BREAKER_RESET_SECONDS
    with _current_lock:
        if _current is None or (_current.fail_max, _current.reset_timeout) != (fail_max, reset_timeout):
            _current = ApiBreaker(fail_max, reset_timeout)
        return _current


def reset_breaker() -> None:
    """Forget all failures (tests; a settings change)."""
    global _current
    with _current_lock:
        _current = None
