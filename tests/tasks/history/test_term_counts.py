"""task_term_counts (tasks/history/text_index.py): how many of an owner's texts hold a term starting with a
prefix, read from a few rows, equals the slow count over task_terms after inserts, new runs, deletes and a
purge, on SQLite and MariaDB; its back-fill makes the same rows; writers at once on MariaDB lose no count;
and the API's exact count of a one-word search reads it instead of counting task_terms."""

import random
import threading
from collections import Counter
from datetime import date

import pytest
from django.core.files.base import ContentFile
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from core.audit import Actor
from tasks import selectors, services
from tasks.history import search, text_index
from tasks.history.triggers import prefix_end
from tasks.maintenance.cleanup import purge_user
from tasks.models import Task, TaskFile, TaskTerm, TaskTermCount, TaskText
from tasks.pipeline import transitions
from tests.tasks.history_helpers import make_task

pytestmark = pytest.mark.django_db(transaction=True)

# Beginnings shared at every length; letters past ASCII (ß, é, Cyrillic, and 𐐨 above U+FFFF, which sorts after
# U+FFxx by code point, before it in UTF-16); numbers; Chinese, whose pairs are terms too.
VOCABULARY = ["the", "them", "then", "there", "these", "they", "theory", "thermal", "tax", "a", "ab", "abc", "abd",
              "abdomen", "straße", "strasse", "café", "cafe", "cafés", "ｍｅｍｏ", "𐐨eseret", "ꞵeta", "привет",
              "приват", "x1", "x10", "x100", "陳美玲", "台北辦公室", "美玲", "z"]


def _text(rng, n=8) -> str:
    return " ".join(rng.choice(VOCABULARY) for _ in range(n))


def text_task(user, text, **kwargs) -> Task:
    task = make_task(user, filename="doc.png", **kwargs)
    TaskText.objects.create(task=task, user=user, text=text, terms=search.terms_for(user.pk, text))
    return task


def _lcp(a: str, b: str | None) -> int:
    n = 0
    for x, y in zip(a, b or ""):
        if x != y:
            break
        n += 1
    return n


def _expected() -> Counter:
    """The counts as the texts say (Python's sort is code point order, as utf8mb4_bin and SQLite's BINARY)."""
    out = Counter()
    for user_id, terms in TaskText.objects.values_list("user_id", "terms"):
        prev = None
        for term in sorted({t[text_index.TAG:] for t in terms.split() if len(t) > text_index.TAG}):
            out[(user_id, _lcp(term, prev), term)] += 1
            prev = term
    return out


def _table() -> Counter:
    rows = list(TaskTermCount.objects.values_list("user_id", "lcp", "term", "texts"))
    assert all(n >= 0 for *_key, n in rows), [r for r in rows if r[3] < 0]
    return Counter({(u, lcp, term): n for u, lcp, term, n in rows if n})


def _slow(user_id, low, high=None) -> int:
    rows = TaskTerm.objects.filter(user_id=user_id)
    rows = rows.filter(term=low) if high is None else rows.filter(term__gte=low, term__lt=high)
    return rows.values("task_key").distinct().count()


def _check(*users):
    """The table equals the texts' counts, and every prefix of every term of each user counts as task_terms does."""
    assert _table() == _expected()
    for user in users:
        terms = set(TaskTerm.objects.filter(user_id=user.pk).values_list("term", flat=True))
        prefixes = {term[:n] for term in terms for n in range(2, len(term) + 1)}
        for prefix in sorted(prefixes):
            fast = text_index.texts_counted(user.pk, text_index.Group(prefix=prefix))
            assert fast == _slow(user.pk, prefix, prefix_end(prefix)), prefix
        for term in sorted(terms):
            assert text_index.texts_counted(user.pk, text_index.Group(terms=[term])) == _slow(user.pk, term), term
        missing = text_index.Group(prefix="wqqq")
        assert text_index.texts_counted(user.pk, missing) == 0


def test_the_counts_follow_every_write(user_a, user_b):
    rng = random.Random(5)
    mine = [text_task(user_a, _text(rng)) for _ in range(25)]
    theirs = [text_task(user_b, _text(rng)) for _ in range(10)]
    _check(user_a, user_b)
    for task in mine[:8]:  # a new run replaces the text
        new = _text(rng, 5)
        TaskText.objects.filter(task=task).update(text=new, terms=search.terms_for(user_a.pk, new))
    TaskText.objects.filter(task=mine[8]).update(text="same terms, new text")  # terms unchanged
    _check(user_a, user_b)
    Task.objects.filter(pk__in=[t.pk for t in mine[10:14]]).delete()  # the ORM deletes the texts first
    TaskText.objects.filter(task=mine[14]).delete()
    with connection.cursor() as cursor:  # raw SQL too: the triggers see every writer
        cursor.execute(f"DELETE FROM {connection.ops.quote_name(TaskText._meta.db_table)} WHERE task_id = %s",
                       [mine[15].pk.hex])
    _check(user_a, user_b)
    purge_user(user=user_b)
    assert not TaskTermCount.objects.filter(user_id=theirs[0].user_id).exists()
    _check(user_a)


