"""Triggers that keep TaskSummary equal to GROUP BY user, status over the tasks table,
TaskHourSummary equal to GROUP BY user, hour of creation, status, and UserStorage
equal to the sum of TaskStorage per user.

One definition for the migration (MariaDB/MySQL and SQLite) and for database_schema.sql
(ops/schema.py), so they cannot differ. A row of a summary only moves when a task
appears, disappears, or changes user, status, page count, processing time (or, for the
hourly one, creation time); heartbeats and progress updates do not touch it.
"""

import sys
import time

from django.db import connection

NAMES = ("tasks_summary_ai", "tasks_summary_au", "tasks_summary_ad")
HOUR_NAMES = ("tasks_hour_summary_ai", "tasks_hour_summary_au", "tasks_hour_summary_ad")
STORAGE_NAMES = ("task_storage_sum_ai", "task_storage_sum_au", "task_storage_sum_ad")
WATCHED = ("user_id", "status", "page_count", "processing_seconds")
HOUR_WATCHED = WATCHED + ("created_at",)


def _hour(vendor: str, row: str) -> str:
    """The row's created_at truncated to its hour (stored times are UTC on both databases)."""
    if vendor == "mysql":
        return f"TIMESTAMP(DATE({row}.created_at), MAKETIME(HOUR({row}.created_at), 0, 0))"
    return f"strftime('%Y-%m-%d %H:00:00', {row}.created_at)"


def _values(row, keys=()):
    return (f"{row}.user_id, {''.join(f'{key}, ' for key in keys)}{row}.status, 1, {row}.page_count, "
            f"COALESCE({row}.processing_seconds, 0), CASE WHEN {row}.processing_seconds IS NULL THEN 0 ELSE 1 END")


def row_triggers(vendor: str, table: str, names, watched, insert: str, delete: str) -> list[str]:
    """The three triggers that keep a derived table in step with `table`: `insert` after an insert,
    `delete` then `insert` after an update that changes a watched column, `delete` after a delete.

    One shape for every derived table (the summaries, the storage sums, the file-name index).
    """
    ai, au, ad = names
    if vendor == "mysql":
        same = " AND ".join(f"OLD.{c} <=> NEW.{c}" for c in watched)
        return [
            f"CREATE TRIGGER `{ai}` AFTER INSERT ON {table} FOR EACH ROW {insert}",
            f"CREATE TRIGGER `{au}` AFTER UPDATE ON {table} FOR EACH ROW BEGIN IF NOT ({same}) THEN "
            f"{delete}; {insert}; END IF; END",
            f"CREATE TRIGGER `{ad}` AFTER DELETE ON {table} FOR EACH ROW {delete}",
        ]
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in watched)
    return [
        f'CREATE TRIGGER "{ai}" AFTER INSERT ON {table} FOR EACH ROW BEGIN {insert}; END',
        f'CREATE TRIGGER "{au}" AFTER UPDATE OF {", ".join(watched)} ON {table} FOR EACH ROW '
        f"WHEN {changed} BEGIN {delete}; {insert}; END",
        f'CREATE TRIGGER "{ad}" AFTER DELETE ON {table} FOR EACH ROW BEGIN {delete}; END',
    ]


def trigger_sql(vendor: str, tasks: str, summary: str, prefix: str = "", hourly: bool = False) -> list[str]:
    """CREATE TRIGGER statements (one string each, no client DELIMITER needed).

    hourly: the triggers of TaskHourSummary (one row per user, hour of creation and status)
    instead of TaskSummary's (one row per user and status).
    """
    columns = "user_id, hour, status" if hourly else "user_id, status"
    new_keys, old_keys = ([_hour(vendor, "NEW")], [_hour(vendor, "OLD")]) if hourly else ([], [])
    insert = (f"INSERT INTO {summary} ({columns}, tasks, pages, seconds, timed) "
              f"VALUES ({_values('NEW', new_keys)})")
    subtract = (f"UPDATE {summary} SET tasks = tasks - 1, pages = pages - OLD.page_count, "
                "seconds = seconds - COALESCE(OLD.processing_seconds, 0), "
                "timed = timed - (CASE WHEN OLD.processing_seconds IS NULL THEN 0 ELSE 1 END) "
                f"WHERE user_id = OLD.user_id{''.join(f' AND hour = {key}' for key in old_keys)} "
                "AND status = OLD.status")
    watched = HOUR_WATCHED if hourly else WATCHED
    names = tuple(f"{prefix}{name}" for name in (HOUR_NAMES if hourly else NAMES))
    if vendor == "mysql":
        upsert = (insert + " ON DUPLICATE KEY UPDATE tasks = tasks + 1, pages = pages + VALUES(pages), "
                  "seconds = seconds + VALUES(seconds), timed = timed + VALUES(timed)")
        return row_triggers(vendor, tasks, names, watched, upsert, subtract)
    if vendor == "sqlite":
        upsert = (insert + f" ON CONFLICT({columns}) DO UPDATE SET tasks = tasks + 1, "
                  "pages = pages + excluded.pages, seconds = seconds + excluded.seconds, timed = timed + excluded.timed")
        return row_triggers(vendor, tasks, names, watched, upsert, subtract)
    raise NotImplementedError(f"no TaskSummary triggers for {vendor}")


