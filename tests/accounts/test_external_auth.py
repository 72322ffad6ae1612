"""The API client over real HTTP: typed errors, retries, deadlines, the circuit breaker, logs."""

import logging
import socket
import sys
import threading
import time

import pytest
from django.contrib.auth import authenticate
from django.views.debug import ExceptionReporter

from accounts import external_auth
from accounts.breaker import get_breaker
from tests.accounts.conftest import ADA

LOGIN = "/api/auth/login"
REFRESH = "/api/auth/refresh"


def _login(username=ADA[0], password=ADA[1]):
    return external_auth.authenticate_user(username, password)


# --- Results and errors that are not retried -------------------------------------
def test_success_gives_typed_user_and_tokens_without_printing_them(dev_auth_api):
    result = _login("Chen.MeiLing@example.com")
    assert result.user.email == "chen.meiling@example.com"
    assert result.user.name == "陳美玲" and result.user.office_location == "台北"
    assert result.tokens.access_token.startswith("dev-at-") and result.tokens.refresh_token.startswith("dev-rt-")
    assert result.tokens.expires_at > result.tokens.issued_at
    assert result.tokens.access_token not in repr(result) and result.tokens.refresh_token not in repr(result)
    assert dev_auth_api.calls(LOGIN) == 1


@pytest.mark.parametrize("username,password,error,message", [
    (ADA[0], "wrong", external_auth.InvalidCredentials, "The email or password is not correct."),
    ("nobody@example.com", "x", external_auth.InvalidCredentials, "The email or password is not correct."),
    ("locked.user@example.com", "demo-password", external_auth.AccountLocked, "locked"),
    ("disabled.user@example.com", "demo-password", external_auth.AccountDisabled, "disabled"),
    (ADA[0], "", external_auth.InvalidCredentials, "Enter both your email and your password."),
])
def test_answers_about_the_credentials_are_never_retried(dev_auth_api, username, password, error, message):
    with pytest.raises(error) as info:
        _login(username, password)
    assert message in info.value.message
    assert dev_auth_api.calls(LOGIN) == 1


def test_garbage_is_a_bad_response_and_not_retried(dev_auth_api):
    dev_auth_api.configure(fail_mode="garbage")
    with pytest.raises(external_auth.BadResponse):
        _login()
    assert dev_auth_api.calls(LOGIN) == 1


def test_a_401_from_a_misbehaving_api_is_wrong_credentials_not_retried(dev_auth_api):
    dev_auth_api.configure(fail_mode="401")
    with pytest.raises(external_auth.InvalidCredentials):
        _login()
    assert dev_auth_api.calls(LOGIN) == 1


# --- Transient failures: retried, counted by the dev API ------------------------
@pytest.mark.parametrize("mode", ["500", "503", "drop"])
def test_transient_failures_are_retried_until_success(dev_auth_api, mode):
    dev_auth_api.configure(fail_mode=mode, fail_count=2)
    result = _login()
    assert result.user.email == ADA[0]
    assert dev_auth_api.calls(LOGIN) == 3


def test_persistent_5xx_gives_up_after_the_configured_retries(dev_auth_api, settings):
    settings.EXTERNAL_AUTH_RETRIES = 3
    dev_auth_api.configure(fail_mode="503")
    with pytest.raises(external_auth.ServiceUnavailable) as info:
        _login()
    assert "The sign-in service is unavailable. Try again" in info.value.message
    assert dev_auth_api.calls(LOGIN) == 4


def test_zero_retries_means_one_attempt(dev_auth_api, settings):
    settings.EXTERNAL_AUTH_RETRIES = 0
    dev_auth_api.configure(fail_mode="500")
    with pytest.raises(external_auth.ServiceUnavailable):
        _login()
    assert dev_auth_api.calls(LOGIN) == 1


def test_429_honours_a_short_retry_after(dev_auth_api, settings):
    settings.EXTERNAL_AUTH_BACKOFF_MAX = 1.5
    dev_auth_api.configure(fail_mode="429", fail_count=1, retry_after=1)
    started = time.monotonic()
    assert _login().user.email == ADA[0]
    assert time.monotonic() - started >= 0.95  # waited what the API asked
    assert dev_auth_api.calls(LOGIN) == 2


def test_429_with_a_long_retry_after_fails_at_once_saying_when(dev_auth_api, settings):
    settings.EXTERNAL_AUTH_BACKOFF_MAX = 1
    dev_auth_api.configure(fail_mode="429", retry_after=120)
    started = time.monotonic()
    with pytest.raises(external_auth.RateLimited) as info:
        _login()
    assert time.monotonic() - started < 0.5
    assert info.value.retry_after == 120 and "Try again in 120 seconds." in info.value.message
    assert dev_auth_api.calls(LOGIN) == 1


