"""Search inside the recognised text (issue 10 item 5), on SQLite and MariaDB: the text index (task_terms).

The texts go in the way a worker puts them there (transitions.task_complete), and come out
through the history page and the JSON API a user searches with. Transactional tests, as the
worker's commits are.
"""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from core.audit import SYSTEM
from tasks import selectors, services
from tasks.history import search
from tasks.maintenance.cleanup import Outcome, cleanup_tasks, purge_user, tasks_delete_batch
from tasks.models import Task, TaskFile, TaskTerm, TaskText
from tasks.pipeline import transitions
from tests.tasks.history_helpers import make_task, signed_in

pytestmark = pytest.mark.django_db(transaction=True)

MEMO = "會議記錄：陳美玲負責台北辦公室的搬遷，預算為十二萬元。"
LETTER = ("Dear Mr Okonkwo,\nplease find the quarterly Zephyrine report attached. The café opens at nine.\n\f"
          "Invoice INV-2024-00417 is due on 12.03.2025.")


def completed(user, text, filename="scan.png", created_at=None) -> Task:
    """A task a worker has just finished with ``text`` as its result, through the real service."""
    task = make_task(user, filename=filename, status="processing", worker_id="test-worker",
                     created_at=created_at or timezone.now())
    stem = filename.rsplit(".", 1)[0]
    transitions.task_complete(task=task, results={
        TaskFile.Kind.RESULT_TXT: (f"{stem}.txt", "text/plain; charset=utf-8", ContentFile(text.encode())),
        TaskFile.Kind.RESULT_JSON: (f"{stem}.json", "application/json", ContentFile(b'{"pages": []}')),
    })
    task.refresh_from_db()
    assert task.status == "completed"
    return task


def found(user, q) -> list:
    return [t.pk for t in selectors.task_page(user=user, filters={"q": q}, count_limit=1000).rows]


def api_found(client, q) -> list[dict]:
    response = client.get("/api/v1/tasks", {"q": q})
    assert response.status_code == 200, response.content[:300]
    return response.json()["results"]


# --- terms and queries, no database --------------------------------------------------------------

def test_terms_carry_the_owner_fold_case_and_accents_and_pair_cjk():
    terms = search.terms_for(7, "Café ÜBER 台北市").split()
    tag = "u0000000007"
    assert f"{tag}wcafe" in terms and f"{tag}wuber" in terms
    assert f"{tag}c{ord('台'):05x}{ord('北'):05x}" in terms and f"{tag}c{ord('北'):05x}{ord('市'):05x}" in terms
    assert all(t.startswith(tag) and len(t) >= 12 for t in terms)  # never below InnoDB's minimum, never a stop word


def test_query_needs_every_word_as_a_prefix_and_every_cjk_pair():
    query = search.Query(7, "Zephyr 美玲負")
    assert query.terms == [("u0000000007wzephyr", True), (f"u0000000007c{ord('美'):05x}{ord('玲'):05x}", False),
                           (f"u0000000007c{ord('玲'):05x}{ord('負'):05x}", False)]
    assert query.runs == ["美玲負"] and not search.Query(7, " -- ")


def test_snippet_is_escaped_with_the_hit_marked():
    text = "Intro " * 30 + "<script>alert(1)</script> the Zephyrine & co report " + "tail " * 60
    parts = search.snippet_parts(text, "zephyrine")
    html = str(search.snippet_html(parts))
    assert "<mark>Zephyrine</mark>" in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html and "&amp; co" in html
    assert html.startswith("…") and html.endswith("…")
    assert search.snippet_text(parts).count("Zephyrine") == 1 and "<mark>" not in search.snippet_text(parts)


def test_snippet_finds_accented_and_cjk_hits():
    assert [s for s, hit in search.snippet_parts("Le café est ouvert", "cafe") if hit] == ["café"]
    assert [s for s, hit in search.snippet_parts(MEMO, "台北") if hit] == ["台北"]
    assert search.snippet_parts(MEMO, "Zephyrine") is None


# --- through the database ---------------------------------------------------------------------

def test_a_word_only_in_one_tasks_text_finds_that_task_and_no_other_users(user_a, user_b):
    mine = completed(user_a, LETTER, filename="letter.png")
    completed(user_a, "Nothing to see here.", filename="other.png")
    theirs = completed(user_b, LETTER, filename="letter.png")
    assert found(user_a, "zephyrine") == [mine.pk]
    assert found(user_a, "ZEPHYRINE") == [mine.pk]  # case-insensitive
    assert found(user_b, "Zephyrine") == [theirs.pk]
    assert found(user_a, "okonkwo quarterly") == [mine.pk]  # every word must be there
    assert found(user_a, "okonkwo absent") == []
    assert found(user_a, "nowhere") == []


def test_prefixes_accents_and_numbers(user_a):
    task = completed(user_a, LETTER)
    assert found(user_a, "zeph") == [task.pk]
    assert found(user_a, "quart") == [task.pk]
    assert found(user_a, "cafe") == [task.pk] and found(user_a, "CAFÉ") == [task.pk]
    assert found(user_a, "INV-2024-00417") == [task.pk]
    assert found(user_a, "ephyrine") == []  # words match from their start, not in the middle


