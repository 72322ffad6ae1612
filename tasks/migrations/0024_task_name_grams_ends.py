"""The file-name index also holds each name's last two characters (tasks/history/names.py), so a search of
two characters (台北) is a range of the index instead of a walk over every name of the user.

New triggers (the pieces run up to the name's last position but one, where the piece is cut short to two
characters) and one row per existing task: an INSERT ... SELECT over the tasks (a million tasks: a million
rows, about a minute on MariaDB). Not atomic: DDL on MariaDB is not transactional; rerunning is safe.
"""

from django.db import migrations

from tasks.history import names


def _tables(apps, schema_editor):
    tasks = apps.get_model("tasks", "Task")._meta.db_table
    grams = apps.get_model("tasks", "TaskNameGram")._meta.db_table
    prefix = tasks[: -len("tasks")] if tasks.endswith("tasks") else ""
    q = schema_editor.quote_name
    return q(tasks), q(grams), prefix


def _triggers(apps, schema_editor, shortest: int, rows):
    tasks, grams, prefix = _tables(apps, schema_editor)
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        for sql in (names.drop_trigger_sql(vendor, prefix)
                    + names.trigger_sql(vendor, tasks, grams, prefix, shortest=shortest) + rows(vendor, tasks, grams)):
            cursor.execute(sql)


def forwards(apps, schema_editor):
    _triggers(apps, schema_editor, names.SHORTEST, names.ends_sql)


def backwards(apps, schema_editor):
    _triggers(apps, schema_editor, names.GRAM, lambda vendor, _tasks, grams: names.ends_drop_sql(vendor, grams))


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("tasks", "0023_task_terms")]

    operations = [migrations.RunPython(forwards, backwards)]
