"""The history pages: full page and HTMX partials, states, modal, row and bulk actions, flags, nav."""

import io
import re
import zipfile
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from core.models import AuditLog
from tasks.models import Task
from tests.tasks.history_helpers import make_task, png_upload, signed_in

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


@pytest.fixture
def page_client(client, user_a):
    return signed_in(client, user_a)


def _row_ids(html: str) -> list[str]:
    return re.findall(r'data-testid="task-row" data-task-id="([0-9a-f-]+)"', html)


def test_full_page_shows_filters_from_the_url_and_the_matching_rows(page_client, user_a, user_b):
    keep = make_task(user_a, filename="invoice-march.png", status="failed")
    make_task(user_a, filename="invoice-april.png", status="completed")
    make_task(user_a, filename="letter.png", status="failed")
    make_task(user_b, filename="invoice-bob.png", status="failed")
    response = page_client.get("/history/?q=invoice&status=failed&ordering=filename&page_size=10")
    html = response.content.decode()
    assert response.status_code == 200 and response["Vary"].count("HX-Request") == 1
    assert _row_ids(html) == [str(keep.id)]
    assert 'value="invoice"' in html  # the search box shows the link's filter
    assert re.search(r'value="failed" checked', html) and not re.search(r'value="completed" checked', html)
    assert '<option value="10" selected>' in html and 'name="ordering" value="filename"' in html
    assert "invoice-bob" not in html
    assert "<html" in html and 'id="history-filters"' in html


def test_htmx_gets_only_the_results_and_the_state_out_of_band(page_client, user_a):
    make_task(user_a, filename="a.png")
    html = page_client.get("/history/?ordering=-filename&page_size=50", headers=HX).content.decode()
    assert html.lstrip().startswith('<div id="history-results"') and "<html" not in html
    assert 'id="history-state" class="state" hx-swap-oob="true"' in html
    assert 'name="ordering" value="-filename"' in html and '<option value="50" selected>' in html


def test_back_button_restore_gets_the_whole_page(page_client, user_a):
    make_task(user_a)
    html = page_client.get("/history/?page=1", headers={**HX, "HX-History-Restore-Request": "true"}).content.decode()
    assert "<html" in html and 'id="history-filters"' in html


def test_sort_links_keep_the_filters_and_toggle_direction(page_client, user_a):
    make_task(user_a, filename="b.png", status="failed")
    html = page_client.get("/history/?status=failed&q=b&ordering=filename&page=1").content.decode()
    sort_name = re.search(r'data-testid="sort-filename"', html)
    assert sort_name
    link = re.search(r'href="(\?[^"]*)"[^>]*data-testid="sort-filename"', html.replace("\n", " "))
    assert link and "ordering=-filename" in link.group(1) and "status=failed" in link.group(1) \
        and "q=b" in link.group(1) and "page=" not in link.group(1)
    assert 'aria-sort="ascending"' in html


def test_pages_and_page_size(page_client, user_a):
    now = timezone.now()
    tasks = [make_task(user_a, filename=f"t{i:02d}.png", created_at=now - timedelta(minutes=i)) for i in range(23)]
    html = page_client.get("/history/?page_size=10&page=2").content.decode()
    assert _row_ids(html) == [str(t.id) for t in tasks[10:20]]
    assert "11–20 of 23" in html
    assert 'data-testid="page-3"' in html and 'data-testid="page-current">2<' in html
    last = page_client.get("/history/?page_size=10&page=99").content.decode()  # clamped to the last page
    assert _row_ids(last) == [str(t.id) for t in tasks[20:]]
    odd = page_client.get("/history/?page_size=7").content.decode()  # not a choice: the default
    assert len(_row_ids(odd)) == 23


