"""Every table the app creates carries DATABASE_TABLE_PREFIX, in a real MariaDB database and in the suite's own."""

import pytest

from ops.schema import migrate_database
from tests.mysql import mysql_server_or_skip, scratch_name, tables

OWN_TABLES = {"users", "tasks", "task_files", "sessions", "audit_log"}


@pytest.mark.mariadb  # its own scratch database: only this test, the next one checks the suite's (SQLite in CI)
@pytest.mark.parametrize("prefix", ["tool_ocr_", "acme_ocr_"])
def test_migrate_creates_only_prefixed_tables(prefix):
    server = mysql_server_or_skip()
    database = scratch_name("prefix")
    server.create_database(database)
    try:
        migrate_database(server, database, prefix)
        names = set(tables(server, database))
    finally:
        server.drop_database(database)
    assert names, "migrate created no tables"
    unprefixed = sorted(n for n in names if not n.startswith(prefix))
    assert unprefixed == []
    assert {prefix + t for t in OWN_TABLES} <= names
    # Django's own tables and the task queue's are prefixed too.
    for expected in ("django_migrations", "django_session", "django_content_type", "auth_permission",
                     "auth_group", "django_admin_log", "users_groups", "django_tasks_database_dbtaskresult"):
        assert prefix + expected in names


def test_sqlite_test_database_tables_are_prefixed(db, settings):
    from django.db import connection

    names = connection.introspection.table_names()
    assert names and all(n.startswith(settings.DATABASE_TABLE_PREFIX) for n in names), names
