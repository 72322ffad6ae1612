"""The one client of the company authentication API (shared/docs/external-auth-api.md).

Everything about the API's shape lives here: paths, field names, error codes. The
rest of the app sees typed results and distinct exceptions.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import requests
from django.conf import settings

log = logging.getLogger("tool_ocr.external_auth")


# --- Errors ------------------------------------------------------------------
class ExternalAuthError(Exception):
    """Base class; ``code`` is stable and safe to show or count."""

    code = "auth_error"
    message = "Sign-in failed."

    def __init__(self, message=None):
        super().__init__(message or self.message)
        self.message = message or self.message


class InvalidCredentials(ExternalAuthError):
    code = "invalid_credentials"
    message = "The email or password is not correct."


class AccountLocked(ExternalAuthError):
    code = "account_locked"
    message = "This account is locked. Contact your IT help desk to unlock it."


class AccountDisabled(ExternalAuthError):
    code = "account_disabled"
    message = "This account is disabled. Contact your IT help desk."


class RateLimited(ExternalAuthError):
    code = "rate_limited"

    def __init__(self, retry_after: float | None = None):
        self.retry_after = retry_after
        wait = f" in {int(retry_after)} seconds" if retry_after else " in a moment"
        super().__init__(f"The sign-in service is busy. Try again{wait}.")


class ServiceUnavailable(ExternalAuthError):
    code = "service_unavailable"

    def __init__(self, message=None, retry_in: float | None = None):
        self.retry_in = retry_in
        if message is None:
            wait = f" in {max(1, int(retry_in))} seconds" if retry_in else " in a moment"
            message = f"The sign-in service is unavailable. Try again{wait}."
        super().__init__(message)


class BadResponse(ExternalAuthError):
    code = "bad_response"
    message = "The sign-in service gave an answer we could not read. Try again later."


class InvalidToken(ExternalAuthError):
    code = "invalid_token"
    message = "Your sign-in has expired. Please sign in again."


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
    access_token: str
    id_token: str = ""
    refresh_token: str = ""
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
def _parse_time(value):
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_user_info(info) -> UserInfo:
    if not isinstance(info, dict) or not str(info.get("email") or "").strip():
        raise BadResponse()
    phones = info.get("businessPhones") or ()
    return UserInfo(
        external_id=str(info.get("id") or ""),
        email=str(info["email"]).strip().lower(),
        name=str(info.get("name") or "").strip(),
        job_title=str(info.get("jobTitle") or ""),
        office_location=str(info.get("officeLocation") or ""),
        business_phones=tuple(str(p) for p in phones) if isinstance(phones, list) else (),
    )


def parse_token_data(data) -> AuthResult:
    if not isinstance(data, dict) or not data.get("access_token"):
        raise BadResponse()
    user = parse_user_info(data.get("userInfo"))
    issued = _parse_time(data.get("issuedAt")) or datetime.now(timezone.utc)
    expires = _parse_time(data.get("expiresAt"))
    if expires is None:
        try:
            expires = issued + timedelta(seconds=int(data.get("expires_in")))
        except (TypeError, ValueError):
            expires = None
    tokens = TokenSet(
        access_token=str(data["access_token"]),
        id_token=str(data.get("id_token") or ""),
        refresh_token=str(data.get("refresh_token") or ""),
        token_type=str(data.get("token_type") or "Bearer"),
        issued_at=issued,
        expires_at=expires,
    )
    return AuthResult(tokens=tokens, user=user)


def _json(response):
    try:
        return response.json()
    except ValueError:
        raise BadResponse() from None


def _error_for(response, credential_call=True):
    """Map a non-200 answer to our exception."""
    status = response.status_code
    try:
        code = (response.json() or {}).get("code", "")
    except ValueError:
        code = ""
    if status == 429:
        try:
            retry_after = float(response.headers.get("Retry-After", ""))
        except ValueError:
            retry_after = None
        return RateLimited(retry_after)
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


# --- Calls -------------------------------------------------------------------
def _url(path):
    return settings.EXTERNAL_AUTH_API_URL.rstrip("/") + "/" + path.lstrip("/")


def _post(path, payload, operation):
    started = time.monotonic()
    outcome = "error"
    try:
        response = requests.post(_url(path), json=payload, timeout=settings.EXTERNAL_AUTH_TIMEOUT)
        outcome = str(response.status_code)
        return response
    except requests.Timeout:
        outcome = "timeout"
        raise ServiceUnavailable() from None
    except requests.RequestException:
        outcome = "connection_error"
        raise ServiceUnavailable() from None
    finally:
        log.info("external_auth call", extra={"operation": operation, "outcome": outcome,
                                               "latency_ms": round((time.monotonic() - started) * 1000, 1)})


def authenticate_user(username: str, password: str) -> AuthResult:
    """Check credentials with the company API; returns tokens and the user's info."""
    response = _post(settings.EXTERNAL_AUTH_ENDPOINT, {"username": username, "password": password}, "login")
    if response.status_code != 200:
        raise _error_for(response)
    body = _json(response)
    if not isinstance(body, dict) or body.get("success") is False:
        raise BadResponse()
    return parse_token_data(body.get("data"))


def refresh_token(refresh: str) -> AuthResult:
    """Trade a refresh token for new tokens; RefreshUnsupported when the API has no endpoint."""
    response = _post(settings.EXTERNAL_AUTH_REFRESH_ENDPOINT, {"refresh_token": refresh}, "refresh")
    if response.status_code == 404:
        raise RefreshUnsupported()
    if response.status_code != 200:
        raise _error_for(response, credential_call=False)
    body = _json(response)
    if not isinstance(body, dict) or body.get("success") is False:
        raise BadResponse()
    return parse_token_data(body.get("data"))


def get_user_info(access_token: str) -> UserInfo:
    started = time.monotonic()
    outcome = "error"
    try:
        response = requests.get(_url(settings.EXTERNAL_AUTH_ME_ENDPOINT),
                                headers={"Authorization": f"Bearer {access_token}"},
                                timeout=settings.EXTERNAL_AUTH_TIMEOUT)
        outcome = str(response.status_code)
    except requests.RequestException:
        outcome = "connection_error"
        raise ServiceUnavailable() from None
    finally:
        log.info("external_auth call", extra={"operation": "me", "outcome": outcome,
                                               "latency_ms": round((time.monotonic() - started) * 1000, 1)})
    if response.status_code != 200:
        raise _error_for(response, credential_call=False)
    body = _json(response)
    data = body.get("data") if isinstance(body, dict) else None
    return parse_user_info((data or {}).get("userInfo"))


def validate_token(access_token: str) -> bool:
    """True while the API accepts the access token."""
    try:
        get_user_info(access_token)
    except InvalidToken:
        return False
    return True