@pytest.mark.parametrize("common", [True, False], ids=["common name pieces", "through the name index"])
def test_a_search_counts_to_its_own_smaller_limit(page_client, user_a, monkeypatch, common):
    """A search is counted up to SEARCH_COUNT_LIMIT (the list's own limit stays); one with few matches,
    found through the name index, is counted exactly."""
    monkeypatch.setattr("tasks.web.history_views.SEARCH_COUNT_LIMIT", 12)
    monkeypatch.setattr("tasks.history.names.ESTIMATE_CAP", 1 if common else 1000)
    now = timezone.now()
    tasks = [make_task(user_a, filename=f"contract-{i:02d}.png", created_at=now - timedelta(minutes=i)) for i in range(30)]
    make_task(user_a, filename="letter.png", created_at=now - timedelta(minutes=5, seconds=30))
    html = page_client.get("/history/?q=contract&page_size=10&page=2").content.decode()
    assert _row_ids(html) == [str(t.id) for t in tasks[10:20]] and 'data-testid="page-next"' in html
    assert ("11–20 of more than 12" if common else "11–20 of 30") in html
    last = page_client.get("/history/?q=contract&page_size=10&page=3").content.decode()
    assert _row_ids(last) == [str(t.id) for t in tasks[20:]] and 'data-testid="page-next"' not in last
    assert "of 31" in page_client.get("/history/?page_size=10").content.decode()  # no search: the list's count


def test_counts_stop_at_the_limit_on_big_histories(page_client, user_a, monkeypatch):
    monkeypatch.setattr("tasks.web.history_views.COUNT_LIMIT", 12)
    now = timezone.now()
    tasks = [make_task(user_a, filename=f"t{i:02d}.png", created_at=now - timedelta(minutes=i)) for i in range(30)]
    since = (timezone.localdate() - timedelta(days=400)).isoformat()  # a date range: counted by the rows
    html = page_client.get(f"/history/?created_from={since}&page_size=10&page=2").content.decode()
    assert "11–20 of more than 12" in html and 'data-testid="page-next"' in html
    assert _row_ids(html) == [str(t.id) for t in tasks[10:20]]
    third = page_client.get(f"/history/?created_from={since}&page_size=10&page=3").content.decode()
    assert _row_ids(third) == [str(t.id) for t in tasks[20:]] and 'data-testid="page-next"' not in third
    past = page_client.get(f"/history/?created_from={since}&page_size=10&page=50").content.decode()
    assert _row_ids(past) == [str(t.id) for t in tasks[20:]] and "21–30 of 30" in past  # finds the real last page


def test_unfiltered_and_status_lists_are_counted_exactly_from_the_summary(page_client, user_a, monkeypatch):
    """Past the limit too: history.TaskSummary knows the count, so the pager shows the last page."""
    monkeypatch.setattr("tasks.web.history_views.COUNT_LIMIT", 12)
    now = timezone.now()
    for i in range(30):
        make_task(user_a, filename=f"t{i:02d}.png", status="failed" if i % 2 else "completed",
                  created_at=now - timedelta(minutes=i))
    html = page_client.get("/history/?page_size=10&page=2").content.decode()
    assert "11–20 of 30" in html and 'data-testid="page-3"' in html
    failed = page_client.get("/history/?status=failed&page_size=10").content.decode()
    assert "1–10 of 15" in failed and 'data-testid="page-2"' in failed


def test_empty_and_no_match_states(page_client, user_a):
    empty = page_client.get("/history/").content.decode()
    assert 'data-testid="history-empty"' in empty and 'data-testid="history-table"' not in empty
    make_task(user_a, filename="scan.png")
    none = page_client.get("/history/?q=zzz").content.decode()
    assert 'data-testid="history-no-match"' in none and 'data-testid="clear-filters-empty"' in none
    assert 'data-testid="history-empty"' not in none


def test_bad_filters_are_reported_and_left_out(page_client, user_a):
    make_task(user_a, filename="scan.png", status="completed")
    response = page_client.get("/history/?created_from=31-12-2025&status=lost&q=scan")
    html = response.content.decode()
    assert response.status_code == 200 and 'data-testid="filter-errors"' in html
    assert "created_from" in html and "status" in html
    assert len(_row_ids(html)) == 1  # q still applies


def test_retention_note(page_client, settings):
    settings.TASK_RETENTION_DAYS = 45
    assert "kept for 45 days" in page_client.get("/history/").content.decode()


def test_details_modal(page_client, user_a, user_b):
    task = make_task(user_a, filename="scan.png", status="completed", with_files=True, page_count=2)
    html = page_client.get(f"/history/tasks/{task.id}/?q=scan", headers=HX).content.decode()
    assert 'data-testid="task-detail"' in html and "scan.png" in html and "every 2s" not in html
    assert f"/api/v1/tasks/{task.id}/result.txt" in html and f"/api/v1/tasks/{task.id}/original" in html
    assert f"/history/tasks/{task.id}/delete/?q=scan" in html
    plain = page_client.get(f"/history/tasks/{task.id}/")
    assert plain.status_code == 302 and plain["Location"] == f"/tasks/{task.id}/"
    running = make_task(user_a, status="processing")
    assert "every 2s" in page_client.get(f"/history/tasks/{running.id}/", headers=HX).content.decode()
    other = make_task(user_b)
    assert page_client.get(f"/history/tasks/{other.id}/", headers=HX).status_code == 404


