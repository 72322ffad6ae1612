"""The audit trail is complete: sign-in, sign-out, failed sign-in, revocation, purge, a user's own
retry/cancel/delete -- each row written by the service in the same transaction as the change."""

import json

import pytest

from accounts.models import TokenSession, User
from core.audit import SYSTEM, Actor, audit
from core.models import AuditAction, AuditLog
from tasks import services
from tasks.models import Task
from tests.accounts.conftest import ADA, sign_in
from tests.ops.conftest import exists, file_names, signed_in

pytestmark = pytest.mark.django_db(transaction=True)

PROXY = {"HTTP_X_FORWARDED_FOR": "203.0.113.50"}


@pytest.fixture(autouse=True)
def _behind_proxy(settings):
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    settings.LOGIN_MAX_ATTEMPTS_PER_ACCOUNT = 2


def _rows(action, **filters):
    return list(AuditLog.objects.filter(action=action, **filters).order_by("id"))


def test_sign_in_and_sign_out_are_audited_with_the_client_address(client):
    assert sign_in(client, **PROXY).status_code == 302
    [row] = _rows("auth.login")
    user = User.objects.get(email=ADA[0])
    assert (row.outcome, row.user_id, row.user_email, row.ip_address) == ("allowed", user.pk, ADA[0], "203.0.113.50")
    assert row.details["source"] == "external"
    assert client.post("/logout/", **PROXY).status_code == 302
    [out] = _rows("auth.logout")
    assert (out.user_id, out.ip_address) == (user.pk, "203.0.113.50")


def test_failed_sign_ins_carry_the_reason_never_the_password(client, dev_auth_api):
    sign_in(client)  # the account exists from now on
    client.post("/logout/")
    assert sign_in(client, password="hunter2-wrong", **PROXY).status_code == 401
    assert sign_in(client, "hunter2-in-the-name-field", "x").status_code == 401
    assert sign_in(client, password="hunter2-wrong", **PROXY).status_code == 401
    # the (account, address) limit: refused unchecked
    assert sign_in(client, password="hunter2-wrong", **PROXY).status_code == 429
    dev_auth_api.configure(fail_mode="503")
    sign_in(client, "someone@example.com", "hunter2-else")
    failed = _rows("auth.login", outcome="failed")
    assert [r.details["reason"] for r in failed][:3] == ["invalid_credentials"] * 3
    assert failed[0].user_email == ADA[0] and failed[0].ip_address == "203.0.113.50"
    assert failed[1].user_email == "" and failed[1].user_id is None  # unknown account: the typed text is not kept
    assert failed[-1].details["reason"] != "invalid_credentials"
    [denied] = _rows("auth.login", outcome="denied")
    assert denied.details["reason"] == "too_many_attempts"
    everything = json.dumps(list(AuditLog.objects.values()), default=str)
    assert "hunter2" not in everything


def test_a_users_own_retry_cancel_and_delete_are_audited(client, user_a, make_task):
    signed_in(client, user_a)
    failed = make_task(user_a, status="failed")
    client.post(f"/tasks/{failed.pk}/retry/", {"engine": "tesseract"}, **PROXY)
    [retry] = _rows("task.retry")
    assert (retry.user_id, retry.object_id, retry.ip_address) == (user_a.pk, str(failed.pk), "203.0.113.50")
    client.post(f"/tasks/{failed.pk}/cancel/")
    [cancel] = _rows("task.cancel")
    assert cancel.object_id == str(failed.pk) and cancel.outcome == "allowed"
    client.post(f"/history/tasks/{failed.pk}/delete/")
    [delete] = _rows("task.delete")
    assert delete.details["via"] == "history" and not Task.objects.filter(pk=failed.pk).exists()


def test_no_change_without_its_audit_row(user_a, make_task, monkeypatch):
    """The row is written inside the change's transaction: if it cannot be written, nothing changes."""
    pending = make_task(user_a, status="pending")
    done = make_task(user_a)
    names = file_names(done)

    def broken(**kwargs):
        raise RuntimeError("audit table unavailable")

    monkeypatch.setattr(services, "audit", broken)
    with pytest.raises(RuntimeError):
        services.task_cancel(actor=SYSTEM, task=pending)
    assert Task.objects.get(pk=pending.pk).status == "pending"
    with pytest.raises(RuntimeError):
        services.task_delete(actor=SYSTEM, task=done)
    assert Task.objects.filter(pk=done.pk).exists() and all(exists(n) for n in names)


