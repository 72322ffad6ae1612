"""Triggers that keep TaskSummary in step with the tasks table, and its rows for the existing tasks.

A separate step (as 0002): on MariaDB a failed data step must not leave the table created but
the migration unrecorded. Creating triggers on MariaDB with binary logging on needs the
TRIGGER privilege and log_bin_trust_function_creators=1 (or SUPER); see README "Running
against MySQL or MariaDB".
"""

from django.db import migrations

from tasks.history.triggers import drop_sql, rebuild_sql, trigger_sql


def _names(apps, schema_editor):
    tasks = apps.get_model("tasks", "Task")._meta.db_table
    summary = apps.get_model("tasks", "TaskSummary")._meta.db_table
    prefix = tasks[: -len("tasks")] if tasks.endswith("tasks") else ""
    q = schema_editor.quote_name
    return q(tasks), q(summary), prefix


def create(apps, schema_editor):
    tasks, summary, prefix = _names(apps, schema_editor)
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        for sql in drop_sql(vendor, prefix) + trigger_sql(vendor, tasks, summary, prefix) + rebuild_sql(tasks, summary):
            cursor.execute(sql)


def drop(apps, schema_editor):
    _tasks, _summary, prefix = _names(apps, schema_editor)
    with schema_editor.connection.cursor() as cursor:
        for sql in drop_sql(schema_editor.connection.vendor, prefix):
            cursor.execute(sql)


class Migration(migrations.Migration):

    # Was history.0004_i11_task_summary_triggers while these tables had an app of their own (tables keep their
    # names); a database that ran it counts this one as applied.
    replaces = [("history", "0004_i11_task_summary_triggers")]

    dependencies = [('tasks', '0013_i11_task_summary')]

    operations = [migrations.RunPython(create, drop)]
