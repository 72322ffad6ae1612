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


# --- Decoded sessions kept per process (accounts/session_store.py _DECODED) ----------------------------------

def _session_text(client) -> str:
    return Session.objects.get(session_key=client.session.session_key).session_data


def test_a_session_text_is_verified_once_per_process(client, user_a, monkeypatch):
    from django.core import signing

    from accounts import session_store

    session_store._DECODED.clear()
    signed_in(client, user_a)
    checks = []
    real_loads = signing.loads
    monkeypatch.setattr(signing, "loads", lambda *a, **k: checks.append(1) or real_loads(*a, **k))
    assert _is_signed_in(client) and _is_signed_in(client) and _is_signed_in(client)
    assert len(checks) == 1  # the same text again is answered from what was verified


def test_a_changed_or_forged_session_text_is_verified_again(client, user_a, user_b):
    """The whole text is the key: a forged signature, or the row rewritten for another person, is read anew."""
    from accounts import session_store

    session_store._DECODED.clear()
    signed_in(client, user_a)
    assert _is_signed_in(client)
    key, text = client.session.session_key, _session_text(client)
    forged = text[:-1] + ("A" if text[-1] != "A" else "B")
    Session.objects.filter(session_key=key).update(session_data=forged)
    assert not _is_signed_in(client)
    other = signed_in(type(client)(), user_b)  # another browser: user_b's session text
    Session.objects.filter(session_key=key).update(session_data=_session_text(other))
    TokenSession.objects.filter(session_key=key).update(user=user_b)
    response = client.get(PAGE)
    assert response.status_code == 200 and response.wsgi_request.user == user_b


def test_a_new_secret_key_rejects_what_the_old_one_verified(client, user_a, settings):
    from accounts import session_store

    session_store._DECODED.clear()
    signed_in(client, user_a)
    assert _is_signed_in(client) and session_store._DECODED
    settings.SECRET_KEY = "another-secret-" + "y" * 40  # setting_changed: what was verified is forgotten
    assert not session_store._DECODED
    assert not _is_signed_in(client)


def test_a_decoded_session_is_a_fresh_dict_each_time(client, user_a):
    """A request that changes its session's contents in place does not change what the next one reads."""
    from accounts.session_store import SessionStore

    signed_in(client, user_a)
    text = _session_text(client)
    first = SessionStore().decode(text)
    first["_auth_user_id"] = "someone else"
    assert SessionStore().decode(text)["_auth_user_id"] == str(user_a.pk)


def test_views_get_the_user_itself_not_the_lazy_wrapper(client, user_a):
    """accounts.web.middleware hands the evaluated user on: the same person, without LazyObject's costs."""
    from django.contrib.auth.models import AnonymousUser
    from django.utils.functional import LazyObject

    response = signed_in(client, user_a).get(PAGE)
    assert type(response.wsgi_request.user) is User and response.wsgi_request.user.pk == user_a.pk
    anonymous = type(client)().get(PAGE)
    assert not isinstance(anonymous.wsgi_request.user, LazyObject)
    assert isinstance(anonymous.wsgi_request.user, AnonymousUser)


def test_a_large_session_text_is_not_kept(client, user_a, settings):
    """The page after an upload reads a session that names the files chosen and left out (up to 100 names of up
    to 255 characters): read once, and each person makes one per upload. Kept like the ~220-character text of
    a signed-in browser, MAX_DECODED of them would hold hundreds of MB in each process."""
    import secrets

    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts import session_store
    from tests.tasks.history_helpers import make_task
    from tests.tasks.pipeline_helpers import sample_inputs

    session_store._DECODED.clear()
    settings.MAX_TASKS_PER_USER = 2
    make_task(user_a, status="pending")  # one file more is queued, the other 99 are left out and named
    signed_in(client, user_a)
    _n, png, _mime, _pages = sample_inputs()["png"]
    names = [secrets.token_hex(123) + ".png" for _ in range(100)]
    client.post("/", {"files": [SimpleUploadedFile(name, png) for name in names]})
    large = _session_text(client)
    assert len(large) > 10_000
    assert names[-1] in client.get("/").content.decode()  # the outcome was read from the session
    assert large not in session_store._DECODED
    assert all(len(text) <= session_store.MAX_DECODED_TEXT for text in session_store._DECODED)
    assert _is_signed_in(client) and _session_text(client) in session_store._DECODED  # the usual text still is
    # Names that compress well (signing zips the JSON): a short text, but tens of KB once decoded.
    settings.MAX_TASKS_PER_USER = 3
    client.post("/", {"files": [SimpleUploadedFile("a" * 200 + f"{i:03d}.png", png) for i in range(100)]})
    short = _session_text(client)
    assert len(short) <= session_store.MAX_DECODED_TEXT
    assert "a" * 200 + "099.png" in client.get("/").content.decode()
    assert short not in session_store._DECODED
    assert all(len(content) <= session_store.MAX_DECODED_TEXT for content in session_store._DECODED.values())
    # What the cache can hold at most: MAX_DECODED texts and their JSON, each at most MAX_DECODED_TEXT long.
    assert session_store.MAX_DECODED * 2 * session_store.MAX_DECODED_TEXT <= 8 * 2**20


