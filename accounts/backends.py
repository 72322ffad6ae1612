"""Authentication backend that asks the company API, then keeps a local user row in step."""

import logging

from django.contrib.auth.backends import BaseBackend

from accounts import external_auth
from accounts.services import user_upsert_from_external

log = logging.getLogger("tool_ocr.auth")


class ExternalAuthBackend(BaseBackend):
    """Sign in with the company account; API errors propagate so the view can explain them."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not username or not password:
            return None
        result = external_auth.authenticate_user(username, password)
        user = user_upsert_from_external(result.user)
        if not user.is_active:
            return None
        if request is not None:
            # The login view stores these in a TokenSession once the session key rotated.
            request._external_auth_result = result
        return user

    def get_user(self, user_id):
        from accounts.models import User

        try:
            user = User.objects.get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if user.is_active else None
