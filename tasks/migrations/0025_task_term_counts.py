"""task_term_counts (tasks/history/text_index.py): per owner, how many texts hold each (lcp, term), kept by
triggers on task_texts, so the API's exact count of a search for a common word reads a few rows instead of
counting the word's rows of task_terms (229,446 for "the" at 100,000 tasks: 53/129 ms p50/p95).

The table is written by hand (utf8mb4_bin term, as task_terms), so the state and the database are separate
operations. The triggers come first, then the back-fill: one owner at a time, in a transaction that locks
the owner's texts, deletes what the triggers counted meanwhile and counts every text again (in Python), so
a text written during the migration is counted once: 445 s for 859,996 texts (145 million terms, 28.7
million rows) on MariaDB. Reversible (the table and its triggers go). Not atomic: DDL on MariaDB is not
transactional.
"""

from django.db import migrations, models, transaction

from tasks.history import text_index
from tasks.history.triggers import migration_progress


def _tables(apps):
    texts = apps.get_model("tasks", "TaskText")._meta.db_table
    counts = apps.get_model("tasks", "TaskTermCount")._meta.db_table
    tasks = apps.get_model("tasks", "Task")._meta.db_table
    prefix = tasks[: -len("tasks")] if tasks.endswith("tasks") else ""
    return texts, counts, prefix


def create(apps, schema_editor):
    texts, counts, prefix = _tables(apps)
    model = apps.get_model("tasks", "TaskTermCount")
    connection = schema_editor.connection
    vendor, q = connection.vendor, schema_editor.quote_name
    comments = {f.column: f.db_comment for f in model._meta.local_fields if f.column}
    with connection.cursor() as cursor:
        cursor.execute(text_index.counts_table_sql(vendor, counts, comments, model._meta.db_table_comment))
        for sql in (text_index.drop_counts_trigger_sql(vendor, prefix)
                    + text_index.counts_trigger_sql(vendor, q(texts), q(counts), prefix)):
            cursor.execute(sql)
        cursor.execute(f"SELECT COUNT(*) FROM {q(texts)}")
        total = cursor.fetchone()[0]
        text_index.counts_backfill(cursor, vendor, q(texts), q(counts), batch=5000,
                                   progress=migration_progress("task_term_counts", total),
                                   atomic=lambda: transaction.atomic(using=connection.alias))


def drop(apps, schema_editor):
    _texts, counts, prefix = _tables(apps)
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        for sql in text_index.drop_counts_trigger_sql(vendor, prefix):
            cursor.execute(sql)
        cursor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(counts)}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("tasks", "0024_task_name_grams_ends")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="TaskTermCount",
                    fields=[
                        ("pk", models.CompositePrimaryKey("user_id", "lcp", "term", blank=True, editable=False,
                                                          primary_key=True, serialize=False)),
                        ("user_id", models.BigIntegerField(db_comment="Owner of the texts (task_texts.user_id)")),
                        ("lcp", models.SmallIntegerField(db_comment="Characters the term shares with the term "
                                                                    "before it in the text's sorted terms (0 for "
                                                                    "the first)")),
                        ("term", models.CharField(db_comment="A term as in task_terms.term (utf8mb4_bin)",
                                                  max_length=64)),
                        ("texts", models.IntegerField(db_comment="Texts of the owner that hold the term with this "
                                                                 "lcp (at 0 the row goes)")),
                    ],
                    options={
                        "db_table": "task_term_counts",
                        "db_table_comment": "Text index counts: per owner, texts holding each (lcp, term), kept "
                                            "by triggers",
                    },
                ),
            ],
        ),
        migrations.RunPython(create, drop),  # sees the model's state above; makes the table itself
    ]
