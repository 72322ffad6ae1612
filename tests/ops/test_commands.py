"""Maintenance commands: dry run changes nothing, real run removes exactly what it promises, twice is harmless."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import TokenSession, User
from core.models import AuditLog
from tasks.models import Task, TaskFile
from tests.ops.conftest import exists, file_names, signed_in

pytestmark = pytest.mark.django_db(transaction=True)  # files go after commit: let commits happen


def run(name, *args):
    out, err = StringIO(), StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- cleanup_tasks ------------------------------------------------------------
def test_cleanup_tasks_dry_run_then_real_run(file_storage, settings, user_a, make_task):
    settings.TASK_RETENTION_DAYS = 30
    old = make_task(user_a, age_days=40)
    old_failed = make_task(user_a, status="failed", age_days=31)
    recent = make_task(user_a, age_days=5)
    stuck = make_task(user_a, status="processing", age_days=60)  # the reaper's, not ours
    old_files = file_names(old) + file_names(old_failed)
    assert len(old_files) == 4 and all(exists(n) for n in old_files)

    out, _ = run("cleanup_tasks", "--dry-run")
    assert out.strip() == "DRY RUN cleanup_tasks: would delete 2 tasks older than 30 days, 4 files (33 B), 0 queue rows"
    assert Task.objects.count() == 4 and all(exists(n) for n in old_files)

    out, _ = run("cleanup_tasks", "--batch-size", "1")
    assert out.strip().startswith("cleanup_tasks: deleted 2 tasks older than 30 days, 4 files")
    assert set(Task.objects.values_list("pk", flat=True)) == {recent.pk, stuck.pk}
    assert not TaskFile.objects.filter(task_id__in=[old.pk, old_failed.pk]).exists()
    assert not any(exists(n) for n in old_files)
    assert all(exists(n) for n in file_names(recent) + file_names(stuck))
    assert AuditLog.objects.filter(action="maintenance.cleanup_tasks", details__tasks=2).count() == 1

    out, _ = run("cleanup_tasks")  # idempotent
    assert out.strip().startswith("cleanup_tasks: deleted 0 tasks")


def test_cleanup_tasks_days_override_and_bad_input(user_a, make_task):
    make_task(user_a, age_days=3)
    out, _ = run("cleanup_tasks", "--days", "2")
    assert "deleted 1 tasks older than 2 days" in out
    with pytest.raises(CommandError, match="at least 1"):
        run("cleanup_tasks", "--days", "0")


def test_cleanup_tasks_removes_old_finished_queue_rows(user_a):
    from django_tasks_db.models import DBTaskResult

    common = dict(args_kwargs={"args": [], "kwargs": {}}, task_path="tasks.jobs.process_task", backend_name="default",
                  run_after=timezone.now(), queue_name="default")
    old = DBTaskResult.objects.create(status="SUCCESSFUL", finished_at=timezone.now() - timedelta(days=60), **common)
    ready = DBTaskResult.objects.create(status="READY", **common)
    out, _ = run("cleanup_tasks")
    assert "1 queue rows" in out
    assert list(DBTaskResult.objects.values_list("pk", flat=True)) == [ready.pk]
    assert not DBTaskResult.objects.filter(pk=old.pk).exists()


def test_cleanup_tasks_reports_file_errors_with_nonzero_exit(user_a, make_task, monkeypatch):
    make_task(user_a, age_days=40)

    from django.core.files.storage import FileSystemStorage

    def broken_delete(self, name):
        raise PermissionError("read-only volume")

    monkeypatch.setattr(FileSystemStorage, "delete", broken_delete)
    with pytest.raises(CommandError, match=r"cleanup_tasks: deleted 1 tasks .*; 3 error"):
        run("cleanup_tasks")
    assert Task.objects.count() == 0  # rows went; the file is an orphan for storage_report --fix


# --- purge_user -------------------------------------------------------------------
def test_purge_user_removes_tasks_files_sessions_and_keeps_audit(file_storage, client, user_a, user_b, make_task):
    from core.audit import Actor, audit

    mine = [make_task(user_a), make_task(user_a, status="pending")]
    theirs = make_task(user_b)
    key = signed_in(client, user_a).session.session_key
    audit(actor=Actor(user=user_a), action="file.download", obj=mine[0])
    names = [n for t in mine for n in file_names(t)]

    out, _ = run("purge_user", "ALICE@example.com", "--dry-run")
    assert out.strip() == ("DRY RUN purge_user: would delete 2 tasks, 4 files (33 B), 1 sessions of alice@example.com; "
                           "account would be deleted; audit rows kept")
    assert Task.objects.filter(user=user_a).count() == 2 and all(exists(n) for n in names)

    out, _ = run("purge_user", "alice@example.com")
    assert out.strip().startswith("purge_user: deleted 2 tasks, 4 files")
    assert not User.objects.filter(email="alice@example.com").exists()
    assert not Task.objects.filter(pk__in=[t.pk for t in mine]).exists()
    assert not any(exists(n) for n in names)
    assert not TokenSession.objects.filter(session_key=key).exists()
    assert not Session.objects.filter(session_key=key).exists()
    kept = AuditLog.objects.get(action="file.download")
    assert kept.user_email == "alice@example.com" and kept.user_id is None
    assert AuditLog.objects.filter(action="maintenance.purge_user", user_email="alice@example.com").exists()
    assert Task.objects.filter(pk=theirs.pk).exists() and all(exists(n) for n in file_names(theirs))

    out, _ = run("purge_user", "alice@example.com")  # second run: nothing left, says so, succeeds
    assert out.strip() == "purge_user: alice@example.com was already purged; nothing left to delete"
    with pytest.raises(CommandError, match="No user with the email 'nobody@example.com'"):
        run("purge_user", "Nobody@example.com")  # a typo is an error, not a silent success


def test_long_runs_report_progress(user_a, make_task, monkeypatch):
    from core.ops_command import OpsCommand

    monkeypatch.setattr(OpsCommand, "progress_every", 0)
    for _ in range(3):
        make_task(user_a, age_days=40, results=False)
    out, err = run("cleanup_tasks", "--batch-size", "1")
    assert [line.strip() for line in err.splitlines() if "…" in line] == [
        "… 1 tasks, 1 files deleted", "… 2 tasks, 2 files deleted", "… 3 tasks, 3 files deleted"]
    assert len(out.strip().splitlines()) == 1  # the summary stays one line on stdout


def test_purge_user_keep_account_deactivates(file_storage, user_a, make_task):
    make_task(user_a)
    out, _ = run("purge_user", "alice@example.com", "--keep-account")
    assert "account deactivated" in out
    user_a.refresh_from_db()
    assert user_a.is_active is False and not Task.objects.filter(user=user_a).exists()


# --- cleanup_sessions ----------------------------------------------------------------
def _browser_session(user):
    """A live Django session of ``user``, made directly (no sign-in signal, no token row)."""
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store["_auth_user_id"] = str(user.pk)
    store.create()
    return store.session_key


def test_cleanup_sessions(user_a, user_b):
    now = timezone.now()
    live_key = _browser_session(user_a)
    live = TokenSession.objects.create(user=user_a, session_key=live_key, expires_at=now + timedelta(hours=1))
    revoked_key = _browser_session(user_b)
    revoked = TokenSession.objects.create(user=user_b, session_key=revoked_key, revoked_at=now - timedelta(days=2))
    just_revoked = TokenSession.objects.create(user=user_b, session_key="k" * 32, revoked_at=now)  # browser gone too
    Session.objects.create(session_key="e" * 32, session_data="", expire_date=now - timedelta(days=1))

    out, _ = run("cleanup_sessions", "--dry-run")
    assert out.strip() == "DRY RUN cleanup_sessions: would delete 2 token sessions and 1 expired browser sessions"
    assert TokenSession.objects.count() == 3

    out, _ = run("cleanup_sessions")
    assert out.strip() == "cleanup_sessions: deleted 2 token sessions and 1 expired browser sessions"
    assert list(TokenSession.objects.values_list("pk", flat=True)) == [live.pk]
    assert not TokenSession.objects.filter(pk__in=[revoked.pk, just_revoked.pk]).exists()
    assert Session.objects.filter(session_key=live_key).exists()
    assert not Session.objects.filter(session_key="e" * 32).exists()

    out, _ = run("cleanup_sessions")
    assert out.strip() == "cleanup_sessions: deleted 0 token sessions and 0 expired browser sessions"


def test_cleanup_sessions_keeps_recently_revoked_with_live_browser(user_a):
    key = _browser_session(user_a)
    TokenSession.objects.create(user=user_a, session_key=key, revoked_at=timezone.now())
    out, _ = run("cleanup_sessions")
    assert "deleted 0 token sessions" in out
    out, _ = run("cleanup_sessions", "--grace-hours", "0")
    assert "deleted 1 token sessions" in out


# --- storage_report -----------------------------------------------------------------
def test_storage_report_finds_and_fixes_orphans(file_storage, user_a, user_b, make_task):
    kept = make_task(user_a)
    make_task(user_b, status="failed")
    gone_task = make_task(user_a)
    gone_names = file_names(gone_task)
    Task.objects.filter(pk=gone_task.pk).delete()  # rows gone, files left: orphans of no task
    stray = default_storage.save(f"{kept.user_id}/{kept.pk}/leftover.bin", ContentFile(b"12345"))
    missing = kept.files.get(kind="result_txt")
    default_storage.delete(missing.file.name)

    out, _ = run("storage_report", "--grace-minutes", "0")
    assert "alice@example.com" in out and "bob@example.com" in out
    assert f"orphan file (no_row): {stray}" in out
    assert all(f"orphan file (no_task): {n}" in out for n in gone_names)
    assert f"missing file: row {missing.pk} of task {kept.pk}" in out
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("storage_report: 2 users,") and summary.endswith(
        "4 orphan files (34 B) and 1 rows without a file found")

    out, _ = run("storage_report", "--grace-minutes", "0", "--fix", "--dry-run")
    assert "would remove with --fix" in out and exists(stray) and TaskFile.objects.filter(pk=missing.pk).exists()

    out, _ = run("storage_report", "--grace-minutes", "0", "--fix")
    assert out.strip().splitlines()[-1].endswith("4 orphan files (34 B) and 1 rows without a file removed")
    assert not exists(stray) and not any(exists(n) for n in gone_names)
    assert not TaskFile.objects.filter(pk=missing.pk).exists()
    assert all(exists(n) for n in file_names(kept))

    out, _ = run("storage_report", "--grace-minutes", "0", "--fix")
    assert out.strip().splitlines()[-1].endswith("0 orphan files (0 B) and 0 rows without a file removed")


def test_storage_report_grace_protects_fresh_files(file_storage, user_a, make_task):
    task = make_task(user_a)
    fresh = default_storage.save(f"{user_a.pk}/{task.pk}/uploading.png", ContentFile(b"x"))
    out, _ = run("storage_report", "--fix")  # default grace: 60 minutes
    assert "0 orphan files" in out and exists(fresh)
