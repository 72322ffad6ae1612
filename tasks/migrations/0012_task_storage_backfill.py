"""Rows for tasks that had files before tasks.history.signals kept the table (a separate step: on MySQL a
failed data step must not leave the table created but the migration unrecorded)."""

from django.db import migrations


def backfill(apps, schema_editor):
    """One row per task that already has files: the same sum the signals keep afterwards."""
    storage = apps.get_model("tasks", "TaskStorage")._meta.db_table
    tasks = apps.get_model("tasks", "Task")._meta.db_table
    files = apps.get_model("tasks", "TaskFile")._meta.db_table
    q = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:  # data, not DDL: fine inside the migration's transaction
        cursor.execute(
            f"INSERT INTO {q(storage)} (task_id, user_id, created_at, bytes) "
            f"SELECT t.id, t.user_id, t.created_at, SUM(f.size_bytes) FROM {q(files)} f "
            f"JOIN {q(tasks)} t ON t.id = f.task_id GROUP BY t.id, t.user_id, t.created_at")


class Migration(migrations.Migration):

    # Was history.0002_task_storage_backfill while these tables had an app of their own (tables keep their
    # names); a database that ran it counts this one as applied.
    replaces = [("history", "0002_task_storage_backfill")]

    dependencies = [('tasks', '0011_task_storage')]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
