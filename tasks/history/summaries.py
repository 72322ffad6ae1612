"""Writes of the derived storage table (tasks.models.TaskStorage)."""

from django.db import IntegrityError, transaction
from django.db.models import Sum

from tasks.models import TaskStorage


def task_storage_refresh(*, task_id, create: bool = True) -> None:
    """Set the task's row to the sum of its files' sizes (recomputed, so it cannot drift).

    create=False only updates an existing row: while a task is being deleted its files go
    first, and a row must not be made again for a task that is about to disappear.
    """
    from tasks.models import Task, TaskFile

    total = TaskFile.objects.filter(task_id=task_id).aggregate(n=Sum("size_bytes"))["n"] or 0
    if TaskStorage.objects.filter(task_id=task_id).update(bytes=total) or not create:
        return
    task = Task.objects.filter(pk=task_id).values("user_id", "created_at").first()
    if task is None:
        return
    try:
        with transaction.atomic():
            TaskStorage.objects.create(task_id=task_id, user_id=task["user_id"], created_at=task["created_at"],
                                       bytes=total)
    except IntegrityError:  # made by a parallel save in the meantime
        TaskStorage.objects.filter(task_id=task_id).update(bytes=total)


def task_storage_rebuild() -> int:
    """Recompute every row from task_files in one statement (after a restore or a bulk load that skipped signals)."""
    from django.db import connection

    from tasks.models import Task, TaskFile

    q = connection.ops.quote_name
    with transaction.atomic():
        TaskStorage.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {q(TaskStorage._meta.db_table)} (task_id, user_id, created_at, bytes) "
                f"SELECT t.id, t.user_id, t.created_at, SUM(f.size_bytes) FROM {q(TaskFile._meta.db_table)} f "
                f"JOIN {q(Task._meta.db_table)} t ON t.id = f.task_id GROUP BY t.id, t.user_id, t.created_at")
    return TaskStorage.objects.count()


def task_summary_rebuild() -> int:
    """Recount TaskSummary, TaskHourSummary and UserStorage from their tables (after loading rows
    with the triggers off)."""
    from django.db import connection

    from tasks.history.triggers import rebuild_sql, storage_rebuild_sql
    from tasks.models import Task, TaskHourSummary, TaskStorage, TaskSummary, UserStorage

    q = connection.ops.quote_name
    tasks = q(Task._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in (rebuild_sql(tasks, q(TaskSummary._meta.db_table))
                    + rebuild_sql(tasks, q(TaskHourSummary._meta.db_table), connection.vendor, hourly=True)):
            cursor.execute(sql)
        for sql in storage_rebuild_sql(q(TaskStorage._meta.db_table), q(UserStorage._meta.db_table)):
            cursor.execute(sql)
    return TaskSummary.objects.count()