def test_the_backfill_makes_the_same_rows(user_a, user_b):
    rng = random.Random(6)
    for i in range(12):
        text_task(user_a if i % 3 else user_b, _text(rng))
    kept = _table()
    q = connection.ops.quote_name
    TaskTermCount.objects.filter(user_id=user_a.pk).update(texts=7)  # wrong rows are made again, not added to
    TaskTermCount.objects.filter(user_id=user_b.pk).delete()
    with connection.cursor() as cursor:
        done = text_index.counts_backfill(cursor, connection.vendor, q(TaskText._meta.db_table),
                                          q(TaskTermCount._meta.db_table), batch=5, atomic=transaction.atomic)
    assert done == 12
    assert _table() == kept == _expected()


def _api_count(user, q: str) -> int:
    return selectors.task_page(user=user, filters={"q": q}, page_size=1).count


@pytest.mark.parametrize("q", ["the", "th", "thermal", "ab", "stra", "café", "美玲", "陳美", "x1", "ｍｅｍ"])
def test_the_api_count_reads_the_counts(user_a, user_b, monkeypatch, q):
    """The exact count of a one-word search comes from task_term_counts (no COUNT(DISTINCT) over task_terms),
    and equals what the index range counts without it."""
    rng = random.Random(7)
    for i in range(60):
        text_task(user_a, _text(rng), created_at=None)
    text_task(user_b, "the theory of them")
    with CaptureQueriesContext(connection) as queries:
        fast = _api_count(user_a, q)
    sql = [query["sql"] for query in queries.captured_queries]
    assert any("task_term_counts" in s for s in sql) and not any("COUNT(DISTINCT" in s for s in sql), sql
    monkeypatch.setattr(text_index, "texts_counted", lambda user_id, group: None)
    assert fast == _api_count(user_a, q) > 0


@pytest.mark.parametrize("statuses", [["completed"], ["failed"], ["completed", "failed"], ["pending"], ["cancelled"]])
def test_a_status_filter_counts_the_smaller_side(user_a, user_b, statuses):
    """With a status filter the count is the matches among those tasks, whichever side is checked task by task:
    the tasks in the statuses, or every match (the counts) less those among the others."""
    rng = random.Random(8)
    for i in range(40):  # texts of tasks in every state (a task run again keeps its text while it waits)
        text_task(user_a, _text(rng), status="completed" if i % 4 else rng.choice(["failed", "pending", "cancelled"]))
    for i in range(5):
        make_task(user_a, status="failed")  # no text
    text_task(user_b, "the theory of them", status="failed")
    for q in ("the", "th", "ab", "美玲", "x1"):
        filters = {"q": q, "status": statuses}
        with CaptureQueriesContext(connection) as queries:
            count = selectors.task_page(user=user_a, filters=filters, page_size=1).count
        assert count == selectors.task_list(user=user_a, filters=filters).count(), (q, statuses)
        read_counts = any("task_term_counts" in query["sql"] for query in queries.captured_queries)
        assert read_counts == (statuses in (["completed"], ["completed", "failed"])), (q, statuses)


def test_other_filters_count_as_before(user_a):
    """A date filter or a second word is counted over the index rows (the counts know no dates)."""
    rng = random.Random(8)
    for i in range(30):
        text_task(user_a, _text(rng), status="completed" if i % 3 else "failed")
    for filters in ({"q": "the ab"}, {"q": "the", "created_from": date(2000, 1, 1)}):
        with CaptureQueriesContext(connection) as queries:
            count = selectors.task_page(user=user_a, filters=filters, page_size=1).count
        assert not any("task_term_counts" in q["sql"] for q in queries.captured_queries)
        assert count == selectors.task_list(user=user_a, filters=filters).count()


def _completed(task, text):
    """The worker's own write: results and text stored and the task completed, in one transaction."""
    transitions.task_complete(task=task, results={
        TaskFile.Kind.RESULT_TXT: ("doc.txt", "text/plain; charset=utf-8", ContentFile(text.encode())),
        TaskFile.Kind.RESULT_JSON: ("doc.json", "application/json", ContentFile(b'{"pages": []}')),
    })


