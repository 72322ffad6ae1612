"""The one client of the company authentication API (shared/docs/external-auth-api.md).

Everything about the API's shape lives here: paths, field names, error codes. The
rest of the app sees typed results and distinct exceptions.

Resilience, in one place:
- every attempt is capped by ``EXTERNAL_AUTH_TIMEOUT`` and the whole operation (all
  attempts and waits) by ``EXTERNAL_AUTH_TOTAL_TIMEOUT``, as wall-clock deadlines: the
  HTTP call runs on a small thread pool and we stop waiting when time is up, so even a
  server that trickles bytes cannot hold a sign-in longer (see ``worst_case_seconds``);
- tenacity retries transient failures only (connection errors, timeouts, 5xx, 429
  with a Retry-After no longer than ``EXTERNAL_AUTH_BACKOFF_MAX``), with exponential
  backoff and jitter; answers about the credentials are never retried;
- a refresh is retried only when the API cannot have used the refresh token (it was
  not reached, or said 503/429), because refresh tokens may be single-use;
- the circuit breaker (accounts/breaker.py) turns repeated transient failures into an
  immediate ``ServiceUnavailable`` with the seconds until the next try.

Every attempt is logged with operation, attempt, outcome and latency; never a token,
password or body. Functions that hold secrets are marked ``sensitive_variables`` so
Django's error reports blank them.
"""

import atexit
import logging
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import requests
import tenacity
import urllib3.exceptions
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from accounts.breaker import BreakerOpen, get_breaker
from core.errors import AppError
from core.timespan import retry_in_text

log = logging.getLogger("tool_ocr.external_auth")


# --- Errors ------------------------------------------------------------------
class ExternalAuthError(AppError):
    """Base class; ``code`` is stable and safe to show or count, ``status`` is what the sign-in page answers."""

    code, status = "auth_error", 502
    message = "Sign-in failed."


class InvalidCredentials(ExternalAuthError):
    code, status = "invalid_credentials", 401
    message = "The email or password is not correct."


class AccountLocked(ExternalAuthError):
    code, status = "account_locked", 423
    message = "This account is locked. Contact your IT help desk to unlock it."


class AccountDisabled(ExternalAuthError):
    code, status = "account_disabled", 403
    message = "This account is disabled. Contact your IT help desk."


class RateLimited(ExternalAuthError):
    code, status = "rate_limited", 429

    def __init__(self, retry_after: float | None = None):
        self.retry_after = retry_after
        wait = f" in {retry_in_text(retry_after)}" if retry_after else " in a moment"
        super().__init__(f"The sign-in service is busy. Try again{wait}.")


class ServiceUnavailable(ExternalAuthError):
    code, status = "service_unavailable", 503

    def __init__(self, message=None, retry_in: float | None = None):
        self.retry_in = retry_in
        if message is None:
            wait = f" in {retry_in_text(retry_in)}" if retry_in else " in a few seconds"
            message = f"The sign-in service is unavailable. Try again{wait}."
        super().__init__(message)


class BadResponse(ExternalAuthError):
    code = "bad_response"
    message = ("The sign-in service answered something we cannot use, so you were not signed in. "
               "Try again later; if it keeps happening, tell your IT help desk.")


class InvalidToken(ExternalAuthError):
    code = "invalid_token"
    message = "Your sign-in has expired. Please sign in again."


class RefreshRefused(InvalidToken):
    """The API will not renew this session (expired or revoked refresh token, account changed)."""

    code = "refresh_refused"
    message = "The company sign-in service ended your session. Please sign in again."


class RefreshUnsupported(ExternalAuthError):
    code = "refresh_unsupported"
    message = "The sign-in service cannot renew sessions."


# --- Results -----------------------------------------------------------------
@dataclass(frozen=True)
class UserInfo:
    external_id: str
    email: str
    name: str
    job_title: str = ""
    office_location: str = ""
    business_phones: tuple = ()


