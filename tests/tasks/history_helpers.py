"""Helpers for the history and API tests: signed-in clients, a generated history, and the derived tables
rebuilt from their sources (the benchmarks load rows in bulk, past the signals and triggers)."""

import io
import random
from datetime import timedelta

from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from tasks.history.triggers import rebuild_sql, storage_rebuild_sql
from tasks.models import Task, TaskFile, TaskHourSummary, TaskStorage, TaskSummary, UserStorage
from tests.signin import signed_in  # noqa: F401  (re-exported for the tests that import it from here)

STATUSES = ("pending", "processing", "completed", "failed", "cancelled")


def png_bytes(size=(40, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "white").save(buffer, "PNG")
    return buffer.getvalue()


def png_upload(name="scan.png", size=(40, 20)) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(size), "image/png")


def make_task(user, *, filename="scan.png", status="completed", created_at=None, page_count=1,
              processing_seconds=None, with_files=False, **extra) -> Task:
    """A task row in a given state (and, with_files, its original and result files in storage)."""
    created_at = created_at or timezone.now()
    finished = status in ("completed", "failed", "cancelled")
    values = dict(user=user, filename=filename, status=status, created_at=created_at, page_count=page_count,
                  pages_done=page_count if status == "completed" else 0, size_bytes=1000, mime_type="image/png")
    if status in ("processing", "completed", "failed"):
        values["started_at"] = created_at + timedelta(seconds=1)
    if finished:
        values["completed_at"] = created_at + timedelta(seconds=2 + (processing_seconds or 0))
    if status in ("completed", "failed"):
        values["processing_seconds"] = processing_seconds if processing_seconds is not None else 1.5
    if status == "failed":
        values.update(error_code="ocr_failed", error_message="The engine stopped.")
    if status == "cancelled":
        values.update(error_code="cancelled", error_message="Cancelled by the user.")
    values.update(extra)
    task = Task.objects.create(**values)
    if with_files:
        add_file(task, TaskFile.Kind.ORIGINAL, png_bytes(), "original.png", task.filename)
        if status == "completed":
            add_file(task, TaskFile.Kind.RESULT_TXT, f"text of {task.filename}\n".encode(), "result.txt",
                     task.filename.rsplit(".", 1)[0] + ".txt")
            add_file(task, TaskFile.Kind.RESULT_JSON, b'{"pages": []}', "result.json",
                     task.filename.rsplit(".", 1)[0] + ".json")
    return task


def add_file(task, kind, content: bytes, storage_name: str, name: str) -> TaskFile:
    tf = TaskFile(task=task, kind=kind, name=name, size_bytes=len(content),
                  mime_type={"original": "image/png", "result_txt": "text/plain"}.get(kind, "application/json"))
    tf.file.save(storage_name, ContentFile(content), save=False)
    tf.save()
    return tf


WORDS = ("invoice", "contract", "letter", "receipt", "scan", "page", "report", "memo")


def generate_history(user, n=60, seed=7, days=40) -> list[Task]:
    """n tasks with varied names, statuses, dates (over `days` days), durations; reproducible."""
    rng = random.Random(seed)
    now = timezone.now().replace(microsecond=0)
    tasks = []
    for i in range(n):
        status = STATUSES[rng.randrange(len(STATUSES))]
        created = now - timedelta(days=rng.randrange(days), hours=rng.randrange(24), minutes=rng.randrange(60))
        if i % 9 == 0 and tasks:
            created = tasks[-1].created_at  # ties in created_at, to pin the tie-breaker
        name = f"{WORDS[rng.randrange(len(WORDS))]}-{rng.randrange(1000):03d}.png"
        seconds = round(rng.uniform(0.5, 90), 3) if status in ("completed", "failed") else None
        tasks.append(make_task(user, filename=name, status=status, created_at=created,
                               page_count=rng.randrange(1, 12), processing_seconds=seconds))
    return tasks


def task_storage_rebuild() -> int:
    """Recompute every TaskStorage row from task_files in one statement (after a bulk load that skipped signals)."""
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
    q = connection.ops.quote_name
    tasks = q(Task._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in (rebuild_sql(tasks, q(TaskSummary._meta.db_table))
                    + rebuild_sql(tasks, q(TaskHourSummary._meta.db_table), connection.vendor, hourly=True)):
            cursor.execute(sql)
        for sql in storage_rebuild_sql(q(TaskStorage._meta.db_table), q(UserStorage._meta.db_table)):
            cursor.execute(sql)
    return TaskSummary.objects.count()
