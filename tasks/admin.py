"""Admin for operators: tasks (retry, cancel, delete with files), task files, read-only (the audit log: core.admin),
and the people's page again with their active tasks and storage, deleting through the purge.

Lists are built for a million rows: owners come in one extra query for the page
(prefetch_related, not a JOIN: with ``tasks JOIN users ORDER BY created_at LIMIT 100`` MariaDB
drives the join from the small users table and sorts every task, 25+ s at a million rows),
no column runs a query per row, counts are bounded (core.admin_tools), and no filter
lists every user or every distinct value of a big column. benchmarks/admin_scale.py measures it.
"""

from functools import partial

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import F, FloatField, Func, Value
from django.template.defaultfilters import filesizeformat

from accounts.admin import UserAdmin
from accounts.models import User
from core.admin_tools import FastChangeList, FastListMixin, ReadOnlyMixin, UserEmailFilter, table_row_estimate
from core.audit import Actor
from core.errors import AppError
from tasks import services
from tasks.maintenance import cleanup, reports
from tasks.models import Task, TaskFile


class EngineFilter(admin.SimpleListFilter):
    """Choices from the engine registry, not SELECT DISTINCT over the whole table."""

    title = "engine"
    parameter_name = "engine"

    def lookups(self, request, model_admin):
        return [(name, name) for name in services.engine_names()]

    def queryset(self, request, queryset):
        return queryset.filter(engine=self.value()) if self.value() else queryset


FULLTEXT_INDEX = "task_filename_ft_idx"  # migration 0007_i11_task_filename_fulltext
_MIN_WORD = 3  # innodb_ft_min_token_size: shorter words are not in the index
# A term matching more than about this many names is common: LIKE over the newest rows finds a page
# sooner than the index path (each match costs a row look-up). Told from a sample rather than by counting
# the index's matches, which for a common word costs as much as the page (measured: admin_scale.py).
FULLTEXT_MAX_MATCHES = 1000
SAMPLE_ROWS = 10_000  # the first rows in primary-key order: task ids are random, so a fair sample


def fulltext_words(term: str) -> list[str]:
    """The words of a search term the FULLTEXT index can find (letters and digits, 3+ characters)."""
    import re

    return [w for w in re.findall(r"\w+", term.lower()) if len(w) >= _MIN_WORD][:8]


def fulltext_available(queryset) -> bool:
    from django.db import connections

    connection = connections[queryset.db]
    if connection.vendor != "mysql":
        return False
    cache = connection.__dict__.setdefault("_tool_ocr_fulltext", {})
    if "tasks" not in cache:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() "
                           "AND TABLE_NAME = %s AND INDEX_NAME = %s", [Task._meta.db_table, FULLTEXT_INDEX])
            cache["tasks"] = cursor.fetchone()[0] > 0
    return cache["tasks"]


class FilenameMatch(Func):
    """``MATCH (filename) AGAINST (%s IN BOOLEAN MODE)`` as a filter (MariaDB/MySQL only)."""

    output_field = FloatField()  # the relevance; > 0 when the name matches

    def __init__(self, query: str):
        super().__init__(F("filename"), Value(query))

    def as_sql(self, compiler, connection, **extra):
        field_sql, field_params = compiler.compile(self.source_expressions[0])
        value_sql, value_params = compiler.compile(self.source_expressions[1])
        return f"MATCH ({field_sql}) AGAINST ({value_sql} IN BOOLEAN MODE)", [*field_params, *value_params]


def common_term(queryset, bits) -> bool:
    """True when names holding every part would number more than about FULLTEXT_MAX_MATCHES.

    Counted in a sample of SAMPLE_ROWS rows (a scan of the primary key's first rows, ~5 ms): the
    index's own count of a common word's matches costs 300+ ms at a million tasks, more than
    the page it decides about.
    """
    from django.db import connections

    connection = connections[queryset.db]
    table = connection.ops.quote_name(Task._meta.db_table)
    likes = " AND ".join(["s.filename LIKE %s"] * len(bits))
    params = ["%" + connection.ops.prep_for_like_query(bit) + "%" for bit in bits]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM (SELECT t.filename FROM {table} t ORDER BY t.id LIMIT {SAMPLE_ROWS}) s "
                       f"WHERE {likes}", params)
        found = cursor.fetchone()[0]
    total = table_row_estimate(queryset) or SAMPLE_ROWS
    return found * max(total, SAMPLE_ROWS) / SAMPLE_ROWS > FULLTEXT_MAX_MATCHES


