"""The session guard: every signed-in request is checked against its TokenSession row.

Ends the session (with a message saying why) when the row is gone or revoked, when the
browser was idle for SESSION_IDLE_TIMEOUT, when the sign-in is older than
SESSION_ABSOLUTE_LIFETIME, or when the company token expired and could not be renewed.
Renews the token within TOKEN_REFRESH_BUFFER of expiry; if the API is unavailable, the
session simply carries on until the token really expires (the fallback).

How a signed-out request is answered depends on who asked: pages get a redirect to the
login page, HTMX requests an ``HX-Redirect`` (so the login page never lands inside a
fragment), and the JSON API under /api/ a JSON 401. The same translation applies to
login_required's redirect for an already-anonymous request.
"""

import logging
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import resolve_url
from django.utils import timezone
from django.utils.functional import LazyObject, empty
from django_htmx.http import HttpResponseClientRedirect

from accounts import selectors, services
from accounts.models import TokenSession
from accounts.services import RefreshOutcome
from core.timespan import duration_text

log = logging.getLogger("tool_ocr.auth")

API_PREFIX = "/api/"  # of request.path_info, which leaves out the script prefix (SCRIPT_NAME)
UNREADABLE = "Your session could not be read, so you were signed out. Please sign in again."


def session_end_reason(session: TokenSession | None, now) -> str | None:
    """Why this session must end now (a message for the person), or None.

    Checks that need no API call; token expiry is handled by the caller.
    """
    if session is None:
        return "Your session has ended. Please sign in again."
    if session.revoked_at is not None:
        if session.end_reason == TokenSession.EndReason.REFRESH_REFUSED:
            return "The company sign-in service ended your session. Please sign in again."
        return "Your session was ended by an administrator. Please sign in again."
    if now - session.created_at > timedelta(seconds=settings.SESSION_ABSOLUTE_LIFETIME):
        return (f"Your session reached its maximum length of "
                f"{duration_text(settings.SESSION_ABSOLUTE_LIFETIME)}. Please sign in again.")
    if now - session.last_activity_at > timedelta(seconds=settings.SESSION_IDLE_TIMEOUT):
        return (f"You were signed out after {duration_text(settings.SESSION_IDLE_TIMEOUT)} "
                f"without activity. Please sign in again.")
    return None


def token_end_reason(session: TokenSession, now) -> str | None:
    """Renew the company token when due; a message when the session must end because of it."""
    if not services.token_needs_refresh(session, now):
        return None
    outcome = services.token_session_refresh(session=session, now=now)
    if outcome == RefreshOutcome.REFRESHED:
        return None
    if outcome == RefreshOutcome.REFUSED:
        return "The company sign-in service ended your session. Please sign in again."
    if now >= session.expires_at:
        return "Your sign-in has expired. Please sign in again."
    return None  # not renewed yet, still valid: keep working (API down, no endpoint, busy)


class SessionGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            reason = self._check(request)
            if reason is not None:
                return self._signed_out(request, reason)
        request.user = _evaluated(request.user)
        response = self.get_response(request)
        return self._adapt_login_redirect(request, response)

    def _check(self, request) -> str | None:
        now = timezone.now()
        session = _token_session(request)
        try:
            reason = session_end_reason(session, now)
            if reason is None:
                reason = token_end_reason(session, now)
        except (ArithmeticError, ValueError, TypeError):
            # A row this code cannot read (e.g. a date at the calendar's edge stored before the
            # API's answers were checked): sign the browser out instead of failing every request.
            log.exception("session unreadable user_id=%s session_id=%s", request.user.pk, getattr(session, "pk", None))
            if session is not None:
                services.token_session_end(session_key=session.session_key)
            return UNREADABLE
        if reason is None:
            services.token_session_touch(session=session, now=now)
        else:
            log.info("session ended user_id=%s session_id=%s reason=%s", request.user.pk,
                     getattr(session, "pk", None), reason)
        return reason

    def _signed_out(self, request, message: str):
        logout(request)  # flushes the session; accounts.signals drops a live row's tokens
        if request.path_info.startswith(API_PREFIX):
            return _api_401(message)
        messages.warning(request, message)
        return _to_login(request, _login_url(_next_for(request)))

    def _adapt_login_redirect(self, request, response):
        """login_required's 302 to the login page, translated for HTMX and the JSON API."""
        if response.status_code != 302 or not (request.path_info.startswith(API_PREFIX) or _is_htmx(request)):
            return response
        login_path = urlsplit(resolve_url(settings.LOGIN_URL)).path
        if urlsplit(response.get("Location", "")).path != login_path:
            return response
        if request.path_info.startswith(API_PREFIX):
            return _api_401("Sign in first.")
        return _to_login(request, _login_url(_next_for(request)))


def _evaluated(user):
    """The user itself instead of AuthenticationMiddleware's lazy wrapper, once it has been read (here).

    Every attribute of the wrapper goes through LazyObject's Python-level __getattribute__, and a page
    reads the user dozens of times (templates, selectors, logs); the object behind it is the same.
    """
    if isinstance(user, LazyObject) and user._wrapped is not empty:
        return user._wrapped
    return user


def _token_session(request) -> TokenSession | None:
    """The row of this browser session: the one accounts.session_store read with the session, or a query."""
    key = request.session.session_key
    row = getattr(request.session, "token_session", None)
    if row is not None and row.session_key == key and row.user_id == request.user.pk:
        return row
    return selectors.token_session_get(user=request.user, session_key=key)


def _is_htmx(request) -> bool:
    return bool(getattr(request, "htmx", False))


def _api_401(message: str):
    return JsonResponse({"error": {"code": "not_authenticated", "message": message, "details": {}}}, status=401)


def _next_for(request) -> str:
    """The page to come back to: for HTMX the page the browser shows, not the fragment URL."""
    if _is_htmx(request):
        target = request.htmx.current_url_abs_path or ""
    else:
        target = request.get_full_path() if request.method == "GET" else ""
    login_path = urlsplit(resolve_url(settings.LOGIN_URL)).path
    return "" if urlsplit(target).path == login_path else target


def _login_url(next_path: str) -> str:
    url = resolve_url(settings.LOGIN_URL)
    return f"{url}?{urlencode({'next': next_path})}" if next_path else url


def _to_login(request, url: str):
    if _is_htmx(request):
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)