def drop_sql(vendor: str, prefix: str = "", names=NAMES) -> list[str]:
    quote = "`" if vendor == "mysql" else '"'
    return [f"DROP TRIGGER IF EXISTS {quote}{prefix}{name}{quote}" for name in names]


def storage_trigger_sql(vendor: str, storage: str, user_storage: str, prefix: str = "") -> list[str]:
    """Keep UserStorage = SUM(task_storage.bytes) per user."""
    insert = f"INSERT INTO {user_storage} (user_id, bytes) VALUES (NEW.user_id, NEW.bytes)"
    subtract = f"UPDATE {user_storage} SET bytes = bytes - OLD.bytes WHERE user_id = OLD.user_id"
    names = tuple(f"{prefix}{name}" for name in STORAGE_NAMES)
    if vendor == "mysql":
        upsert = insert + " ON DUPLICATE KEY UPDATE bytes = bytes + VALUES(bytes)"
        return row_triggers(vendor, storage, names, ("user_id", "bytes"), upsert, subtract)
    if vendor == "sqlite":
        upsert = insert + " ON CONFLICT(user_id) DO UPDATE SET bytes = bytes + excluded.bytes"
        return row_triggers(vendor, storage, names, ("user_id", "bytes"), upsert, subtract)
    raise NotImplementedError(f"no UserStorage triggers for {vendor}")


def storage_rebuild_sql(storage: str, user_storage: str) -> list[str]:
    return [f"DELETE FROM {user_storage}",
            f"INSERT INTO {user_storage} (user_id, bytes) SELECT user_id, SUM(bytes) FROM {storage} GROUP BY user_id"]


def rebuild_sql(tasks: str, summary: str, vendor: str = "", hourly: bool = False) -> list[str]:
    """Recount every row from the tasks table (the migration's backfill; a repair after restoring by hand)."""
    keys = f"user_id, {_hour(vendor, tasks)}, status" if hourly else "user_id, status"
    return [f"DELETE FROM {summary}",
            f"INSERT INTO {summary} ({'user_id, hour, status' if hourly else 'user_id, status'}, tasks, pages, "
            f"seconds, timed) SELECT {keys}, COUNT(*), COALESCE(SUM(page_count), 0), "
            f"COALESCE(SUM(processing_seconds), 0), COUNT(processing_seconds) FROM {tasks} GROUP BY {keys}"]


def created_us_sql(vendor: str, row: str) -> str:
    """SQL for the row's created_at in microseconds since 1970, the sort key both history indexes store.

    Stored times are UTC on both databases."""
    if vendor == "mysql":
        return f"TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {row}.created_at)"
    # Django stores 'YYYY-MM-DD HH:MM:SS[.ffffff]': whole seconds, then the six digits after the point.
    return (f"(CAST(strftime('%s', {row}.created_at) AS INTEGER) * 1000000 "
            f"+ CAST(substr({row}.created_at || '.000000', 21, 6) AS INTEGER))")


def task_id_sql(expression: str) -> str:
    """SQL for tasks.id, as the tasks table holds it, of a task_key column (binary(16) on MariaDB)."""
    return f"LOWER(HEX({expression}))" if connection.vendor == "mysql" else expression


def prefix_end(prefix: str) -> str:
    """The smallest string above every string that starts with ``prefix`` (code point order): the open end of
    the index range of a prefix, in both history indexes."""
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:
        last = 0xE000
    return prefix[:-1] + chr(min(last, 0x10FFFF))


def mysql_table_sql(table: str, columns: list[tuple[str, str]], key: str, collation: str,
                    comments: dict[str, str], table_comment: str) -> str:
    """CREATE TABLE on MariaDB for the tables written by hand (the indexes and counts the triggers keep):
    ``columns`` (name, type), ``key`` the primary key's columns, every column and the table commented."""
    def quoted(text):
        return "'" + text.replace("'", "''") + "'"

    body = "".join(f"`{name}` {kind} NOT NULL COMMENT {quoted(comments[name])}, " for name, kind in columns)
    return (f"CREATE TABLE `{table}` ({body}PRIMARY KEY ({key})) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 "
            f"COLLATE={collation} COMMENT={quoted(table_comment)}")


def migration_progress(label: str, total: int, every: float = 30):
    """A back-fill's progress callback for a migration: ``label``: done of total texts, every ``every`` seconds
    (on stderr, only for 50,000 texts or more)."""
    started = time.monotonic()
    last = [started]

    def report(done):
        now = time.monotonic()
        if total >= 50_000 and now - last[0] > every:
            last[0] = now
            print(f"\n  {label}: {done:,} of {total:,} texts ({now - started:.0f} s)", end="", file=sys.stderr,
                  flush=True)
    return report