@dataclass(frozen=True)
class TokenSet:
    access_token: str = field(repr=False)
    id_token: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    token_type: str = "Bearer"
    issued_at: datetime | None = None
    expires_at: datetime | None = None

    def __repr__(self):  # never print token values
        return f"TokenSet(type={self.token_type}, expires_at={self.expires_at})"


@dataclass(frozen=True)
class AuthResult:
    tokens: TokenSet
    user: UserInfo
    extra: dict = field(default_factory=dict)


# --- Parsing (the one place that knows the API's field names) ---------------
# Everything the API says is checked here, so no odd answer is stored and breaks later:
# dates and numbers validated and clamped, text cut to the columns that hold it, emails
# validated, the answer read up to a size cap (see _http).
MAX_ANSWER_BYTES = 1024 * 1024  # a real answer is ~3 KB; more is refused unread
TEXT_COLUMN_CHARS = 255         # display_name, job_title, office_location (accounts.models.User)
TOKEN_TYPE_CHARS = 32           # TokenSession.token_type
MAX_TOKEN_CHARS = 64 * 1024     # one token; a JWT is a few KB


class IdentityConflict(ExternalAuthError):
    """The directory person's email belongs to another Tool OCR account (look-alike or local)."""

    code, status = "identity_conflict", 403
    message = ("Your company account's email matches a different Tool OCR account, so you were not signed in. "
               "Ask an administrator to link or rename the accounts.")


def _bad(reason: str) -> BadResponse:
    log.warning("external_auth answer refused reason=%s", reason)
    return BadResponse()