def test_active_rows_poll_their_own_partial(page_client, user_a):
    running = make_task(user_a, status="processing", page_count=4)
    done = make_task(user_a, status="completed")
    html = page_client.get("/history/").content.decode()
    assert f'hx-get="/history/tasks/{running.id}/row/' in html and f"/history/tasks/{done.id}/row/" not in html
    row = page_client.get(f"/history/tasks/{running.id}/row/").content.decode()
    assert row.lstrip().startswith(f'<tr id="task-row-{running.id}"') and "every 3s" in row
    Task.objects.filter(pk=running.pk).update(status="completed")
    assert "every 3s" not in page_client.get(f"/history/tasks/{running.id}/row/").content.decode()


def test_row_delete_keeps_the_view_and_nudges_the_badge(page_client, user_a, django_capture_on_commit_callbacks):
    task = make_task(user_a, filename="gone.png", status="completed", with_files=True)
    other = make_task(user_a, filename="stays.png", status="failed")
    names = [f.file.name for f in task.files.all()]
    with django_capture_on_commit_callbacks(execute=True):
        response = page_client.post(f"/history/tasks/{task.id}/delete/?status=completed&status=failed", headers=HX)
    html = response.content.decode()
    assert response.status_code == 200 and response["HX-Trigger"] == "tasks-changed"
    assert "“gone.png” deleted." in html and _row_ids(html) == [str(other.id)]
    assert not Task.objects.filter(pk=task.pk).exists() and not any(default_storage.exists(n) for n in names)
    assert AuditLog.objects.filter(action="task.delete", object_id=str(task.pk)).exists()


def test_row_actions_in_the_wrong_state_say_why_and_change_nothing(page_client, user_a):
    task = make_task(user_a, status="completed")
    html = page_client.post(f"/history/tasks/{task.id}/retry/", headers=HX).content.decode()
    assert "A completed task cannot be retried." in html
    task.refresh_from_db()
    assert task.status == "completed" and task.retry_count == 0
    assert page_client.post(f"/history/tasks/{task.id}/explode/", headers=HX).status_code == 404
    assert page_client.get(f"/history/tasks/{task.id}/delete/").status_code == 405


def test_row_actions_without_htmx_redirect_back(page_client, user_a):
    task = make_task(user_a, status="pending")
    response = page_client.post(f"/history/tasks/{task.id}/cancel/?q=x")
    assert response.status_code == 302 and response["Location"] == "/history/?q=x"
    task.refresh_from_db()
    assert task.status == "cancelled"


def test_actions_on_another_users_task_are_404_and_change_nothing(page_client, user_b):
    task = make_task(user_b, status="failed")
    for action in ("retry", "cancel", "delete"):
        assert page_client.post(f"/history/tasks/{task.id}/{action}/", headers=HX).status_code == 404
    task.refresh_from_db()
    assert task.status == "failed" and task.retry_count == 0


def test_bulk_retry_cancel_and_delete_only_touch_own_selected_tasks(page_client, user_a, user_b,
                                                                    django_capture_on_commit_callbacks):
    failed = make_task(user_a, filename="f.png", status="failed")
    pending = make_task(user_a, filename="p.png", status="pending")
    done = make_task(user_a, filename="d.png", status="completed")
    theirs = make_task(user_b, filename="theirs.png", status="failed")
    ids = [str(failed.id), str(pending.id), str(done.id), str(theirs.id), "not-a-uuid"]
    html = page_client.post("/history/bulk/", {"action": "retry", "ids": ids}, headers=HX).content.decode()
    assert "1 task queued again." in html and "2 skipped" in html
    html = page_client.post("/history/bulk/", {"action": "cancel", "ids": ids}, headers=HX).content.decode()
    assert "2 tasks cancelled." in html  # the retried one (pending again) and the pending one
    with django_capture_on_commit_callbacks(execute=True):
        html = page_client.post("/history/bulk/", {"action": "delete", "ids": ids}, headers=HX).content.decode()
    assert "3 tasks deleted." in html
    assert list(Task.objects.values_list("id", flat=True)) == [theirs.id]
    theirs.refresh_from_db()
    assert theirs.status == "failed" and theirs.retry_count == 0


