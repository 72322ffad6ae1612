"""Account takeover by a look-alike email (issue 15, item 1), on SQLite and MariaDB.

A directory person is bound to the directory's id; an email that only looks like (or, on
MariaDB's default collation, compares equal to) another account's never opens that account.
"""

import pytest
from django.db import connection

from accounts.models import User, normalize_email
from core.models import AuditLog
from tasks.models import Task
from tests.accounts.conftest import ADA, sign_in

ADA_ID = "42cf0b98-f598-47dd-ae2a-f33803f87d41"
PASSWORD = "mallory-password"
REFUSED = "matches a different Tool OCR account"


def _directory_person(email, ext_id="mallory-0001", name="Mallory"):
    return {"username": f"{ext_id}@login", "password": PASSWORD, "id": ext_id, "name": name, "email": email}


def _sign_in_as(client, dev_auth_api, person):
    dev_auth_api.configure(extra_users=[person])
    return sign_in(client, person["username"], PASSWORD)


@pytest.fixture
def ada_with_a_task(client, db):
    assert sign_in(client).status_code == 302
    ada = User.objects.get(external_id=ADA_ID)
    Task.objects.create(user=ada, filename="ada-private.png", mime_type="image/png", size_bytes=1)
    client.post("/logout/")
    return ada


@pytest.mark.parametrize("look_alike", [
    "ADA.LIN@EXAMPLE.COM",                 # Unicode/ASCII case
    "\uff41da.lin@example.com",            # full-width a
    "ada.lin@\uff45xample.com",            # full-width e in the domain
])
def test_an_address_equal_after_normalising_is_refused_with_an_audit_row(client, dev_auth_api, ada_with_a_task,
                                                                         look_alike):
    response = _sign_in_as(client, dev_auth_api, _directory_person(look_alike))
    assert response.status_code == 403
    assert REFUSED in response.content.decode()
    assert client.get("/").status_code == 302  # not signed in
    ada = User.objects.get(pk=ada_with_a_task.pk)
    assert ada.display_name == "Ada Lin" and ada.external_id == ADA_ID  # nothing overwritten
    assert User.objects.count() == 1
    row = AuditLog.objects.get(action="auth.login", outcome=AuditLog.Outcome.DENIED)
    assert row.details["reason"] == "identity_conflict"
    assert row.details["conflict"] == "email_bound_to_another_directory_id"
    assert row.details["directory_id"] == "mallory-0001" and row.object_id == str(ada.pk)


@pytest.mark.parametrize("look_alike", [
    "ada.lin@ex\u00e1mple.com",            # an accent (MariaDB's utf8mb4_unicode_ci: equal)
    "ada.lin@exam\u200bple.com",           # a zero-width space
])
def test_an_address_that_only_looks_alike_is_another_person_who_sees_nothing_of_ada(
        client, dev_auth_api, ada_with_a_task, look_alike):
    response = _sign_in_as(client, dev_auth_api, _directory_person(look_alike))
    assert response.status_code == 302, response.content[:300]
    mallory = User.objects.get(external_id="mallory-0001")
    assert mallory.pk != ada_with_a_task.pk and mallory.email == normalize_email(look_alike)
    assert "ada-private.png" not in client.get("/history/").content.decode()
    assert client.get("/api/v1/tasks").json()["count"] == 0
    assert User.objects.get(pk=ada_with_a_task.pk).display_name == "Ada Lin"


def test_the_kelvin_sign_is_folded_before_comparing(client, dev_auth_api, db):
    """Python's lower() keeps U+212A; NFKC + casefold turn it into k."""
    assert normalize_email("\u212aim@example.com") == "kim@example.com"
    User.objects.create_superuser("kim.ops@example.com", "local-secret-123")
    response = _sign_in_as(client, dev_auth_api, _directory_person("\u212aim.ops@example.com"))
    assert response.status_code == 403 and REFUSED in response.content.decode()
    assert client.get("/admin/").status_code == 302