@pytest.mark.parametrize("end", ["logout", "revoked", "expired", "deactivated", "password"])
def test_a_kept_session_text_still_ends_when_the_session_does(client, user_a, end):
    """The text is kept once verified, but the row is read on every request: a session that ends after its text
    was kept (logged out and its cookie replayed, revoked by an operator, expired, the person deactivated or
    their password changed) is signed out."""
    from django.conf import settings as django_settings

    from accounts import session_store

    if end == "password":
        user_a.set_password("first-Secret-1")
        user_a.save()
    session_store._DECODED.clear()
    signed_in(client, user_a)
    assert _is_signed_in(client) and _is_signed_in(client)
    assert _session_text(client) in session_store._DECODED  # answered from what was kept
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    if end == "logout":
        client.post("/logout/")
        client.cookies[django_settings.SESSION_COOKIE_NAME] = cookie  # the old cookie, replayed
    elif end == "revoked":
        TokenSession.objects.filter(session_key=cookie).update(revoked_at=timezone.now())
    elif end == "expired":
        Session.objects.filter(session_key=cookie).update(expire_date=timezone.now() - timedelta(seconds=1))
    elif end == "deactivated":
        User.objects.filter(pk=user_a.pk).update(is_active=False)
    else:
        user_a.set_password("second-Secret-2")
        user_a.save()
    assert not _is_signed_in(client)


# --- The session, its TokenSession row and its user in one query (accounts/session_store.py) -----------------

def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_the_session_its_row_and_its_user_are_one_query(client, user_a, django_assert_num_queries):
    """What authentication and the session guard read on every request: one round trip, the user as the ORM
    reads it (MariaDB pays for each round trip in the web process)."""
    from django.contrib.auth import get_user
    from django.test import RequestFactory

    from accounts.session_store import SessionStore

    signed_in(client, user_a)
    request = RequestFactory().get(PAGE)
    request.session = SessionStore(client.session.session_key)
    with django_assert_num_queries(1):
        user = get_user(request)
        assert request.session.token_session.user_id == user_a.pk
    assert _fields(user) == _fields(User.objects.get(pk=user_a.pk))


def test_the_user_read_with_a_session_is_taken_once_and_only_for_that_user(client, user_a, user_b,
                                                                           django_assert_num_queries):
    from accounts.backends import ExternalAuthBackend
    from accounts.session_store import SessionStore, user_read_with_session

    signed_in(client, user_a)
    key = client.session.session_key
    SessionStore(key).load()
    assert user_read_with_session(user_b.pk) is None  # another user: not this one's row...
    with django_assert_num_queries(1):
        assert ExternalAuthBackend().get_user(user_a.pk) == user_a  # ...and forgotten: read again
    SessionStore(key).load()
    with django_assert_num_queries(0):
        assert ExternalAuthBackend().get_user(str(user_a.pk)) == user_a  # the session stores the id as text
    with django_assert_num_queries(1):
        assert ExternalAuthBackend().get_user(user_a.pk) == user_a  # taken once
    TokenSession.objects.filter(session_key=key).delete()
    SessionStore(key).load()  # a session without its row (not signed in by this app) leaves nothing behind
    assert user_read_with_session(user_a.pk) is None


def test_a_deactivated_user_read_with_the_session_is_not_signed_in(client, user_a):
    from accounts.backends import ExternalAuthBackend
    from accounts.session_store import SessionStore

    signed_in(client, user_a)
    User.objects.filter(pk=user_a.pk).update(is_active=False)
    SessionStore(client.session.session_key).load()
    assert ExternalAuthBackend().get_user(user_a.pk) is None


def test_a_user_read_with_the_session_is_not_kept_past_its_request(client, user_a):
    """A user read with the session that no backend asks for (a local operator's session is read by Django's
    own backend) is not held by the thread past the end of its request."""
    from django.core.signals import request_finished

    from accounts import session_store

    signed_in(client, user_a)
    session_store.SessionStore(session_key=client.session.session_key).load()  # read; nobody takes the user
    held = session_store._USER_READ.get()
    assert held is not None and held.pk == user_a.pk
    request_finished.send(sender=type(client))
    assert session_store._USER_READ.get() is None