@pytest.mark.skipif("connection.vendor != 'mysql'")
def test_writers_at_once_lose_no_count(user_a):
    """Four connections at once finish, run again and delete tasks of one owner through the real services, over
    the same few terms (the same count rows): none deadlocks, and the counts equal the texts'."""
    ready = {seed: [make_task(user_a, filename="doc.png", status="processing", worker_id=f"w{seed}")
                    for _ in range(12)] for seed in range(4)}
    errors, done = [], Counter()

    def writer(seed):
        rng = random.Random(seed)
        finished = []
        try:
            for task in ready[seed]:
                _completed(task, _text(rng, 12))
                finished.append(task)
                action = rng.random()
                if action < 0.3:
                    again = finished[rng.randrange(len(finished))]
                    Task.objects.filter(pk=again.pk).update(status="processing", worker_id=again.worker_id)
                    _completed(again, _text(rng, 12))  # a run again: the text replaced
                elif action < 0.55:
                    gone = finished.pop(rng.randrange(len(finished)))
                    services.task_delete(task=gone, actor=Actor(user=user_a))
                done[seed] += 1
        except Exception as exc:  # noqa: BLE001 - reported below, with the writer's seed
            errors.append((seed, exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sum(done.values()) == 48
    _check(user_a)


def test_the_migration_backfills_and_reverses(user_a, user_b):
    from tests.tasks.history.test_text_index import _latest, _migrate

    rng = random.Random(10)
    for i in range(10):
        text_task(user_a if i % 2 else user_b, _text(rng))
    _migrate(("tasks", "0024_task_name_grams_ends"))
    assert not any(t.endswith("task_term_counts") for t in connection.introspection.table_names())
    text_task(user_a, "the theory, written while the counts are gone")
    _migrate(_latest())
    _check(user_a, user_b)


@pytest.mark.parametrize("how", ["task_delete", "new_run", "purge_user", "account_deleted"])
def test_a_deleted_text_leaves_none_of_its_words(user_a, user_b, how):
    """A count that reaches 0 goes with its row: the words of a deleted document (a name, an account number)
    stay in no table, as task_terms keeps none of them (test_search.test_a_deleted_task_leaves_nothing_in_the_index),
    and retention and purge_user promise."""
    kept = text_task(user_a, "the quarterly report")
    gone = text_task(user_a, "the Zephyrine account 00417 report")
    text_task(user_b, "zephyrine")
    if how == "task_delete":
        services.task_delete(task=gone, actor=Actor(user=user_a))
    elif how == "new_run":
        TaskText.objects.filter(task=gone).update(text="the report", terms=search.terms_for(user_a.pk, "the report"))
    elif how == "purge_user":
        purge_user(user=user_a, keep_account=True)
    else:
        user_a.delete()
    held = set(TaskTermCount.objects.filter(user_id=kept.user_id).values_list("term", flat=True))
    assert not {term for term in held if "zephyrine" in term or "00417" in term or term.startswith("wacc")}, held
    assert not TaskTermCount.objects.filter(texts__lte=0).exists()
    assert TaskTermCount.objects.filter(user_id=user_b.pk, term="wzephyrine").values_list("texts", flat=True).get() == 1
    _check(*([user_b] if how in ("purge_user", "account_deleted") else [user_a, user_b]))


@pytest.mark.skipif("connection.vendor != 'mysql'")
@pytest.mark.parametrize("between", ["delete", "cancel"])
def test_a_count_with_a_status_filter_is_of_one_moment(user_a, between):
    """MariaDB reads in READ COMMITTED (Django's default there): each statement sees its own moment, a
    transaction or not. A count made of two reads (all matches, then those among the other statuses) would
    take a task deleted or moved by another connection between them as still there in one read and gone in
    the other, and be one off."""
    for _ in range(6):
        text_task(user_a, "the quarterly report", status="completed")
    waiting = text_task(user_a, "the quarterly report", status="pending")  # run again: keeps its text meanwhile
    moved = text_task(user_a, "the quarterly report", status="completed")
    filters = {"q": "report", "status": ["completed"]}
    assert selectors.task_page(user=user_a, filters=filters, page_size=1).count == 7
    fired = []

    def elsewhere():
        try:
            if between == "delete":  # a task of another status goes
                services.task_delete(task=Task.objects.get(pk=waiting.pk), actor=Actor(user=user_a))
            else:  # a task of this status leaves it
                Task.objects.filter(pk=moved.pk).update(status="cancelled")
        finally:
            connections.close_all()

    def write_after_the_first_read(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "task_term_counts" in sql and not fired:
            fired.append(sql)
            thread = threading.Thread(target=elsewhere)
            thread.start()
            thread.join()
        return result

    with connection.execute_wrapper(write_after_the_first_read):
        count = selectors.task_page(user=user_a, filters=filters, page_size=1).count
    assert fired, "the counts were not read"
    assert count in (7, 6 if between == "cancel" else 7), count  # before or after the write, not a mix
    after = selectors.task_page(user=user_a, filters=filters, page_size=1).count
    assert after == (6 if between == "cancel" else 7)