def test_a_local_superuser_is_never_merged_with_a_directory_person(client, dev_auth_api, db):
    admin = User.objects.create_superuser("root.admin@example.com", "local-secret-123")
    response = _sign_in_as(client, dev_auth_api, _directory_person("Root.Admin@example.com", ext_id="dir-root"))
    assert response.status_code == 403 and REFUSED in response.content.decode()
    admin.refresh_from_db()
    assert admin.external_id is None and admin.auth_source == User.AuthSource.LOCAL
    assert client.get("/admin/").status_code == 302
    row = AuditLog.objects.get(action="auth.login", outcome=AuditLog.Outcome.DENIED)
    assert row.details["conflict"] == "local_account"


def test_a_changed_directory_email_follows_the_same_person(client, dev_auth_api, ada_with_a_task):
    person = _directory_person("ada.wang@example.com", ext_id=ADA_ID, name="Ada Wang")
    assert _sign_in_as(client, dev_auth_api, person).status_code == 302
    ada = User.objects.get(pk=ada_with_a_task.pk)
    assert (ada.email, ada.display_name) == ("ada.wang@example.com", "Ada Wang")
    assert User.objects.count() == 1
    assert "ada-private.png" in client.get("/history/").content.decode()


def test_a_user_from_before_ids_is_bound_at_an_exact_match_only(client, dev_auth_api, make_user):
    legacy = make_user("ada.lin@example.com", "Ada (old)")
    assert legacy.external_id is None
    assert sign_in(client).status_code == 302
    legacy.refresh_from_db()
    assert legacy.external_id == ADA_ID and legacy.display_name == "Ada Lin"
    assert User.objects.count() == 1


def test_a_user_from_before_ids_is_not_bound_by_a_look_alike(client, dev_auth_api, make_user):
    legacy = make_user("ada.lin@example.com", "Ada (old)")
    assert _sign_in_as(client, dev_auth_api,
                       _directory_person("ada.lin@ex\u00e1mple.com")).status_code == 302
    legacy.refresh_from_db()
    assert legacy.external_id is None and legacy.display_name == "Ada (old)"


def test_email_and_directory_id_compare_binary_on_mysql(db):
    if connection.vendor != "mysql":
        pytest.skip("SQLite compares bytes already")
    with connection.cursor() as cursor:
        cursor.execute("SELECT column_name, collation_name FROM information_schema.columns "
                       "WHERE table_schema = DATABASE() AND table_name = %s AND column_name IN ('email', 'external_id')",
                       [User._meta.db_table])
        collations = dict(cursor.fetchall())
    assert collations == {"email": "utf8mb4_bin", "external_id": "utf8mb4_bin"}
    User.objects.create_user("ada.lin@example.com")
    assert not User.objects.filter(email="ada.lin@ex\u00e1mple.com").exists()
    assert not User.objects.filter(email="ADA.LIN@example.com").exists()


def test_an_operator_can_link_a_directory_id_and_rename_in_the_admin(client, db):
    admin = User.objects.create_superuser("root@example.com", "local-secret-123")
    person = User.objects.create_user("ada.lin@example.com", display_name="Ada (old)")
    client.force_login(admin, backend="accounts.backends.LocalAccountBackend")
    from accounts.models import TokenSession

    TokenSession.objects.get_or_create(user=admin, session_key=client.session.session_key)
    form = client.get(f"/admin/accounts/user/{person.pk}/change/").content.decode()
    assert 'name="external_id"' in form and 'name="email"' in form
    response = client.post(f"/admin/accounts/user/{person.pk}/change/", {
        "email": "ADA.LIN@example.com", "display_name": "Ada (old)", "external_id": ADA_ID, "is_active": "on"})
    assert response.status_code == 302, response.content.decode()[-2000:]
    person.refresh_from_db()
    assert (person.email, person.external_id) == ("ada.lin@example.com", ADA_ID)


def test_a_session_of_a_user_from_before_ids_survives_its_refresh_and_is_bound(dev_auth_api, make_user):
    from datetime import timedelta

    from django.utils import timezone

    from accounts import external_auth, services
    from accounts.models import TokenSession

    legacy = make_user("ada.lin@example.com")
    session = services.token_session_create(user=legacy, session_key="k" * 32,
                                            result=external_auth.authenticate_user(*ADA))
    TokenSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() + timedelta(seconds=5))
    session.refresh_from_db()
    assert services.token_session_refresh(session=session) == services.RefreshOutcome.REFRESHED
    legacy.refresh_from_db()
    assert legacy.external_id == ADA_ID
