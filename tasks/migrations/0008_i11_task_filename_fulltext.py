"""A FULLTEXT index on tasks.filename (MariaDB/MySQL only), for the admin's file-name search.

A substring search (LIKE '%term%') reads every row: 2.9 s at a million tasks. The admin finds
candidates by the words of the term through this index and keeps LIKE to confirm the match
(tasks/admin.py). SQLite has no such index; the admin falls back to the plain scan there.
The index is created without stopwords, so every word of a file name is found.
"""

from django.db import migrations

INDEX = "task_filename_ft_idx"


def _table(apps):
    return apps.get_model("tasks", "Task")._meta.db_table


def add_index(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "mysql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION innodb_ft_enable_stopword = 0")
        cursor.execute(f"ALTER TABLE {connection.ops.quote_name(_table(apps))} ADD FULLTEXT INDEX {INDEX} (filename)")


def drop_index(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "mysql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {connection.ops.quote_name(_table(apps))} DROP INDEX {INDEX}")


class Migration(migrations.Migration):
    atomic = False  # DDL on MariaDB is not transactional anyway

    dependencies = [("tasks", "0007_i10c_task_texts")]

    operations = [migrations.RunPython(add_index, drop_index)]