def test_connection_refused_is_unavailable(settings):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.EXTERNAL_AUTH_API_URL = f"http://127.0.0.1:{port}"
    with pytest.raises(external_auth.ServiceUnavailable):
        _login()


def test_slow_api_times_out_per_attempt_and_retries(dev_auth_api, settings):
    settings.EXTERNAL_AUTH_TIMEOUT = 0.3
    dev_auth_api.configure(delay_seconds=1.0)
    started = time.monotonic()
    with pytest.raises(external_auth.ServiceUnavailable):
        _login()
    elapsed = time.monotonic() - started
    assert dev_auth_api.calls(LOGIN) == 3
    assert 0.9 <= elapsed < 2.0  # 3 × 0.3 s plus two short backoffs (slack for a busy machine)


def test_the_whole_operation_never_exceeds_the_total_timeout(dev_auth_api, settings):
    settings.EXTERNAL_AUTH_TIMEOUT = 0.4
    settings.EXTERNAL_AUTH_RETRIES = 10
    settings.EXTERNAL_AUTH_TOTAL_TIMEOUT = 1.0
    settings.EXTERNAL_AUTH_BREAKER_FAIL_MAX = 100
    assert external_auth.worst_case_seconds() == 1.0
    dev_auth_api.configure(delay_seconds=3)
    started = time.monotonic()
    with pytest.raises(external_auth.ServiceUnavailable):
        _login()
    assert time.monotonic() - started < 1.5  # uncapped: 11 attempts × 0.4 s


def test_worst_case_formula_uses_attempts_timeouts_and_capped_waits(settings):
    settings.EXTERNAL_AUTH_TIMEOUT = 5
    settings.EXTERNAL_AUTH_RETRIES = 2
    settings.EXTERNAL_AUTH_BACKOFF_INITIAL = 0.5
    settings.EXTERNAL_AUTH_BACKOFF_MAX = 4
    settings.EXTERNAL_AUTH_TOTAL_TIMEOUT = 300
    # 3 attempts × 5 s + waits (0.5 + 0.5 jitter) and (1 + 0.5 jitter)
    assert external_auth.worst_case_seconds() == pytest.approx(17.5)
    settings.EXTERNAL_AUTH_TOTAL_TIMEOUT = 10
    assert external_auth.worst_case_seconds() == 10


# --- Refresh ----------------------------------------------------------------------
def test_refresh_returns_new_tokens(dev_auth_api):
    first = _login()
    renewed = external_auth.refresh_token(first.tokens.refresh_token)
    assert renewed.tokens.access_token != first.tokens.access_token
    assert dev_auth_api.accepts(renewed.tokens.access_token)


@pytest.mark.parametrize("mode,error", [("refuse", external_auth.RefreshRefused),
                                        ("missing", external_auth.RefreshUnsupported)])
def test_refresh_refused_or_missing(dev_auth_api, mode, error):
    first = _login()
    dev_auth_api.configure(refresh_mode=mode)
    with pytest.raises(error):
        external_auth.refresh_token(first.tokens.refresh_token)
    assert dev_auth_api.calls(REFRESH) == 1


def test_refresh_is_retried_only_when_the_api_cannot_have_used_the_token(dev_auth_api):
    token = _login().tokens.refresh_token
    dev_auth_api.configure(fail_mode="503", fail_count=1)  # 503: not processed, safe to retry
    renewed = external_auth.refresh_token(token)
    assert dev_auth_api.calls(REFRESH) == 2
    dev_auth_api.configure(fail_mode="500", fail_count=1)  # 500: may have spent the token
    with pytest.raises(external_auth.ServiceUnavailable):
        external_auth.refresh_token(renewed.tokens.refresh_token)
    assert dev_auth_api.calls(REFRESH) == 3


# --- Circuit breaker ----------------------------------------------------------
def test_breaker_opens_fails_fast_and_closes_again(dev_auth_api, settings):
    settings.EXTERNAL_AUTH_BREAKER_FAIL_MAX = 3
    settings.EXTERNAL_AUTH_BREAKER_RESET_SECONDS = 1
    dev_auth_api.configure(fail_mode="503")
    with pytest.raises(external_auth.ServiceUnavailable):
        _login()  # 3 attempts = 3 failures: open
    assert dev_auth_api.calls(LOGIN) == 3
    assert get_breaker().state == "open"

    started = time.monotonic()
    with pytest.raises(external_auth.ServiceUnavailable) as info:
        _login()
    assert time.monotonic() - started < 0.2
    assert info.value.message == "The sign-in service is unavailable. Try again in 1 second."
    assert dev_auth_api.calls(LOGIN) == 3  # no call reached the API

    dev_auth_api.configure(fail_mode=None)
    time.sleep(1.05)
    assert _login().user.email == ADA[0]  # the trial call succeeds and closes the breaker
    assert get_breaker().state == "closed"
    assert dev_auth_api.calls(LOGIN) == 4


