"""The history rows drawn from row_values and kept per process (tasks/web/history_rows.py): a kept row is
the row as drawn now, whatever changed since (status, progress, files, snippet), and the list's query
string is the request's own."""

import re

import pytest
from django.template.loader import get_template
from django.utils.safestring import mark_safe

from tasks.models import Task, TaskFile
from tasks.web import history_rows
from tasks.web.history_rows import row_html, row_values
from tests.tasks.history_helpers import add_file, make_task, signed_in

pytestmark = pytest.mark.django_db


def _fresh(task, suffix=""):
    """The row drawn without the per-process copies."""
    history_rows._draw.cache_clear()
    return row_html(row_values(task), view_suffix=suffix)


def test_the_row_template_reads_only_what_row_values_gives():
    """A field the template shows must be in the dict (and so in the key), or a change of it would not redraw."""
    source = get_template(history_rows.ROW_TEMPLATE).template.source
    used = set(re.findall(r"\btask\.(\w+)", source))
    task = Task(filename="a.png", status="completed")
    task.snippet_html = ""
    assert used <= set(row_values(task, files=[])), used - set(row_values(task, files=[]))


def test_a_kept_row_follows_every_change_it_shows(user_a):
    task = make_task(user_a, filename="scan.png", status="processing", page_count=4, started_at=None)
    first = row_html(row_values(task))
    assert 'value="0"' in first and "0 / 4" in first and "every 3s" in first
    Task.objects.filter(pk=task.pk).update(pages_done=3)
    task.refresh_from_db()
    again = row_html(row_values(task))
    assert again != first and 'value="75"' in again and "3 / 4" in again and again == _fresh(task)
    Task.objects.filter(pk=task.pk).update(status="completed", pages_done=4, processing_seconds=12.5)
    task.refresh_from_db()
    done = row_html(row_values(task))
    assert "every 3s" not in done and "12.5 s" in done and "Completed" in done and done == _fresh(task)
    add_file(task, TaskFile.Kind.RESULT_TXT, b"text", "result.txt", "scan.txt")
    task = Task.objects.prefetch_related("files").get(pk=task.pk)
    with_file = row_html(row_values(task))
    assert "download-txt" in with_file and "download-txt" not in done and with_file == _fresh(task)
    task.snippet_html = mark_safe("<mark>word</mark>")  # as tasks.history.search.snippet_html gives it
    assert 'data-testid="snippet"><mark>word</mark></div>' in row_html(row_values(task))
    task.snippet_html = "<mark>word</mark>"  # the same text, not marked safe: escaped, not the kept row
    assert 'data-testid="snippet">&lt;mark&gt;word&lt;/mark&gt;</div>' in row_html(row_values(task))


def test_the_query_string_is_each_requests_own_and_escaped(user_a):
    task = make_task(user_a, status="failed")
    plain = row_html(row_values(task), view_suffix="?page=2")
    quoted = row_html(row_values(task), view_suffix="?q=a'b\"<c>&status=failed")
    assert f"/history/tasks/{task.id}/retry/?page=2" in plain
    assert f"/history/tasks/{task.id}/retry/?q=a&#x27;b&quot;&lt;c&gt;&amp;status=failed" in quoted
    assert quoted == _fresh(task, "?q=a'b\"<c>&status=failed")
    assert history_rows._SUFFIX_MARK not in plain + quoted


def test_the_polled_row_shows_the_progress_of_now(client, user_a):
    task = make_task(user_a, status="processing", page_count=2, started_at=None)
    page_client = signed_in(client, user_a)
    assert "0 / 2" in page_client.get(f"/history/tasks/{task.id}/row/").content.decode()
    Task.objects.filter(pk=task.pk).update(pages_done=1)
    html = page_client.get(f"/history/tasks/{task.id}/row/?status=processing").content.decode()
    assert "1 / 2" in html and 'value="50"' in html and "row/?status=processing" in html


def test_another_users_row_is_not_found_even_when_kept(client, user_a, user_b):
    task = make_task(user_a, status="processing")
    assert signed_in(client, user_a).get(f"/history/tasks/{task.id}/row/").status_code == 200
    client.logout()
    assert signed_in(client, user_b).get(f"/history/tasks/{task.id}/row/").status_code == 404
