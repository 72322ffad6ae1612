"""Any answer from the auth API is survived (issue 15, item 4), over real HTTP.

A bad date, number, size or shape is a clear 502 with nothing stored; text is cut to its
columns; emails are validated; a session row that cannot be read signs the browser out.
"""

import time
from datetime import datetime, timedelta
from datetime import timezone as tz

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import TokenSession, User
from tests.accounts.conftest import ADA, sign_in

CANNOT_USE = "The sign-in service answered something we cannot use"


def _refused_and_nothing_stored(client, response):
    assert response.status_code == 502, response.content[:300]
    assert CANNOT_USE in response.content.decode()
    assert not User.objects.exists() and not TokenSession.objects.exists()
    assert client.get("/").status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize("data", [
    {"expiresAt": "0001-01-01T00:00:00"},
    {"expiresAt": "0001-01-01T00:00:00+05:00"},
    {"expiresAt": "2001-01-01T00:00:00Z"},          # already past
    {"expiresAt": "not a date"},
    {"expiresAt": 12345},
    {"expiresAt": None, "expires_in": -5},
    {"expiresAt": None, "expires_in": "NaN"},
    {"expiresAt": None, "expires_in": "inf"},
    {"expiresAt": None, "expires_in": True},
    {"expiresAt": None, "expires_in": [1]},
    {"access_token": {"a": 1}},
    {"access_token": "x" * 100_000},
    {"userInfo": "nobody"},
], ids=lambda d: repr(d)[:40])
def test_unusable_times_numbers_and_shapes_are_a_502_with_nothing_stored(client, dev_auth_api, data):
    dev_auth_api.configure(login_data=data)
    _refused_and_nothing_stored(client, sign_in(client))


@pytest.mark.django_db
@pytest.mark.parametrize("user_info", [
    {"email": "12345"}, {"email": ""}, {"email": None}, {"email": "a@b@c"}, {"email": "x" * 250 + "@example.com"},
    {"email": ["ada.lin@example.com"]}, {"id": ""}, {"id": None}, {"id": "x" * 256}, {"id": {"nested": 1}},
], ids=lambda d: repr(d)[:40])
def test_unusable_emails_and_ids_are_refused(client, dev_auth_api, user_info):
    dev_auth_api.configure(login_user_info=user_info)
    _refused_and_nothing_stored(client, sign_in(client))


@pytest.mark.django_db
def test_a_huge_lifetime_is_clamped_to_the_session_lifetime(client, dev_auth_api):
    dev_auth_api.configure(login_data={"expiresAt": None, "expires_in": 1e308})
    assert sign_in(client).status_code == 302
    row = TokenSession.objects.get()
    limit = timezone.now() + timedelta(seconds=settings.SESSION_ABSOLUTE_LIFETIME)
    assert timezone.now() < row.expires_at <= limit
    assert client.get("/").status_code == 200 and client.post("/logout/").status_code == 302


@pytest.mark.django_db
def test_a_far_future_expiry_is_clamped(client, dev_auth_api):
    dev_auth_api.configure(login_data={"expiresAt": "9999-12-31T23:59:59Z", "issuedAt": "0001-01-01T00:00:00Z"})
    assert sign_in(client).status_code == 302
    row = TokenSession.objects.get()
    assert row.expires_at <= timezone.now() + timedelta(seconds=settings.SESSION_ABSOLUTE_LIFETIME)
    assert abs((row.issued_at - timezone.now()).total_seconds()) < 60  # a silly issue time is not believed
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_long_names_and_titles_are_cut_to_their_columns(client, dev_auth_api):
    """On MariaDB a 300-character name used to make the person unable ever to sign in."""
    dev_auth_api.configure(login_user_info={"name": "名" * 300, "jobTitle": "T" * 5000, "officeLocation": "\x00Taipei",
                                            "businessPhones": ["1" * 500] * 50},
                           login_data={"token_type": "B" * 100})
    assert sign_in(client).status_code == 302
    ada = User.objects.get()
    assert ada.display_name == "名" * 255 and ada.job_title == "T" * 255 and ada.office_location == "Taipei"
    assert TokenSession.objects.get().token_type == "B" * 32


@pytest.mark.django_db
def test_a_deeply_nested_answer_is_a_502(client, dev_auth_api):
    dev_auth_api.configure(login_raw="[" * 200_000 + "]" * 200_000)
    _refused_and_nothing_stored(client, sign_in(client))


@pytest.mark.django_db
def test_a_256_mb_answer_is_not_read_whole(client, dev_auth_api):
    dev_auth_api.configure(login_padding_mb=256)
    started = time.monotonic()
    response = sign_in(client)
    elapsed = time.monotonic() - started
    _refused_and_nothing_stored(client, response)
    assert elapsed < 4, f"took {elapsed:.1f} s: the answer was read past the cap"


@pytest.mark.django_db
def test_an_answer_declaring_a_huge_length_is_refused_unread(client, dev_auth_api):
    dev_auth_api.configure(login_padding_mb=2)  # no Content-Length: read to the cap, then dropped
    _refused_and_nothing_stored(client, sign_in(client))


@pytest.mark.django_db
@pytest.mark.parametrize("stored", [datetime(1, 1, 1, tzinfo=tz.utc), datetime(9999, 12, 31, 23, 59, tzinfo=tz.utc)])
def test_a_session_row_that_cannot_be_read_signs_the_browser_out_cleanly(client, dev_auth_api, stored):
    assert sign_in(client).status_code == 302
    TokenSession.objects.update(expires_at=stored)  # as stored before answers were checked
    for path in ("/", "/history/"):
        response = client.get(path)
        if response.status_code == 302 and response["Location"].startswith("/login/"):
            break
    else:
        # 9999 is still readable (it simply never needs a refresh): the session works.
        assert stored.year == 9999 and client.get("/").status_code == 200
        return
    page = client.get(response["Location"])
    assert page.status_code == 200 and "could not be read" in page.content.decode()
    assert client.post("/logout/").status_code == 302
    assert sign_in(client).status_code == 302 and client.get("/").status_code == 200
