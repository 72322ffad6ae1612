"""What a process keeps between requests (history rows, {% url %}, {% querystring %} and {% static %} answers,
verified session texts, the widgets of the run-again form, the page frames' digests) never carries one
person's page or one script prefix's links into another request: two people, and a site reached both at /
and under /ocr/, alternate in one process with nothing cleared in between.

tests/tool_ocr/test_script_prefix.py changes STATIC_URL around each request, and every change of a setting
empties these caches (setting_changed): here the settings stay put, as in a running process.
"""

import re
from html import escape

import pytest
from django.core.handlers.wsgi import get_script_name
from django.test import Client
from django.test.client import ClientHandler
from django.urls import set_script_prefix

from core.models import AuditAction, AuditLog
from tasks.models import TaskFile
from tests.tasks.history_helpers import add_file, make_task, signed_in
from tests.tool_ocr.test_script_prefix import links

pytestmark = pytest.mark.django_db

PREFIX = "/ocr"


class _PrefixOnly(ClientHandler):
    """WSGIHandler's first line (the script prefix from the environ), no setting changed around the request."""

    def __call__(self, environ):
        set_script_prefix(get_script_name(environ))
        try:
            return super().__call__(environ)
        finally:
            set_script_prefix("/")


def _client(prefix: str = "") -> Client:
    client = Client(SCRIPT_NAME=prefix) if prefix else Client()
    client.handler = _PrefixOnly(enforce_csrf_checks=False)
    return client


def _tasks(user, tag):
    done = make_task(user, filename=f"{tag}-done.png", status="completed", with_files=True)
    add_file(done, TaskFile.Kind.RESULT_PDF, b"%PDF-1.4", "result.pdf", f"{tag}-done.ocr.pdf")
    failed = make_task(user, filename=f"{tag}-failed.png", status="failed")
    running = make_task(user, filename=f"{tag}-running.png", status="processing", page_count=3, pages_done=1)
    return done, failed, running


def _paths(done, failed, running):
    return [("/history/", None), ("/history/?status=failed&page_size=10", None), ("/history/", {"HX-Request": "true"}),
            (f"/tasks/{done.id}/", None), (f"/tasks/{failed.id}/", None), (f"/tasks/{running.id}/", {"HX-Request": "true"}),
            (f"/history/tasks/{running.id}/row/?status=processing", {"HX-Request": "true"}),
            (f"/history/tasks/{done.id}/", {"HX-Request": "true"}), ("/nav/badge/", {"HX-Request": "true"})]


def test_one_process_serves_the_site_at_the_root_and_under_a_prefix_without_mixing_their_links(user_a):
    tasks = _tasks(user_a, "mine")
    plain, prefixed = signed_in(_client(), user_a), signed_in(_client(PREFIX), user_a)
    for round_ in range(3):  # the first round fills the caches, the next ones are answered from them
        for path, headers in _paths(*tasks):
            for client, prefix in ((plain, ""), (prefixed, PREFIX), (plain, "")):
                response = client.get(path, headers=headers)
                assert response.status_code == 200, (round_, prefix, path)
                found = [url for url in links(response.content.decode()) if not url.startswith("/static/")]
                assert found, (prefix, path)
                wrong = [url for url in found if (prefix and not url.startswith(PREFIX + "/"))
                         or (not prefix and url.startswith(PREFIX + "/"))]
                assert not wrong, f"round {round_}, {prefix or 'root'} {path}: links of the other mount {wrong}"
    api = {prefix: {f["url"] for f in client.get(f"/api/v1/tasks/{tasks[0].id}").json()["files"]}
           for client, prefix in ((plain, ""), (prefixed, PREFIX))}
    assert api[PREFIX] == {PREFIX + url for url in api[""]} and all(url.startswith("/api/") for url in api[""])


def test_two_people_in_one_process_each_see_only_their_own(make_user):
    alice = make_user("alice.c@example.com", "Alice <Cache>", job_title="Archivist")
    bob = make_user("bob.c@example.com", "Bob &Cache", office_location="Room 2")
    mine = {alice.pk: _tasks(alice, "alice"), bob.pk: _tasks(bob, "bob")}
    mine[bob.pk][0].filename = "alice-done.png"  # the same name, status and dates as one of Alice's rows
    mine[bob.pk][0].created_at = mine[alice.pk][0].created_at
    mine[bob.pk][0].save()
    clients = {alice.pk: signed_in(_client(), alice), bob.pk: signed_in(_client(), bob)}
    people = {alice.pk: (alice, bob), bob.pk: (bob, alice)}
    for _round in range(3):
        for pk, client in list(clients.items()) * 2:
            me, other = people[pk]
            for path, headers in _paths(*mine[pk]):
                html = client.get(path, headers=headers).content.decode()
                assert set(re.findall(r'data-task-id="([^"]+)"', html)) <= {str(t.id) for t in mine[pk]}, path
                assert not any(str(t.id) in html for t in mine[other.pk]), (me.email, path)
                assert other.email not in html and escape(other.display_name) not in html, (me.email, path)
                assert ("Room 2" in html) == (me == bob and headers is None), (me.email, path)
                assert ("Archivist" in html) == (me == alice and headers is None), (me.email, path)
                if headers is None:
                    assert me.email in html and 'data-testid="user-name"' in html
            # Another person's task and its files: 404, as before, with a denied audit row for the download.
            theirs = mine[other.pk][0]
            assert client.get(f"/tasks/{theirs.id}/").status_code == 404
            assert client.get(f"/history/tasks/{theirs.id}/", headers={"HX-Request": "true"}).status_code == 404
            before = AuditLog.objects.filter(user=me, action=AuditAction.FILE_DOWNLOAD,
                                             outcome=AuditLog.Outcome.DENIED).count()
            assert client.get(f"/api/v1/tasks/{theirs.id}/result.txt").status_code == 404
            after = AuditLog.objects.filter(user=me, action=AuditAction.FILE_DOWNLOAD, outcome=AuditLog.Outcome.DENIED)
            assert after.count() == before + 1 or before >= 10  # rate-limited past ten a minute
            own = client.get(f"/api/v1/tasks/{mine[pk][0].id}/result.txt")
            assert own.status_code == 200 and own["Content-Disposition"].startswith("attachment")