def test_a_chinese_substring_finds_its_task(user_a, user_b):
    memo = completed(user_a, MEMO, filename="memo.png")
    apart = completed(user_a, "台北。北辦。", filename="apart.png")  # the pairs of 台北辦, but not side by side
    completed(user_b, MEMO, filename="memo.png")
    assert found(user_a, "美玲") == [memo.pk]
    assert found(user_a, "陳美玲") == [memo.pk]
    assert found(user_a, "台北辦公室") == [memo.pk]
    assert found(user_a, "台北辦") == [memo.pk]
    assert set(found(user_a, "台北")) == {memo.pk, apart.pk}
    assert found(user_a, "北台") == []
    assert found(user_a, "陳美玲 Zephyrine") == []


def test_the_file_name_still_matches_as_before(user_a):
    by_name = completed(user_a, "nothing relevant", filename="Zephyrine-scan.png")
    by_text = completed(user_a, LETTER, filename="letter.png", created_at=timezone.now() - timedelta(days=1))
    pending = make_task(user_a, filename="zephyrine-pending.png", status="pending")  # no text yet
    assert found(user_a, "phyrine") == [pending.pk, by_name.pk]  # a part of a name, as before
    assert found(user_a, "zephyrine") == [pending.pk, by_name.pk, by_text.pk]


def test_api_gives_a_snippet_only_where_the_text_matched(client, user_a):
    text_hit = completed(user_a, "<b>Alpha</b> & the Zephyrine report", filename="a.png")
    name_hit = completed(user_a, "other words", filename="zephyrine.png")
    results = {r["id"]: r for r in api_found(signed_in(client, user_a), "zephyrine")}
    assert set(results) == {str(text_hit.pk), str(name_hit.pk)}
    assert results[str(text_hit.pk)]["snippet"] == "<b>Alpha</b> & the Zephyrine report"  # JSON: plain text
    assert results[str(name_hit.pk)]["snippet"] is None
    assert "snippet" not in client.get("/api/v1/tasks").json()["results"][0]  # only in a searched list


def test_history_page_shows_the_snippet_escaped_with_the_hit_marked(client, user_a, user_b):
    completed(user_a, "<img src=x onerror=alert(1)> Quarterly Zephyrine figures", filename="q.png")
    completed(user_b, "Zephyrine of someone else", filename="theirs.png")
    html = signed_in(client, user_a).get("/history/", {"q": "zephyrine"}).content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt; Quarterly <mark>Zephyrine</mark> figures" in html
    assert "<img src=x" not in html and "someone else" not in html and "theirs.png" not in html
    html = client.get("/history/", {"q": "美玲"}).content.decode()
    assert "<mark>" not in html


def _index_hits(user_id, word) -> int:
    """Rows the text index itself still holds for ``word`` (not through the texts table)."""
    return TaskTerm.objects.filter(user_id=user_id, term=f"w{word}").count()


@pytest.mark.parametrize("how", ["service", "cleanup_tasks", "batch", "purge_user", "account_deleted"])
def test_a_deleted_task_leaves_nothing_in_the_index(user_a, user_b, how):
    task = completed(user_a, LETTER, created_at=timezone.now() - timedelta(days=400))
    keep = completed(user_b, LETTER)
    user_id = user_a.pk
    assert _index_hits(user_id, "zephyrine") == 1
    if how == "service":
        services.task_delete(actor=SYSTEM, task=task)
    elif how == "cleanup_tasks":
        assert cleanup_tasks(days=30).tasks == 1
    elif how == "batch":
        tasks_delete_batch([task.pk], Outcome())
    elif how == "purge_user":
        purge_user(user=user_a, keep_account=True)
    else:
        user_a.delete()  # the admin's user delete
    assert not TaskText.objects.filter(task_id=task.pk).exists()
    assert not TaskTerm.objects.filter(user_id=user_id).exists()
    assert _index_hits(user_id, "zephyrine") == 0 and found(user_b, "zephyrine") == [keep.pk]


def test_a_new_run_replaces_the_indexed_text(user_a):
    task = completed(user_a, "First reading: Zephyrine")
    services.task_retry(actor=SYSTEM, task=task, language="en")
    assert found(user_a, "zephyrine") == [task.pk]  # the earlier results stay until the new run completes
    Task.objects.filter(pk=task.pk).update(status="processing", worker_id="second-run")
    task.refresh_from_db()
    transitions.task_complete(task=task, results={
        TaskFile.Kind.RESULT_TXT: ("scan.txt", "text/plain", ContentFile("Second reading: Xylophone".encode()))})
    assert found(user_a, "zephyrine") == [] and found(user_a, "xylophone") == [task.pk]
    assert TaskText.objects.filter(task=task).count() == 1 and _index_hits(user_a.pk, "zephyrine") == 0
