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


def _variants():
    """Rows of every shape the template has: each status, progress, a snippet, result links, text to escape."""
    import datetime
    import uuid

    from django.utils.safestring import mark_safe

    from tasks.files.file_links import RESULT_JSON, RESULT_TXT, file_url

    names = ["scan.png", 'a<b>&"c\'d “e”.pdf', "{{ x }} %}.tif"]
    for index, status in enumerate([s for s, _ in Task.Status.choices] + ["unknown"]):
        for name in names:
            for snippet in ("", mark_safe('te<mark>x</mark>t &amp; <script>')):
                task_id = uuid.UUID(int=index * 1000 + len(name) + len(snippet))
                links = () if status != "completed" else tuple(
                    (k.short_label, file_url(task_id, k.kind), f"{name}.{k.kind}") for k in (RESULT_TXT, RESULT_JSON))
                task = Task(id=task_id, filename=name, status=status, engine="tesseract<", page_count=index + 3,
                            pages_done=index, processing_seconds=None if index % 2 else 3723.5 + index,
                            created_at=datetime.datetime(2026, 3, 12, 14, 5, 7, 123456, tzinfo=datetime.UTC))
                task.snippet_html = snippet
                values = history_rows.row_values(task, files=[])
                values["links"] = links
                yield values


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_a_row_drawn_without_the_engine_is_the_engines_row_byte_for_byte(settings, zone):
    settings.TIME_ZONE = zone
    template = get_template(history_rows.ROW_TEMPLATE)
    assert history_rows._source_digest(template.template.source) == history_rows._DIRECT_FOR, (
        "history/_row.html changed: write it out again in history_rows._draw_direct (and its digest)")
    count = 0
    for values in _variants():
        for suffix in ("", "?q=a%26b&status=failed"):
            engine = template.render({"task": values, "view_suffix": suffix})
            assert history_rows._draw_direct(values, suffix) == engine
            count += 1
    assert count == 6 * 3 * 2 * 2


def test_an_edited_template_is_drawn_by_the_engine(monkeypatch):
    monkeypatch.setattr(history_rows, "_DIRECT_FOR", "another template")
    monkeypatch.setattr(history_rows, "_draw_direct", lambda *a: pytest.fail("drawn without the engine"))
    history_rows._draw.cache_clear()
    values = next(_variants())
    assert 'data-testid="task-row"' in row_html(values)
    history_rows._draw.cache_clear()


def test_a_row_drawn_without_the_engine_follows_the_script_prefix():
    """The row's URLs come from one reversal per URLconf and script prefix (history_rows._task_url)."""
    from django.urls import get_script_prefix, set_script_prefix

    template = get_template(history_rows.ROW_TEMPLATE)
    before = get_script_prefix()
    try:
        for prefix in ("/", "/tools/ocr/"):
            set_script_prefix(prefix)
            for values in list(_variants())[:6]:
                drawn = history_rows._draw_direct(values, "?page=2")
                assert drawn == template.render({"task": values, "view_suffix": "?page=2"})
                assert f'hx-get="{prefix}history/tasks/{values["id"]}/?page=2"' in drawn
    finally:
        set_script_prefix(before)
