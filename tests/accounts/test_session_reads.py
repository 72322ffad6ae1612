"""The signed-in user and the session's TokenSession row are read in plain SQL on every request
(accounts/backends.py get_user, accounts/session_store.py, core/raw_sql.py): the request must still be
signed out exactly when Django's own reads would sign it out (deactivated person, changed password,
expired session, revoked or foreign TokenSession row), on SQLite and MariaDB alike."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.models import TokenSession, User
from tests.signin import signed_in

pytestmark = pytest.mark.django_db

PAGE = "/history/"


def _is_signed_in(client) -> bool:
    response = client.get(PAGE)
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def test_a_signed_in_person_sees_the_page(client, user_a):
    assert _is_signed_in(signed_in(client, user_a))


def test_a_person_deactivated_mid_session_is_signed_out(client, user_a):
    signed_in(client, user_a)
    User.objects.filter(pk=user_a.pk).update(is_active=False)
    assert not _is_signed_in(client)


def test_a_changed_password_ends_the_other_sessions(client, user_a):
    user_a.set_password("first-Secret-1")
    user_a.save()
    signed_in(client, user_a)
    assert _is_signed_in(client)
    user_a.set_password("second-Secret-2")
    user_a.save()
    assert not _is_signed_in(client)


def test_an_expired_session_is_not_read(client, user_a):
    signed_in(client, user_a)
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1))
    assert not _is_signed_in(client)


def test_a_revoked_token_session_signs_the_browser_out(client, user_a):
    signed_in(client, user_a)
    TokenSession.objects.filter(session_key=client.session.session_key).update(revoked_at=timezone.now())
    assert not _is_signed_in(client)


def test_a_deleted_person_is_signed_out(client, user_a, user_b):
    signed_in(client, user_b)
    User.objects.filter(pk=user_b.pk).delete()
    assert not _is_signed_in(client)
