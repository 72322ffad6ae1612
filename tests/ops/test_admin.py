"""The operators' admin: pages for staff only, actions through the services, no tokens, bounded queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import TokenSession
from core.models import AuditLog
from tasks.models import Task, TaskFile
from tests.ops.conftest import exists, file_names, signed_in

pytestmark = pytest.mark.django_db(transaction=True)


def _post_action(client, url, action, pks, **extra):
    return client.post(url, {"action": action, "_selected_action": [str(pk) for pk in pks], **extra}, follow=True)


@pytest.mark.parametrize("url", ["/admin/", "/admin/tasks/task/", "/admin/tasks/taskfile/", "/admin/core/auditlog/",
                                 "/admin/accounts/user/", "/admin/accounts/tokensession/"])
def test_non_staff_is_refused(client, user_a, url):
    signed_in(client, user_a)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    anonymous = client.__class__().get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")


def test_task_list_filters_and_search(staff_client, user_a, user_b, make_task):
    make_task(user_a, filename="invoice-2024.png")
    make_task(user_b, filename="letter.png", status="failed", engine="tesseract")
    page = staff_client.get("/admin/tasks/task/").content.decode()
    assert "invoice-2024.png" in page and "letter.png" in page and "alice@example.com" in page
    page = staff_client.get("/admin/tasks/task/?q=INVOICE").content.decode()
    assert "invoice-2024.png" in page and "letter.png" not in page
    page = staff_client.get("/admin/tasks/task/?status__exact=failed").content.decode()
    assert "letter.png" in page and "invoice-2024.png" not in page
    page = staff_client.get("/admin/tasks/task/?user=BOB@example.com").content.decode()
    assert "letter.png" in page and "invoice-2024.png" not in page
    page = staff_client.get(f"/admin/tasks/task/?user={user_a.pk}").content.decode()
    assert "invoice-2024.png" in page and "letter.png" not in page
    page = staff_client.get("/admin/tasks/task/?engine=easyocr").content.decode()
    assert "invoice-2024.png" in page and "letter.png" not in page


def test_task_list_queries_do_not_grow_with_rows(staff_client, user_a, user_b, make_task):
    for _ in range(3):
        make_task(user_a, results=False)
    with CaptureQueriesContext(connection) as few:
        assert staff_client.get("/admin/tasks/task/").status_code == 200
    for _ in range(12):
        make_task(user_b, results=False)
    with CaptureQueriesContext(connection) as many:
        assert staff_client.get("/admin/tasks/task/").status_code == 200
    assert len(many) == len(few)
    sql = " ".join(q["sql"] for q in many.captured_queries).upper()
    assert "LIMIT 1001" in sql  # the bounded count
    page = [q["sql"].upper() for q in many.captured_queries if "ORDER BY" in q["sql"].upper()
            and "TOOL_OCR_TASKS" in q["sql"].upper() and "COUNT(" not in q["sql"].upper()]
    assert page and not any(" JOIN " in q for q in page)  # owners come by prefetch, not a JOIN (MariaDB plan)


@pytest.mark.parametrize("url", ["/admin/tasks/taskfile/", "/admin/core/auditlog/", "/admin/accounts/user/",
                                 "/admin/accounts/tokensession/"])
def test_other_lists_have_constant_queries(staff_client, user_a, user_b, make_task, url):
    from core.audit import Actor, audit

    def add(user):
        task = make_task(user)
        audit(actor=Actor(user=user), action="file.download", obj=task)
        TokenSession.objects.create(user=user, session_key=f"s{task.pk.hex}")

    add(user_a)
    with CaptureQueriesContext(connection) as few:
        assert staff_client.get(url).status_code == 200
    for _ in range(5):
        add(user_b)
    with CaptureQueriesContext(connection) as many:
        assert staff_client.get(url).status_code == 200
    assert len(many) == len(few)


def test_capped_count_says_more_than(staff_client, user_a, make_task, monkeypatch):
    from core.admin_tools import LargeTablePaginator

    monkeypatch.setattr(LargeTablePaginator, "cap", 2)
    for _ in range(4):
        make_task(user_a, results=False)
    page = staff_client.get("/admin/tasks/task/").content.decode()
    assert "more than" in page and "not counted exactly" in page


def test_a_deep_page_reads_its_ids_first_and_shows_the_same_rows(staff_client, user_a, make_task, monkeypatch):
    from core.admin_tools import LargeTablePaginator
    from tasks.admin import TaskAdmin

    monkeypatch.setattr(TaskAdmin, "list_per_page", 2)
    tasks = [make_task(user_a, filename=f"deep-{i}.png", age_days=i, results=False) for i in range(7)]

    def shown(deep):
        monkeypatch.setattr(LargeTablePaginator, "deep", deep)
        with CaptureQueriesContext(connection) as queries:
            page = staff_client.get("/admin/tasks/task/?p=2").content.decode()
        return sorted((page.index(t.filename), t.filename) for t in tasks if t.filename in page), queries

    plain, _ = shown(10_000)
    by_ids, queries = shown(2)
    assert [name for _at, name in plain] == [name for _at, name in by_ids] == ["deep-2.png", "deep-3.png"]
    assert any("LIMIT 2 OFFSET 2" in q["sql"].upper() and "FILENAME" not in q["sql"].upper().split(" FROM ")[0]
               for q in queries.captured_queries)  # the ids alone, then the rows


def test_the_people_list_shows_each_persons_stored_bytes(staff_client, user_a, user_b, make_task):
    from tasks.models import TaskFile, UserStorage

    make_task(user_a)  # an original and three results
    make_task(user_b, status="failed")  # an original only
    for user in (user_a, user_b):
        stored = sum(TaskFile.objects.filter(task__user=user).values_list("size_bytes", flat=True))
        assert UserStorage.objects.get(user=user).bytes == stored > 0
    page = staff_client.get("/admin/accounts/user/").content.decode()
    from django.template.defaultfilters import filesizeformat

    for user in (user_a, user_b):
        row = page[page.index(user.email):]
        row = row[:row.index("</tr>")]
        assert str(filesizeformat(UserStorage.objects.get(user=user).bytes)) in row


def test_retry_and_cancel_actions(staff_client, user_a, make_task, django_capture_on_commit_callbacks):
    failed = make_task(user_a, status="failed")
    pending = make_task(user_a, status="pending")
    done = make_task(user_a)
    response = _post_action(staff_client, "/admin/tasks/task/", "retry_tasks", [failed.pk, done.pk])
    text = response.content.decode()
    assert "1 task(s) retried." in text and "1 skipped" in text
    failed.refresh_from_db()
    done.refresh_from_db()
    assert failed.status == "pending" and failed.retry_count == 1 and done.status == "completed"

    response = _post_action(staff_client, "/admin/tasks/task/", "cancel_tasks", [pending.pk, done.pk])
    assert "1 task(s) cancelled." in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == "cancelled"
    actions = set(AuditLog.objects.values_list("action", flat=True))
    assert {"admin.task.retry", "admin.task.cancel"} <= actions
    row = AuditLog.objects.get(action="admin.task.retry")
    assert row.user_email == "operator@example.com" and row.object_id == str(failed.pk)


def test_delete_action_removes_rows_and_files(staff_client, user_a, make_task):
    tasks = [make_task(user_a), make_task(user_a, status="failed")]
    names = [n for t in tasks for n in file_names(t)]
    keep = make_task(user_a)
    confirm = _post_action(staff_client, "/admin/tasks/task/", "delete_selected", [t.pk for t in tasks])
    assert "Are you sure" in confirm.content.decode()
    assert all(exists(n) for n in names)  # nothing happens before the confirmation
    _post_action(staff_client, "/admin/tasks/task/", "delete_selected", [t.pk for t in tasks], post="yes")
    assert list(Task.objects.values_list("pk", flat=True)) == [keep.pk]
    assert not any(exists(n) for n in names) and all(exists(n) for n in file_names(keep))
    assert AuditLog.objects.filter(action="admin.task.delete").count() == 2


def test_task_files_and_audit_are_read_only(staff_client, user_a, make_task):
    from core.audit import Actor, audit

    task = make_task(user_a)
    tf = task.files.first()
    row = audit(actor=Actor(user=user_a), action="file.download", obj=task)
    assert staff_client.get("/admin/tasks/taskfile/").status_code == 200
    assert staff_client.get(f"/admin/tasks/taskfile/{tf.pk}/change/").status_code == 200  # view only
    assert staff_client.get("/admin/tasks/taskfile/add/").status_code == 403
    assert staff_client.post(f"/admin/tasks/taskfile/{tf.pk}/delete/", {"post": "yes"}).status_code == 403
    assert staff_client.get("/admin/core/auditlog/add/").status_code == 403
    assert staff_client.post(f"/admin/core/auditlog/{row.pk}/change/", {"action": "x"}).status_code == 403
    assert staff_client.post(f"/admin/core/auditlog/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert TaskFile.objects.filter(pk=tf.pk).exists() and AuditLog.objects.get(pk=row.pk).action == "file.download"
    old_link = staff_client.get("/admin/tasks/auditlog/?action=file.download")  # the page's address before core
    assert (old_link.status_code, old_link["Location"]) == (302, "/admin/core/auditlog/?action=file.download")
    page = staff_client.get("/admin/core/auditlog/?action=file.download&user=alice@example.com").content.decode()
    assert "file.download" in page and str(task.pk) in page


def test_user_list_shows_usage_and_deactivate_signs_out(staff_client, client, user_a, make_task):
    from django.test import Client

    make_task(user_a)  # 29 bytes
    make_task(user_a, status="pending")  # 4 bytes, active
    browser = signed_in(Client(), user_a)
    assert browser.get("/").status_code == 200
    page = staff_client.get("/admin/accounts/user/?q=alice").content.decode()
    assert "alice@example.com" in page and "33\xa0bytes" in page
    response = _post_action(staff_client, "/admin/accounts/user/", "deactivate_users", [user_a.pk])
    assert "1 user(s) deactivated, 1 session(s) revoked." in response.content.decode()
    user_a.refresh_from_db()
    assert user_a.is_active is False
    assert TokenSession.objects.get(user=user_a).revoked_at is not None
    assert browser.get("/").status_code == 302  # signed out at the next request


def test_token_sessions_show_no_secret_and_revoke(staff_client, user_a):
    from django.test import Client

    browser = signed_in(Client(), user_a)
    session = TokenSession.objects.get(user=user_a)
    TokenSession.objects.filter(pk=session.pk).update(access_token_enc="gAAAAA-ciphertext-of-the-access-token",
                                                      refresh_token_enc="gAAAAA-ciphertext-of-refresh",
                                                      expires_at=timezone.now() + timedelta(hours=1))
    for url in ("/admin/accounts/tokensession/", f"/admin/accounts/tokensession/{session.pk}/change/"):
        page = staff_client.get(url).content.decode()
        assert "alice@example.com" in page
        assert "ciphertext" not in page and session.session_key not in page and "token_enc" not in page
    response = _post_action(staff_client, "/admin/accounts/tokensession/", "revoke_sessions", [session.pk])
    assert "1 session(s) revoked." in response.content.decode()
    session.refresh_from_db()
    assert session.revoked_at is not None
    assert browser.get("/").status_code == 302
    again = _post_action(staff_client, "/admin/accounts/tokensession/", "revoke_sessions", [session.pk])
    assert "0 session(s) revoked." in again.content.decode()
    assert AuditLog.objects.filter(action="admin.session.revoke").count() == 1


def test_filtered_list_with_few_matches_sorts_after_filtering(staff_client, user_a):
    """Few matches (over one page): ORDER BY written so the database filters first, no walk of the date index."""
    import re

    from tasks.admin import TaskAdmin

    Task.objects.bulk_create([Task(user=user_a, filename=f"t{i}.png", engine="tesseract", status="completed")
                              for i in range(105)] + [Task(user=user_a, filename="e.png", status="completed")])

    def page_queries(url):
        with CaptureQueriesContext(connection) as queries:
            assert staff_client.get(url).status_code == 200
        return [q["sql"].upper() for q in queries.captured_queries
                if re.search(rf"LIMIT {TaskAdmin.list_per_page}\b", q["sql"].upper()) and "COUNT(" not in q["sql"].upper()
                and "'PROCESSING'" not in q["sql"].upper()]  # not the header badge's own LIMIT 50

    filtered = page_queries("/admin/tasks/task/?engine=tesseract")
    assert filtered and all("ORDER BY COALESCE(" in sql for sql in filtered)
    plain = page_queries("/admin/tasks/task/?p=1")
    assert plain and not any("COALESCE(" in sql for sql in plain)


def test_change_pages_open_and_show_no_document_text(staff_client, user_a, make_task):
    task = make_task(user_a)  # its result.txt says "hello world"
    for url in (f"/admin/tasks/task/{task.pk}/change/", f"/admin/accounts/user/{user_a.pk}/change/"):
        response = staff_client.get(url)
        assert response.status_code == 200
        assert "hello world" not in response.content.decode()
    assert staff_client.get("/admin/tasks/task/add/").status_code == 403
    assert staff_client.get("/admin/accounts/user/add/").status_code == 403


def test_oldest_first_keeps_one_direction_for_the_index(staff_client, user_a, make_task):
    make_task(user_a, results=False)
    with CaptureQueriesContext(connection) as queries:
        assert staff_client.get("/admin/tasks/task/?o=7").status_code == 200  # created_at ascending
    page = [q["sql"].upper() for q in queries.captured_queries
            if "ORDER BY" in q["sql"].upper() and "TOOL_OCR_TASKS" in q["sql"].upper()]
    assert page and all('"ID" DESC' not in q and "`ID` DESC" not in q for q in page)
    assert any("CREATED_AT\" ASC" in q or "CREATED_AT` ASC" in q for q in page)
