"""The text index (tasks/history/text_index.py): task_terms follows every write of task_texts, the
migration's back-fill and its reverse make and remove it, and the searches it answers (pages, counts,
filters, prefixes too broad to list) agree with the texts themselves."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tasks import selectors
from tasks.history import names, search, text_index
from tasks.models import Task, TaskTerm, TaskText
from tests.tasks.history_helpers import make_task

pytestmark = pytest.mark.django_db(transaction=True)

WORDS = ["alpha", "alphabet", "alphanumeric", "beta", "Gamma", "Café", "delta", "台北辦公室", "陳美玲"]


def text_task(user, text, *, filename="scan.png", created_at=None, status="completed") -> Task:
    task = make_task(user, filename=filename, status=status, created_at=created_at or timezone.now())
    TaskText.objects.create(task=task, user=user, text=text, terms=search.terms_for(user.pk, text))
    return task


def _key(task_id) -> bytes | str:
    return bytes.fromhex(task_id.hex) if connection.vendor == "mysql" else task_id.hex


def _rows():
    return sorted((r.user_id, r.term, r.created_us, bytes(r.task_key) if connection.vendor == "mysql" else r.task_key)
                  for r in TaskTerm.objects.all())


def _from_texts():
    out = set()
    for text in TaskText.objects.select_related("task"):
        for term in text.terms.split():
            out.add((text.user_id, term[text_index.TAG:], names.created_us(text.task.created_at), _key(text.task_id)))
    return sorted(out)


def test_the_rows_follow_every_write(user_a, user_b):
    first = text_task(user_a, "Alpha beta Café 台北辦公室")
    second = text_task(user_b, "alpha gamma")
    assert _rows() == _from_texts() and len(_rows()) == 3 + 4 + 2
    TaskText.objects.filter(task=first).update(text="Delta", terms=search.terms_for(user_a.pk, "Delta"))  # a new run
    assert _rows() == _from_texts()
    assert TaskTerm.objects.filter(user_id=user_a.pk).count() == 1
    TaskText.objects.filter(task=second).update(text="still alpha gamma")  # the terms unchanged: rows stay
    assert _rows() == _from_texts()
    Task.objects.filter(pk=first.pk).delete()  # the ORM's cascade deletes the text first
    assert _rows() == _from_texts() and not TaskTerm.objects.filter(user_id=user_a.pk).exists()
    user_b.delete()
    assert _rows() == [] == _from_texts()


def test_backfill_makes_the_same_rows(user_a, user_b):
    for i, word in enumerate(WORDS):
        text_task(user_a if i % 2 else user_b, f"{word} and more words {i}",
                  created_at=timezone.now() - timedelta(minutes=i))
    kept = _rows()
    TaskTerm.objects.all().delete()
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        done = text_index.backfill(cursor, connection.vendor, q(TaskText._meta.db_table), q(Task._meta.db_table),
                                   q(TaskTerm._meta.db_table), batch=2)
    assert done == len(WORDS)
    assert _rows() == kept == _from_texts()


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


def _latest():
    """The tasks app's last migration: the state every other test expects back."""
    loader = MigrationExecutor(connection).loader
    (leaf,) = loader.graph.leaf_nodes("tasks")
    return leaf


def _old_index_finds(user_id, word) -> int:
    """Rows the full-text index of migration 0007 finds for ``word``."""
    table = TaskText._meta.db_table
    term = f"{search.user_tag(user_id)}w{word}"
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f'SELECT COUNT(*) FROM "{table}_fts" WHERE "{table}_fts" MATCH %s', [f'"{term}"'])
        else:
            cursor.execute(f"SELECT COUNT(*) FROM `{table}` WHERE MATCH(terms) AGAINST (%s IN BOOLEAN MODE)",
                           [f"+{term}"])
        return cursor.fetchone()[0]


def test_the_migration_backfills_and_reverses(user_a, user_b):
    mine = text_task(user_a, "Zephyrine quarterly report 陳美玲")
    text_task(user_b, "Zephyrine again")
    _migrate(("tasks", "0021_squashed_0022_auditlog_admin_idx"))
    assert not any(t.endswith("task_terms") for t in connection.introspection.table_names())
    assert _old_index_finds(user_a.pk, "zephyrine") == 1  # the full-text index again, with the existing texts
    late = text_task(user_a, "Zephyrine written while the old index was in place")
    _migrate(_latest())
    assert _rows() == _from_texts() and len(_rows()) > 8
    assert [t.pk for t in selectors.task_page(user=user_a, filters={"q": "zephyrine"}).rows] == [late.pk, mine.pk]
    assert [t.pk for t in selectors.task_page(user=user_a, filters={"q": "美玲"}).rows] == [mine.pk]
    tables = connection.introspection.table_names()
    assert not any(t.endswith("task_texts_fts") for t in tables)
    if connection.vendor == "mysql":
        with connection.cursor() as cursor:
            cursor.execute(f"SHOW INDEX FROM `{TaskText._meta.db_table}` WHERE Key_name = 'task_texts_terms_ft'")
            assert cursor.fetchall() == ()


