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
