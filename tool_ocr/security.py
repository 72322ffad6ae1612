"""Response headers that make the pages harder to abuse: a Content-Security-Policy the pages
(HTMX included) work under, and a restrictive Referrer/Permissions policy.

Scripts only from our own origin (htmx is served from static/, no inline scripts, no eval);
styles from our origin plus inline style attributes (the SVG charts use them; a style cannot
run code). Frames are refused (also X-Frame-Options: DENY).
"""

from django.conf import settings

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
        return response