def _parse_time(value, name: str):
    """An ISO time from the API (UTC if it names no zone); BadResponse when not one."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise _bad(f"{name}_not_a_time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        parsed.astimezone(timezone.utc)  # 0001-01-01 with a positive offset overflows here
    except (ValueError, OverflowError):
        raise _bad(f"{name}_not_a_time") from None
    return parsed


def _seconds(value):
    """A finite positive number of seconds, or BadResponse."""
    if isinstance(value, bool):
        raise _bad("expires_in_not_a_number")
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        raise _bad("expires_in_not_a_number") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise _bad("expires_in_out_of_range")
    return seconds


def _text(value, limit: int = TEXT_COLUMN_CHARS) -> str:
    """A string field cut to its column: non-strings are dropped, control characters removed."""
    if not isinstance(value, str):
        return ""
    return "".join(ch for ch in value if ch.isprintable()).strip()[:limit]


def parse_user_info(info) -> UserInfo:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    if not isinstance(info, dict):
        raise _bad("no_user_info")
    external_id = info.get("id")
    if isinstance(external_id, int) and not isinstance(external_id, bool):
        external_id = str(external_id)
    if not isinstance(external_id, str) or not external_id.strip() or len(external_id) > 255 \
            or not external_id.isprintable():
        raise _bad("no_usable_id")
    email = info.get("email")
    if not isinstance(email, str) or len(email) > 254:
        raise _bad("no_usable_email")
    from accounts.models import normalize_email

    email = normalize_email(email)  # validated in the form it is stored and compared in
    try:
        validate_email(email)
    except ValidationError:
        raise _bad("email_not_valid") from None
    phones = info.get("businessPhones") or ()
    return UserInfo(
        external_id=external_id.strip(),
        email=email,
        name=_text(info.get("name")),
        job_title=_text(info.get("jobTitle")),
        office_location=_text(info.get("officeLocation")),
        business_phones=tuple(_text(p, 64) for p in phones[:20]) if isinstance(phones, list) else (),
    )


def _token(value, required=False) -> str:
    if value in (None, "") and not required:
        return ""
    if not isinstance(value, str) or not value or len(value) > MAX_TOKEN_CHARS:
        raise _bad("token_not_usable")
    return value


def _expiry(data, issued: datetime, now: datetime):
    """When the access token expires: expiresAt, else issuedAt + expires_in; clamped.

    A time already past is refused; one further away than SESSION_ABSOLUTE_LIFETIME is
    brought back to it (the session ends then anyway).
    """
    latest = now + timedelta(seconds=settings.SESSION_ABSOLUTE_LIFETIME)
    expires = _parse_time(data.get("expiresAt"), "expiresAt")
    if expires is None and data.get("expires_in") not in (None, ""):
        seconds = min(_seconds(data.get("expires_in")), settings.SESSION_ABSOLUTE_LIFETIME)
        expires = issued + timedelta(seconds=seconds)
    if expires is None:
        return None
    if expires <= now:
        raise _bad("token_already_expired")
    return min(expires, latest)


@sensitive_variables()
def parse_token_data(data) -> AuthResult:
    if not isinstance(data, dict):
        raise _bad("no_data")
    access = _token(data.get("access_token"), required=True)
    user = parse_user_info(data.get("userInfo"))
    now = datetime.now(timezone.utc)
    issued = _parse_time(data.get("issuedAt"), "issuedAt") or now
    if abs(issued - now) > timedelta(days=1):  # a clock that far off is not believed
        issued = now
    expires = _expiry(data, issued, now)
    tokens = TokenSet(
        access_token=access,
        id_token=_token(data.get("id_token")),
        refresh_token=_token(data.get("refresh_token")),
        token_type=_text(data.get("token_type"), TOKEN_TYPE_CHARS) or "Bearer",
        issued_at=issued,
        expires_at=expires,
    )
    return AuthResult(tokens=tokens, user=user)


@sensitive_variables()
def _json(response):
    try:
        return response.json()
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python parses
        raise _bad("not_json") from None


def _error_code(response):
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return ""
    return str(body.get("code") or "")[:64] if isinstance(body, dict) else ""


def _error_for(response, credential_call=True):
    """Map a final non-200 answer to our exception (transient ones never get here)."""
    status = response.status_code
    code = _error_code(response)
    if status == 429:
        return RateLimited(_retry_after(response))
    if status >= 500:
        return ServiceUnavailable()
    if status == 423 or code == "ACCOUNT_LOCKED":
        return AccountLocked()
    if status == 403 or code == "ACCOUNT_DISABLED":
        return AccountDisabled()
    if status == 401:
        return InvalidCredentials() if credential_call else InvalidToken()
    if status == 400:
        return InvalidCredentials("Enter both your email and your password.")
    return BadResponse()


def _retry_after(response) -> float | None:
    raw = (response.headers.get("Retry-After") or "").strip()
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


# --- Transport: one attempt -------------------------------------------------
@dataclass(frozen=True)
class _Request:
    operation: str  # login | refresh: what the logs and metrics say
    method: str
    path: str
    payload: dict | None = field(default=None, repr=False)
    headers: dict | None = field(default=None, repr=False)
    retry_unsure: bool = True  # may we retry when the API may have acted on the call?

    def __repr__(self):
        return f"_Request({self.operation})"


class _Transient(Exception):
    """A failure worth another attempt (if ``retriable``); internal to this module."""

    def __init__(self, outcome, *, retriable=True, breaker_failure=True, retry_after=None):
        super().__init__(outcome)
        self.outcome = outcome
        self.retriable = retriable
        self.breaker_failure = breaker_failure
        self.retry_after = retry_after


_pool = None
_pool_pid = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """A per-process pool (re-created after a fork), so a deadline can stop our wait."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="external-auth")
            _pool_pid = os.getpid()
        return _pool


@atexit.register
def _shutdown_pool():
    if _pool is not None and _pool_pid == os.getpid():
        _pool.shutdown(wait=False, cancel_futures=True)


class _AnswerTooLarge(Exception):
    """The API sent more than MAX_ANSWER_BYTES: nothing of it is used."""


