"""Keep a TokenSession row in step with every Django sign-in and sign-out.

Hooked on Django's signals rather than the login view, so that every way into a
session (our login page, ``Client.force_login`` in tests, anything else calling
``login()``) gets a row, and the session guard can insist on one.
"""

import logging

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.core.signals import setting_changed
from django.dispatch import receiver

from accounts.breaker import reset_breaker
from core.client_ip import client_ip
from accounts.services import token_session_create, token_session_end

log = logging.getLogger("tool_ocr.auth")


@receiver(user_logged_in, dispatch_uid="accounts.token_session_start")
def _token_session_start(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    if session is None:
        return
    if not session.session_key:
        session.save()
    result = getattr(request, "_external_auth_result", None)
    if result is not None and result.user.external_id != user.external_id:
        result = None  # never attach someone else's tokens
    token_session_create(user=user, session_key=session.session_key, result=result,
                         ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", ""),
                         request=request)
    log.info("sign-in succeeded user_id=%s source=%s", user.pk, "external" if result else "local")


@receiver(user_logged_out, dispatch_uid="accounts.token_session_end")
def _token_session_end(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        token_session_end(session_key=session.session_key, request=request, user=user)


@receiver(setting_changed, dispatch_uid="accounts.reset_breaker")
def _settings_changed(sender, setting, **kwargs):
    if setting.startswith("EXTERNAL_AUTH_"):
        reset_breaker()
