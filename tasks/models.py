"""OCR tasks, their files, and the derived figures the history reads (the audit log is core.models.AuditLog)."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Task(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE_STATUSES = (Status.PENDING, Status.PROCESSING)
    FINISHED_STATUSES = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tasks")
    filename = models.CharField(max_length=255, db_comment="The user's file name: data only, never a path")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    engine = models.CharField(max_length=16, default="easyocr", db_comment="OCR engine: easyocr or tesseract")
    language = models.CharField(max_length=32, default="en")
    mime_type = models.CharField(max_length=100, blank=True, db_comment="Detected from content, not the name")
    size_bytes = models.BigIntegerField(default=0, db_comment="Size of the uploaded file")
    sha256 = models.CharField(max_length=64, blank=True)
    page_count = models.PositiveIntegerField(default=0)
    pages_done = models.PositiveIntegerField(default=0, db_comment="Progress: pages finished")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, db_comment="Last sign of life from the worker")
    processing_seconds = models.FloatField(null=True, blank=True)
    retry_count = models.PositiveIntegerField(default=0)
    requeue_count = models.PositiveSmallIntegerField(
        default=0, db_default=0,  # also for rows inserted outside Django (SQL scripts, older code)
        db_comment="Times the reaper re-queued it after its worker stopped; reset by a retry")
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    queue_result_id = models.CharField(max_length=64, blank=True, db_comment="Id of the task queue row")
    worker_id = models.CharField(max_length=128, blank=True)
    text_layer_pages = models.JSONField(
        null=True, blank=True,
        db_comment="PDF pages read from their own text layer, not OCR'd (page numbers); null: every page OCR'd")

    class Meta:
        db_table = "tasks"
        db_table_comment = "OCR tasks, one per uploaded file"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="task_user_created_idx"),
            models.Index(fields=["user", "status", "-created_at"], name="task_user_status_created_idx"),
            models.Index(fields=["status", "heartbeat_at"], name="task_status_heartbeat_idx"),
            models.Index(fields=["created_at"], name="task_created_idx"),
            # History at scale (migration 0003, benchmarks/history_scale.py): a covering index for
            # the default order with the file-name search and the stats, and one per sortable column.
            models.Index(fields=["user", "-created_at", "id", "status", "page_count", "processing_seconds", "filename"],
                         name="task_history_cover_idx"),
            models.Index(fields=["user", "filename", "-created_at", "id"], name="task_user_filename_idx"),
            models.Index(fields=["user", "processing_seconds", "-created_at", "id", "status"],
                         name="task_user_seconds_idx"),
            # Statistics: read in status order, so the figures per status need no temporary table.
            models.Index(fields=["user", "status", "created_at", "page_count", "processing_seconds"],
                         name="task_user_status_stats_idx"),
            # The badge's "finished just now" (selectors, polled on every page): without it a user with
            # 100,000 tasks sorts them all on each poll.
            models.Index(fields=["user", "-completed_at"], name="task_user_completed_idx"),
            # The admin's status and engine filters, newest first (benchmarks/admin_scale.py): without
            # them the page walks the date index row by row looking for 100 matches.
            models.Index(fields=["status", "created_at"], name="task_status_created_idx"),
            models.Index(fields=["engine", "created_at"], name="task_engine_created_idx"),
        ]

    def __str__(self):
        return f"{self.filename} ({self.status})"

    @property
    def is_active(self):
        return self.status in self.ACTIVE_STATUSES

    @property
    def pages_read(self) -> dict | None:
        """How a completed task's pages were read: ``{"text_layer": [numbers], "ocr": [numbers]}``; else None."""
        if self.status != self.Status.COMPLETED:
            return None
        from_text = set(self.text_layer_pages or [])
        return {"text_layer": sorted(from_text),
                "ocr": [n for n in range(1, self.page_count + 1) if n not in from_text]}

    @property
    def progress_percent(self) -> int:
        if not self.page_count:
            return 100 if self.status == self.Status.COMPLETED else 0
        return min(100, round(100 * self.pages_done / self.page_count))


def task_file_path(instance, filename):
    """<user id>/<task id>/<generated name>: the user's name never becomes a path."""
    return f"{instance.task.user_id}/{instance.task_id}/{filename}"