def _ids(user, q, **kwargs):
    return [t.pk for t in selectors.task_page(user=user, filters={"q": q, **kwargs.pop("filters", {})}, **kwargs).rows]


@pytest.fixture
def history(user_a, user_b):
    """40 texts of user_a, newest first in this list, some with "alpha…" words; user_b has the same texts."""
    now = timezone.now()
    made = []
    for i in range(40):
        words = f"{WORDS[i % len(WORDS)]} filler{i} common"
        made.append(text_task(user_a, words, filename=f"doc-{i:02d}.png", created_at=now - timedelta(minutes=i),
                              status="completed" if i % 3 else "failed"))
        text_task(user_b, words, filename=f"doc-{i:02d}.png", created_at=now - timedelta(minutes=i))
    return made


def _expected(history, test):
    return [t.pk for t in history if test(TaskText.objects.get(task=t).text)]


def test_pages_and_counts_agree_with_the_texts(history, user_a, monkeypatch):
    alpha = _expected(history, lambda text: any(w.startswith("alpha") for w in text.lower().split()))
    assert len(alpha) == 15
    everything = [t.pk for t in history]
    page1 = selectors.task_page(user=user_a, filters={"q": "alpha"}, page_size=10)
    assert page1.rows and [t.pk for t in page1.rows] == alpha[:10] and page1.count == 15 and page1.exact
    page2 = selectors.task_page(user=user_a, filters={"q": "alpha"}, page=2, page_size=10)
    assert [t.pk for t in page2.rows] == alpha[10:] and not page2.has_next
    few = selectors.task_page(user=user_a, filters={"q": "common"}, page_size=10, count_limit=25)
    assert [t.pk for t in few.rows] == everything[:10] and few.count == 40 and few.exact  # under SORT_HERE_LIMIT
    monkeypatch.setattr(selectors, "SORT_HERE_LIMIT", 3)
    capped = selectors.task_page(user=user_a, filters={"q": "common"}, page_size=10, count_limit=25)
    assert [t.pk for t in capped.rows] == everything[:10] and capped.count == 25 and not capped.exact and capped.more
    exact = selectors.task_page(user=user_a, filters={"q": "common"}, page=3, page_size=10)
    assert [t.pk for t in exact.rows] == everything[20:30] and exact.count == 40 and exact.exact
    last = selectors.task_page(user=user_a, filters={"q": "alpha"}, page=9, page_size=10, clamp=True)
    assert last.page == 2 and [t.pk for t in last.rows] == alpha[10:]
    # the file name matches too, once per task; another user's tasks never
    assert _ids(user_a, "doc-0", page_size=100) == everything[:10]
    assert len(_ids(user_a, "filler1", page_size=100)) == 11  # filler1, filler10..19


def test_filters_apply_to_the_index_rows(history, user_a):
    alpha = _expected(history, lambda text: any(w.startswith("alpha") for w in text.lower().split()))
    failed = [pk for pk in alpha if Task.objects.get(pk=pk).status == "failed"]
    assert failed and _ids(user_a, "alpha", filters={"status": ["failed"]}, page_size=100) == failed
    page = selectors.task_page(user=user_a, filters={"q": "alpha", "status": ["failed"]})
    assert page.count == len(failed)
    by_name = selectors.task_page(user=user_a, filters={"q": "alpha", "ordering": "filename"}, page_size=100)
    assert sorted(t.pk for t in by_name.rows) == sorted(alpha) and by_name.count == len(alpha)
    names_in_order = [t.filename for t in by_name.rows]
    assert names_in_order == sorted(names_in_order)
    oldest_first = _ids(user_a, "alpha", filters={"ordering": "created_at"}, page_size=100)
    assert oldest_first == alpha[::-1]


def test_several_terms_and_cjk_runs(history, user_a):
    assert _ids(user_a, "alphabet filler1", page_size=100) == _expected(
        history, lambda text: "alphabet" in text and "filler1" in text)
    assert _ids(user_a, "辦公室", page_size=100) == _expected(history, lambda text: "辦公室" in text)
    assert _ids(user_a, "公辦", page_size=100) == []