def test_bulk_without_a_selection_or_action(page_client, user_a):
    task = make_task(user_a)
    assert "Select at least one" in page_client.post("/history/bulk/", {"action": "delete"}, headers=HX).content.decode()
    assert "Choose an action" in page_client.post("/history/bulk/", {"ids": [str(task.id)]}, headers=HX).content.decode()
    assert Task.objects.filter(pk=task.pk).exists()


def test_bulk_download_zips_the_results_of_the_selected_tasks(page_client, user_a, user_b):
    one = make_task(user_a, filename="one.png", status="completed", with_files=True)
    two = make_task(user_a, filename="two.png", status="completed", with_files=True)
    waiting = make_task(user_a, filename="wait.png", status="pending", with_files=True)
    theirs = make_task(user_b, filename="theirs.png", status="completed", with_files=True)
    response = page_client.post("/history/bulk/", {"action": "download",
                                                   "ids": [str(one.id), str(two.id), str(waiting.id), str(theirs.id)]})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="tool-ocr-results-')
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = sorted(archive.namelist())
    assert names == sorted([f"one.png-{str(one.id)[:8]}/one.txt", f"one.png-{str(one.id)[:8]}/one.json",
                            f"two.png-{str(two.id)[:8]}/two.txt", f"two.png-{str(two.id)[:8]}/two.json"])
    assert archive.read(f"one.png-{str(one.id)[:8]}/one.txt") == b"text of one.png\n"
    assert AuditLog.objects.filter(action="file.download", details__via="zip").count() == 4
    nothing = page_client.post("/history/bulk/", {"action": "download", "ids": [str(waiting.id)]})
    assert nothing.status_code == 302  # no HTMX: back to the list with a message


def test_history_off_removes_pages_but_not_ocr(page_client, user_a, settings):
    settings.ENABLE_TASK_HISTORY = False
    task = make_task(user_a, status="completed", with_files=True)
    for url in ("/history/", "/history/stats/", "/history/export/?format=csv", f"/history/tasks/{task.id}/",
                f"/history/tasks/{task.id}/row/", "/nav/user-stats/"):
        assert page_client.get(url).status_code == 404, url
    assert page_client.post("/history/bulk/", {"action": "delete", "ids": [str(task.id)]}).status_code == 404
    assert page_client.post(f"/history/tasks/{task.id}/delete/").status_code == 404
    assert Task.objects.filter(pk=task.pk).exists()
    home = page_client.get("/")
    assert home.status_code == 200 and "Task History" not in home.content.decode()
    assert page_client.get(f"/tasks/{task.id}/").status_code == 200
    assert page_client.get("/nav/badge/").status_code == 200
    upload = page_client.post("/", {"files": png_upload()})
    assert upload.status_code in (200, 302) and Task.objects.filter(user=user_a).count() == 2


def test_nav_has_the_history_item_and_a_live_badge(page_client, user_a):
    html = page_client.get("/").content.decode()
    assert 'href="/history/">Task History</a>' in html
    assert re.search(r'id="active-badge"[^>]*hx-trigger="tasks-changed from:body"[^>]*>0 running<', html.replace("\n", " "))
    make_task(user_a, status="processing")
    make_task(user_a, status="pending")
    badge = page_client.get("/nav/badge/").content.decode()
    assert ">2 running</a>" in badge and "every 3s" in badge


def test_badge_stops_polling_when_signed_out(client):
    assert client.get("/nav/badge/").status_code == 286


def test_user_menu_brief_stats(page_client, user_a):
    make_task(user_a, status="completed", page_count=3)
    make_task(user_a, status="completed", page_count=4)
    make_task(user_a, status="failed")
    make_task(user_a, status="pending")
    assert 'hx-get="/nav/user-stats/"' in page_client.get("/").content.decode()
    html = page_client.get("/nav/user-stats/").content.decode()
    assert "<strong>4</strong> tasks: 2 completed, 1 failed, 1 active" in html and "7 pages read" in html


def test_pages_need_sign_in(client, user_a):
    for url in ("/history/", "/history/stats/", "/history/export/?format=csv", "/nav/user-stats/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
