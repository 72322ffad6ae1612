"""More states of the pages tasks/web/frames.py draws without the template engine, each compared byte for byte
with the engine's (test_frames.assert_same): messages of every level with hostile text and tags (safe ones kept
as they are), a company account without its optional fields, production's DEBUG=False, a query string too long
for {% querystring %}'s cache, and text a person controls that is right-to-left, very long or full of markup."""

import pytest
from django.contrib.messages import constants
from django.contrib.messages.storage import default_storage
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from django.utils.safestring import mark_safe

from tests.tasks.history_helpers import make_task, signed_in
from tests.tasks.web.test_frames import HOSTILE, HX, RESTORE, _tasks_in_every_state, assert_same

pytestmark = pytest.mark.django_db

RTL = "\u202egnp.exe\u202c \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627"
LONG = (("x" * 40 + HOSTILE) * 6)[:240]  # within the columns (255) on MariaDB, which refuses longer


def queue_messages(client, items):
    """Messages waiting for the next page, as a view before a redirect leaves them (cookie, else session)."""
    request = RequestFactory().get("/")
    request.COOKIES = {name: morsel.value for name, morsel in client.cookies.items()}
    request.session = client.session
    storage = default_storage(request)
    for level, text, tags in items:
        storage.add(level, text, extra_tags=tags)
    response = HttpResponse()
    storage.update(response)
    request.session.save()
    client.cookies.update(response.cookies)


MESSAGES = [
    (constants.SUCCESS, f"“{HOSTILE}” is queued for OCR.", ""),
    (constants.ERROR, HOSTILE, 'x" onmouseover="alert(1)'),
    (constants.WARNING, mark_safe('Kept as written: <a href="/history/">history</a> &amp; more'), "<b>"),
    (constants.INFO, RTL, "plain"),
    (constants.DEBUG, "below the level shown: left out both ways", ""),
]


@pytest.mark.parametrize("debug", [True, False], ids=["debug", "production"])
def test_messages_of_every_level_and_tag_are_the_engines_and_shown_once(client, monkeypatch, make_user, debug):
    person = make_user("m@example.com", HOSTILE)
    task = make_task(person, filename=f"{HOSTILE}.png", status="failed")
    page_client = signed_in(client, person)
    with override_settings(DEBUG=debug):
        for url in ("/history/", f"/tasks/{task.id}/"):
            html = assert_same(page_client, monkeypatch, url, before=lambda: queue_messages(page_client, MESSAGES))
            assert html.count('<li class="msg-') == 4 and "below the level" not in html
            assert 'class="msg-x&quot; onmouseover=&quot;alert(1) error"' in html
            assert 'Kept as written: <a href="/history/">history</a> &amp; more' in html
            assert "&lt;script&gt;" in html and "<script>alert" not in html
            assert 'class="messages"' not in page_client.get(url).content.decode()  # consumed by the look above


@pytest.mark.parametrize("headers", [None, HX, RESTORE], ids=["page", "htmx", "restore"])
def test_a_company_account_without_optional_fields_and_hostile_rows(client, monkeypatch, make_user, headers):
    """An external account with no job title, office or display name (the email is shown): the optional lines
    are left out both ways; file names right-to-left, very long, or with markup."""
    person = make_user(f"{'r' * 60}@example.com", " ", auth_source="external")
    person.display_name = ""
    person.save()
    names = (RTL, LONG, "{% csrf_token %}{{ request }}", "a&amp;b", "<!-- -->", "\x7f\u2028")
    for n, name in enumerate(names):
        make_task(person, filename=f"{name}-{n}.png", status=("completed", "failed", "processing")[n % 3],
                  error_message=f"Broke: {name}")
    page_client = signed_in(client, person)
    with override_settings(DEBUG=False):
        for url in ("/history/", "/history/?q=" + "%E4%B8%AD" * 120 + "&page=2&x=%3Cy%3E",
                    "/history/?page=2&page=1&page_size=10&page_size=25&status=failed&status=%22"):
            html = assert_same(page_client, monkeypatch, url, headers)
            if headers is None:
                assert f"{'r' * 60}@example.com" in html and "Local account" not in html
                assert "user-job-title" not in html and "user-office" not in html
        for task in person.tasks.all():
            html = assert_same(page_client, monkeypatch, f"/tasks/{task.id}/", headers)
            assert html.count("Broke: ") == 1  # the error text, escaped like every name above


