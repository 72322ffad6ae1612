"""Build database_schema.sql from a database that `migrate` made, so the script cannot drift.

django-tasks-db's migrations inspect live tables, so ``sqlmigrate`` cannot render
them; instead we migrate a scratch MariaDB database, dump its DDL, add comments for
columns Django's own apps leave bare (from the models' verbose names), the
migration records (so a later ``migrate`` is a no-op), and our views and procedures.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from ops.mysql_admin import MySQLServer

COLLATION = "utf8mb4_unicode_ci"
VIEWS_AND_PROCEDURES = Path(__file__).with_name("sql") / "views_procedures.sql"


def migrate_database(server: MySQLServer, database: str, prefix: str) -> None:
    """Run ``manage.py migrate`` in a child process against ``database`` with ``prefix``."""
    env = dict(os.environ, DATABASE_URL=server.url(database), DATABASE_TABLE_PREFIX=prefix)
    env.setdefault("SECRET_KEY", settings.SECRET_KEY)
    done = subprocess.run([sys.executable, str(settings.BASE_DIR / "manage.py"), "migrate", "--no-input", "-v0"],
                          env=env, capture_output=True, text=True, timeout=600, cwd=settings.BASE_DIR)
    if done.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{done.stdout}\n{done.stderr}")


def _model_comments(prefix: str) -> dict:
    """{table: (table comment, {column: comment})} from the models, for the given prefix."""
    current = settings.DATABASE_TABLE_PREFIX
    out = {}
    models = list(apps.get_models(include_auto_created=True)) + [MigrationRecorder.Migration]
    for model in models:
        meta = model._meta
        table = meta.db_table
        if current and table.startswith(current):
            table = prefix + table[len(current):]
        table_comment = meta.db_table_comment or str(meta.verbose_name_plural).capitalize()
        columns = {}
        for field in meta.local_fields:
            columns[field.column] = field.db_comment or str(field.verbose_name).capitalize()
        out[table] = (table_comment, columns)
    return out


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _add_comments(ddl: str, comments: dict) -> str:
    out, table = [], None
    for line in ddl.splitlines():
        m = re.match(r"CREATE TABLE `([^`]+)`", line)
        if m:
            table = m.group(1)
        elif table and line.startswith("  `") and " COMMENT '" not in line:
            column = line.split("`")[1]
            comment = comments.get(table, ("", {}))[1].get(column)
            if comment:
                # The comment goes before a CHECK clause, or before the trailing comma.
                at = line.find(" CHECK (")
                if at < 0:
                    at = len(line) - 1 if line.endswith(",") else len(line)
                line = f"{line[:at]} COMMENT {_quote(comment)}{line[at:]}"
        elif table and line.startswith(") ENGINE="):
            if " COMMENT=" not in line and table in comments:
                line = line[:-1] + f" COMMENT={_quote(comments[table][0])};"
            table = None
        out.append(line)
    return "\n".join(out)


def _clean_dump(ddl: str) -> str:
    ddl = re.sub(r"^/\*!\d+ SET .*?\*/;\n", "", ddl, flags=re.M)
    ddl = re.sub(r" AUTO_INCREMENT=\d+", "", ddl)
    ddl = re.sub(r"^/\*M!999999.*\n", "", ddl, flags=re.M)  # MariaDB client's sandbox marker
    return ddl.strip() + "\n"


def _migration_records(prefix: str) -> str:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    # What `migrate` itself records: a migration that replaces others (tasks 0011-0016 replace the
    # former history app's) is recorded under the names it replaces, which is how it counts as applied.
    rows = sorted({key for node in loader.graph.nodes
                   for key in (loader.graph.nodes[node].replaces or [node])})
    values = ",\n".join(f"  ({_quote(app)}, {_quote(name)}, UTC_TIMESTAMP(6))" for app, name in rows)
    return (f"-- The migrations this schema equals, so that `manage.py migrate` finds nothing to do.\n"
            f"INSERT INTO `{prefix}django_migrations` (`app`, `name`, `applied`) VALUES\n{values};\n")


def _triggers(prefix: str) -> str:
    """The triggers the migrations create (tasks/history/triggers.py), without a DEFINER (the dump's has one)."""
    from tasks.history import names, text_index
    from tasks.history.triggers import storage_trigger_sql, trigger_sql

    statements = (trigger_sql("mysql", f"`{prefix}tasks`", f"`{prefix}task_summary`", prefix)
                  + trigger_sql("mysql", f"`{prefix}tasks`", f"`{prefix}task_hour_summary`", prefix, hourly=True)
                  + names.trigger_sql("mysql", f"`{prefix}tasks`", f"`{prefix}task_name_grams`", prefix)
                  + storage_trigger_sql("mysql", f"`{prefix}task_storage`", f"`{prefix}user_storage`", prefix)
                  + text_index.trigger_sql("mysql", f"`{prefix}task_texts`", f"`{prefix}tasks`",
                                           f"`{prefix}task_terms`", prefix)
                  + text_index.counts_trigger_sql("mysql", f"`{prefix}task_texts`", f"`{prefix}task_term_counts`",
                                                  prefix))
    body = "".join(f"{sql} //\n" for sql in statements)
    return ("\n-- Triggers: tasks.TaskSummary, TaskHourSummary and the file-name index (task_name_grams) follow "
            "the tasks table, UserStorage task_storage, the text index (task_terms, task_term_counts) task_texts "
            "(tasks/history/triggers.py, names.py, text_index.py)\n"
            f"DELIMITER //\n{body}DELIMITER ;\n")


def build_schema(server: MySQLServer, prefix: str | None = None) -> str:
    prefix = prefix or settings.DATABASE_TABLE_PREFIX
    scratch = f"{prefix}schema_build_{os.getpid()}"[:64]
    server.create_database(scratch)
    try:
        migrate_database(server, scratch, prefix)
        ddl = server.dump_schema(scratch)
    finally:
        server.drop_database(scratch)
    body = _add_comments(_clean_dump(ddl), _model_comments(prefix))
    views = VIEWS_AND_PROCEDURES.read_text().replace("{p}", prefix) + _triggers(prefix)
    header = f"""-- Tool OCR database schema for MySQL 8 and MariaDB 10.6+ (utf8mb4, {COLLATION}).
-- Generated by `manage.py write_database_schema` from a database that `manage.py migrate` made;
-- do not edit by hand (a test fails when this file and the migrations differ).
-- Table prefix: {prefix}
--
-- Use: CREATE DATABASE tool_ocr CHARACTER SET utf8mb4 COLLATE {COLLATION};
--      mysql tool_ocr < database_schema.sql
--      then `manage.py migrate` (a no-op for tables; it adds Django's permission rows).

SET NAMES utf8mb4 COLLATE {COLLATION};
SET FOREIGN_KEY_CHECKS = 0;

"""
    return header + body + "\nSET FOREIGN_KEY_CHECKS = 1;\n\n" + _migration_records(prefix) + "\n" + views