class TaskFile(models.Model):
    class Kind(models.TextChoices):
        ORIGINAL = "original", "Original upload"
        RESULT_TXT = "result_txt", "Text (result.txt)"
        RESULT_JSON = "result_json", "JSON with boxes (result.json)"
        RESULT_PDF = "result_pdf", "Searchable PDF (result.pdf)"

    id = models.BigAutoField(primary_key=True)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="files")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    file = models.FileField(upload_to=task_file_path, max_length=255, db_comment="Storage name, generated")
    name = models.CharField(max_length=255, db_comment="Download name shown to the user")
    mime_type = models.CharField(max_length=100, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "task_files"
        db_table_comment = "Files of a task: the upload and its results"
        constraints = [models.UniqueConstraint(fields=["task", "kind"], name="task_file_kind_uniq")]

    def __str__(self):
        return f"{self.task_id} {self.kind}"


class UploadKey(models.Model):
    """The idempotency key a client sent with an upload, one row per task that upload created.

    The same key again (a client that lost the connection and sends the request once more)
    returns these tasks instead of making new ones (tasks.services.tasks_create). Its own table,
    so the tasks table (and the triggers on it) is not rebuilt to add it.
    """

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64, db_comment="Idempotency-Key header or the upload form's upload_key")
    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="upload_key_row")

    class Meta:
        db_table = "upload_keys"
        db_table_comment = "Idempotency keys of uploads: the tasks each key created"
        indexes = [models.Index(fields=["user", "key"], name="upload_key_user_key_idx")]

    def __str__(self):
        return self.key


class StagedFolder(models.Model):
    """A task folder whose files may not all have a row yet (or any more): written first, adopted later.

    Committed before a file is written (upload, results) or together with the rows a deletion
    removes, and deleted in the transaction that adopts the files (or once the files are gone).
    A row still here after STAGING_GRACE_SECONDS belongs to a process that died: the reaper then
    deletes every file of that folder that no TaskFile row names (tasks.files.staging).
    """

    id = models.BigAutoField(primary_key=True)
    folder = models.CharField(max_length=255, db_comment="Storage folder <user id>/<task id>")
    reason = models.CharField(max_length=16, db_comment="upload, results or delete")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "staged_folders"
        db_table_comment = "Storage folders being written or emptied: what a dead process left is found here"
        indexes = [models.Index(fields=["created_at"], name="staged_created_idx"),
                   models.Index(fields=["folder"], name="staged_folder_idx")]

    def __str__(self):
        return f"{self.folder} ({self.reason})"


class WorkerPresence(models.Model):
    """One row per running OCR worker process: its last sign of life and its database outages.

    Written every few seconds by the worker (busy or idle), so /readyz and /metrics can tell a
    live worker from a dead one, whatever stopped it.
    """

    worker_id = models.CharField(max_length=128, primary_key=True)
    hostname = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now, db_index=True)
    db_outages = models.PositiveIntegerField(default=0, db_comment="Times it lost the database and got it back")
    db_outage_seconds = models.FloatField(default=0, db_comment="Seconds it spent waiting for the database")
    last_db_outage_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "worker_presence"
        db_table_comment = "Running OCR workers: last sign of life, database outages they lived through"

    def __str__(self):
        return self.worker_id


class TaskText(models.Model):
    """The recognised text of a task, and its search terms (tasks.history.search): one row per completed task.

    ``terms`` holds every word (folded) and every two-character piece of Chinese/Japanese text,
    each prefixed with the owner's tag; triggers copy them into TaskTerm (tasks/history/text_index.py,
    migration 0023), the index the search reads. The row goes with its task (cascade), and a new
    run replaces it in the run's transaction.
    """

    id = models.BigAutoField(primary_key=True)
    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="text_index")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             db_comment="Owner, as in tasks: searches never leave it")
    text = models.TextField(blank=True, db_comment="The recognised text (result.txt), for snippets")
    terms = models.TextField(blank=True, db_comment="Search terms: <user tag><w|c><folded word or CJK pair>")

    class Meta:
        db_table = "task_texts"
        db_table_comment = "Recognised text of completed tasks, indexed for search"

    def __str__(self):
        return f"text of {self.task_id}"


# --- Derived figures for the history and statistics (tasks/history/) -----------------------------


class TaskStorage(models.Model):
    """Bytes stored per task, kept next to the user and the creation time for the statistics.

    Summing the files of a user's tasks joins task_files row by row, scattered over the whole
    table (task ids are random UUIDs): seconds for a user with 100,000 tasks. This table has
    one row per task that has files, ordered by (user, created_at), so "storage used" for a
    date range is one short index range. tasks.history.signals keeps it equal to
    SUM(task_files.size_bytes) per task; tests/tasks/history/test_storage.py checks that through the
    real services.
    """

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

    Kept by database triggers on the tasks table (tasks/history/triggers.py), so every writer counts:
    the services' conditional UPDATEs, the reaper, bulk deletes, SQL run by hand. The history's
    counts and the all-time statistics of a user with 100,000 tasks then read five rows instead
    of 100,000 index entries (benchmarks/history_scale.py). tests/tasks/history/test_summary.py checks
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
    (tasks/history/triggers.py; tests/tasks/history/test_summary.py checks it against SUM).
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE,
                                related_name="+", db_constraint=False, db_comment="task_storage.user_id")
    bytes = models.BigIntegerField(default=0, db_comment="SUM(task_storage.bytes) of the user")

    class Meta:
        db_table = "user_storage"
        db_table_comment = "Bytes stored per user (kept by triggers on task_storage), for all-time statistics"

    def __str__(self):
        return f"{self.user_id}: {self.bytes} bytes"


