"""The text index, task_terms (tasks/history/text_index.py): one row per (owner, term, task), kept by
triggers on task_texts, replaces the full-text index over task_texts.terms (InnoDB FULLTEXT on MariaDB,
FTS5 on SQLite), which returned every match of a term unordered, for the history to sort and count.

The table is written by hand (its primary key is the whole row, descending by creation time), so the
state and the database are separate operations. The triggers come first, then the back-fill (INSERT
IGNORE, one owner at a time, 1,000 texts a statement: ~170 rows a text, ~145 million rows for a
million tasks), then the old index goes. The terms column keeps its format: no text is rewritten. Reversible:
the full-text index is built again. Not atomic: DDL on MariaDB is not transactional.
"""

import importlib
from django.db import migrations, models

from tasks.history import text_index
from tasks.history.triggers import migration_progress

TEXTS_0007 = importlib.import_module("tasks.migrations.0007_i10c_task_texts")


def _tables(apps):
    tasks = apps.get_model("tasks", "Task")._meta.db_table
    texts = apps.get_model("tasks", "TaskText")._meta.db_table
    terms = apps.get_model("tasks", "TaskTerm")._meta.db_table
    prefix = tasks[: -len("tasks")] if tasks.endswith("tasks") else ""
    return tasks, texts, terms, prefix


def create(apps, schema_editor):
    tasks, texts, terms, prefix = _tables(apps)
    model = apps.get_model("tasks", "TaskTerm")
    vendor = schema_editor.connection.vendor
    comments = {f.column: f.db_comment for f in model._meta.local_fields if f.column}
    q = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(text_index.table_sql(vendor, terms, comments, model._meta.db_table_comment))
        for sql in (text_index.drop_trigger_sql(vendor, prefix)
                    + text_index.trigger_sql(vendor, q(texts), q(tasks), q(terms), prefix)):
            cursor.execute(sql)
        cursor.execute(f"SELECT COUNT(*) FROM {q(texts)}")
        total = cursor.fetchone()[0]
        text_index.backfill(cursor, vendor, q(texts), q(tasks), q(terms), progress=migration_progress("task_terms", total))
    if vendor == "mysql":
        schema_editor.execute(f"ALTER TABLE {q(texts)} DROP INDEX `task_texts_terms_ft`")
    elif vendor == "sqlite":
        for suffix in ("_ai", "_ad", "_au"):
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{texts}{suffix}"')
        schema_editor.execute(f'DROP TABLE IF EXISTS "{texts}_fts"')


def drop(apps, schema_editor):
    _tasks, texts, terms, prefix = _tables(apps)
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        for sql in text_index.drop_trigger_sql(vendor, prefix):
            cursor.execute(sql)
        cursor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(terms)}")
    if vendor == "mysql":
        schema_editor.execute(f"ALTER TABLE `{texts}` ADD FULLTEXT INDEX `task_texts_terms_ft` (`terms`)")
    elif vendor == "sqlite":
        for sql in TEXTS_0007.fts5_sql(texts):
            schema_editor.execute(sql)
        schema_editor.execute(f"""INSERT INTO "{texts}_fts"("{texts}_fts") VALUES ('rebuild')""")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("tasks", "0021_squashed_0022_auditlog_admin_idx")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="TaskTerm",
                    fields=[
                        ("pk", models.CompositePrimaryKey("user_id", "term", "created_us", "task_key",
                                                          blank=True, editable=False, primary_key=True,
                                                          serialize=False)),
                        ("user_id", models.BigIntegerField(db_comment="Owner of the task (task_texts.user_id)")),
                        ("term", models.CharField(db_comment="A term of task_texts.terms without the owner's tag: "
                                                             "w<folded word> or c<hex of two CJK characters> "
                                                             "(utf8mb4_bin)", max_length=64)),
                        ("created_us", models.BigIntegerField(db_comment="The task's created_at in microseconds "
                                                                         "since 1970 (UTC); descending in the key: "
                                                                         "newest first")),
                        ("task_key", models.BinaryField(db_comment="The task's id as 16 bytes (UNHEX(tasks.id); "
                                                                   "the id's text on SQLite)", max_length=16)),
                    ],
                    options={
                        "db_table": "task_terms",
                        "db_table_comment": "Text index: every search term of each task's recognised text, kept "
                                            "by triggers",
                    },
                ),
            ],
        ),
        migrations.RunPython(create, drop),  # sees the model's state above; makes the table itself
    ]