def test_a_failed_trial_call_reopens_the_breaker(dev_auth_api, settings):
    settings.EXTERNAL_AUTH_BREAKER_FAIL_MAX = 2
    settings.EXTERNAL_AUTH_BREAKER_RESET_SECONDS = 1
    settings.EXTERNAL_AUTH_RETRIES = 1
    dev_auth_api.configure(fail_mode="500")
    with pytest.raises(external_auth.ServiceUnavailable):
        _login()
    time.sleep(1.05)
    with pytest.raises(external_auth.ServiceUnavailable) as info:
        _login()  # trial fails; the retry then meets the reopened breaker
    assert dev_auth_api.calls(LOGIN) == 3
    assert get_breaker().state == "open" and "Try again in 1 second" in info.value.message


def test_one_trial_call_at_a_time_in_pybreakers_half_open_state():
    """Past the reset timeout the first caller is the trial (pybreaker's half-open); the others fail fast."""
    from accounts.breaker import ApiBreaker, BreakerOpen

    breaker = ApiBreaker(fail_max=2, reset_timeout=0.2)
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure(RuntimeError("down"))
    assert breaker.state == "open" and 0 < breaker.retry_in() <= 0.2
    with pytest.raises(BreakerOpen):
        breaker.before_call()
    time.sleep(0.25)
    breaker.before_call()  # the trial
    assert breaker.state == "half-open" and breaker.retry_in() == 0
    with pytest.raises(BreakerOpen) as other:
        breaker.before_call()
    assert other.value.retry_in == 1.0
    breaker.record_failure(RuntimeError("still down"))  # a failed trial opens it again, for a full timeout
    assert breaker.state == "open" and breaker.retry_in() > 0.15
    time.sleep(0.25)
    breaker.before_call()
    breaker.record_success()
    assert (breaker.state, breaker.fail_counter) == ("closed", 0)
    breaker.before_call()  # closed: every call goes through


def test_wrong_passwords_and_429_do_not_open_the_breaker(dev_auth_api, settings):
    settings.EXTERNAL_AUTH_BREAKER_FAIL_MAX = 2
    for _ in range(4):
        with pytest.raises(external_auth.InvalidCredentials):
            _login(password="wrong")
    dev_auth_api.configure(fail_mode="429", retry_after=999)
    for _ in range(3):
        with pytest.raises(external_auth.RateLimited):
            _login()
    assert get_breaker().state == "closed"


def test_the_breaker_does_not_serialise_concurrent_calls(dev_auth_api):
    """pybreaker's call() holds a lock around the call; ours must not (4 × 1 s in parallel, not 4 s)."""
    dev_auth_api.configure(delay_seconds=1.0)
    results, errors = [], []

    def worker():
        try:
            results.append(_login())
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 4
    assert time.monotonic() - started < 2.5


# --- No secrets in logs or error pages -----------------------------------------
def test_every_call_is_logged_with_outcome_and_latency_and_no_secret(dev_auth_api, caplog):
    caplog.set_level(logging.DEBUG)
    dev_auth_api.configure(fail_mode="503", fail_count=1)
    result = _login()
    external_auth.refresh_token(result.tokens.refresh_token)
    calls = [r for r in caplog.records if r.name == "tool_ocr.external_auth"]
    assert [(r.operation, r.outcome) for r in calls] == [("login", "503"), ("login", "200"), ("refresh", "200")]
    assert all(isinstance(r.latency_ms, float) for r in calls)
    assert "latency_ms=" in calls[0].getMessage()
    state = dev_auth_api.server.state
    secrets = [ADA[1], result.tokens.access_token, result.tokens.id_token, result.tokens.refresh_token,
               *state.access_tokens, *state.refresh_tokens]
    everything = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert not [s for s in secrets if s in everything]


@pytest.mark.django_db
def test_error_reports_blank_tokens_and_passwords(dev_auth_api, monkeypatch):
    """A bug while handling the API's answer: Django's error page shows no token or password."""
    def broken_user_info(info):
        raise RuntimeError("parser bug")

    monkeypatch.setattr(external_auth, "parse_user_info", broken_user_info)
    with pytest.raises(RuntimeError):
        try:
            authenticate(None, username=ADA[0], password=ADA[1])  # the login view's path
        except RuntimeError:
            html = ExceptionReporter(None, *sys.exc_info()).get_traceback_html()
            raise
    issued = list(dev_auth_api.server.state.access_tokens) + list(dev_auth_api.server.state.refresh_tokens)
    assert issued and "parser bug" in html
    assert not [t for t in issued if t in html]
    assert ADA[1] not in html
