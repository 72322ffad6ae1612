"""Triggers that keep TaskHourSummary in step with the tasks table, and its rows for the existing tasks.

A separate step, as 0014 for TaskSummary (see there for the privileges triggers need).
"""

from django.db import migrations

from tasks.history.triggers import HOUR_NAMES, drop_sql, rebuild_sql, trigger_sql


def _names(apps, schema_editor):
    tasks = apps.get_model("tasks", "Task")._meta.db_table
    summary = apps.get_model("tasks", "TaskHourSummary")._meta.db_table
    prefix = tasks[: -len("tasks")] if tasks.endswith("tasks") else ""
    q = schema_editor.quote_name
    return q(tasks), q(summary), prefix


def create(apps, schema_editor):
    tasks, summary, prefix = _names(apps, schema_editor)
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        for sql in (drop_sql(vendor, prefix, HOUR_NAMES) + trigger_sql(vendor, tasks, summary, prefix, hourly=True)
                    + rebuild_sql(tasks, summary, vendor, hourly=True)):
            cursor.execute(sql)


def drop(apps, schema_editor):
    _tasks, _summary, prefix = _names(apps, schema_editor)
    with schema_editor.connection.cursor() as cursor:
        for sql in drop_sql(schema_editor.connection.vendor, prefix, HOUR_NAMES):
            cursor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [("tasks", "0018_i11_task_hour_summary")]

    operations = [migrations.RunPython(create, drop)]