class TaskUserFilter(UserEmailFilter):
    user_field = "user"


@admin.register(Task)
class TaskAdmin(FastListMixin, admin.ModelAdmin):
    list_display = ("filename", "owner", "status", "engine", "pages", "size", "created_at", "processing_seconds",
                    "retry_count")
    list_select_related = False  # see the module docstring: owners are prefetched per page
    list_filter = ("status", EngineFilter, "created_at", TaskUserFilter)
    search_fields = ("filename",)
    search_help_text = ("File name contains each part (case-insensitive). On MariaDB each word of 3 or more "
                        "letters or digits must also start a word of the name (found through an index): "
                        "“voice” does not find “invoice”, “invo” does.")
    ordering = ("-created_at",)
    sortable_by = ("created_at",)  # the indexed column: sorting by others means a filesort of every row
    actions = ("retry_tasks", "cancel_tasks", "delete_selected")
    readonly_fields = [f.name for f in Task._meta.fields]
    raw_id_fields = ("user",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("user")

    def get_search_results(self, request, queryset, search_term):
        """File name contains each part of the term: on MariaDB, candidates come from the FULLTEXT index first.

        LIKE '%term%' alone reads every row (2.9 s at a million tasks). Each word of the term
        (3 characters or more) must start a word of the name, found through the index; LIKE then
        keeps only names that contain each space-separated part, as Django's own search does. When the term
        is common (``common_term``: a sample says it matches too many rows for the index to help), the
        plain LIKE is faster: the newest page fills from the first rows of the date index. See
        benchmarks/admin_scale.py.
        """
        bits = search_term.split()
        words = fulltext_words(search_term)
        if not bits or not words or not fulltext_available(queryset):
            return super().get_search_results(request, queryset, search_term)
        contains = queryset
        for bit in bits:  # as Django's own search: every space-separated part, anywhere in the name
            contains = contains.filter(filename__icontains=bit)
        if common_term(queryset, bits):
            return contains, False  # a common word: the date-index walk fills the page sooner
        candidates = contains.alias(name_match=FilenameMatch(" ".join(f"+{w}*" for w in words))).filter(
            name_match__gt=0)
        return candidates, False

    def get_fields(self, request, obj=None):
        return self.readonly_fields

    @admin.display(description="user", ordering="user__email")
    def owner(self, task):
        return task.user.email

    @admin.display(description="pages")
    def pages(self, task):
        return f"{task.pages_done}/{task.page_count}"

    @admin.display(description="size", ordering="size_bytes")
    def size(self, task):
        return filesizeformat(task.size_bytes)

    def has_add_permission(self, request):
        return False  # tasks come from uploads only

    @admin.action(description="Retry selected failed or cancelled tasks", permissions=["change"])
    def retry_tasks(self, request, queryset):
        self._apply(request, queryset, partial(services.task_retry, allow_completed=False), "retried")

    @admin.action(description="Cancel selected pending or processing tasks", permissions=["change"])
    def cancel_tasks(self, request, queryset):
        self._apply(request, queryset, services.task_cancel, "cancelled")

    def _apply(self, request, queryset, service, verb):
        done, skipped = 0, []
        actor = Actor.of(request, via="admin")
        for task in queryset.select_related("user"):
            try:
                service(task=task, actor=actor)
            except AppError as exc:
                skipped.append(f"{task.filename}: {exc}")
                continue
            done += 1
        self.message_user(request, f"{done} task(s) {verb}.", messages.SUCCESS if done else messages.WARNING)
        if skipped:
            self.message_user(request, f"{len(skipped)} skipped: " + "; ".join(skipped[:10]), messages.WARNING)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            func, name, _ = actions["delete_selected"]
            actions["delete_selected"] = (func, name, "Delete selected tasks and their files")
        return actions

    def get_deleted_objects(self, objs, request):
        """Task files go with their task (read-only on their own, so no separate delete permission)."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(TaskFile._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def delete_model(self, request, obj):
        """Through the service: the rows, then every file under the task's folder."""
        services.task_delete(task=obj, actor=Actor.of(request, via="admin"))

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for task in queryset.select_related("user"):
                self.delete_model(request, task)


@admin.register(TaskFile)
class TaskFileAdmin(FastListMixin, ReadOnlyMixin, admin.ModelAdmin):
    """Read-only: which files exist, how big, for whom. Files are downloaded by their owners only."""

    list_display = ("name", "kind", "owner", "task_link", "size", "created_at")
    list_select_related = False
    # No user filter here: "files of a user, newest first" sorts every file of a heavy user (15 s at
    # 3.5 million files); find the person's tasks in the task list, then open a task's files.
    list_filter = ("kind", "created_at")
    search_fields = ("=task__id",)
    search_help_text = "Task id (exact)."
    ordering = ("-id",)
    sortable_by = ()
    fields = ("task", "kind", "name", "file", "mime_type", "size_bytes", "sha256", "created_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("task__user")

    @admin.display(description="user")
    def owner(self, obj):
        return obj.task.user.email

    @admin.display(description="task")
    def task_link(self, obj):
        from django.urls import reverse
        from django.utils.html import format_html

        return format_html('<a href="{}">{}</a>', reverse("admin:tasks_task_change", args=[obj.task_id]),
                           obj.task.filename)

    @admin.display(description="size", ordering="size_bytes")
    def size(self, obj):
        return filesizeformat(obj.size_bytes)


# --- People, with their tasks ---------------------------------------------------------------------
class UserWithTasksChangeList(FastChangeList):
    """Adds each listed user's active tasks and stored bytes with two grouped queries for the page."""

    def get_results(self, request):
        super().get_results(request)
        rows = list(self.result_list)
        usage = reports.user_usage(u.pk for u in rows)
        for user in rows:
            user.usage = usage.get(user.pk, {})


class UserWithTasksAdmin(UserAdmin):
    """accounts' people page with what only tasks knows: active tasks, storage, and a delete that purges."""

    list_display = ("email", "display_name", "auth_source", "is_active", "is_staff", "active_tasks", "storage_used",
                    "last_seen_at")

    def get_changelist(self, request, **kwargs):
        return UserWithTasksChangeList

    def delete_model(self, request, obj):
        """Through the purge service: the person's tasks, files and sessions go too, audited."""
        cleanup.purge_user(user=obj, actor=Actor.of(request, via="admin"))

    def delete_queryset(self, request, queryset):
        for user in list(queryset):
            self.delete_model(request, user)

    def get_deleted_objects(self, objs, request):
        """A summary per person (the purge's own dry-run count), not every task listed one by one.

        The tasks, files and sessions go through the purge service, so no per-model delete
        permission is asked for them (sessions and files cannot be deleted on their own here).
        """
        from django.template.defaultfilters import pluralize

        summary, counts = [], {"users": 0, "tasks": 0, "files": 0, "sessions": 0}
        for user in objs:
            outcome = cleanup.purge_user(user=user, dry_run=True)
            summary.append(f"{user.email}: {outcome.tasks} task{pluralize(outcome.tasks)}, {outcome.files} "
                           f"file{pluralize(outcome.files)} ({filesizeformat(outcome.bytes)}), {outcome.sessions} "
                           f"session{pluralize(outcome.sessions)}; audit rows stay")
            counts["users"] += 1
            for key in ("tasks", "files", "sessions"):
                counts[key] += getattr(outcome, key)
        perms_needed = set() if self.has_delete_permission(request) else {"user"}
        return summary, counts, perms_needed, []

    @admin.display(description="active tasks")
    def active_tasks(self, user):
        return getattr(user, "usage", {}).get("active_tasks", 0)

    @admin.display(description="storage")
    def storage_used(self, user):
        return filesizeformat(getattr(user, "usage", {}).get("storage_bytes", 0))


admin.site.unregister(User)
admin.site.register(User, UserWithTasksAdmin)
