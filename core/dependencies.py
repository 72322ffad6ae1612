"""A dependency down is a 503, never a 500: on every page and endpoint, signed in or not.

Which failures count: the database not reachable or not answering (OperationalError,
InterfaceError, also from the session and authentication middleware, outside any view),
the file storage or the temporary folder not writable (read-only, full, no permission),
and the company sign-in API unavailable. Pages get the branded ``503.html`` (rendered
without the database: no request context, no user), the JSON API under /api/ the
contract's error body; both carry ``Retry-After``.

Exceptions raised in views reach ``process_exception``. Exceptions raised inside other
middleware (the session save, the lazy user) are turned into a 500 by Django before any
outer middleware sees them, so ``got_request_exception`` notes the cause on the request
and ``__call__`` replaces that 500 with the 503.
"""

import errno
import logging
import sys

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils.http import url_has_allowed_host_and_scheme

from core.errors import error_response

log = logging.getLogger("tool_ocr.dependencies")

RETRY_AFTER_SECONDS = 30
# errno values that mean "the disk or the storage cannot take this now", not "this file is wrong".
STORAGE_ERRNOS = {errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EIO, errno.ENOTCONN,
                  errno.ESTALE, errno.ETIMEDOUT, errno.EMFILE, errno.ENFILE, errno.EFBIG}

MESSAGES = {
    "database": "The database is not answering right now, so this page cannot be shown. Nothing you saved is lost.",
    "storage": "The file storage cannot take files right now (it is full or read-only), so nothing was saved.",
    "temp": "The server's temporary folder cannot take files right now, so nothing was saved.",
    "auth_api": "The company sign-in service is not answering right now.",
}
TRY_AGAIN = "Try again in a minute."


class TempFolderUnavailable(OSError):
    """The temporary folder (TMPDIR) cannot take an upload: read-only, full or missing."""


def dependency_of(exc: BaseException | None) -> str | None:
    """'database', 'storage', 'temp', 'auth_api' or None for a failure that is not a dependency's."""
    seen = set()
    while exc is not None and id(exc) not in seen:  # also a cause wrapped by another exception
        seen.add(id(exc))
        if isinstance(exc, (OperationalError, InterfaceError)):
            return "database"
        if isinstance(exc, TempFolderUnavailable):
            return "temp"
        if _registered(exc):
            return _registered(exc)
        if getattr(exc, "code", None) == "storage_unavailable":  # tasks.files.storage.StorageUnavailable
            return "storage"
        if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
            return "storage"
        exc = exc.__cause__ or exc.__context__
    return None


# Exception types that mean "this dependency is down", registered by the app that raises them
# (accounts: the sign-in API), so that this bottom layer names no app above it.
_UNAVAILABLE: dict[type, str] = {}


def register_unavailable(dependency: str, *exc_types: type) -> None:
    """Count these exceptions (and their subclasses) as ``dependency`` being down."""
    for exc_type in exc_types:
        _UNAVAILABLE[exc_type] = dependency


def _registered(exc) -> str | None:
    return next((name for exc_type, name in _UNAVAILABLE.items() if isinstance(exc, exc_type)), None)


def unavailable_response(request, dependency: str) -> HttpResponse:
    """The 503 for this request: contract JSON under /api/, the branded page elsewhere."""
    message = MESSAGES.get(dependency, MESSAGES["database"])
    if request.path_info.startswith("/api/"):  # path_info: without the script prefix (SCRIPT_NAME)
        response = error_response(503, "service_unavailable", f"{message} {TRY_AGAIN}",
                                  {"dependency": dependency, "retry_after_seconds": RETRY_AFTER_SECONDS})
    else:
        home = get_script_prefix()  # the upload page is the site's root: "/", or "/ocr/" behind a proxy at /ocr/
        again = request.get_full_path() if request.method == "GET" else home
        if not url_has_allowed_host_and_scheme(again, allowed_hosts=set()):
            again = home  # a path such as //evil.example/ is another host's address to a browser
        html = render_to_string("503.html", {"message": message, "try_again": TRY_AGAIN, "again_url": again,
                                             "home_url": home, "dependency": dependency})
        response = HttpResponse(html, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def _note_exception(sender, request=None, **kwargs):
    """Django is about to answer an uncaught exception with a 500: remember whether a dependency caused it."""
    dependency = dependency_of(sys.exc_info()[1])
    if request is not None and dependency:
        request._dependency_down = dependency


got_request_exception.connect(_note_exception, dispatch_uid="core.dependencies")


class DependencyDownMiddleware:
    """Outermost but for the request-id middleware: turns a dependency's failure into a 503."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        dependency = getattr(request, "_dependency_down", None)
        if dependency and response.status_code >= 500 and response.status_code != 503:
            log.warning("dependency down: %s; answered 503", dependency,
                        extra={"path": request.path, "dependency": dependency})
            return unavailable_response(request, dependency)
        return response

    def process_exception(self, request, exception):
        dependency = dependency_of(exception)
        if dependency is None:
            return None
        log.warning("dependency down: %s (%s: %s); answered 503", dependency, type(exception).__name__, exception,
                    extra={"path": request.path, "dependency": dependency})
        return unavailable_response(request, dependency)
