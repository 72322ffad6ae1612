"""History reads against a generated history: filters, every ordering, pages and keyset chunks.

The expected rows are computed in Python from the task objects, independently of the
selectors' query building, and must match row for row on SQLite and MariaDB.
"""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from tasks import selectors
from tasks.history.params import ORDERINGS
from tests.tasks.history_helpers import generate_history, make_task

pytestmark = pytest.mark.django_db


def _local_date(dt):
    return timezone.localtime(dt).date()


def _expected(tasks, *, status=(), q="", created_from=None, created_to=None, ordering="-created_at"):
    rows = [t for t in tasks
            if (not status or t.status in status)
            and (not q or q.lower() in t.filename.lower())
            and (not created_from or _local_date(t.created_at) >= created_from)
            and (not created_to or _local_date(t.created_at) <= created_to)]
    name = ordering.lstrip("-")
    descending = ordering.startswith("-")

    def value(t):
        v = getattr(t, name)
        return (v is not None, v if v is not None else 0)  # NULL sorts first, as on both databases

    if name == "created_at":
        # newest first, ties by id ascending; the reverse ordering is the exact reverse
        rows.sort(key=lambda t: t.id.hex)
        rows.sort(key=lambda t: t.created_at, reverse=True)
        return rows if descending else rows[::-1]
    # ascending by the key, ties newest first then id ascending; "-key" is the exact reverse
    rows.sort(key=lambda t: t.id.hex)
    rows.sort(key=lambda t: t.created_at, reverse=True)
    rows.sort(key=value)
    return rows[::-1] if descending else rows


@pytest.fixture
def history(user_a, user_b):
    mine = generate_history(user_a, n=70, seed=11)
    generate_history(user_b, n=15, seed=12)  # someone else's, never in user_a's results
    return mine


FILTERS = [
    {},
    {"status": ["failed"]},
    {"status": ["completed", "cancelled"]},
    {"q": "INVOICE"},
    {"q": "-0"},
    {"q": "no-such-file"},
    {"created_from": "days_ago_10"},
    {"created_to": "days_ago_20"},
    {"created_from": "days_ago_30", "created_to": "days_ago_5", "status": ["completed", "failed"], "q": "e"},
]


def _resolve(filters):
    today = timezone.localdate()
    out = {}
    for key, value in filters.items():
        if isinstance(value, str) and value.startswith("days_ago_"):
            value = today - timedelta(days=int(value.rsplit("_", 1)[1]))
        out[key] = value
    return out


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f) or "none")
def test_filters_give_exactly_the_matching_rows_newest_first(history, user_a, filters):
    filters = _resolve(filters)
    got = list(selectors.task_list(user=user_a, filters=filters))
    assert [t.id for t in got] == [t.id for t in _expected(history, **filters)]


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_every_ordering_matches_python_and_reverses_exactly(history, user_a, ordering):
    got = [t.id for t in selectors.task_list(user=user_a, filters={"ordering": ordering})]
    assert got == [t.id for t in _expected(history, ordering=ordering)]
    reverse = ordering[1:] if ordering.startswith("-") else f"-{ordering}"
    assert [t.id for t in selectors.task_list(user=user_a, filters={"ordering": reverse})] == got[::-1]


@pytest.mark.parametrize("q", ["\x00", "invoice\x00", "a\tb"])
def test_search_text_with_control_characters_matches_nothing(history, user_a, q):
    assert list(selectors.task_list(user=user_a, filters={"q": q})) == []
    assert selectors.task_page(user=user_a, filters={"q": q}, count_limit=1000).rows == []
    assert list(selectors.task_iter(user=user_a, filters={"q": q}, fields=("id",))) == []


def test_unknown_ordering_falls_back_to_newest_first(history, user_a):
    got = [t.id for t in selectors.task_list(user=user_a, filters={"ordering": "user_id; DROP TABLE x"})]
    assert got == [t.id for t in _expected(history)]


