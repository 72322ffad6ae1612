"""Authentication backends: the company API, and local passwords for operators.

settings.AUTHENTICATION_BACKENDS follows AUTH_MODE (accounts/auth_mode.py); each
backend also checks the mode when it runs, so a mode can never allow more than it says.
"""

import logging

from django.conf import settings
from django.contrib.auth.backends import BaseBackend, ModelBackend
from django.views.decorators.debug import sensitive_variables

from accounts import auth_mode, external_auth
from accounts.models import User
from accounts.services import user_upsert_from_external

log = logging.getLogger("tool_ocr.auth")


class LocalAccountBackend(ModelBackend):
    """Local Django passwords (``createsuperuser``).

    In ``external`` mode only staff may use one, so that a local password never signs
    in an ordinary user; in ``local`` and ``both`` any active user with a password may.
    Users without a usable password (everyone the company API created) are left to the
    next backend without hashing anything, which keeps a company sign-in fast.
    """

    @sensitive_variables("password")
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if not username or not password:
            return None
        try:
            user = User._default_manager.get_by_natural_key(username)
        except User.DoesNotExist:
            if settings.AUTH_MODE == auth_mode.LOCAL:
                User().set_password(password)  # same cost as a real check (timing)
            return None
        if not user.password or not user.has_usable_password():
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

    Wrong credentials and every API failure raise the client's typed errors, so the
    login view can tell the person what happened (and count failed attempts).
    """

    @sensitive_variables("password")
    def authenticate(self, request, username=None, password=None, **kwargs):
        if settings.AUTH_MODE == auth_mode.LOCAL or not username or not password:
            return None
        result = external_auth.authenticate_user(username, password)
        user = user_upsert_from_external(result.user, request=request)
        if not user.is_active:
            raise external_auth.AccountDisabled("This account is disabled in Tool OCR. Contact an administrator.")
        if request is not None:
            # accounts.signals stores the tokens once login() has rotated the session key.
            request._external_auth_result = result
        return user

    def get_user(self, user_id):
        try:
            user = User._default_manager.get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if user.is_active else None
