"""Backups with the files in a bucket: scripts/backup.sh dumps the database and says the files stay in the
bucket (backed up there); after dropping the database, scripts/restore.sh brings it back and gunicorn serves
every file from the untouched bucket again."""

import json
import subprocess
import sys

import pytest

from tests.deploy.stack import (ROOT, Gunicorn, ScratchDatabase, app_env, assert_every_file_served, manage,
                                run_script, table_names)

pytestmark = pytest.mark.mariadb


def test_backup_and_restore_with_the_files_in_a_bucket(tmp_path, dev_auth_api, moto_s3):
    db = ScratchDatabase("backup_s3")
    bucket = moto_s3.new_bucket()
    env = app_env(tmp_path, db.url, EXTERNAL_AUTH_API_URL=dev_auth_api.url, DEBUG="true", **moto_s3.env(bucket))
    gunicorn = None
    try:
        manage(env, "migrate", "--no-input", "-v0")
        expected = json.loads(run_script(env, sys.executable, str(ROOT / "tests" / "deploy" / "fill_data.py")))
        objects = moto_s3.keys(bucket)
        assert objects and not (tmp_path / "data" / "files").exists()  # every file went to the bucket

        done = subprocess.run(["bash", "scripts/backup.sh", str(tmp_path / "backup")], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        assert f"the files are in bucket {bucket}, not in this folder" in done.stderr
        assert sorted(p.name for p in (tmp_path / "backup").iterdir()) == ["SHA256SUMS", "database.sql.gz",
                                                                          "manifest.txt"]
        assert f"files: bucket {bucket} at {moto_s3.endpoint}" in (tmp_path / "backup" / "manifest.txt").read_text()

        db.server.drop_database(db.name)
        out = run_script(env, "bash", "scripts/restore.sh", str(tmp_path / "backup"))
        assert "restore: " in out and table_names(db)
        assert moto_s3.keys(bucket) == objects

        gunicorn = Gunicorn(env, tmp_path / "gunicorn.log")
        assert_every_file_served(gunicorn.url, expected)
    finally:
        if gunicorn is not None:
            gunicorn.stop()
        db.drop()
