"""A MariaDB database made without README's CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci stops every
process with one line saying what was found and the ALTER DATABASE to run (tool_ocr/db_backends/mysql/
charset.py): migrate before it makes a table, gunicorn and the worker at start-up; /readyz answers 503.
Real databases on the real server, real processes."""

import json
import re
import subprocess
import sys

import pytest

from tests.deploy.stack import BIN, ROOT, app_env, free_port
from tests.mysql import mysql_server_or_skip, scratch_name, tables



def _expected(name, charset, collation):
    loses = " (it cannot store most non-Latin text)" if charset != "utf8mb4" else ""
    return (f"The database {name} has the default character set {charset} with collation {collation}{loses}; "
            f"Tool OCR needs utf8mb4 with utf8mb4_unicode_ci (README). Run: ALTER DATABASE `{name}` CHARACTER SET "
            f"utf8mb4 COLLATE utf8mb4_unicode_ci; then start again (tables made before keep theirs: "
            f"docs/troubleshooting.md, \"Database character set\").")


@pytest.fixture(params=[("latin1", "latin1_swedish_ci"), ("utf8mb4", "utf8mb4_general_ci")],
                ids=["latin1", "utf8mb4_general_ci"])
def wrong_database(request, tmp_path):
    """A database made with a character set or collation of its own (the server's defaults in the wild)."""
    charset, collation = request.param
    server = mysql_server_or_skip()
    name = scratch_name("charset")
    server.execute(f"CREATE DATABASE `{name}` CHARACTER SET {charset} COLLATE {collation};")
    try:
        yield server, name, app_env(tmp_path, server.url(name), OCR_PRELOAD_ENGINES="none"), \
            _expected(name, charset, collation)
    finally:
        server.drop_database(name)


def _manage(env, *args, timeout=300):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.mariadb
def test_migrate_and_the_worker_stop_with_one_line_and_make_nothing(wrong_database):
    server, name, env, expected = wrong_database
    for command in (["migrate", "--no-input"], ["db_worker", "--max-tasks", "1"]):
        done = _manage(env, *command)
        assert done.returncode == 2, (command, done.stdout[-500:], done.stderr[-2000:])
        assert done.stderr.strip().splitlines() == [f"Configuration error: {expected}"], done.stderr[-2000:]
        assert tables(server, name) == {}, command  # not one table made in the wrong character set


@pytest.mark.mariadb
def test_gunicorn_stops_at_start_up_and_readyz_answers_503(wrong_database, tmp_path):
    server, name, env, expected = wrong_database
    log = tmp_path / "gunicorn.log"
    with open(log, "w") as out:
        done = subprocess.run([str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "tool_ocr.wsgi"], cwd=ROOT,
                              env={**env, "GUNICORN_BIND": f"127.0.0.1:{free_port()}", "GUNICORN_WORKERS": "1"},
                              stdout=out, stderr=subprocess.STDOUT, timeout=120)
    assert done.returncode != 0
    assert f"ConfigError: {expected}" in log.read_text(), log.read_text()[-3000:]

    # A process that could not check at start (the database was down then) finds it at its first connection.
    probe = ("import json, django; django.setup(); from django.test import Client; c = Client(); "
             "r = c.get('/readyz'); h = c.get('/healthz'); "
             "print(json.dumps([r.status_code, r.json(), h.status_code, h.json()]))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={**env, "ALLOWED_HOSTS": "testserver"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    ready_status, ready, health_status, health = json.loads(done.stdout.strip().splitlines()[-1])
    assert ready_status == 503 and ready["status"] == "unavailable"
    assert ready["checks"]["database"] == {"status": "unavailable", "reason": "character_set", "detail": expected}
    assert health_status == 503 and health == {"status": "degraded", "database": "unavailable"}
    assert json.dumps(f"database check: {expected}")[1:-1] in done.stderr  # the log line (JSON)


@pytest.mark.mariadb
def test_the_alter_database_it_names_is_the_fix(wrong_database):
    server, name, env, expected = wrong_database
    refused = _manage(env, "migrate", "--no-input", "tasks", "0001")
    assert refused.returncode == 2
    server.execute(re.search(r"Run: (ALTER DATABASE .*?;)", refused.stderr).group(1))  # what the line says
    done = _manage(env, "migrate", "--no-input", "tasks", "0001")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "tool_ocr_tasks" in tables(server, name)
    [[charset, collation]] = [line.split("\t") for line in server.execute(
        "SELECT character_set_name, collation_name FROM information_schema.columns "
        f"WHERE table_schema = '{name}' AND table_name = 'tool_ocr_tasks' AND column_name = 'filename';").splitlines()]
    assert (charset, collation) == ("utf8mb4", "utf8mb4_unicode_ci")


@pytest.mark.django_db
def test_the_suites_own_test_database_has_the_readmes_defaults():
    """pytest-django makes the suite's test database with settings' TEST options: the check would stop it."""
    from django.db import connection

    if connection.vendor != "mysql":
        pytest.skip("the suite runs on SQLite")
    with connection.cursor() as cursor:
        cursor.execute("SELECT default_character_set_name, default_collation_name FROM information_schema.schemata "
                       "WHERE schema_name = DATABASE()")
        assert cursor.fetchone() == ("utf8mb4", "utf8mb4_unicode_ci")