@pytest.mark.parametrize("ordering", ["-created_at", "filename", "-processing_seconds", "status"])
def test_pages_concatenate_to_the_full_list(history, user_a, ordering):
    filters = {"ordering": ordering, "status": ["completed", "failed", "cancelled"]}
    expected = [t.id for t in _expected(history, **filters)]
    seen = []
    page_number = 1
    while True:
        page = selectors.task_page(user=user_a, filters=filters, page=page_number, page_size=9)
        assert page.count == len(expected) and page.num_pages == -(-len(expected) // 9)
        if not page.rows:
            break
        assert page.start_index == (page_number - 1) * 9 + 1
        seen += [t.id for t in page.rows]
        page_number += 1
    assert seen == expected and page_number == page.num_pages + 1


@pytest.mark.parametrize("ordering", ORDERINGS)
@pytest.mark.parametrize("sort_here_limit,count_limit", [(200, 1000), (3, 1000), (3, 5)])
def test_name_search_pages_sorted_here_match_the_database_order(history, user_a, ordering, count_limit,
                                                                 sort_here_limit, monkeypatch):
    """The HTML table sorts the keys of a few search matches in Python: same rows, same order."""
    monkeypatch.setattr(selectors, "SORT_HERE_LIMIT", sort_here_limit)
    filters = {"ordering": ordering, "q": "e"}
    expected = [t.id for t in _expected(history, **filters)]
    assert len(expected) > 10
    sorted_here = ordering.lstrip("-") != "filename" and len(expected) <= sort_here_limit
    seen, page_number = [], 1
    while True:
        page = selectors.task_page(user=user_a, filters=filters, page=page_number, page_size=7,
                                   count_limit=count_limit)
        assert page.exact == (sorted_here or len(expected) <= count_limit)
        if not page.rows:
            break
        seen += [t.id for t in page.rows]
        page_number += 1
    assert seen == expected


NAME_SEARCHES = [
    {"q": "invoice"},
    {"q": "INVOICE-0", "status": ["completed", "failed"]},
    {"q": "ice", "created_from": "days_ago_20", "created_to": "days_ago_3"},
    {"q": "t-1", "ordering": "filename"},
    {"q": "no-such-file"},
]


@pytest.mark.parametrize("filters", NAME_SEARCHES, ids=lambda f: f["q"])
@pytest.mark.parametrize("ordering", ["-created_at", "created_at", "-filename", "status", "processing_seconds"])
@pytest.mark.parametrize("count_limit", [1000, None])  # the HTML table, the API
def test_searches_through_the_name_index_give_the_rows_of_the_plain_search(history, user_a, filters, ordering,
                                                                          count_limit, monkeypatch):
    """Few matches are taken from the name and text indexes and ordered here: the same pages as LIKE's walk."""
    filters = _resolve({**filters, "ordering": ordering})
    expected = [t.id for t in _expected(history, **filters)]

    def pages():
        seen, number = [], 1
        while True:
            page = selectors.task_page(user=user_a, filters=filters, page=number, page_size=4, count_limit=count_limit)
            assert page.count == len(expected) and page.exact
            if not page.rows:
                return seen
            seen += [t.id for t in page.rows]
            number += 1

    assert pages() == expected
    monkeypatch.setattr(selectors.names, "name_match", lambda user_id, q: None)  # the walk, as before the index
    assert pages() == expected


COMMON_SEARCHES = [
    {"q": "e"},  # too short for the name index: the walk, as a common word
    {"q": "invoice"},
    {"q": ".PNG", "status": ["completed", "failed"], "created_from": "days_ago_30"},
    {"q": "-0", "ordering": "created_at"},
]


@pytest.mark.parametrize("filters", COMMON_SEARCHES, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()))
@pytest.mark.parametrize("count_limit", [1000, 4])  # all matches under the cap; more than the cap
def test_a_common_search_is_walked_once_for_its_count_and_its_first_pages(history, user_a, filters, count_limit,
                                                                          monkeypatch):
    """A name search whose pieces are common (names.ESTIMATE_CAP) reads its first count_limit + 1 ids in list
    order: the table's capped count and its first pages from that one walk, no COUNT; the same rows as LIKE's."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(selectors.names, "ESTIMATE_CAP", 1)  # every piece counts as common
    filters = _resolve(filters)
    expected = [t.id for t in _expected(history, **filters)]
    assert len(expected) > 4
    seen, number = [], 1
    while True:
        with CaptureQueriesContext(connection) as captured:
            page = selectors.task_page(user=user_a, filters=filters, page=number, page_size=3,
                                       count_limit=count_limit)
        assert page.exact == (len(expected) <= count_limit)
        assert page.count == min(len(expected), count_limit)
        if (number - 1) * 3 + 3 < count_limit:  # within the walk: no COUNT, no second walk
            assert not [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()
                        and "task_name_grams" not in q["sql"]]
        if not page.rows:
            break
        seen += [t.id for t in page.rows]
        number += 1
        if not page.has_next:
            break
    assert seen == expected


def test_a_search_without_a_match_does_not_walk_the_users_tasks(history, user_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        page = selectors.task_page(user=user_a, filters={"q": "no-such-file"}, count_limit=1000)
    assert page.rows == [] and page.count == 0 and page.exact
    assert not [q["sql"] for q in captured.captured_queries if "LIKE" in q["sql"]]  # no filename LIKE walk
    assert len(captured.captured_queries) == 2  # the name pieces' counts, the text index


def test_page_past_the_end_is_empty_or_clamped_to_the_last(history, user_a):
    expected = [t.id for t in _expected(history)]
    empty = selectors.task_page(user=user_a, page=99, page_size=10)
    assert empty.rows == [] and empty.count == len(expected) and empty.page == 99
    last = selectors.task_page(user=user_a, page=99, page_size=10, clamp=True)
    assert last.page == last.num_pages and [t.id for t in last.rows] == expected[(last.page - 1) * 10:]


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_keyset_chunks_walk_the_same_rows_as_the_list(history, user_a, ordering):
    """Chunks of 4 rows: crosses ties in created_at, equal names and statuses, and NULL durations."""
    filters = {"ordering": ordering}
    got = [row[0] for row in selectors.task_iter(user=user_a, filters=filters, fields=("id",), chunk_size=4)]
    assert got == [t.id for t in _expected(history, ordering=ordering)]


def test_keyset_chunks_with_filters(history, user_a):
    filters = _resolve({"status": ["completed", "failed"], "q": "e", "created_from": "days_ago_30",
                        "ordering": "-processing_seconds"})
    got = [row[0] for row in selectors.task_iter(user=user_a, filters=filters, fields=("id",), chunk_size=3)]
    assert got == [t.id for t in _expected(history, **filters)]


def test_date_bounds_are_whole_days_in_the_site_time_zone(settings, user_a):
    settings.TIME_ZONE = "Europe/Berlin"
    tz = timezone.get_current_timezone()
    late = make_task(user_a, filename="late.png",
                     created_at=timezone.make_aware(datetime(2025, 3, 29, 23, 30), tz))  # 22:30 UTC
    early = make_task(user_a, filename="early.png",
                      created_at=timezone.make_aware(datetime(2025, 3, 30, 0, 15), tz))  # 23:15 UTC the day before
    day = datetime(2025, 3, 29).date()

    def names(**filters):
        return {t.filename for t in selectors.task_list(user=user_a, filters=filters)}

    assert names(created_from=day, created_to=day) == {"late.png"}
    assert names(created_from=day + timedelta(days=1)) == {"early.png"}
    assert names(created_to=day + timedelta(days=1)) == {"late.png", "early.png"}
    assert early.created_at.astimezone(timezone.get_fixed_timezone(0)).date() == day  # UTC would misplace it


def test_get_many_leaves_out_other_users_tasks(user_a, user_b):
    mine = make_task(user_a, filename="mine.png")
    theirs = make_task(user_b, filename="theirs.png")
    got = selectors.task_get_many(user=user_a, task_ids=[mine.id, theirs.id])
    assert [t.id for t in got] == [mine.id]


def test_another_users_task_is_not_found_like_an_unknown_id(user_a, user_b, client):
    """One selector for "this user's task or 404": the API says so in its error shape, a page is the 404 page."""
    import uuid

    from core.errors import NotFound

    mine, theirs = make_task(user_a), make_task(user_b)
    assert selectors.task_get_or_404(user=user_a, task_id=mine.id) == mine
    for task_id in (theirs.id, uuid.uuid4()):
        with pytest.raises(NotFound) as err:
            selectors.task_get_or_404(user=user_a, task_id=task_id)
        assert (err.value.status, err.value.code, err.value.message) == (404, "not_found", "No such task.")
    client.force_login(user_a)
    api = client.get(f"/api/v1/tasks/{theirs.id}")
    assert api.status_code == 404 and api.json()["error"] == {"code": "not_found", "message": "No such task.",
                                                             "details": {}}
    page = client.get(f"/tasks/{theirs.id}/")
    assert page.status_code == 404 and "There is nothing here." in page.content.decode()


# --- The per-request reads in plain SQL (task_get, task_files_of, task_file_get) ---------------------------

def test_task_get_reads_the_owners_task_with_its_files(user_a, user_b, django_assert_num_queries):
    from tasks.models import TaskFile

    task = make_task(user_a, status="completed", with_files=True)
    other = make_task(user_b, status="completed", with_files=True)
    assert selectors.task_get(user=user_b, task_id=task.id) is None
    with django_assert_num_queries(2):  # the task, its files
        found = selectors.task_get(user=user_a, task_id=str(task.id))
    with django_assert_num_queries(0):  # as prefetch_related("files") leaves them
        files = list(found.files.all())
        assert all(f.task is found for f in files)
    assert sorted(f.kind for f in files) == ["original", "result_json", "result_txt"]
    assert found.files.count() == 3
    # a further filter is a query of this task's files only, not of the rows kept
    assert list(found.files.filter(kind="result_txt").values_list("task_id", flat=True)) == [task.id]
    assert not TaskFile.objects.filter(task=other).filter(pk__in=[f.pk for f in files]).exists()


def test_task_files_of_leaves_out_tasks_of_another_user(user_a, user_b):
    mine = make_task(user_a, status="completed", with_files=True)
    theirs = make_task(user_b, status="completed", with_files=True)
    files = selectors.task_files_of(user=user_a, tasks=[mine, theirs])
    assert list(files) == [mine.pk] and {f.task_id for f in files[mine.pk]} == {mine.pk}


def test_task_file_names_of_are_the_owners_files_without_instances(user_a, user_b, django_assert_num_queries):
    """What the history rows link: the same kinds and names as the TaskFile rows, only of the user's tasks."""
    mine = make_task(user_a, status="completed", with_files=True)
    bare = make_task(user_a, status="pending")
    theirs = make_task(user_b, status="completed", with_files=True)
    with django_assert_num_queries(1):
        names = selectors.task_file_names_of(user=user_a, tasks=[mine, bare, theirs])
    files = selectors.task_files_of(user=user_a, tasks=[mine, bare])
    assert list(names) == [mine.pk, bare.pk] and names[bare.pk] == []
    assert sorted(names[mine.pk]) == sorted((f.kind, f.name) for f in files[mine.pk])
    assert all(isinstance(f, selectors.FileName) for f in names[mine.pk])


