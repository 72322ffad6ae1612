"""Authentication backends: the company API, and local passwords for operators.

settings.AUTHENTICATION_BACKENDS follows AUTH_MODE (accounts/auth_mode.py); each
backend also checks the mode when it runs, so a mode can never allow more than it says.
"""

import logging

from django.conf import settings
from django.contrib.auth.backends import BaseBackend, ModelBackend
from django.views.decorators.debug import sensitive_variables

from accounts import auth_mode, external_auth
from accounts.models import User, normalize_email
from accounts.services import user_upsert_from_external
from accounts.session_store import user_read_with_session
from core.audit import SYSTEM, Actor
from core.raw_sql import select_rows

log = logging.getLogger("tool_ocr.auth")

AUTH_ERROR_ATTR = "_external_auth_error"  # what the company API said, when it did not sign the person in


class LocalAccountBackend(ModelBackend):
    """Local Django passwords (``createsuperuser``).

    In ``external`` mode only staff may use one, so that a local password never signs
    in an ordinary user; in ``local`` and ``both`` any active user with a password may.
    It runs after the company backend, and costs one password hash whether or not the
    account exists or has a local password (auth_mode explains the order).
    """

    @sensitive_variables("password")
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if not username or not password:
            return None
        user = User._default_manager.filter(email=normalize_email(username)).first()
        if user is None or not user.password or not user.has_usable_password():
            User().set_password(password)  # the same one hash as a real check: time tells nothing
            return None
        if user.check_password(password) and self.user_can_authenticate(user) and self._mode_allows(user):
            return user
        return None

    @staticmethod
    def _mode_allows(user) -> bool:
        """Checked at password sign-in only; loading an existing session needs just is_active."""
        return user.is_staff or settings.AUTH_MODE != auth_mode.EXTERNAL


class ExternalAuthBackend(BaseBackend):
    """Sign in with the company account.

    Wrong credentials and every API failure are kept on the request (``AUTH_ERROR_ATTR``)
    and None returned, so the local backend after this one still runs (operators while
    the API is down; one hash for every failure, see auth_mode); the login procedure
    (accounts/signin.py) then tells the person what happened. Without a request they raise.
    """

    @sensitive_variables("password")
    def authenticate(self, request, username=None, password=None, **kwargs):
        if settings.AUTH_MODE == auth_mode.LOCAL or not username or not password:
            return None
        try:
            result = external_auth.authenticate_user(username, password)
            user = user_upsert_from_external(result.user, actor=Actor.of(request) if request is not None else SYSTEM)
            if not user.is_active:
                raise external_auth.AccountDisabled("This account is disabled in Tool OCR. Contact an administrator.")
        except external_auth.ExternalAuthError as exc:
            if request is None:
                raise
            setattr(request, AUTH_ERROR_ATTR, exc)
            return None
        if request is not None:
            # accounts.signals stores the tokens once login() has rotated the session key.
            request._external_auth_result = result
        return user

    def get_user(self, user_id):
        """The signed-in user of every request: read with the session (accounts.session_store), else in plain
        SQL (core.raw_sql; the ORM cost ten times the read)."""
        user = user_read_with_session(user_id)
        if user is None:
            found = select_rows(User, equal={"id": user_id})
            if not found:
                return None
            user = found[0]
        return user if user.is_active else None
