"""The file-name index (tasks/history/names.py) finds exactly what ``filename LIKE '%q%'`` finds, follows
every write of the tasks table, and answers a search with no match without reading the user's names."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tasks.history import names
from tasks.models import Task, TaskNameGram
from tests.tasks.history_helpers import make_task

pytestmark = pytest.mark.django_db

NAMES = ["invoice-20260601-10741.png", "Invoice-20260601-20741.PNG", "letter 20260601-10799.pdf", "Scan ab.png",
         "contract final.pdf", "CONTRACT-draft.tif", "naïve café menu.jpg", "x.pdf", "100%_sure_file.png",
         "back\\slash.png", "报告2026年度.pdf", "invoice-invoice.png"]
QUERIES = ["invoice", "INVOICE-2026", "0601-1", "20741", "ab.", "contract", "café", "CAFÉ", "%_s", "\\sl",
           "报告2026", "年度.", "voi", "no-such-name", "oice-inv", "pdf", "x.pdf", "t f", ".png", "1074",
           # two characters: pieces starting with them, or the name's last two
           "ab", "AB", "ng", "NG", "报告", "度.", "%_", "\\s", "é m", "zz", "f"]


def _expected(user, q):
    return sorted(str(t.pk) for t in Task.objects.filter(user=user, filename__icontains=q))


def _found(user, q):
    match = names.name_match(user.pk, q)
    if match is None:  # one character: the caller walks the names
        assert len(q) == 1
        return _expected(user, q)
    found = match.ids(1000)
    assert match.count() == len(found) == len(set(found))
    return sorted(str(uuid.UUID(task_id)) for task_id in found)  # ids as tasks.id holds them (hex)


@pytest.fixture
def named(user_a, user_b):
    now = timezone.now()
    tasks = [make_task(user_a, filename=name, created_at=now - timedelta(minutes=i)) for i, name in enumerate(NAMES)]
    make_task(user_b, filename="invoice-20260601-10741.png")  # someone else's: never found
    return tasks


@pytest.mark.parametrize("q", QUERIES)
def test_the_index_finds_what_like_finds(named, user_a, q):
    assert _found(user_a, q) == _expected(user_a, q)


def test_pages_come_newest_first_and_counts_stop_at_the_cap(named, user_a):
    match = names.name_match(user_a.pk, "invoice")
    every = match.page(100)
    assert [created for created, _id in every] == sorted((c for c, _i in every), reverse=True)
    assert len(every) == 3 and match.page(2) == every[:2] and match.count(cap=2) == 2
    newest = max(t.created_at for t in named if "invoice" in t.filename.lower())
    assert every[0][0] == names.created_us(newest)
    since = names.created_us(newest)
    assert len(match.page(100, created_from_us=since)) == 1


def test_no_match_is_known_from_a_missing_piece(named, user_a):
    with CaptureQueriesContext(connection) as captured:
        match = names.name_match(user_a.pk, "no-such-name")
        assert match.empty and match.ids(25) == [] and match.count() == 0
    assert len(captured.captured_queries) == 1  # the pieces' counts, nothing else
    assert names.name_match(user_a.pk, "a") is None  # too short for a piece: the caller keeps its LIKE
    with CaptureQueriesContext(connection) as captured:
        match = names.name_match(user_a.pk, "zq")  # two characters: the pieces that start with them
        assert match.empty and match.prefix and match.ids(25) == [] and match.count() == 0
    assert len(captured.captured_queries) == 1


def test_two_characters_at_the_end_of_a_name_are_found(user_a):
    ends = make_task(user_a, filename="報告")  # no piece of three characters at all
    inside = make_task(user_a, filename="a報告b")
    make_task(user_a, filename="報x告")
    for q in ("報告", "告b", "a報"):
        match = names.name_match(user_a.pk, q)
        assert match.prefix and not match.empty
    assert sorted(names.name_match(user_a.pk, "報告").ids(10)) == sorted(_hex(ends, inside))
    assert names.name_match(user_a.pk, "報告").count() == 2


def test_two_characters_in_many_names_leave_the_walk_to_the_caller(user_a, monkeypatch):
    monkeypatch.setattr(names, "ESTIMATE_CAP", 3)
    for i in range(3):
        make_task(user_a, filename=f"ab{i}.png")
    assert names.name_match(user_a.pk, "ab") is None
    assert names.name_match(user_a.pk, "b0").count() == 1


def _hex(*tasks):
    return [task.pk.hex for task in tasks]  # ids as tasks.id holds them


def _rows():
    return sorted((r.user_id, r.gram.lower(), r.created_us) for r in TaskNameGram.objects.all())


def _from_tasks():
    out = set()
    for task in Task.objects.all():
        for piece in {task.filename[i:i + 3].lower() for i in range(len(task.filename) - 1)}:
            out.add((task.user_id, piece, names.created_us(task.created_at)))
    return sorted(out)


def test_the_rows_follow_every_write(user_a, user_b):
    task = make_task(user_a, filename="Quarterly report.pdf")
    other = make_task(user_b, filename="memo.txt")
    assert _rows() == _from_tasks() and len(_rows()) > 20
    Task.objects.filter(pk=task.pk).update(filename="renamed by hand.pdf")  # SQL an operator might run
    Task.objects.filter(pk=other.pk).update(created_at=other.created_at - timedelta(days=3), user=user_a)
    Task.objects.filter(pk=task.pk).update(status="failed", pages_done=3)  # no name change: rows stay
    assert _rows() == _from_tasks()
    assert names.name_match(user_a.pk, "report").empty and names.name_match(user_a.pk, "memo").count() == 1
    Task.objects.filter(pk=task.pk).delete()
    user_b.delete()
    assert _rows() == _from_tasks()
    user_a.delete()
    assert _rows() == [] == _from_tasks()


def test_rebuild_makes_the_same_rows(user_a):
    for name in NAMES:
        make_task(user_a, filename=name)
    kept = _rows()
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        for sql in names.rebuild_sql(connection.vendor, q(Task._meta.db_table), q(TaskNameGram._meta.db_table)):
            cursor.execute(sql)
    assert _rows() == kept == _from_tasks()


@pytest.mark.django_db(transaction=True)  # migrations run outside a test's transaction
def test_the_migration_adds_the_ends_and_reverses(user_a):
    from django.db.migrations.executor import MigrationExecutor

    def migrate(target):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate([target])

    (latest,) = MigrationExecutor(connection).loader.graph.leaf_nodes("tasks")
    make_task(user_a, filename="報告")
    make_task(user_a, filename="monthly 報告")
    migrate(("tasks", "0023_task_terms"))
    assert names.name_match(user_a.pk, "報告").empty  # no piece of the old index ends a name
    added = make_task(user_a, filename="月報告")  # the old triggers: three-character pieces only
    rows = TaskNameGram.objects.filter(user_id=user_a.pk, created_us=names.created_us(added.created_at))
    assert list(rows.values_list("gram", flat=True)) == ["月報告"]
    migrate(latest)
    assert _rows() == _from_tasks()
    assert names.name_match(user_a.pk, "報告").count() == 3


def test_the_comments_say_what_the_rows_hold(user_a):
    """The gram column's and the table's comments (database_schema.sql, docs/database.md, the database itself)
    name both kinds of piece: three characters, and a name's last two (migration 0024)."""
    make_task(user_a, filename="報告")
    make_task(user_a, filename="scan.png")
    held = set(TaskNameGram.objects.filter(user_id=user_a.pk).values_list("gram", flat=True))
    assert {len(gram) for gram in held} == {names.SHORTEST, names.GRAM} and {"報告", "ng", "sca"} <= held
    column = TaskNameGram._meta.get_field("gram").db_comment
    table = TaskNameGram._meta.db_table_comment
    assert "Three consecutive characters" in column and "last two" in column
    assert "three-character piece" in table and "last two characters" in table
    if connection.vendor == "mysql":  # the comments the migrations wrote are these
        with connection.cursor() as cursor:
            cursor.execute("SELECT column_comment FROM information_schema.columns WHERE table_schema = DATABASE() "
                           "AND table_name = %s AND column_name = 'gram'", [TaskNameGram._meta.db_table])
            assert cursor.fetchone()[0] == column
            cursor.execute("SELECT table_comment FROM information_schema.tables WHERE table_schema = DATABASE() "
                           "AND table_name = %s", [TaskNameGram._meta.db_table])
            assert cursor.fetchone()[0] == table