@pytest.mark.parametrize("filters", [{}, {"status": ["failed"]}, {"ordering": "filename"}, {"q": "scan"}])
def test_a_light_page_is_the_same_page_as_task_rows(user_a, user_b, filters):
    """task_page(light=True), the history table's page: the same tasks in the same order, the columns it
    shows equal to the instances', and only the user's (another user's tasks of the same names stay out)."""
    from tasks.models import Task

    for n in range(7):
        make_task(user_a, filename=f"scan-{n}.png", status="failed" if n % 3 == 0 else "completed",
                  processing_seconds=n + 0.5, page_count=n + 1)
        make_task(user_b, filename=f"scan-{n}.png", status="failed")
    for page in (1, 2):
        full = selectors.task_page(user=user_a, filters=filters, page=page, page_size=3, clamp=True, count_limit=1000)
        light = selectors.task_page(user=user_a, filters=filters, page=page, page_size=3, clamp=True,
                                    count_limit=1000, light=True)
        assert (light.count, light.exact, light.page, light.more) == (full.count, full.exact, full.page, full.more)
        assert [row.pk for row in light.rows] == [task.pk for task in full.rows] and full.rows
        for row, task in zip(light.rows, full.rows):
            assert isinstance(row, selectors.TaskRow) and not isinstance(row, Task)
            assert {name: getattr(row, name) for name in selectors.TaskRow.__slots__[:-1]} == {
                name: getattr(task, name) for name in selectors.TaskRow.__slots__[:-1]}
            assert row.progress_percent == task.progress_percent and row.user_id == user_a.pk


