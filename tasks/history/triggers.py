"""Triggers that keep TaskSummary equal to GROUP BY user, status over the tasks table.

One definition for the migration (MariaDB/MySQL and SQLite) and for database_schema.sql
(ops/schema.py), so they cannot differ. A row of the summary only moves when a task
appears, disappears, or changes user, status, page count or processing time; heartbeats and
progress updates do not touch it.
"""

NAMES = ("tasks_summary_ai", "tasks_summary_au", "tasks_summary_ad")
STORAGE_NAMES = ("task_storage_sum_ai", "task_storage_sum_au", "task_storage_sum_ad")
WATCHED = ("user_id", "status", "page_count", "processing_seconds")


def _values(row):
    return (f"{row}.user_id, {row}.status, 1, {row}.page_count, COALESCE({row}.processing_seconds, 0), "
            f"CASE WHEN {row}.processing_seconds IS NULL THEN 0 ELSE 1 END")


def trigger_sql(vendor: str, tasks: str, summary: str, prefix: str = "") -> list[str]:
    """CREATE TRIGGER statements (one string each, no client DELIMITER needed)."""
    insert = f"INSERT INTO {summary} (user_id, status, tasks, pages, seconds, timed) VALUES ({_values('NEW')})"
    subtract = (f"UPDATE {summary} SET tasks = tasks - 1, pages = pages - OLD.page_count, "
                "seconds = seconds - COALESCE(OLD.processing_seconds, 0), "
                "timed = timed - (CASE WHEN OLD.processing_seconds IS NULL THEN 0 ELSE 1 END) "
                "WHERE user_id = OLD.user_id AND status = OLD.status")
    ai, au, ad = (f"{prefix}{name}" for name in NAMES)
    if vendor == "mysql":
        upsert = (insert + " ON DUPLICATE KEY UPDATE tasks = tasks + 1, pages = pages + VALUES(pages), "
                  "seconds = seconds + VALUES(seconds), timed = timed + VALUES(timed)")
        same = " AND ".join(f"OLD.{c} <=> NEW.{c}" for c in WATCHED)
        return [
            f"CREATE TRIGGER `{ai}` AFTER INSERT ON {tasks} FOR EACH ROW {upsert}",
            f"CREATE TRIGGER `{au}` AFTER UPDATE ON {tasks} FOR EACH ROW BEGIN IF NOT ({same}) THEN "
            f"{subtract}; {upsert}; END IF; END",
            f"CREATE TRIGGER `{ad}` AFTER DELETE ON {tasks} FOR EACH ROW {subtract}",
        ]
    if vendor == "sqlite":
        upsert = (insert + " ON CONFLICT(user_id, status) DO UPDATE SET tasks = tasks + 1, "
                  "pages = pages + excluded.pages, seconds = seconds + excluded.seconds, timed = timed + excluded.timed")
        changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in WATCHED)
        return [
            f'CREATE TRIGGER "{ai}" AFTER INSERT ON {tasks} FOR EACH ROW BEGIN {upsert}; END',
            f'CREATE TRIGGER "{au}" AFTER UPDATE OF {", ".join(WATCHED)} ON {tasks} FOR EACH ROW '
            f"WHEN {changed} BEGIN {subtract}; {upsert}; END",
            f'CREATE TRIGGER "{ad}" AFTER DELETE ON {tasks} FOR EACH ROW BEGIN {subtract}; END',
        ]
    raise NotImplementedError(f"no TaskSummary triggers for {vendor}")


def drop_sql(vendor: str, prefix: str = "", names=NAMES) -> list[str]:
    quote = "`" if vendor == "mysql" else '"'
    return [f"DROP TRIGGER IF EXISTS {quote}{prefix}{name}{quote}" for name in names]


def storage_trigger_sql(vendor: str, storage: str, user_storage: str, prefix: str = "") -> list[str]:
    """Keep UserStorage = SUM(task_storage.bytes) per user."""
    insert = f"INSERT INTO {user_storage} (user_id, bytes) VALUES (NEW.user_id, NEW.bytes)"
    subtract = f"UPDATE {user_storage} SET bytes = bytes - OLD.bytes WHERE user_id = OLD.user_id"
    ai, au, ad = (f"{prefix}{name}" for name in STORAGE_NAMES)
    if vendor == "mysql":
        upsert = insert + " ON DUPLICATE KEY UPDATE bytes = bytes + VALUES(bytes)"
        return [
            f"CREATE TRIGGER `{ai}` AFTER INSERT ON {storage} FOR EACH ROW {upsert}",
            f"CREATE TRIGGER `{au}` AFTER UPDATE ON {storage} FOR EACH ROW BEGIN IF NOT "
            f"(OLD.user_id <=> NEW.user_id AND OLD.bytes <=> NEW.bytes) THEN {subtract}; {upsert}; END IF; END",
            f"CREATE TRIGGER `{ad}` AFTER DELETE ON {storage} FOR EACH ROW {subtract}",
        ]
    if vendor == "sqlite":
        upsert = insert + " ON CONFLICT(user_id) DO UPDATE SET bytes = bytes + excluded.bytes"
        return [
            f'CREATE TRIGGER "{ai}" AFTER INSERT ON {storage} FOR EACH ROW BEGIN {upsert}; END',
            f'CREATE TRIGGER "{au}" AFTER UPDATE OF user_id, bytes ON {storage} FOR EACH ROW '
            f"WHEN OLD.user_id IS NOT NEW.user_id OR OLD.bytes IS NOT NEW.bytes BEGIN {subtract}; {upsert}; END",
            f'CREATE TRIGGER "{ad}" AFTER DELETE ON {storage} FOR EACH ROW BEGIN {subtract}; END',
        ]
    raise NotImplementedError(f"no UserStorage triggers for {vendor}")


def storage_rebuild_sql(storage: str, user_storage: str) -> list[str]:
    return [f"DELETE FROM {user_storage}",
            f"INSERT INTO {user_storage} (user_id, bytes) SELECT user_id, SUM(bytes) FROM {storage} GROUP BY user_id"]


def rebuild_sql(tasks: str, summary: str) -> list[str]:
    """Recount every row from the tasks table (the migration's backfill; a repair after restoring by hand)."""
    return [f"DELETE FROM {summary}",
            f"INSERT INTO {summary} (user_id, status, tasks, pages, seconds, timed) "
            f"SELECT user_id, status, COUNT(*), COALESCE(SUM(page_count), 0), COALESCE(SUM(processing_seconds), 0), "
            f"COUNT(processing_seconds) FROM {tasks} GROUP BY user_id, status"]