@pytest.mark.skipif("connection.vendor != 'mysql'")
@pytest.mark.django_db(transaction=True)
def test_a_database_made_with_the_servers_default_collation_can_rename_and_delete(user_a):
    """A database created without README's COLLATE utf8mb4_unicode_ci (CREATE DATABASE tool_ocr; MariaDB's
    default for utf8mb4 is utf8mb4_general_ci) gives tasks.filename that collation, and the triggers' comparison
    of a piece of it with task_name_grams.gram (utf8mb4_unicode_ci) failed with "Illegal mix of collations":
    no task could be renamed or deleted (purge_user, retention, the admin)."""
    tasks = connection.ops.quote_name(Task._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {tasks} MODIFY filename varchar(255) CHARACTER SET utf8mb4 "
                       "COLLATE utf8mb4_general_ci NOT NULL COMMENT 'The user''s file name: data only, never a path'")
    try:
        task = make_task(user_a, filename="Straße report.png")
        keep = make_task(user_a, filename="other.png")
        Task.objects.filter(pk=task.pk).update(filename="Renamed report.png")
        assert names.name_match(user_a.pk, "renamed").count() == 1
        Task.objects.filter(pk=task.pk).delete()
        assert _rows() == _from_tasks() and Task.objects.get() == keep
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {tasks} MODIFY filename varchar(255) CHARACTER SET utf8mb4 "
                           "COLLATE utf8mb4_unicode_ci NOT NULL COMMENT 'The user''s file name: data only, never a path'")