@sensitive_variables()
def _http(req: _Request, timeout: float):
    response = requests.request(req.method, _url(req.path), json=req.payload, headers=req.headers,
                                timeout=(timeout, timeout), allow_redirects=False, stream=True)
    try:
        declared = int(response.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_ANSWER_BYTES:
        response.close()
        raise _AnswerTooLarge()
    body, size = [], 0
    for chunk in response.iter_content(64 * 1024):  # decoded: a compressed bomb is cut off too
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            response.close()
            raise _AnswerTooLarge()
        body.append(chunk)
    response._content = b"".join(body)
    response.close()
    return response


def _connection_failed_before_sending(exc) -> bool:
    """True when the API was never reached (refused, name not found, connect timeout)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


@sensitive_variables()
def _send(req: _Request, timeout: float):
    future = _executor().submit(_http, req, timeout)
    try:
        return future.result(timeout=timeout)
    except _AnswerTooLarge:
        log.warning("external_auth answer refused operation=%s reason=larger_than_%d_bytes",
                    req.operation, MAX_ANSWER_BYTES)
        raise BadResponse() from None
    except FutureTimeout:
        future.cancel()
        raise _Transient("timeout", retriable=req.retry_unsure) from None
    except requests.Timeout as exc:
        never_sent = _connection_failed_before_sending(exc)
        raise _Transient("connect_timeout" if never_sent else "timeout",
                         retriable=never_sent or req.retry_unsure) from None
    except requests.ConnectionError as exc:
        never_sent = _connection_failed_before_sending(exc)
        raise _Transient("connection_refused" if never_sent else "connection_error",
                         retriable=never_sent or req.retry_unsure) from None
    except Exception as exc:  # noqa: BLE001 - a client-side fault; its frames may hold secrets
        log.error("external_auth client fault operation=%s type=%s", req.operation, type(exc).__name__)
        raise _Transient("client_error", retriable=False) from None


def _transient_answer(response, req: _Request):
    """A _Transient for answers worth retrying or counting against the API, else None."""
    status = response.status_code
    if status == 429:
        retry_after = _retry_after(response)
        honourable = retry_after is None or retry_after <= settings.EXTERNAL_AUTH_BACKOFF_MAX
        # The API is up and answering: not a breaker failure.
        return _Transient("429", retriable=honourable, breaker_failure=False, retry_after=retry_after)
    if status >= 500:
        sure_not_done = status == 503
        return _Transient(str(status), retriable=sure_not_done or req.retry_unsure)
    return None


def _attempt(req: _Request, deadline: float, attempt: list):
    breaker = get_breaker()
    breaker.before_call()  # BreakerOpen: fail fast, no retry
    attempt[0] += 1
    timeout = max(0.05, min(settings.EXTERNAL_AUTH_TIMEOUT, deadline - time.monotonic()))
    started = time.monotonic()
    response = failure = None
    try:
        response = _send(req, timeout)
    except _Transient as exc:
        failure = exc
    except BadResponse:
        breaker.record_success()  # it answered: not an outage, and not worth a retry
        raise
    else:
        failure = _transient_answer(response, req)
    latency_ms = (time.monotonic() - started) * 1000
    outcome = failure.outcome if failure is not None else str(response.status_code)
    log.info("external_auth call operation=%s attempt=%d outcome=%s latency_ms=%.1f",
             req.operation, attempt[0], outcome, latency_ms,
             extra={"operation": req.operation, "attempt": attempt[0], "outcome": outcome,
                    "latency_ms": round(latency_ms, 1)})
    if failure is not None and failure.breaker_failure:
        breaker.record_failure(failure)
    else:
        breaker.record_success()
    if failure is not None:
        raise failure
    return response


# --- Retries ------------------------------------------------------------------
_MIN_ATTEMPT_SECONDS = 0.05  # no new attempt when less than this is left before the deadline


def _retrying(deadline: float) -> tenacity.Retrying:
    backoff = tenacity.wait_exponential_jitter(multiplier=settings.EXTERNAL_AUTH_BACKOFF_INITIAL,
                                               max=settings.EXTERNAL_AUTH_BACKOFF_MAX,
                                               jitter=settings.EXTERNAL_AUTH_BACKOFF_INITIAL)

    def wait(state):
        exc = state.outcome.exception()
        if getattr(exc, "retry_after", None) is not None:
            return min(exc.retry_after, settings.EXTERNAL_AUTH_BACKOFF_MAX)
        return backoff(state)

    def stop(state):
        if state.attempt_number > settings.EXTERNAL_AUTH_RETRIES:
            return True
        return time.monotonic() + state.upcoming_sleep + _MIN_ATTEMPT_SECONDS >= deadline

    def retry(state):
        exc = state.outcome.exception()
        return isinstance(exc, _Transient) and exc.retriable

    return tenacity.Retrying(retry=retry, stop=stop, wait=wait, reraise=True)


def _call(req: _Request):
    """One operation: attempts with retries, within the total deadline; typed errors out."""
    deadline = time.monotonic() + settings.EXTERNAL_AUTH_TOTAL_TIMEOUT
    attempt = [0]
    try:
        return _retrying(deadline)(lambda: _attempt(req, deadline, attempt))
    except BreakerOpen as exc:
        if attempt[0] == 0:
            log.warning("external_auth call operation=%s attempt=0 outcome=breaker_open retry_in=%.0f",
                        req.operation, exc.retry_in,
                        extra={"operation": req.operation, "outcome": "breaker_open"})
        raise ServiceUnavailable(retry_in=exc.retry_in) from None
    except _Transient as exc:
        if exc.outcome == "429":
            raise RateLimited(exc.retry_after) from None
        raise ServiceUnavailable(retry_in=get_breaker().retry_in() or None) from None


def worst_case_seconds() -> float:
    """Upper bound of one operation (a sign-in) from the settings; README "Sign-in".

    Attempts × per-attempt timeout plus the longest backoff waits, capped by the total
    deadline. Jitter is at most EXTERNAL_AUTH_BACKOFF_INITIAL per wait.
    """
    retries = settings.EXTERNAL_AUTH_RETRIES
    initial, cap = settings.EXTERNAL_AUTH_BACKOFF_INITIAL, settings.EXTERNAL_AUTH_BACKOFF_MAX
    waits = sum(min(cap, initial * 2 ** i + initial) for i in range(retries))
    uncapped = (retries + 1) * settings.EXTERNAL_AUTH_TIMEOUT + waits
    return min(uncapped, settings.EXTERNAL_AUTH_TOTAL_TIMEOUT)


def _url(path):
    return settings.EXTERNAL_AUTH_API_URL.rstrip("/") + "/" + path.lstrip("/")


# --- Calls -------------------------------------------------------------------
@sensitive_variables()
def authenticate_user(username: str, password: str) -> AuthResult:
    """Check credentials with the company API; returns tokens and the user's info."""
    response = _call(_Request("login", "POST", settings.EXTERNAL_AUTH_ENDPOINT,
                              payload={"username": username, "password": password}))
    if response.status_code != 200:
        raise _error_for(response)
    body = _json(response)
    if not isinstance(body, dict) or body.get("success") is False:
        raise BadResponse()
    return parse_token_data(body.get("data"))


@sensitive_variables()
def refresh_token(refresh: str) -> AuthResult:
    """Trade a refresh token for new tokens.

    RefreshUnsupported when the API has no refresh endpoint (404); RefreshRefused when it
    will not renew (any other 4xx); ServiceUnavailable/RateLimited/BadResponse otherwise.
    """
    response = _call(_Request("refresh", "POST", settings.EXTERNAL_AUTH_REFRESH_ENDPOINT,
                              payload={"refresh_token": refresh}, retry_unsure=False))
    status = response.status_code
    if status == 404:
        raise RefreshUnsupported()
    if 400 <= status < 500 and status != 429:
        raise RefreshRefused()
    if status != 200:
        raise _error_for(response, credential_call=False)
    body = _json(response)
    if not isinstance(body, dict) or body.get("success") is False:
        raise BadResponse()
    return parse_token_data(body.get("data"))


def breaker_state() -> dict:
    """For health pages and tests: the breaker's state, no secrets."""
    breaker = get_breaker()
    return {"state": breaker.state, "failures": breaker.fail_counter, "retry_in": math.ceil(breaker.retry_in())}