def test_a_prefix_too_broad_to_list_is_read_as_a_range(history, user_a, monkeypatch):
    listed = {q: _ids(user_a, q, page_size=100) for q in ("f", "alpha f", "fi common", "alph")}
    assert len(listed["f"]) == 40 and len(listed["alpha f"]) == 15
    monkeypatch.setattr(text_index, "MAX_EXPAND", 2)
    match = selectors.text_match(user=user_a, q="f")
    assert match.driver.low == "wf" and not match.driver.terms
    for q, ids in listed.items():
        assert _ids(user_a, q, page_size=100) == ids
        assert selectors.task_page(user=user_a, filters={"q": q}).count == len(ids)


def test_a_cjk_run_is_checked_character_for_character(user_a):
    """The pairs of パパイヤ are all in the first text, and ハハイヤ, which MariaDB's utf8mb4_unicode_ci takes for
    パパイヤ: the run check compares exactly, as the index does (and SQLite's LIKE outside ASCII)."""
    text_task(user_a, "パパ、パイ、イヤ、ハハイヤ", created_at=timezone.now() - timedelta(minutes=1))
    papaya = text_task(user_a, "パパイヤ")
    assert _ids(user_a, "パパイヤ", page_size=100) == [papaya.pk]
    assert _ids(user_a, "パパイヤ", filters={"ordering": "filename"}, page_size=100) == [papaya.pk]


def test_a_page_shows_only_the_users_own_tasks_whatever_the_index_holds(user_a, user_b):
    """The index's owner column is a copy (task_texts.user_id): if it ever named someone else, that person's
    search could find the task in the index but the page still reads only their own tasks."""
    theirs = text_task(user_a, "Zephyrine quarterly report")
    TaskText.objects.filter(task=theirs).update(user=user_b)  # a wrong copy: the triggers re-file the terms
    assert TaskTerm.objects.filter(user_id=user_b.pk, term="wzephyrine").exists()
    assert _ids(user_b, "zephyrine") == []
    assert _ids(user_b, "zephyrine", filters={"ordering": "filename"}) == []


def test_the_prefixes_of_one_query_share_a_budget_of_seeks(history, user_a, monkeypatch):
    """A query of many short words expands its prefixes term by term only until EXPAND_BUDGET; the rest are read
    as ranges (one seek each, to tell "no such term"), with the same results."""
    from django.test.utils import CaptureQueriesContext

    queries = ("f a b c d g", "alpha f", "fi common", "alph", "f zzz", "c d b a")
    listed = {q: _ids(user_a, q, page_size=100) for q in queries}
    assert listed["alpha f"] and listed["f zzz"] == []
    monkeypatch.setattr(text_index, "EXPAND_BUDGET", 3)
    for q, ids in listed.items():
        assert _ids(user_a, q, page_size=100) == ids
    with CaptureQueriesContext(connection) as captured:
        selectors.text_match(user=user_a, q="f a b c d g")
    seeks = [query for query in captured.captured_queries if "ORDER BY term LIMIT 1" in query["sql"]]
    assert len(seeks) <= 3 + 6


@pytest.mark.parametrize("filters", [{}, {"status": ["failed"]}, {"created_from": "recent"}])
def test_exact_counts_are_the_union_of_names_and_texts(history, user_a, filters):
    """The API's count (every match, from the indexes: the text matches counted in their range plus the name
    matches whose text does not match) is the number of tasks the pages list, names and texts overlapping."""
    now = timezone.now()
    text_task(user_a, "nothing here", filename="alpha-notes.png", created_at=now - timedelta(minutes=50))
    text_task(user_a, "alphabet soup", filename="alphabet.png", created_at=now - timedelta(minutes=51))
    text_task(user_a, "台北 again", filename="台北.png", created_at=now - timedelta(minutes=52), status="failed")
    make_task(user_a, filename="公室-photo.png", created_at=now - timedelta(minutes=53), status="failed")
    if filters.get("created_from"):
        filters = {"created_from": timezone.localdate(now - timedelta(minutes=20)),
                   "created_to": timezone.localdate(now)}
    for q in ("alpha", "alphabet", "common", "filler1", "doc-0", "doc", "台北", "公室", "辦公室", "北辦公", "al",
              "a", "alpha common", "no-such"):
        listed = selectors.task_page(user=user_a, filters={"q": q, **filters}, page_size=100).rows
        page = selectors.task_page(user=user_a, filters={"q": q, **filters}, page_size=2)
        assert page.count == len(listed) == len({t.pk for t in listed}), q
        assert [t.pk for t in page.rows] == [t.pk for t in listed[:2]], q
