"""Who calls the JSON API: the browser session (with Django's own CSRF check for unsafe methods) or a
personal API token (``Authorization: Bearer``), and the token endpoints' session-only rule.

tool_ocr.api assembles the API with these; refusals are AppErrors, so they leave in the API's error shape.
"""

from django.conf import settings
from django.middleware.csrf import CsrfViewMiddleware
from ninja.security import APIKeyCookie

from accounts.services import api_token_authenticate
from core.errors import AppError, error_response
from core.http import SAFE_METHODS


class CsrfFailed(AppError):
    code, status = "csrf_failed", 403

    def __init__(self, reason: str):
        super().__init__("The CSRF check failed: send the csrftoken cookie's value in the X-CSRFToken header.",
                         details={"reason": reason})


# The check below replaces CsrfViewMiddleware._reject (private) to learn the reason instead of a 403 page,
# and calls process_request/process_view itself. It was read against this Django; an upgrade fails
# tests/accounts/test_csrf_patch.py until someone re-reads the middleware and updates the pin.
CSRF_PATCH_READ_AGAINST = (5, 2)


def _csrf_failure_reason(request) -> str | None:
    """Django's own CSRF check (cookie ``csrftoken`` + header ``X-CSRFToken``); None when it passes."""
    reasons = []

    def reject(_request, reason):
        reasons.append(reason)
        return error_response(403, "csrf_failed", reason)

    middleware = CsrfViewMiddleware(lambda r: None)
    middleware._reject = reject
    request.csrf_processing_done = False
    middleware.process_request(request)
    middleware.process_view(request, None, (), {})
    return reasons[0] if reasons else None


class SessionAuth(APIKeyCookie):
    """The browser session from /login/; 401 when absent, then CSRF for unsafe methods.

    django-ninja's own cookie auth checks CSRF first, which would answer 403 to a caller who
    is simply not signed in; the contract wants 401 there.
    """

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self):
        super().__init__(csrf=False)

    def authenticate(self, request, key):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if request.method not in SAFE_METHODS and not getattr(request, "_ninja_csrf_exempt", False):
            reason = _csrf_failure_reason(request)
            if reason:
                raise CsrfFailed(reason)
        return user


def bearer_token(request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None when there is no such header."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


class SessionOrTokenAuth(SessionAuth):
    """A personal API token (``Authorization: Bearer``, no CSRF) or else the session.

    A request that brings a token is judged by the token alone: revoked, expired or unknown is
    401 even with a session cookie beside it. The token acts as its owner (``request.user``).
    """

    def __call__(self, request):
        plain = bearer_token(request)
        if plain is None:
            return super().__call__(request)
        token, why = api_token_authenticate(plain)
        if token is None:
            raise AppError(why, code="not_authenticated", status=401)
        request.user = token.user
        request.api_token = token
        return token.user


class SessionOnlyAuth(SessionAuth):
    """The token endpoints: the browser session only; a token cannot make or revoke tokens."""

    def __call__(self, request):
        if bearer_token(request) is not None:
            raise AppError("The token endpoints take the browser session only: manage tokens on /account/tokens/ "
                           "or while signed in.", code="not_authenticated", status=401)
        return super().__call__(request)
