"""The deployed stack in a test: a scratch database, gunicorn with deploy/gunicorn.conf.py, a signed-in client.

Used by the nginx, backup and upgrade tests, which all check that a real server, as an
operator runs it, serves the data (not Django's test client against the test database).
"""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.mysql import mysql_server_or_skip, scratch_name

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET = "deploy-test-" + "k" * 40


def free_port(host="127.0.0.1") -> int:
    """An ephemeral port the kernel just gave out (for a server whose port must be known before it starts)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ScratchDatabase:
    """A MariaDB database of the test's own, dropped at the end."""

    def __init__(self, label: str):
        self.server = mysql_server_or_skip()
        self.name = scratch_name(label)
        self.server.create_database(self.name)
        self.url = self.server.url(self.name)

    def drop(self):
        self.server.drop_database(self.name)


def app_env(tmp_path: Path, database_url: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update({
        "TOOL_OCR_ENV_FILE": "/nonexistent", "DJANGO_SETTINGS_MODULE": "tool_ocr.settings",
        "DEBUG": "false", "SECRET_KEY": SECRET, "DATABASE_URL": database_url,
        "DATA_DIR": str(tmp_path / "data"), "MEDIA_ROOT": str(tmp_path / "data" / "files"),
        "ALLOWED_HOSTS": "127.0.0.1,127.0.0.2,localhost", "SECURE_SSL_REDIRECT": "false", "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def manage(env: dict, *args, timeout=600) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


class Gunicorn:
    """gunicorn with the shipped deploy/gunicorn.conf.py on a loopback port."""

    def __init__(self, env: dict, log_path: Path):
        self.port = free_port()
        self.env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}", "GUNICORN_WORKERS": "1",
                    "GUNICORN_THREADS": "4"}
        self.log = open(log_path, "w")
        self.process = subprocess.Popen([str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "tool_ocr.wsgi"],
                                        cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        self.log_path = log_path
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited:\n{log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise AssertionError(f"gunicorn did not answer:\n{log_path.read_text()[-3000:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def sign_in(session: requests.Session, base: str, email: str, password: str = "demo-password", **kwargs):
    """The login page, as a browser: GET for the CSRF cookie, POST the form with the Referer."""
    page = session.get(f"{base}/login/", **kwargs)
    assert page.status_code == 200, page.status_code
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(f"{base}/login/", data={"csrfmiddlewaretoken": token, "username": email,
                                                    "password": password},
                            headers={"Referer": f"{base}/login/"}, allow_redirects=False, **kwargs)
    assert response.status_code == 302, (response.status_code, response.text[:500])
    return response


def csrf_headers(session: requests.Session, base: str) -> dict:
    return {"X-CSRFToken": session.cookies.get("csrftoken"), "Referer": f"{base}/"}


def run_script(env: dict, *args, cwd: Path = ROOT, timeout=900) -> str:
    done = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def table_names(db: ScratchDatabase) -> list[str]:
    out = db.server.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                            f"'{db.name}' AND table_type = 'BASE TABLE' ORDER BY table_name;")
    return out.split()


def table_columns(db: ScratchDatabase, table: str) -> list[str]:
    out = db.server.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                            f"'{db.name}' AND table_name = '{table}' ORDER BY ordinal_position;")
    return out.split()


def table_rows(db: ScratchDatabase, table: str, columns: list[str]) -> list[str]:
    """Every row of ``columns``, as text lines in a stable order (all columns sort the rows); binary columns
    (the search indexes' task keys) in hex, so the lines are text."""
    binary = set(db.server.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        f"'{db.name}' AND table_name = '{table}' AND data_type IN ('binary', 'varbinary', 'tinyblob', 'blob', "
        "'mediumblob', 'longblob');").split())
    cols = ", ".join(f"HEX(`{c}`)" if c in binary else f"`{c}`" for c in columns)
    out = db.server.execute(f"SELECT {cols} FROM `{table}` ORDER BY {cols};", database=db.name)
    return out.splitlines()


def served_files(base: str, email: str, expected: dict, session=None) -> dict:
    """Sign in as ``email`` and fetch each of its tasks and every file: {task id: {kind: sha256}}."""
    import hashlib

    from tasks.files.file_links import BY_KIND

    session = session or requests.Session()
    session.trust_env = False
    sign_in(session, base, email)
    found = {}
    for task_id, info in expected.items():
        if info["user"] != email:
            continue
        task = session.get(f"{base}/api/v1/tasks/{task_id}")
        assert task.status_code == 200, (task_id, task.status_code)
        assert task.json()["status"] == info["status"]
        found[task_id] = {}
        for kind in info["files"]:
            response = session.get(f"{base}/api/v1/tasks/{task_id}/{BY_KIND[kind].suffix}")
            assert response.status_code == 200, (task_id, kind, response.status_code)
            found[task_id][kind] = hashlib.sha256(response.content).hexdigest()
    return found


def assert_every_file_served(base: str, expected: dict) -> None:
    """Each owner, signed in, gets back exactly their tasks and every file of them, byte for byte."""
    for email in sorted({info["user"] for info in expected.values()}):
        assert served_files(base, email, expected) == {t: i["files"] for t, i in expected.items() if i["user"] == email}