def test_task_file_get_is_the_owners_file_of_that_kind(user_a, user_b, django_assert_num_queries):
    task = make_task(user_a, status="completed", with_files=True)
    with django_assert_num_queries(1):  # the file and its task: every download reads them
        found = selectors.task_file_get(user=user_a, task_id=task.id, kind="result_txt")
        assert found.kind == "result_txt" and found.task == task and found.task.user_id == user_a.pk
    assert selectors.task_file_get(user=user_b, task_id=task.id, kind="result_txt") is None
    assert selectors.task_file_get(user=user_a, task_id=task.id, kind="result_pdf") is None


def test_badge_state_is_one_query_with_each_part_in_its_own_order(user_a, user_b):
    """The header badge's two reads are one statement: active tasks oldest first, finished ones newest first."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    now = timezone.now()
    waiting = [make_task(user_a, filename=f"wait-{n}.png", status=status, created_at=now - timedelta(minutes=m))
               for n, (status, m) in enumerate([("pending", 1), ("processing", 9), ("pending", 5)])]
    done = [make_task(user_a, filename=f"done-{n}.png", status=status, created_at=now - timedelta(seconds=s))
            for n, (status, s) in enumerate([("completed", 120), ("failed", 30), ("cancelled", 60)])]
    make_task(user_a, filename="old.png", status="completed", created_at=now - timedelta(hours=1))  # not lately
    make_task(user_b, filename="theirs.png", status="pending")
    with CaptureQueriesContext(connection) as captured:
        state = selectors.task_badge_state(user=user_a)
    assert len(captured.captured_queries) == 1
    assert state["count"] == 3
    assert state["active"] == [{"id": str(t.id), "name": t.filename} for t in (waiting[1], waiting[2], waiting[0])]
    assert state["finished"] == [{"id": str(t.id), "name": t.filename, "status": t.status}
                                 for t in (done[1], done[2], done[0])]
    assert selectors.task_badge_state(user=user_a, active_limit=2)["count"] == 3  # past the limit: counted
