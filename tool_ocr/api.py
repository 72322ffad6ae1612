"""The JSON API at /api/v1/ (django-ninja): its routers, its authentication (accounts.api_auth), one error shape.

Every error, whether raised by our code, by django-ninja (validation, auth), by Django
(request too large) or by the URL resolver (unknown path, wrong method), leaves as
``{"error": {"code", "message", "details"}}`` with the status the contract names.
"""

import json
import logging
from functools import lru_cache, wraps

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.db import DatabaseError, OperationalError
from django.http import Http404
from django.http.multipartparser import MultiPartParserError
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.responses import NinjaJSONEncoder

from accounts.api_auth import SessionOrTokenAuth, bearer_token
from core.errors import AppError, error_response
from core.validation_messages import details_of

log = logging.getLogger("tool_ocr.api")

_CODES = {400: "invalid_input", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "invalid_state", 413: "too_large", 415: "unsupported_type",
          429: "limit_reached", 500: "internal_error", 503: "service_unavailable"}


class _Api(NinjaAPI):
    """The API whose OpenAPI schema (/openapi.json) is built once per process, not on every request.

    Building it walks every route and pydantic model (~70-90 ms). It depends on the code alone (the routes,
    their models and texts are fixed at import) except for the path prefix, which reverse() takes from the
    request's script prefix (SCRIPT_NAME behind a proxy): one schema per prefix. It is kept as JSON text and
    each caller gets a dict of its own (~0.7 ms): a caller that edits what it got cannot change later responses.
    """

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return json.loads(self._schema_json(path_prefix))

    @lru_cache(maxsize=8)  # a few prefixes at most; bounded should a proxy pass SCRIPT_NAME from outside
    def _schema_json(self, path_prefix):
        return json.dumps(super().get_openapi_schema(path_prefix=path_prefix), cls=NinjaJSONEncoder)


api = _Api(
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
