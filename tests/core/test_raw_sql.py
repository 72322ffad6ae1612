"""Plain-SQL whole-row reads (core/raw_sql.py): the same instances the ORM makes, on SQLite and MariaDB
(UUIDs stored as CHAR(32), aware datetimes, JSON), and nothing for an empty key list."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from core.raw_sql import select_rows
from tasks.models import Task

pytestmark = pytest.mark.django_db


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_a_row_reads_as_the_orm_reads_it(user_a, user_b):
    now = timezone.now()
    task = Task.objects.create(user=user_a, filename="naïve “quotes”.png", status="completed", created_at=now,
                               started_at=now + timedelta(seconds=1), processing_seconds=2.5, page_count=3,
                               pages_done=3, text_layer_pages=[1, 3], size_bytes=123)
    Task.objects.create(user=user_b, filename="bob.png")
    [raw] = select_rows(Task, equal={"user": user_a, "id": task.pk})
    orm = Task.objects.get(pk=task.pk)
    assert _fields(raw) == _fields(orm)
    assert raw._state.db == "default" and not raw._state.adding
    assert isinstance(raw.created_at, type(orm.created_at)) and raw.created_at.tzinfo is not None


def test_the_owner_and_the_key_list_narrow_the_rows(user_a, user_b):
    mine = [Task.objects.create(user=user_a, filename=f"{n}.png") for n in range(3)]
    theirs = Task.objects.create(user=user_b, filename="bob.png")
    ids = [mine[0].pk, str(mine[2].pk), theirs.pk]  # a UUID or its text, as URLs and indexes give them
    found = select_rows(Task, equal={"user_id": user_a.pk}, within={"id": ids})
    assert sorted(t.pk for t in found) == sorted([mine[0].pk, mine[2].pk])
    assert select_rows(Task, equal={"user": user_a}, within={"id": []}) == []
    assert select_rows(Task, equal={"user": user_b, "id": mine[1].pk}) == []


def test_a_user_reads_whole(user_a):
    [raw] = select_rows(User, equal={"id": str(user_a.pk)})  # the session stores the id as text
    assert _fields(raw) == _fields(User.objects.get(pk=user_a.pk))


def test_values_read_as_the_orm_reads_them(user_a, user_b):
    """select_values: the chosen columns as the ORM gives them (a foreign key's UUID, an aware datetime)."""
    from core.raw_sql import select_values

    now = timezone.now()
    mine = [Task.objects.create(user=user_a, filename=f"{n}.png", created_at=now - timedelta(hours=n))
            for n in range(3)]
    theirs = Task.objects.create(user=user_b, filename="bob.png")
    found = select_values(Task, ("id", "user", "filename", "created_at"), equal={"user": user_a},
                          within={"id": [mine[0].pk, str(mine[2].pk), theirs.pk]})
    orm = Task.objects.filter(pk__in=[mine[0].pk, mine[2].pk]).values_list("id", "user_id", "filename", "created_at")
    assert sorted(found, key=lambda row: row[2]) == sorted(orm, key=lambda row: row[2])
    assert all(isinstance(row[0], type(mine[0].pk)) and row[3].tzinfo is not None for row in found)
    assert select_values(Task, ("id",), within={"id": []}) == []
    assert select_values(Task, ("filename",), equal={"user": user_b}) == [("bob.png",)]


def test_a_row_and_its_parent_read_in_one_query_as_the_orm_reads_them(user_a, user_b, django_assert_num_queries):
    """select_with_parent: the child's and the parent's columns converted as the ORM converts them, the
    conditions on each side narrowing the rows (another owner's task gives nothing)."""
    from core.raw_sql import select_with_parent
    from tasks.models import TaskFile

    task = Task.objects.create(user=user_a, filename="naïve.png", status="completed", created_at=timezone.now(),
                               text_layer_pages=[2], size_bytes=5)
    TaskFile.objects.create(task=task, kind="original", file="a/original.png", name="naïve.png", size_bytes=5)
    txt = TaskFile.objects.create(task=task, kind="result_txt", file="a/result.txt", name="naïve.txt", size_bytes=3)
    with django_assert_num_queries(1):
        [(child, parent)] = select_with_parent(TaskFile, "task", equal={"kind": "result_txt"},
                                               parent_equal={"id": str(task.pk), "user": user_a})
    assert _fields(child) == _fields(TaskFile.objects.get(pk=txt.pk))
    assert _fields(parent) == _fields(Task.objects.get(pk=task.pk))
    assert select_with_parent(TaskFile, "task", equal={"kind": "result_txt"},
                              parent_equal={"id": task.pk, "user": user_b}) == []
    assert select_with_parent(TaskFile, "task", equal={"kind": "result_pdf"},
                              parent_equal={"id": task.pk, "user": user_a}) == []
