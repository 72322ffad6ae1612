"""database_schema.sql cannot drift from the migrations."""

from pathlib import Path

import pytest
from django.conf import settings

from ops.schema import build_schema, migrate_database
from tests.mysql import columns, indexes, mysql_server_or_skip, scratch_name, tables

pytestmark = pytest.mark.mariadb

SCRIPT = Path(settings.BASE_DIR) / "database_schema.sql"


def test_committed_script_equals_what_the_command_makes():
    server = mysql_server_or_skip()
    fresh = build_schema(server, "tool_ocr_")
    assert SCRIPT.read_text() == fresh, "database_schema.sql is stale: run `make schema` and commit it"


def test_script_makes_the_same_schema_as_migrate():
    server = mysql_server_or_skip()
    migrated, scripted = scratch_name("mig"), scratch_name("sql")
    server.create_database(migrated)
    server.create_database(scripted)
    try:
        migrate_database(server, migrated, "tool_ocr_")
        server.execute(SCRIPT.read_text(), database=scripted)

        script_tables = tables(server, scripted)
        base_tables = {t for t, kind in script_tables.items() if kind == "BASE TABLE"}
        assert base_tables == set(tables(server, migrated))
        script_columns = [c for c in columns(server, scripted) if c[0] in base_tables]
        assert script_columns == columns(server, migrated)
        assert indexes(server, scripted) == indexes(server, migrated)
        triggers = "SELECT trigger_name, event_manipulation, action_statement FROM information_schema.triggers " \
                   "WHERE trigger_schema = '{}' ORDER BY trigger_name;"
        assert server.execute(triggers.format(scripted)) == server.execute(triggers.format(migrated)) != ""

        # Every table and column has a comment.
        bare = server.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            f"WHERE table_schema = '{scripted}' AND column_comment = '' AND table_name IN "
            f"(SELECT table_name FROM information_schema.tables WHERE table_schema = '{scripted}' "
            "AND table_type = 'BASE TABLE');")
        assert bare.strip() == ""

        # The views and procedures exist and run.
        assert {"tool_ocr_v_user_task_summary", "tool_ocr_v_recent_activity"} <= {
            t for t, kind in script_tables.items() if kind == "VIEW"}
        server.execute(
            "INSERT INTO tool_ocr_users (password, is_superuser, email, display_name, external_id, job_title, "
            "office_location, auth_source, is_active, is_staff, created_at) VALUES "
            "('!', 0, 'a@example.com', 'A', '', '', '', 'external', 1, 0, UTC_TIMESTAMP(6));"
            "INSERT INTO tool_ocr_tasks (id, user_id, filename, status, engine, language, mime_type, size_bytes, "
            "sha256, page_count, pages_done, created_at, retry_count, error_code, error_message, queue_result_id, "
            "worker_id) VALUES ('0123456789abcdef0123456789abcdef', 1, 'old.png', 'completed', 'easyocr', 'en', "
            "'image/png', 10, '', 1, 1, UTC_TIMESTAMP(6) - INTERVAL 90 DAY, 0, '', '', '', '');",
            database=scripted)
        # As old, but waiting or running: cleanup_tasks leaves these to the reaper, so must the procedure.
        for n, status in ((1, "pending"), (2, "processing")):
            server.execute(
                "INSERT INTO tool_ocr_tasks (id, user_id, filename, status, engine, language, mime_type, size_bytes, "
                "sha256, page_count, pages_done, created_at, retry_count, error_code, error_message, queue_result_id, "
                f"worker_id) VALUES ('{n:032d}', 1, 'busy.png', '{status}', 'easyocr', 'en', "
                "'image/png', 10, '', 1, 0, UTC_TIMESTAMP(6) - INTERVAL 90 DAY, 0, '', '', '', '');",
                database=scripted)
        summary = server.execute("SELECT email, total_tasks, completed_tasks FROM tool_ocr_v_user_task_summary;",
                                 database=scripted)
        assert summary.split() == ["a@example.com", "3", "1"]
        server.execute("INSERT INTO tool_ocr_task_storage (task_id, user_id, created_at, bytes) SELECT id, user_id, "
                       "created_at, 10 FROM tool_ocr_tasks;", database=scripted)  # history.TaskStorage's row
        server.execute("INSERT INTO tool_ocr_task_texts (task_id, user_id, text, terms) VALUES "
                       "('0123456789abcdef0123456789abcdef', 1, 'Old text', 'u0000000001wold u0000000001wtext');",
                       database=scripted)  # its text, which the triggers copy into the text index
        assert server.execute("SELECT COUNT(*) FROM tool_ocr_task_terms;", database=scripted).strip() == "2"
        deleted = server.execute("CALL tool_ocr_sp_delete_old_tasks(30);", database=scripted)
        assert deleted.strip() == "1"
        assert server.execute("SELECT COUNT(*) FROM tool_ocr_task_storage WHERE task_id = "
                              "'0123456789abcdef0123456789abcdef';", database=scripted).strip() == "0"
        assert server.execute("SELECT (SELECT COUNT(*) FROM tool_ocr_task_texts) + "
                              "(SELECT COUNT(*) FROM tool_ocr_task_terms);", database=scripted).strip() == "0"
        server.execute("CALL tool_ocr_sp_delete_expired_sessions();", database=scripted)
        assert server.execute("SELECT status FROM tool_ocr_tasks ORDER BY status;",
                              database=scripted).split() == ["pending", "processing"]
        audit = server.execute("SELECT action, JSON_VALUE(details, '$.tasks') FROM tool_ocr_audit_log;",
                               database=scripted)
        assert audit.split() == ["maintenance.cleanup_tasks", "1"]
    finally:
        server.drop_database(migrated)
        server.drop_database(scripted)


def test_make_schema_runs_the_script_that_this_test_runs(tmp_path):
    """`make schema` runs scripts/make_schema.sh; running it gives exactly the committed files."""
    import subprocess

    server = mysql_server_or_skip()
    root = Path(settings.BASE_DIR)
    outer_make = ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")  # under `make test` a sub-make prints "make[1]: …"
    plain_env = {k: v for k, v in __import__("os").environ.items() if k not in outer_make}
    planned = subprocess.run(["make", "-n", "--no-print-directory", "schema"], cwd=root, env=plain_env,
                             capture_output=True, text=True, check=True).stdout
    assert planned.strip().splitlines()[-1] == "bash scripts/make_schema.sh"
    env = {**__import__("os").environ, "MYSQL_ADMIN_URL": server.url("")}
    done = subprocess.run(["bash", "scripts/make_schema.sh", "--output-dir", str(tmp_path)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "docs" / "database.md").read_text() == (root / "docs" / "database.md").read_text(), (
        "docs/database.md is stale: run `make schema`")
    assert (tmp_path / "database_schema.sql").read_text() == SCRIPT.read_text(), (
        "database_schema.sql is stale: run `make schema`")


def test_database_doc_describes_every_view_and_procedure():
    from ops.schema_doc import views_and_procedures

    doc = (Path(settings.BASE_DIR) / "docs" / "database.md").read_text()
    found = views_and_procedures("tool_ocr_")
    assert {name for _kind, name, _d in found} == {"tool_ocr_v_user_task_summary", "tool_ocr_v_recent_activity",
                                                   "tool_ocr_sp_delete_old_tasks", "tool_ocr_sp_delete_expired_sessions"}
    for _kind, name, description in found:
        assert description and f"### `{name}`" in doc and description in doc
    procedure = dict((n, d) for _k, n, d in found)["tool_ocr_sp_delete_old_tasks"]
    assert "files stay" in procedure and "cleanup_tasks" in procedure