def test_operator_revocation_is_audited(staff_client, staff_user, user_a):
    session = TokenSession.objects.create(user=user_a, session_key="k" * 32)
    staff_client.post("/admin/accounts/tokensession/", {"action": "revoke_sessions",
                                                        "_selected_action": [str(session.pk)]}, **PROXY)
    [row] = _rows("admin.session.revoke")
    assert (row.user_id, row.details["target"], row.ip_address) == (staff_user.pk, user_a.email, "203.0.113.50")


def test_deleting_a_user_in_the_admin_purges_their_files(staff_client, staff_user, user_a, make_task):
    tasks = [make_task(user_a), make_task(user_a, status="failed")]
    names = [n for t in tasks for n in file_names(t)]
    assert names and all(exists(n) for n in names)
    confirm = staff_client.get(f"/admin/accounts/user/{user_a.pk}/delete/")
    assert confirm.status_code == 200 and "Are you sure" in confirm.content.decode()
    staff_client.post(f"/admin/accounts/user/{user_a.pk}/delete/", {"post": "yes"}, **PROXY)
    assert not User.objects.filter(pk=user_a.pk).exists() and not Task.objects.filter(user_id=user_a.pk).exists()
    assert not any(exists(n) for n in names)
    [row] = _rows("maintenance.purge_user")
    assert row.user_email == user_a.email and row.details["by"] == staff_user.email
    assert row.details["tasks"] == 2 and row.ip_address == "203.0.113.50"


def test_bulk_delete_of_users_in_the_admin_purges_too(staff_client, user_a, user_b, make_task):
    names = file_names(make_task(user_a)) + file_names(make_task(user_b))
    staff_client.post("/admin/accounts/user/", {"action": "delete_selected", "post": "yes",
                                                "_selected_action": [str(user_a.pk), str(user_b.pk)]})
    assert not User.objects.filter(pk__in=[user_a.pk, user_b.pk]).exists()
    assert not any(exists(n) for n in names)
    assert len(_rows("maintenance.purge_user")) == 2


def test_only_the_listed_actions_are_written(user_a, make_task):
    """AuditAction is the closed list: a free string is refused and leaves no row; the values are the stored ones."""
    task = make_task(user_a)
    with pytest.raises(ValueError):
        audit(actor=Actor(user=user_a), action="task.deleted", obj=task)
    assert not AuditLog.objects.exists()
    row = audit(actor=Actor(user=user_a, ip="192.0.2.7", via="api"), action=AuditAction.TASK_DELETE, obj=task)
    row.refresh_from_db()
    assert (row.action, row.user_email, row.ip_address, row.object_id, row.details) == \
        ("task.delete", user_a.email, "192.0.2.7", str(task.pk), {"via": "api"})


def test_moving_the_audit_log_to_core_changes_nothing_in_the_database():
    """The model moved to core with its choices: state-only migrations, no SQL, so the table stays as it is."""
    from io import StringIO

    from django.core.management import call_command

    for app, migration in (("core", "0001"), ("tasks", "0021")):  # tasks 0021 is squashed with 0022's indexes
        out = StringIO()
        call_command("sqlmigrate", app, migration, stdout=out)
        statements = [line for line in out.getvalue().splitlines() if line.strip() and not line.startswith("--")
                      and not ("CREATE INDEX" in line and "tasks" in line and "audit" not in line)]
        assert statements in ([], ["BEGIN;", "COMMIT;"]), (app, statements)


def test_an_operators_task_actions_are_named_as_such(user_a, staff_user, make_task):
    """The service picks the name from the actor: an operator's delete is admin.task.delete with the owner."""
    mine, theirs = make_task(user_a), make_task(user_a)
    services.task_delete(task=mine, actor=Actor(user=user_a))
    services.task_delete(task=theirs, actor=Actor(user=staff_user, via="admin"))
    own, operator = _rows("task.delete"), _rows("admin.task.delete")
    assert [(r.user_id, r.details) for r in own] == [(user_a.pk, {"filename": mine.filename})]
    assert [(r.user_id, r.details) for r in operator] == [
        (staff_user.pk, {"filename": theirs.filename, "owner": user_a.email})]
