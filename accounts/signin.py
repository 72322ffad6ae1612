"""The sign-in procedure behind the login page: limit, authenticate, count, log in."""

import logging

from django.contrib.auth import authenticate, login
from django.views.decorators.debug import sensitive_variables

from accounts import external_auth, selectors, services
from accounts.backends import AUTH_ERROR_ATTR
from accounts.models import LoginFailure
from core.audit import Actor
from core.errors import AppError
from core.timespan import wait_text

log = logging.getLogger("tool_ocr.auth")


def refusal(exc: AppError, *, hint: str = "", can_retry: bool = False) -> AppError:
    """The error as the login page shows it: ``details`` gain ``hint`` (what to do next) and ``can_retry``
    (a "Try again" button: the service, not the person, failed)."""
    exc.details = {**exc.details, "hint": hint, "can_retry": can_retry}
    return exc


def invalid_credentials() -> AppError:
    return refusal(external_auth.InvalidCredentials(), hint="Check your company email and password, then try again.")


def incomplete() -> AppError:
    return refusal(AppError("Enter both your email and your password.", code="invalid_form"))


def too_many_attempts(wait_seconds: int, account_wide: bool = False) -> AppError:
    if account_wide:
        return refusal(AppError("This account had many failed sign-ins recently, so attempts are spaced out for a "
                                "short while.", code="account_slowed", status=429),
                       hint=f"Wait {wait_text(wait_seconds)}, then try again.", can_retry=True)
    return refusal(AppError("Too many failed sign-in attempts.", code="too_many_attempts", status=429),
                   hint=f"Wait {wait_text(wait_seconds)}, then try again. "
                        "If you forgot your password, contact your IT help desk.")


def _error_from(exc: external_auth.ExternalAuthError) -> AppError:
    """The API's refusal with its own status (external_auth); a busy, down or confused service may be retried."""
    hint = "Operators with a local account can still sign in." if exc.status == 503 else ""
    return refusal(exc, hint=hint, can_retry=exc.status in (429, 502, 503))


@sensitive_variables("password")
def sign_in(request, username: str, password: str):
    """Returns (user, None) after login() (the session key rotates), or (None, the AppError to show).

    Only wrong credentials count towards the brute-force limit: an API outage is not
    the person's fault. The limit is checked first, so a locked-out name costs no API call.
    """
    actor = Actor.of(request)
    ip = actor.ip
    wait, scope = selectors.login_wait(username=username, ip=ip)
    if wait:
        log.info("sign-in refused: too many failed attempts scope=%s", scope)
        services.sign_in_failed(actor=actor, username=username, reason="too_many_attempts", counted=False,
                                refused=True)
        return None, too_many_attempts(wait, account_wide=scope == LoginFailure.Scope.ACCOUNT)
    try:
        user = authenticate(request, username=username, password=password)
    except external_auth.InvalidCredentials:
        user = None
    except external_auth.ExternalAuthError as exc:
        log.info("sign-in failed reason=%s", exc.code)
        services.sign_in_failed(actor=actor, username=username, reason=exc.code, counted=False)
        return None, _error_from(exc)
    api_error = getattr(request, AUTH_ERROR_ATTR, None)
    if user is None and api_error is not None and not isinstance(api_error, external_auth.InvalidCredentials):
        log.info("sign-in failed reason=%s", api_error.code)
        if not isinstance(api_error, external_auth.IdentityConflict):  # that one the service audited itself
            services.sign_in_failed(actor=actor, username=username, reason=api_error.code, counted=False)
        return None, _error_from(api_error)
    if user is None:
        services.sign_in_failed(actor=actor, username=username, reason="invalid_credentials", counted=True)
        log.info("sign-in failed reason=invalid_credentials")
        return None, invalid_credentials()
    login(request, user)  # rotates the session key; accounts.signals stores the tokens
    services.login_failures_clear(username=username, ip=ip)
    return user, None
