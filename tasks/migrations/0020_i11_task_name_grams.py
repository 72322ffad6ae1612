"""The file-name index, task_name_grams (tasks/history/names.py): every three-character piece of every
task's file name, kept by triggers on tasks, so a search for part of a name reads the rows of its
rarest piece instead of every name of the user.

The table is written by hand (its primary key is the whole row, descending by creation time), so
the state and the database are separate operations. The backfill makes ~25 rows per existing task
in one INSERT ... SELECT (about 25 million rows for a million tasks: minutes on MariaDB). Not atomic:
DDL on MariaDB is not transactional. Triggers need the privileges named in 0014.
"""

from django.db import migrations, models

from tasks.history import names


def _tables(apps, schema_editor):
    tasks = apps.get_model("tasks", "Task")._meta.db_table
    grams = apps.get_model("tasks", "TaskNameGram")._meta.db_table
    prefix = tasks[: -len("tasks")] if tasks.endswith("tasks") else ""
    return tasks, grams, prefix


def create(apps, schema_editor):
    tasks, grams, prefix = _tables(apps, schema_editor)
    model = apps.get_model("tasks", "TaskNameGram")
    vendor = schema_editor.connection.vendor
    comments = {f.column: f.db_comment for f in model._meta.local_fields if f.column}
    q = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(names.table_sql(vendor, grams, comments, model._meta.db_table_comment))
        for sql in (names.drop_trigger_sql(vendor, prefix) + names.trigger_sql(vendor, q(tasks), q(grams), prefix)
                    + names.rebuild_sql(vendor, q(tasks), q(grams))):
            cursor.execute(sql)


def drop(apps, schema_editor):
    _tasks, grams, prefix = _tables(apps, schema_editor)
    with schema_editor.connection.cursor() as cursor:
        for sql in names.drop_trigger_sql(schema_editor.connection.vendor, prefix):
            cursor.execute(sql)
        cursor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(grams)}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("tasks", "0019_i11_task_hour_summary_triggers")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="TaskNameGram",
                    fields=[
                        ("pk", models.CompositePrimaryKey("user_id", "gram", "created_us", "task_key",
                                                          blank=True, editable=False, primary_key=True,
                                                          serialize=False)),
                        ("user_id", models.BigIntegerField(db_comment="Owner of the task (tasks.user_id)")),
                        # The comments say what 0024 stores too (the names' last two characters): both
                        # came after the previous release, so no deployed database has this table yet.
                        ("gram", models.CharField(db_comment="Three consecutive characters of tasks.filename, or "
                                                             "its last two; compared as the file name is in LIKE "
                                                             "(utf8mb4_unicode_ci)",
                                                  max_length=3)),
                        ("created_us", models.BigIntegerField(db_comment="The task's created_at in microseconds "
                                                                         "since 1970 (UTC); descending in the key: "
                                                                         "newest first")),
                        ("task_key", models.BinaryField(db_comment="The task's id as 16 bytes (UNHEX(tasks.id); "
                                                                   "the id's text on SQLite)", max_length=16)),
                    ],
                    options={
                        "db_table": "task_name_grams",
                        "db_table_comment": "File-name index: every three-character piece of each task's file "
                                            "name and its last two characters, kept by triggers",
                    },
                ),
            ],
        ),
        migrations.RunPython(create, drop),  # sees the model's state above; makes the table itself
    ]
