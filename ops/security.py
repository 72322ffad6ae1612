"""Response headers that make the pages harder to abuse: a Content-Security-Policy the pages
(HTMX included) work under, and a restrictive Referrer/Permissions policy.

Scripts only from our own origin (htmx is served from static/, no inline scripts, no eval);
styles from our origin plus inline style attributes (the SVG charts use them; a style cannot
run code). Frames are refused (also X-Frame-Options: DENY).

Also here: the request-size limit (413 before a body is read), the strict session cookie, and
/.well-known/security.txt. docs/security.md describes the whole model.
"""

import re
from datetime import timedelta

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.urls import get_script_prefix
from django.utils import timezone
from django.views.decorators.http import require_GET

DEFAULT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
               "frame-ancestors 'none'")


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.csp = getattr(settings, "CONTENT_SECURITY_POLICY", DEFAULT_CSP)

    def __call__(self, request):
        response = self.get_response(request)
        if self.csp and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.csp
        response.setdefault("Referrer-Policy", "same-origin")
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if _private(request, response) and "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = "no-store"  # not kept by the browser, a proxy or the back button
        return response


def _private(request, response) -> bool:
    """A signed-in person's page, any API answer, any download: nothing of it may be stored on the way.

    Nothing is exempt by its path: static files never come through here (nginx serves them; runserver's and
    the live server's static handlers answer before the middleware), and STATIC_URL is the operator's to set,
    so a path test on it could make pages, API answers or downloads storable.
    """
    user = getattr(request, "user", None)
    return (bool(getattr(user, "is_authenticated", False)) or request.path_info.startswith("/api/")
            or response.get("Content-Disposition", "").startswith("attachment"))


_SESSION_KEY = re.compile(r"^[a-z0-9]{32}$")  # what Django's session store makes (VALID_KEY_CHARS, 32 long)


class StrictSessionCookieMiddleware:
    """A session cookie that is not a key Django could have made is ignored (the visitor is signed out).

    MariaDB compares text case-insensitively (utf8mb4_unicode_ci), so without this "ABC…" would
    find the session "abc…": no easier to guess, but a cookie must match its session exactly.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        if key is not None and not _SESSION_KEY.match(key):
            del request.COOKIES[settings.SESSION_COOKIE_NAME]
        return self.get_response(request)


class RequestSizeLimitMiddleware:
    """A request whose Content-Length is over MAX_REQUEST_MB gets 413 before any of its body is read.

    The per-file limit (MAX_UPLOAD_MB, tasks.intake.uploads) cuts a file off while it streams; this one
    stops a client that announces gigabytes from keeping a server thread busy reading them.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit_mb = settings.MAX_REQUEST_MB
        if length > limit_mb * 1024 * 1024:
            message = (f"The request is larger than {limit_mb} MB, the most we take at once: "
                       "send fewer or smaller files.")
            if request.path_info.startswith("/api/"):
                response = JsonResponse({"error": {"code": "request_too_large", "message": message,
                                                   "details": {"max_request_mb": limit_mb}}}, status=413)
            else:
                response = HttpResponse(f"<!doctype html><title>Too large · Tool OCR</title><h1>Too large</h1>"
                                        f'<p>{message}</p><p><a href="{get_script_prefix()}">Back to the upload page</a></p>',
                                        status=413)
            response["Content-Length"] = str(len(response.content))  # the client need not wait for a close
            return response
        return self.get_response(request)


@require_GET
def security_txt(request):
    """/.well-known/security.txt (RFC 9116): where to report a security issue, when SECURITY_CONTACT is set."""
    contact = settings.SECURITY_CONTACT
    if not contact:
        raise Http404("No security contact is configured.")
    if ":" not in contact:
        contact = f"mailto:{contact}"
    expires = (timezone.now() + timedelta(days=180)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return HttpResponse(f"Contact: {contact}\nExpires: {expires}\nPreferred-Languages: en\n",
                        content_type="text/plain; charset=utf-8")
