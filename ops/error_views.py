"""Branded error pages (400, 403, 404, 500): the header, what happened in plain words, and a way back.

Django calls these handlers (tool_ocr/urls.py). With DEBUG=true Django would show its technical
pages for 400 and 404 instead; ``DebugLikeProductionMiddleware`` answers those expected 4xx cases
with the same pages as production, so what a developer sees is what people will see. A 500 keeps
Django's technical page under DEBUG (that is what it is for). The 503 page belongs to the
dependency-down handling.
"""

import logging

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpResponse
from django.template import loader
from django.urls import Resolver404, resolve

log = logging.getLogger("tool_ocr.errors")

PAGES = {
    400: ("Bad request", "The request could not be understood. Nothing was changed."),
    403: ("Not allowed", "You are not allowed to do this, or the page was open so long that its form expired. "
                         "Reload the page and try again."),
    404: ("Not found", "There is nothing here. The task or file may have been deleted, or the link is mistyped."),
    500: ("Something went wrong", "Tool OCR had a problem answering. It has been logged; try again in a moment."),
}


def _render(request, status: int, text: str | None = None) -> HttpResponse:
    title, default_text = PAGES[status]
    text = text or default_text
    context = {"status": status, "error_title": title, "error_text": text}
    try:
        body = loader.render_to_string("error.html", context, request=request)
    except Exception:  # the header needs the database; a 500 must still answer
        log.exception("the branded error page could not be rendered with the request; plain version used")
        body = loader.render_to_string("error.html", {**context, "plain": True})
    return HttpResponse(body, status=status)


def bad_request(request, exception=None):
    return _render(request, 400)


def permission_denied(request, exception=None):
    return _render(request, 403)


def page_not_found(request, exception=None):
    return _render(request, 404)


def server_error(request):
    return _render(request, 500)


class DebugLikeProductionMiddleware:
    """DEBUG only: expected 4xx (unknown URL, Http404, PermissionDenied, bad request) get the branded pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.DEBUG:
            try:
                resolve(request.path_info)
            except Resolver404:
                return page_not_found(request)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not settings.DEBUG:
            return None  # production: Django calls the handlers itself
        if isinstance(exception, Http404):
            return page_not_found(request, exception)
        if isinstance(exception, PermissionDenied):
            return permission_denied(request, exception)
        if isinstance(exception, (BadRequest, SuspiciousOperation)):
            return bad_request(request, exception)
        return None


def csrf_failure(request, reason=""):
    """A form that expired (or a forged one): the branded 403, which says to reload and try again."""
    return _render(request, 403, "The form could not be checked (CSRF verification failed): it may have been "
                                 "open too long. Reload the page and try again.")
