"""Writes of the derived storage table (tasks.models.TaskStorage), kept in step by tasks.history.signals."""

from django.db import IntegrityError, transaction
from django.db.models import Sum

from tasks.models import Task, TaskFile, TaskStorage


def task_storage_refresh(*, task_id, create: bool = True) -> None:
    """Set the task's row to the sum of its files' sizes (recomputed, so it cannot drift).

    create=False only updates an existing row: while a task is being deleted its files go
    first, and a row must not be made again for a task that is about to disappear.
    """
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
