"""The API's CSRF check (accounts.api_auth._csrf_failure_reason) replaces a private method of Django's
CsrfViewMiddleware. These tests pin it to the Django it was read against, so an upgrade is flagged
here before a changed middleware can quietly let a forged request through or refuse every one."""

import inspect

import django
from django.middleware.csrf import CsrfViewMiddleware

from accounts.api_auth import CSRF_PATCH_READ_AGAINST


def test_the_patch_was_read_against_the_installed_django():
    assert django.VERSION[:2] == CSRF_PATCH_READ_AGAINST, (
        f"Django is {django.get_version()}: re-read CsrfViewMiddleware (process_request, process_view and "
        "_reject) against accounts.api_auth._csrf_failure_reason, then update CSRF_PATCH_READ_AGAINST")


def test_the_private_method_it_replaces_is_still_how_the_middleware_refuses():
    assert list(inspect.signature(CsrfViewMiddleware._reject).parameters) == ["self", "request", "reason"]
    assert "self._reject(" in inspect.getsource(CsrfViewMiddleware.process_view)

