"""Reads of tasks and files. Every query for user data takes the user."""

from django.db.models import QuerySet

from tasks.models import Task, TaskFile


def task_list(*, user, filters: dict | None = None) -> QuerySet[Task]:
    """The user's tasks, newest first."""
    qs = Task.objects.filter(user=user).order_by("-created_at")
    filters = filters or {}
    if filters.get("status"):
        qs = qs.filter(status__in=filters["status"])
    return qs


def task_get(*, user, task_id) -> Task | None:
    """One of the user's tasks, or None (also for another user's task: callers answer 404)."""
    return Task.objects.filter(user=user, pk=task_id).prefetch_related("files").first()


def task_active_count(*, user) -> int:
    return Task.objects.filter(user=user, status__in=Task.ACTIVE_STATUSES).count()


def task_file_get(*, user, task_id, kind) -> TaskFile | None:
    return TaskFile.objects.filter(task__user=user, task_id=task_id, kind=kind).select_related("task").first()