def test_every_task_state_in_production_mode(client, monkeypatch, make_user):
    person = make_user("p@example.com", RTL, job_title=LONG, office_location=RTL)
    page_client = signed_in(client, person)
    with override_settings(DEBUG=False):
        for task in _tasks_in_every_state(person):
            for headers in (None, HX):
                assert_same(page_client, monkeypatch, f"/tasks/{task.id}/", headers)


@pytest.mark.parametrize("grouping", [True, False], ids=["thousands-grouped", "plain-numbers"])
def test_large_numbers_and_another_time_zone_are_written_as_the_engine_writes_them(client, monkeypatch, make_user,
                                                                                    grouping):
    """USE_THOUSAND_SEPARATOR groups every number the engine localizes (counts, pages, days, progress):
    the direct drawing must not write an int as plain str() then; TIME_ZONE moves every date shown."""
    person = make_user("n@example.com", "Numbers")
    tasks = [make_task(person, filename=f"big-{n}.pdf", status=status, page_count=12345, pages_done=4321,
                       processing_seconds=98765.4321, size_bytes=9_876_543_210, retry_count=1200)
             for n, status in enumerate(("processing", "completed", "failed", "pending"))]
    page_client = signed_in(client, person)
    with override_settings(USE_THOUSAND_SEPARATOR=grouping, TASK_RETENTION_DAYS=1500, TIME_ZONE="Asia/Kolkata"):
        html = assert_same(page_client, monkeypatch, "/history/")
        assert ("1,500 days" in html) == grouping and ("12,345" in html) == grouping
        for task in tasks:
            for headers in (None, HX):
                html = assert_same(page_client, monkeypatch, f"/tasks/{task.id}/", headers)
                assert ("12,345" in html) == grouping


def test_htmx_answers_to_refused_actions_are_the_engines(client, monkeypatch, make_user):
    """An action that changes nothing (a bulk request without an action or without tasks, a retry of a task that
    is not in a state for it) answers the list as it is with its notice: the same bytes both ways, so they can
    be compared (the answers to actions that change something are checked in test_frames)."""
    from tests.tasks.web.test_frames import _TOKEN, _no_engine
    from tasks.web import frames

    person = make_user("act@example.com", HOSTILE)
    for n in range(3):
        make_task(person, filename=f"{HOSTILE}-{n}.png", status=("completed", "pending", "failed")[n])
    waiting = make_task(person, filename=f"waiting {HOSTILE}.png", status="pending")
    page_client = signed_in(client, person)
    posts = [("/history/bulk/?q=%3Cx%3E&page_size=10", {"action": "nonsense"}),
             ("/history/bulk/?status=failed", {"action": "retry"}),
             ("/history/bulk/", {"action": "cancel", "ids": ["not-an-id"]}),
             (f"/history/tasks/{waiting.id}/retry/?status=pending&ordering=filename", {})]
    for url, data in posts:
        answers = []
        for direct in (True, False):
            with monkeypatch.context() as patch:
                patch.setattr(frames, *(("engine_render", _no_engine) if direct else ("draw", lambda *a: None)))
                response = page_client.post(url, data, headers=HX)
            answers.append((response.status_code, response["HX-Trigger"], sorted(response.cookies),
                            _TOKEN.sub(r"\1T", response.content.decode())))
        assert answers[0] == answers[1], url
        assert answers[0][0] == 200 and 'data-testid="notice"' in answers[0][3] and 'class="alert"' in answers[0][3]
