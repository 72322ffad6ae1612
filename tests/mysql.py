"""Helpers for tests that need their own MariaDB/MySQL databases (not pytest-django's)."""

import os
import uuid

import pytest

from ops.mysql_admin import MySQLServer


def mysql_server_or_skip() -> MySQLServer:
    server = MySQLServer.from_env()
    if server.available():
        return server
    if os.environ.get("DATABASE_URL", "").startswith("mysql") or os.environ.get("REQUIRE_MARIADB"):
        pytest.fail("MariaDB/MySQL is required for this run but cannot be reached")
    pytest.skip("no MariaDB/MySQL server reachable (set MYSQL_ADMIN_URL)")


def scratch_name(label: str) -> str:
    return f"toolocr_t_{label}_{uuid.uuid4().hex[:8]}"


def tables(server: MySQLServer, database: str) -> dict:
    """{table: type} of one database."""
    rows = server.execute(f"SELECT table_name, table_type FROM information_schema.tables "
                          f"WHERE table_schema = '{database}' ORDER BY table_name;")
    return dict(line.split("\t") for line in rows.splitlines() if line)


def columns(server: MySQLServer, database: str) -> list:
    rows = server.execute(
        "SELECT table_name, column_name, column_type, is_nullable, column_default, collation_name "
        f"FROM information_schema.columns WHERE table_schema = '{database}' ORDER BY table_name, column_name;")
    return sorted(tuple(line.split("\t")) for line in rows.splitlines() if line)


def indexes(server: MySQLServer, database: str) -> list:
    rows = server.execute(
        "SELECT table_name, index_name, non_unique, seq_in_index, column_name, collation "
        f"FROM information_schema.statistics WHERE table_schema = '{database}' "
        "ORDER BY table_name, index_name, seq_in_index;")
    return sorted(tuple(line.split("\t")) for line in rows.splitlines() if line)
