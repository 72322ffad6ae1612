"""Backups that restore: scripts/backup.sh of a MariaDB database and its files with tasks in every
state, both dropped, scripts/restore.sh, and the app (gunicorn) serves the same tasks and files."""

import json
import shutil
import sys
import time

import pytest

from tests.deploy.stack import (ROOT, Gunicorn, ScratchDatabase, app_env, assert_every_file_served, manage,
                                run_script, table_columns, table_names, table_rows)

pytestmark = pytest.mark.mariadb


def test_backup_drop_restore_serves_the_same_tasks_and_files(tmp_path, dev_auth_api, capsys):
    db = ScratchDatabase("backup")
    # DEBUG on only so the session cookie is not Secure over plain HTTP (tests/deploy/test_nginx.py runs TLS).
    env = app_env(tmp_path, db.url, EXTERNAL_AUTH_API_URL=dev_auth_api.url, DEBUG="true")
    media = tmp_path / "data" / "files"
    gunicorn = None
    try:
        manage(env, "migrate", "--no-input", "-v0")
        expected = json.loads(run_script(env, sys.executable, str(ROOT / "tests" / "deploy" / "fill_data.py")))
        assert {info["status"] for info in expected.values()} == {"pending", "processing", "completed", "failed",
                                                                    "cancelled"}
        before = {t: table_rows(db, t, table_columns(db, t)) for t in table_names(db)}
        files_before = sorted(p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file())

        started = time.perf_counter()
        out = run_script(env, "bash", "scripts/backup.sh", str(tmp_path / "backup"))
        backup_seconds = time.perf_counter() - started
        assert "backup: " in out

        db.server.drop_database(db.name)
        shutil.rmtree(media)

        started = time.perf_counter()
        run_script(env, "bash", "scripts/restore.sh", str(tmp_path / "backup"))
        restore_seconds = time.perf_counter() - started

        after = {t: table_rows(db, t, table_columns(db, t)) for t in table_names(db)}
        assert after.keys() == before.keys()
        for table in before:
            assert after[table] == before[table], f"{table} differs after the restore"
        assert sorted(p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file()) == files_before

        gunicorn = Gunicorn(env, tmp_path / "gunicorn.log")
        assert_every_file_served(gunicorn.url, expected)
        with capsys.disabled():
            print(f"\n  backup {backup_seconds:.1f} s, restore {restore_seconds:.1f} s "
                  f"({len(expected)} tasks, {len(files_before)} files)")
    finally:
        if gunicorn is not None:
            gunicorn.stop()
        db.drop()


def test_restore_refuses_to_mix_with_live_data(tmp_path):
    db = ScratchDatabase("backup_live")
    env = app_env(tmp_path, db.url)
    try:
        manage(env, "migrate", "--no-input", "-v0")
        run_script(env, "bash", "scripts/backup.sh", str(tmp_path / "backup"))
        import subprocess

        done = subprocess.run(["bash", "scripts/restore.sh", str(tmp_path / "backup")], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 2 and "is not empty" in done.stderr and "drop it first" in done.stderr
        (tmp_path / "backup" / "files.tar.gz").write_bytes(b"tampered")
        done = subprocess.run(["bash", "scripts/restore.sh", str(tmp_path / "backup")], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 2 and "checksums" in done.stderr
    finally:
        db.drop()