class TaskHourSummary(models.Model):
    """Per user, hour of creation (UTC) and status: the same figures as TaskSummary.

    Kept by database triggers on the tasks table (tasks/history/triggers.py), like TaskSummary. The
    statistics of a date range and the chart's tasks per day add up at most 24 rows per day and
    status instead of every task in the range: 1,440 rows for a 30-day chart of a user with 555
    tasks a day, not 16,500 (benchmarks/history_scale.py). A day of the site's time zone is a
    whole number of UTC hours wherever its offset is whole hours (daylight saving included);
    elsewhere (India's +5:30, say) the statistics read the tasks. tests/tasks/history/test_summary.py
    checks it against GROUP BY after real service calls.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             db_constraint=False, db_index=False,  # the unique index starts with it
                             db_comment="tasks.user_id")
    hour = models.DateTimeField(db_comment="tasks.created_at truncated to the hour (UTC)")
    status = models.CharField(max_length=16, db_comment="tasks.status")
    tasks = models.BigIntegerField(default=0, db_comment="COUNT(*) of the user's tasks created in this hour")
    pages = models.BigIntegerField(default=0, db_comment="SUM(page_count)")
    seconds = models.FloatField(default=0, db_comment="SUM(processing_seconds)")
    timed = models.BigIntegerField(default=0, db_comment="COUNT(processing_seconds): tasks with a time")

    class Meta:
        db_table = "task_hour_summary"
        db_table_comment = ("Tasks per user, hour of creation and status (kept by triggers on tasks), "
                            "for the statistics of a date range and the chart")
        constraints = [models.UniqueConstraint(fields=["user", "hour", "status"], name="hour_summary_uniq")]

    def __str__(self):
        return f"{self.user_id} {self.hour:%Y-%m-%d %H}:00 {self.status}: {self.tasks}"


class TaskNameGram(models.Model):
    """The file-name index (tasks/history/names.py): one row per three-character piece of a task's file
    name and one for its last two characters, written only by the triggers on tasks. Its whole row is its
    primary key, newest first per piece."""

    pk = models.CompositePrimaryKey("user_id", "gram", "created_us", "task_key")
    user_id = models.BigIntegerField(db_comment="Owner of the task (tasks.user_id)")
    gram = models.CharField(max_length=3, db_comment="Three consecutive characters of tasks.filename, or its "
                                                     "last two; compared as the file name is in LIKE "
                                                     "(utf8mb4_unicode_ci)")
    created_us = models.BigIntegerField(db_comment="The task's created_at in microseconds since 1970 (UTC); "
                                                   "descending in the key: newest first")
    task_key = models.BinaryField(max_length=16, db_comment="The task's id as 16 bytes (UNHEX(tasks.id); "
                                                            "the id's text on SQLite)")

    class Meta:
        db_table = "task_name_grams"
        db_table_comment = ("File-name index: every three-character piece of each task's file name and its last "
                            "two characters, kept by triggers")

    def __str__(self):
        return self.gram


class TaskTerm(models.Model):
    """The text index (tasks/history/text_index.py): one row per search term of a task's recognised text,
    written only by the triggers on task_texts. Its whole row is its primary key, newest first per term."""

    pk = models.CompositePrimaryKey("user_id", "term", "created_us", "task_key")
    user_id = models.BigIntegerField(db_comment="Owner of the task (task_texts.user_id)")
    term = models.CharField(max_length=64, db_comment="A term of task_texts.terms without the owner's tag: "
                                                      "w<folded word> or c<hex of two CJK characters> (utf8mb4_bin)")
    created_us = models.BigIntegerField(db_comment="The task's created_at in microseconds since 1970 (UTC); "
                                                   "descending in the key: newest first")
    task_key = models.BinaryField(max_length=16, db_comment="The task's id as 16 bytes (UNHEX(tasks.id); "
                                                            "the id's text on SQLite)")

    class Meta:
        db_table = "task_terms"
        db_table_comment = "Text index: every search term of each task's recognised text, kept by triggers"

    def __str__(self):
        return self.term


class TaskTermCount(models.Model):
    """How many of an owner's texts hold each (lcp, term) of the text index (tasks/history/text_index.py):
    the exact count of a search for a word or prefix, in a few rows. Written only by triggers on task_texts."""

    pk = models.CompositePrimaryKey("user_id", "lcp", "term")
    user_id = models.BigIntegerField(db_comment="Owner of the texts (task_texts.user_id)")
    lcp = models.SmallIntegerField(db_comment="Characters the term shares with the term before it in the "
                                              "text's sorted terms (0 for the first)")
    term = models.CharField(max_length=64, db_comment="A term as in task_terms.term (utf8mb4_bin)")
    texts = models.IntegerField(db_comment="Texts of the owner that hold the term with this lcp (at 0 the row goes)")

    class Meta:
        db_table = "task_term_counts"
        db_table_comment = "Text index counts: per owner, texts holding each (lcp, term), kept by triggers"

    def __str__(self):
        return self.term
