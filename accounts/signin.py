"""The sign-in procedure behind the login page: limit, authenticate, count, log in."""

import logging
import math
from dataclasses import dataclass

from django.contrib.auth import authenticate, login
from django.views.decorators.debug import sensitive_variables

from accounts import external_auth, selectors, services
from accounts.backends import AUTH_ERROR_ATTR
from core.client_ip import client_ip
from accounts.models import LoginFailure

log = logging.getLogger("tool_ocr.auth")


@dataclass(frozen=True)
class SignInError:
    """What went wrong, for a person: a message, what to do next, and the HTTP status."""

    code: str
    message: str
    status: int
    hint: str = ""
    can_retry: bool = False  # show a "Try again" button (the service, not the person, failed)


def _minutes(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


INVALID = SignInError("invalid_credentials", external_auth.InvalidCredentials.message, 401,
                      hint="Check your company email and password, then try again.")
INCOMPLETE = SignInError("invalid_form", "Enter both your email and your password.", 400)


def too_many_attempts(wait_seconds: int, account_wide: bool = False) -> SignInError:
    if account_wide:
        return SignInError("account_slowed", "This account had many failed sign-ins recently, so attempts are "
                           "spaced out for a short while.", 429,
                           hint=f"Wait {_minutes(wait_seconds)}, then try again.", can_retry=True)
    return SignInError("too_many_attempts", "Too many failed sign-in attempts.", 429,
                       hint=f"Wait {_minutes(wait_seconds)}, then try again. "
                            "If you forgot your password, contact your IT help desk.")


def _error_from(exc: external_auth.ExternalAuthError) -> SignInError:
    if isinstance(exc, external_auth.AccountLocked):
        return SignInError(exc.code, exc.message, 423)
    if isinstance(exc, external_auth.IdentityConflict):
        return SignInError(exc.code, exc.message, 403)
    if isinstance(exc, external_auth.AccountDisabled):
        return SignInError(exc.code, exc.message, 403)
    if isinstance(exc, external_auth.RateLimited):
        return SignInError(exc.code, exc.message, 429, can_retry=True)
    if isinstance(exc, external_auth.ServiceUnavailable):
        return SignInError(exc.code, exc.message, 503, can_retry=True,
                           hint="Operators with a local account can still sign in.")
    return SignInError(exc.code, exc.message, 502, can_retry=True)


@sensitive_variables("password")
def sign_in(request, username: str, password: str):
    """Returns (user, None) after login() (the session key rotates), or (None, SignInError).

    Only wrong credentials count towards the brute-force limit: an API outage is not
    the person's fault. The limit is checked first, so a locked-out name costs no API call.
    """
    ip = client_ip(request)
    wait, scope = selectors.login_wait(username=username, ip=ip)
    if wait:
        log.info("sign-in refused: too many failed attempts scope=%s", scope)
        services.sign_in_failed(request=request, username=username, reason="too_many_attempts", counted=False,
                                refused=True)
        return None, too_many_attempts(wait, account_wide=scope == LoginFailure.Scope.ACCOUNT)
    try:
        user = authenticate(request, username=username, password=password)
    except external_auth.InvalidCredentials:
        user = None
    except external_auth.ExternalAuthError as exc:
        log.info("sign-in failed reason=%s", exc.code)
        services.sign_in_failed(request=request, username=username, reason=exc.code, counted=False)
        return None, _error_from(exc)
    api_error = getattr(request, AUTH_ERROR_ATTR, None)
    if user is None and api_error is not None and not isinstance(api_error, external_auth.InvalidCredentials):
        log.info("sign-in failed reason=%s", api_error.code)
        if not isinstance(api_error, external_auth.IdentityConflict):  # that one the service audited itself
            services.sign_in_failed(request=request, username=username, reason=api_error.code, counted=False)
        return None, _error_from(api_error)
    if user is None:
        services.sign_in_failed(request=request, username=username, reason="invalid_credentials", counted=True)
        log.info("sign-in failed reason=invalid_credentials")
        return None, INVALID
    login(request, user)  # rotates the session key; accounts.signals stores the tokens
    services.login_failures_clear(username=username, ip=ip)
    return user, None
