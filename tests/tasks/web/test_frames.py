"""The history list and the task page drawn without the template engine (tasks/web/frames.py) are the engine's
pages byte for byte: every state below is asked for twice, drawn directly and by the engine, and the two
answers compared (body, status, cookies set, Vary), with hostile text in everything a person controls."""

import hashlib
import json
import re
import shutil
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.template.loader import get_template
from django.test import override_settings
from django.utils import timezone

from tasks.models import Task, TaskFile
from tasks.web import frames, history_views
from tests.tasks.history_helpers import add_file, make_task, signed_in

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}
RESTORE = {**HX, "HX-History-Restore-Request": "true"}
HOSTILE = "<script>alert(\"x&y\")</script> 'q' “curly” Ünï 中文字 {{ x }} &amp; \\"
_TOKEN = re.compile(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+')


def _no_engine(*args, **kwargs):
    raise AssertionError("drawn by the engine, not directly")


def _answer(client, monkeypatch, url, headers, *, direct: bool):
    with monkeypatch.context() as patch:
        if direct:
            patch.setattr(frames, "engine_render", _no_engine)
        else:
            patch.setattr(frames, "draw", lambda *args: None)
        response = client.get(url, headers=headers)
    return (response.status_code, _TOKEN.sub(r"\1T", response.content.decode()), sorted(response.cookies),
            response.get("Vary"), response["Content-Type"])


def assert_same(client, monkeypatch, url, headers=None, before=None):
    """``url`` drawn directly equals the engine's drawing; ``before`` sets up what one look consumes."""
    answers = []
    for direct in (True, False):
        if before:
            before()
        answers.append(_answer(client, monkeypatch, url, headers or {}, direct=direct))
    direct, engine = answers
    assert direct[0] == 200, (url, direct[0])
    if direct != engine:
        first = next((i for i, (a, b) in enumerate(zip(direct[1], engine[1])) if a != b), None)
        where = f"at {first}: {direct[1][max(0, (first or 0) - 80):(first or 0) + 80]!r}\n vs {engine[1][max(0, (first or 0) - 80):(first or 0) + 80]!r}"
        pytest.fail(f"{url} {headers or ''}: drawn directly != the engine's {where}")
    return direct[1]


@pytest.fixture
def person(make_user):
    return make_user(f"o'neil+<x>&{chr(0x4e2d)}@example.com", HOSTILE, job_title=f"Lead {HOSTILE}",
                     office_location=f"Room “7” & {HOSTILE}", auth_source="local")


def _history(user, n=23):
    now = timezone.now().replace(microsecond=0)
    statuses = ("completed", "failed", "pending", "processing", "cancelled", "completed")
    for i in range(n):
        make_task(user, filename=f"scan-{i:02d}.png" if i % 4 else f"{HOSTILE}-{i}.pdf",
                  status=statuses[i % len(statuses)], created_at=now - timedelta(days=i, hours=i),
                  page_count=1 + i % 3, processing_seconds=None if i % 5 == 0 else 2.5 * i)


HISTORY_QUERIES = (
    "", "?page=2", "?page=3", "?page=99", "?page_size=10", "?page_size=10&page=2", "?page_size=10&page=3",
    "?page=abc&page_size=7", "?status=completed", "?status=failed&status=cancelled", "?status=pending&status=processing",
    "?ordering=filename", "?ordering=-processing_seconds", "?ordering=status&page=2&page_size=10",
    "?ordering=nonsense", "?q=scan", "?q=scan-1", "?q=" + quote(HOSTILE), "?q=nothing-like-this",
    f"?created_from={date.today() - timedelta(days=5)}",
    f"?created_to={date.today() - timedelta(days=3)}&ordering=created_at",
    f"?created_from={date.today() - timedelta(days=30)}&created_to={date.today()}&status=completed&q=scan",
    "?created_from=not-a-date", "?created_from=bad&created_to=worse&status=nope",
    f"?created_from={date.today()}&created_to={date.today() - timedelta(days=2)}",
)


@pytest.mark.parametrize("headers", [None, HX, RESTORE], ids=["page", "htmx", "restore"])
def test_the_history_list_in_every_state_is_the_engines(client, monkeypatch, person, headers):
    _history(person)
    page_client = signed_in(client, person)
    monkeypatch.setattr(history_views, "SEARCH_COUNT_LIMIT", 5)  # "1–5 of more than 5" without 100 tasks
    for query in HISTORY_QUERIES:
        assert_same(page_client, monkeypatch, "/history/" + query, headers)


def test_the_history_list_of_nobody_yet_and_of_a_plain_account(client, monkeypatch, make_user):
    plain = make_user("plain@example.com", "")
    page_client = signed_in(client, plain)
    for query in ("", "?q=x", "?status=failed"):
        assert_same(page_client, monkeypatch, "/history/" + query)
        assert_same(page_client, monkeypatch, "/history/" + query, HX)
    make_task(plain, filename="only.png", status="pending")
    html = assert_same(page_client, monkeypatch, "/history/?status=completed")
    assert 'data-testid="history-no-match"' in html and "every 3s" in html  # the badge polls a waiting task


def test_messages_and_action_answers_are_the_engines(client, monkeypatch, person):
    _history(person, n=4)
    page_client = signed_in(client, person)

    def delete_one():
        task = make_task(person, filename=f"gone {HOSTILE}.png", status="failed")
        assert page_client.post(f"/history/tasks/{task.id}/delete/?status=failed").status_code == 302

    html = assert_same(page_client, monkeypatch, "/history/?status=failed", before=delete_one)
    assert "and its files are deleted" not in html and 'class="messages"' in html and "&lt;script&gt;" in html
    assert 'class="messages"' not in page_client.get("/history/").content.decode()  # shown once, both ways
    task = Task.objects.filter(user=person, status="failed").first()
    for direct in (True, False):  # the HTMX answer to an action: the list as it is now, with the notice
        with monkeypatch.context() as patch:
            patch.setattr(frames, *(("engine_render", _no_engine) if direct else ("draw", lambda *a: None)))
            response = page_client.post(f"/history/tasks/{task.id}/retry/?q=scan", headers=HX)
        assert response.status_code == 200 and 'data-testid="notice"' in response.content.decode()


def _result_json(task, pages):
    add_file(task, TaskFile.Kind.RESULT_JSON, json.dumps({"pages": pages}).encode(), "result.json", "r.json")


PAGES = [
    {"number": 1, "width": 600, "height": 400, "engine": "easyocr", "turned": [],
     "text": f"first line\n{HOSTILE}", "lines": [
        {"text": "first line", "confidence": 0.95, "box": [[10, 10], [200, 10], [200, 30], [10, 30]]},
        {"text": HOSTILE, "confidence": 0.4, "box": [[10, 40], [300, 40], [300, 60], [10, 60]]},
        {"text": "far below", "confidence": 0.7, "box": [[10, 300], [90, 300], [90, 320], [10, 320]]},
        {"text": "beside", "confidence": 0.5, "box": [[320, 300], [400, 300], [400, 320], [320, 320]]}]},
    {"number": 2, "read_from": "text_layer", "turned": ["turned a quarter <right>", "straightened & “fixed”"],
     "engine": "tesseract", "text": f"plain {HOSTILE}", "lines": []},
    {"number": 3, "width": 500.5, "height": 0, "engine": "", "text": "", "lines": [
        {"text": "no size", "confidence": 1, "box": [[1, 1], [2, 1], [2, 2], [1, 2]]}]},
]


def _tasks_in_every_state(user):
    """One task per state the task page draws differently."""
    tasks = [make_task(user, filename=f"{HOSTILE}.png", status=status) for status in
             ("pending", "cancelled")]
    tasks.append(make_task(user, filename="reading.pdf", status="processing", page_count=3))
    tasks.append(make_task(user, filename="half.pdf", status="processing", page_count=3, pages_done=1,
                           processing_seconds=4.25))
    tasks.append(make_task(user, filename="bad.png", status="failed", error_message=f"Broke: {HOSTILE}",
                           language="deu"))
    plain = make_task(user, filename="plain.png", status="completed", with_files=True, size_bytes=123456789)
    tasks.append(plain)
    pages = make_task(user, filename=f"pages {HOSTILE}.pdf", status="completed", page_count=3,
                      text_layer_pages=[2], with_files=False, language="xx-odd")
    add_file(pages, TaskFile.Kind.RESULT_TXT, b"text", "result.txt", "pages.txt")
    _result_json(pages, PAGES)
    add_file(pages, TaskFile.Kind.RESULT_PDF, b"%PDF-1.4", "result.pdf", f"pages {HOSTILE}.pdf")
    tasks.append(pages)
    no_image = make_task(user, filename="no-image.png", status="completed", page_count=3, retry_count=1)
    _result_json(no_image, PAGES)
    tasks.append(no_image)
    empty = make_task(user, filename="empty.png", status="completed", page_count=0, processing_seconds=0)
    _result_json(empty, [])
    tasks.append(empty)
    again = make_task(user, filename="again.png", status="processing", page_count=2, pages_done=1, retry_count=3,
                      with_files=False)
    add_file(again, TaskFile.Kind.ORIGINAL, b"png", "original.png", "again.png")
    add_file(again, TaskFile.Kind.RESULT_TXT, b"old text", "result.txt", "again.txt")
    tasks.append(again)
    return tasks


def test_the_task_page_in_every_state_is_the_engines(client, monkeypatch, person):
    page_client = signed_in(client, person)
    seen = set()
    for task in _tasks_in_every_state(person):
        for headers in (None, HX):
            html = assert_same(page_client, monkeypatch, f"/tasks/{task.id}/", headers)
            seen.update(marker for marker in ("progress-working", "how-read", "task-error", "earlier-results",
                                               "run-again", "page-lines", "page-turned", "No pages.", "low-conf",
                                               "ocr-plain", "hx-trigger=\"every 2s\"", "Cancel…", "retried 3×")
                        if marker in html)
    assert len(seen) == 13, seen  # each state above was drawn


def test_the_task_page_with_the_history_off_and_a_message(client, monkeypatch, person):
    page_client = signed_in(client, person)
    task = make_task(person, filename=f"{HOSTILE}.png", status="completed", with_files=True)

    def cancel_refused():  # a message with the file name in it, shown on the next page
        assert page_client.post(f"/tasks/{task.id}/cancel/").status_code == 302

    assert 'class="messages"' in assert_same(page_client, monkeypatch, f"/tasks/{task.id}/", before=cancel_refused)
    with override_settings(ENABLE_TASK_HISTORY=False):
        html = assert_same(page_client, monkeypatch, f"/tasks/{task.id}/")
    assert "Task History" not in html and 'id="active-badge" href="/"' in html


def test_each_template_written_out_has_the_digest_it_was_written_from():
    """Fails when a template changes: write the change out in tasks/web/frames.py (the comparisons above show
    where it differs), then put the digest this prints into frames._DIRECT_FOR."""
    for name, digest in frames._DIRECT_FOR.items():
        now = hashlib.sha256(get_template(name).template.source.encode()).hexdigest()
        assert now == digest, f"{name} changed: update tasks/web/frames.py and its _DIRECT_FOR[{name!r}] to {now!r}"


def test_an_edited_template_is_drawn_by_the_engine(client, tmp_path, person):
    """Until it is written out again: the page shows the edit, not the drawing of the old template."""
    task = make_task(person, status="completed")
    shutil.copytree(Path(settings.BASE_DIR) / "templates", tmp_path / "templates")
    status = tmp_path / "templates" / "tasks" / "_task_status.html"
    status.write_text(status.read_text().replace("<p>Status:", "<p>Edited status:"))
    base = tmp_path / "templates" / "base.html"
    base.write_text(base.read_text().replace("Skip to main content", "Skip to the edited content"))
    templates = [{**settings.TEMPLATES[0], "DIRS": [tmp_path / "templates"]}]
    page_client = signed_in(client, person)
    with override_settings(TEMPLATES=templates):
        page = page_client.get(f"/tasks/{task.id}/").content.decode()
        history = page_client.get("/history/").content.decode()
    assert "Edited status:" in page and "Skip to the edited content" in page
    assert "Skip to the edited content" in history
    unchanged = page_client.get(f"/tasks/{task.id}/").content.decode()
    assert "Edited status:" not in unchanged and "Skip to main content" in unchanged


def test_under_a_script_prefix_the_pages_are_the_engines(monkeypatch, person):
    """Mounted at /ocr/ behind a proxy (tests/tool_ocr/test_script_prefix.py's WSGI handler): every URL drawn
    directly carries the prefix as the engine's do."""
    from tests.tool_ocr.test_script_prefix import PREFIX, _client

    _history(person, n=8)
    task = make_task(person, filename="prefixed.png", status="failed")
    page_client = signed_in(_client(PREFIX), person)
    for url in ("/history/", "/history/?page=2&page_size=5&status=failed", f"/tasks/{task.id}/"):
        for headers in (None, HX):
            paths = re.findall(r'(?:href|hx-get|action)="(/[^"]*)"', assert_same(page_client, monkeypatch, url, headers))
            assert paths and all(path.startswith(f"{PREFIX}/") for path in paths), paths
