"""Upgrades keep data: a MariaDB database built and filled by the previous release, migrated by this
code, keeps every row of every table and every file, and the app serves them.

General on purpose: it compares every table and every column the old schema had, so each later
schema change is checked without touching this test. When a release is cut, point
PREVIOUS_RELEASE at it (a commit or tag of this repository).
"""

import json
import subprocess
import sys
from collections import Counter

import pytest

from tasks.models import Task
from tests.deploy.stack import (ROOT, Gunicorn, ScratchDatabase, app_env, assert_every_file_served, manage,
                                run_script, table_columns, table_names, table_rows)

pytestmark = pytest.mark.mariadb

PREVIOUS_RELEASE = "398ca95"  # main before issue 11 (the last state deployed)
# Tables whose rows the app's data lives in: the same number of rows before and after.
DATA_TABLES = ("users", "tasks", "task_files", "audit_log", "sessions", "task_storage", "login_failures")
# Values a migration changes on purpose, (table, column): old text -> new text (NULL is "NULL").
# Add an entry with the migration that does it; everything else must come through unchanged.
EXPECTED_CHANGES = {
    ("tool_ocr_users", "external_id"): lambda old: "NULL" if old == "" else old,  # accounts 0003_i15: "" -> NULL
    # tasks 0017: the history app's models (TaskStorage...) live in tasks, their content types with them
    ("tool_ocr_django_content_type", "app_label"): lambda old: "tasks" if old == "history" else old,
}
# Changes that depend on more than one column of the old row: table -> (old row as {column: text} -> new row).
EXPECTED_ROW_CHANGES = {
    # core 0001: the audit log's model lives in core, its content type with it
    "tool_ocr_django_content_type": lambda row: {**row, "app_label": "core"}
    if (row.get("app_label"), row.get("model")) == ("tasks", "auditlog") else row,
}


# tasks.filename's max_length: a piece starts at every position of a name but its last (fill_data.py has a name this
# long, so a missed position shows)
LONGEST_NAME = Task._meta.get_field("filename").max_length
# The summaries the statistics read (history/triggers.py), as the upgrade must fill them: (kept, from the rows).
DERIVED = {
    "SELECT user_id, status, tasks, pages FROM tool_ocr_task_summary WHERE tasks > 0":
        "SELECT user_id, status, COUNT(*), SUM(page_count) FROM tool_ocr_tasks GROUP BY user_id, status",
    "SELECT user_id, hour, status, tasks, pages FROM tool_ocr_task_hour_summary WHERE tasks > 0":
        "SELECT user_id, CAST(TIMESTAMP(DATE(created_at), MAKETIME(HOUR(created_at), 0, 0)) AS DATETIME(6)), "
        "status, COUNT(*), SUM(page_count) FROM tool_ocr_tasks GROUP BY 1, 2, 3",
    "SELECT user_id, bytes, 0 FROM tool_ocr_user_storage WHERE bytes > 0":
        "SELECT user_id, SUM(bytes), 0 FROM tool_ocr_task_storage GROUP BY user_id",
    # the file-name index: each task's distinct three-character pieces and its last two characters (migration
    # tasks 0024), as the collation compares them
    "SELECT user_id, COUNT(*), COUNT(DISTINCT task_key) FROM tool_ocr_task_name_grams GROUP BY user_id":
        "SELECT user_id, COUNT(*), COUNT(DISTINCT id) FROM (SELECT DISTINCT t.user_id, t.id, "
        "SUBSTRING(t.filename, p.n, 3) COLLATE utf8mb4_unicode_ci AS gram FROM tool_ocr_tasks t "
        "JOIN JSON_TABLE('[" + ",".join(map(str, range(1, LONGEST_NAME))) + "]', '$[*]' COLUMNS (n INT PATH '$')) AS p "
        "ON p.n <= CHAR_LENGTH(t.filename) - 1) g GROUP BY user_id",
}


def _previous_release(folder):
    has = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{PREVIOUS_RELEASE}^{{commit}}"],
                         capture_output=True)
    if has.returncode != 0:
        pytest.fail(f"commit {PREVIOUS_RELEASE} (the previous release) is not in this clone: "
                    "fetch the history (git fetch --unshallow) to run the upgrade test")
    folder.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", PREVIOUS_RELEASE], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def _snapshot(db):
    return {table: (columns := table_columns(db, table), table_rows(db, table, columns)) for table in table_names(db)}


def test_upgrade_from_the_previous_release_keeps_every_row_and_file(tmp_path, dev_auth_api):
    old = _previous_release(tmp_path / "previous")
    db = ScratchDatabase("upgrade")
    env = app_env(tmp_path, db.url, EXTERNAL_AUTH_API_URL=dev_auth_api.url, DEBUG="true")
    media = tmp_path / "data" / "files"
    gunicorn = None
    try:
        run_script(env, sys.executable, "manage.py", "migrate", "--no-input", "-v0", cwd=old)
        expected = json.loads(run_script(env, sys.executable, str(ROOT / "tests" / "deploy" / "fill_data.py"), cwd=old))
        before = _snapshot(db)
        files_before = {p.relative_to(media).as_posix(): p.read_bytes() for p in media.rglob("*") if p.is_file()}
        assert len(expected) == 30 and len(files_before) == 48

        manage(env, "migrate", "--no-input", "-v0")
        manage(env, "makemigrations", "--check", "--dry-run")  # the models equal the migrated schema

        after = _snapshot(db)
        for table, (old_columns, old_rows) in before.items():
            assert table in after, f"table {table} is gone after the upgrade"
            new_columns = after[table][0]
            kept = [c for c in old_columns if c in new_columns]
            dropped = set(old_columns) - set(kept)
            assert not dropped, f"{table}: columns {sorted(dropped)} are gone (their values with them)"
            rows_before = Counter(table_rows_from(old_rows, old_columns, kept, table))
            rows_after = Counter(table_rows(db, table, kept))
            missing = rows_before - rows_after
            assert not missing, f"{table}: {sum(missing.values())} rows lost or changed, e.g. {next(iter(missing))}"
            if table.removeprefix("tool_ocr_") in DATA_TABLES:
                assert sum(rows_after.values()) == sum(rows_before.values()), f"{table}: rows added by the upgrade"
        files_after = {p.relative_to(media).as_posix(): p.read_bytes() for p in media.rglob("*") if p.is_file()}
        assert files_after == files_before
        for summary, grouped in DERIVED.items():  # the statistics' tables, made by the upgrade, add up
            derived = db.server.execute(f"SELECT * FROM ({grouped}) g ORDER BY 1, 2, 3;", database=db.name)
            kept = db.server.execute(f"SELECT * FROM ({summary}) s ORDER BY 1, 2, 3;", database=db.name)
            assert kept == derived and derived.count("\n") >= 2, summary  # two users with tasks

        gunicorn = Gunicorn(env, tmp_path / "gunicorn.log")
        assert_every_file_served(gunicorn.url, expected)
    finally:
        if gunicorn is not None:
            gunicorn.stop()
        db.drop()


def table_rows_from(rows, columns, kept, table):
    """The rows (tab-separated text) reduced to the columns that still exist, with the expected changes made."""
    change = [EXPECTED_CHANGES.get((table, c), lambda value: value) for c in kept]
    row_change = EXPECTED_ROW_CHANGES.get(table, lambda row: row)
    out = []
    for line in rows:
        row = row_change(dict(zip(columns, line.split("\t"))))
        out.append("\t".join(f(row[c]) for f, c in zip(change, kept)))
    return out
