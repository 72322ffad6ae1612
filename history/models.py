"""Bytes stored per task, kept next to the user and the creation time for the statistics.

Summing the files of a user's tasks joins task_files row by row, scattered over the whole
table (task ids are random UUIDs): seconds for a user with 100,000 tasks. This table has
one row per task that has files, ordered by (user, created_at), so "storage used" for a
date range is one short index range. history.signals keeps it equal to
SUM(task_files.size_bytes) per task; tests/history/test_storage.py checks that through the
real services.
"""

from django.conf import settings
from django.db import models


class TaskStorage(models.Model):
    task = models.OneToOneField("tasks.Task", primary_key=True, on_delete=models.CASCADE, related_name="storage")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             db_comment="Copy of tasks.user_id")
    created_at = models.DateTimeField(db_comment="Copy of tasks.created_at")
    bytes = models.PositiveBigIntegerField(default=0, db_comment="SUM(task_files.size_bytes) of the task")

    class Meta:
        db_table = "task_storage"
        db_table_comment = "Bytes stored per task (derived from task_files), for storage statistics"
        indexes = [models.Index(fields=["user", "created_at", "bytes"], name="storage_user_created_idx")]

    def __str__(self):
        return f"{self.task_id}: {self.bytes} bytes"


class TaskSummary(models.Model):
    """Per user and status: how many tasks, their pages, processing seconds and how many were timed.

    Kept by database triggers on the tasks table (history/triggers.py), so every writer counts:
    the services' conditional UPDATEs, the reaper, bulk deletes, SQL run by hand. The history's
    counts and the all-time statistics of a user with 100,000 tasks then read five rows instead
    of 100,000 index entries (benchmarks/history_scale.py). tests/history/test_summary.py checks
    it against GROUP BY after real service calls.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             db_constraint=False, db_comment="tasks.user_id")
    status = models.CharField(max_length=16, db_comment="tasks.status")
    tasks = models.BigIntegerField(default=0, db_comment="COUNT(*) of the user's tasks in this status")
    pages = models.BigIntegerField(default=0, db_comment="SUM(page_count)")
    seconds = models.FloatField(default=0, db_comment="SUM(processing_seconds)")
    timed = models.BigIntegerField(default=0, db_comment="COUNT(processing_seconds): tasks with a time")

    class Meta:
        db_table = "task_summary"
        db_table_comment = "Tasks per user and status (kept by triggers on tasks), for counts and statistics"
        constraints = [models.UniqueConstraint(fields=["user", "status"], name="summary_user_status_uniq")]

    def __str__(self):
        return f"{self.user_id} {self.status}: {self.tasks}"


class UserStorage(models.Model):
    """Bytes stored per user: the sum of the user's TaskStorage rows, kept by triggers on that table.

    "Storage used" over all time is then one row instead of 100,000 for a heavy user
    (history/triggers.py; tests/history/test_summary.py checks it against SUM).
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE,
                                related_name="+", db_constraint=False, db_comment="task_storage.user_id")
    bytes = models.BigIntegerField(default=0, db_comment="SUM(task_storage.bytes) of the user")

    class Meta:
        db_table = "user_storage"
        db_table_comment = "Bytes stored per user (kept by triggers on task_storage), for all-time statistics"

    def __str__(self):
        return f"{self.user_id}: {self.bytes} bytes"
