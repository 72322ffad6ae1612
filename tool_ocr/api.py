"""The JSON API at /api/v1/ (django-ninja): session auth, CSRF, one error shape for everything.

Every error, whether raised by our code, by django-ninja (validation, auth), by Django
(request too large) or by the URL resolver (unknown path, wrong method), leaves as
``{"error": {"code", "message", "details"}}`` with the status the contract names.
"""

import logging
from functools import wraps

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.db import DatabaseError, OperationalError
from django.http import Http404
from django.http.multipartparser import MultiPartParserError
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyCookie

from core.validation_messages import details_of
from tool_ocr.errors import AppError, error_response
from tool_ocr.http import SAFE_METHODS

log = logging.getLogger("tool_ocr.api")

_CODES = {400: "invalid_input", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "invalid_state", 413: "too_large", 415: "unsupported_type",
          429: "limit_reached", 500: "internal_error", 503: "service_unavailable"}


class _CsrfFailed(Exception):
    pass


# The check below replaces CsrfViewMiddleware._reject (private) to learn the reason instead of a 403 page,
# and calls process_request/process_view itself. It was read against this Django; an upgrade fails
# tests/tool_ocr/test_csrf_patch.py until someone re-reads the middleware and updates the pin.
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
                raise _CsrfFailed(reason)
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
        from accounts.services import api_token_authenticate

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


api = NinjaAPI(
    title="Tool OCR API",
    version="1",
    description=("Upload scans, follow OCR tasks, download results, read your history. "
                 "Authentication: the browser session from /login/; unsafe methods need the CSRF token "
                 "(cookie `csrftoken`, header `X-CSRFToken`). Scripts: a personal API token from "
                 "/account/tokens/ as `Authorization: Bearer <token>` (no CSRF). Every error is "
                 '`{"error": {"code", "message", "details"}}`.'),
    auth=SessionOrTokenAuth(),
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
)


def _handler(exc_class):
    def register(func):
        api.add_exception_handler(exc_class, lambda request, exc: func(request, exc))
        return func
    return register


@_handler(AppError)
def _app_error(request, exc):
    """Every refusal of our own code (services, auth, this module) leaves here, in the one shape."""
    response = exc.response()
    if exc.status == 401 and bearer_token(request) is not None:  # RFC 6750: say why a token was refused
        response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


@_handler(AuthenticationError)
def _not_signed_in(request, exc):
    return error_response(401, "not_authenticated", "Sign in first: the API uses the session from /login/ "
                          "or a personal API token (Authorization: Bearer).")


@_handler(_CsrfFailed)
def _csrf_failed(request, exc):
    return error_response(403, "csrf_failed", "The CSRF check failed: send the csrftoken cookie's value in the "
                          "X-CSRFToken header.", {"reason": str(exc)})


@_handler(NinjaValidationError)
def _invalid_input(request, exc):
    """Each parameter's message names it in words (core.validation_messages), as the pages show them."""
    details = details_of(exc.errors)
    return AppError(" ".join(details.values()), code="invalid_input", details=details).response()


@_handler(HttpError)
def _http_error(request, exc):
    return error_response(exc.status_code, _CODES.get(exc.status_code, "error"), str(exc))


@_handler(Http404)
def _not_found(request, exc):
    return error_response(404, "not_found", "Not found.")


@_handler(PermissionDenied)
def _forbidden(request, exc):
    return error_response(403, "forbidden", "You may not do this.")


@_handler(RequestDataTooBig)
def _too_big(request, exc):
    return error_response(413, "request_too_large", "The request is too large.")


@_handler(TooManyFieldsSent)
def _too_many_fields(request, exc):
    return error_response(400, "too_many_fields", "The request has too many fields or files.")


@_handler(SuspiciousOperation)
def _suspicious(request, exc):
    return error_response(400, "bad_request", "The request could not be read.")


@_handler(MultiPartParserError)
def _bad_multipart(request, exc):
    return error_response(400, "bad_multipart", "The upload could not be read: send the files as multipart/form-data "
                          "with its boundary (HTTP libraries do this when given the files).")


@_handler(RecursionError)
def _too_deep(request, exc):
    """A JSON body nested deeper than Python parses (thousands of brackets): not something to read."""
    return error_response(400, "invalid_json", "The body is nested too deeply to read.")


@_handler(OperationalError)
def _database_down(request, exc):
    log.warning("database unavailable: %s", exc)
    return error_response(503, "service_unavailable", "The database is not available right now; try again shortly.")


@_handler(DatabaseError)
def _database_error(request, exc):
    log.exception("database error in the API")
    return error_response(503, "service_unavailable", "The database could not answer; try again shortly.")


@_handler(Exception)
def _unexpected(request, exc):
    from core.dependencies import dependency_of, unavailable_response

    dependency = dependency_of(exc)  # storage or temporary folder unwritable, sign-in API down: 503
    if dependency:
        log.warning("dependency down in the API: %s (%s)", dependency, exc)
        return unavailable_response(request, dependency)
    log.exception("unexpected error in the API")
    return error_response(500, "internal_error", "Something went wrong on our side.")


def _register_routers():
    from accounts.api import tokens_router
    from tasks.api import account_router, history_router, ocr_router, tasks_router

    api.add_router("", account_router)
    api.add_router("/tasks", tasks_router)
    api.add_router("/history", history_router)
    api.add_router("/ocr", ocr_router)
    api.add_router("/tokens", tokens_router)


_register_routers()


def _json_method_not_allowed(view):
    """django-ninja answers a wrong method with a plain-text 405; give it the error shape."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and "application/json" not in response.get("Content-Type", ""):
            allowed = [m.strip() for m in response.get("Allow", "").split(",") if m.strip()]
            json_response = error_response(405, "method_not_allowed",
                                           f"{request.method} is not allowed here.", {"allowed": allowed})
            json_response["Allow"] = response.get("Allow", "")
            return json_response
        return response

    return wrapper


@csrf_exempt
def unknown_path(request, *args, **kwargs):
    return error_response(404, "not_found", "No such API endpoint.")


def _urlpatterns():
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        if hasattr(pattern, "callback"):
            pattern.callback = _json_method_not_allowed(pattern.callback)
    return [path("", (patterns, app_name, namespace)), re_path(r"^.*$", unknown_path)]


urlpatterns = _urlpatterns()
