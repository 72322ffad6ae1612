"""Real worker processes for tests: a database they can share with the test, and ways to drive them.

pytest-django's test database is private to the test process (in memory on SQLite), so
these tests use a database of their own: a temporary SQLite file, or a scratch MariaDB
database when the suite runs on MariaDB (DATABASE_URL=mysql://...). The test talks to
that database through ``manage.py shell`` in subprocesses, like an operator would, so
it never mixes it up with pytest-django's.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.mysql import mysql_server_or_skip, scratch_name

ROOT = Path(__file__).resolve().parents[2]

# {(class, server, table prefix): the migrated database as bytes (SQLite) or SQL (MariaDB)}, once per test process.
_MIGRATED: dict = {}


def on_mariadb() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith("mysql")


class WorkerDatabase:
    def __init__(self, tmp_path: Path, *, mariadb: bool | None = None):
        self.tmp_path = tmp_path
        self.media = tmp_path / "files"
        self.media.mkdir(parents=True, exist_ok=True)
        self.server = self.name = None
        if on_mariadb() if mariadb is None else mariadb:
            self.server = mysql_server_or_skip()
            self.name = scratch_name("wrk")
            self.server.create_database(self.name)
            self.url = self.server.url(self.name)
        else:
            self.url = f"sqlite:///{tmp_path / 'worker-test.sqlite3'}"
        self.processes: list[subprocess.Popen] = []

    def env(self, **extra) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))}
        env.update({"DATABASE_URL": self.url, "DEBUG": "true", "MEDIA_ROOT": str(self.media),
                    "DATA_DIR": str(self.tmp_path / "data"), "DJANGO_SETTINGS_MODULE": "tool_ocr.settings",
                    "TOOL_OCR_ENV_FILE": str(self.tmp_path / "no.env"), "OMP_THREAD_LIMIT": "1",
                    "PYTHONPATH": str(ROOT), "LOG_LEVEL": "INFO", "OCR_PRELOAD_ENGINES": "none"})
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def manage(self, *args, timeout=300, **env) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env(**env),
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def migrate(self) -> None:
        """The migrated schema: `manage.py migrate` for the first database of its kind in this test process, a
        copy of that result for the next ones (a file copy on SQLite, a dump loaded on MariaDB): the same tables,
        triggers and django_migrations rows, in a second instead of 10-15 s of migrations each time."""
        key = (type(self).__name__, self.server.url("") if self.server else "sqlite",
               os.environ.get("DATABASE_TABLE_PREFIX", ""))
        template = _MIGRATED.get(key)
        if template is None:
            self.manage("migrate", "--no-input", "-v0")
            _MIGRATED[key] = self._dump()
        else:
            self._restore(template)

    def _dump(self):
        if self.server is None:
            return Path(self.url.removeprefix("sqlite:///")).read_bytes()
        return self.server.dump(self.name)

    def _restore(self, template) -> None:
        if self.server is None:
            Path(self.url.removeprefix("sqlite:///")).write_bytes(template)
        else:
            self.server.execute(template, database=self.name)

    def python(self, code: str, timeout=300, **env):
        """Run code inside Django in a subprocess; it sets ``result``, which comes back as JSON."""
        script = ("import json\nresult = None\n" + textwrap.dedent(code) +
                  "\nprint('@@RESULT@@' + json.dumps(result, default=str))\n")
        out = self.manage("shell", "--no-imports", "-c", script, timeout=timeout, **env)
        return json.loads(out.rsplit("@@RESULT@@", 1)[1])

    def start_worker(self, *args, cwd: Path | None = None, log: Path | None = None, **env) -> subprocess.Popen:
        """``manage.py db_worker`` as its own process (own process group, own working and temp folder)."""
        cwd = cwd or self.tmp_path
        cwd.mkdir(parents=True, exist_ok=True)
        (cwd / "tmp").mkdir(exist_ok=True)
        log = log or cwd / "worker.log"
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "db_worker", "--no-reload", "--no-startup-delay",
             "--interval", "0.2", *args],
            cwd=cwd, env=self.env(TMPDIR=cwd / "tmp", **env), stdout=log.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True)
        self.processes.append(proc)
        return proc

    def start(self, command: list[str], *, cwd: Path | None = None, log: Path | None = None, **env) -> subprocess.Popen:
        cwd = cwd or self.tmp_path
        log = log or cwd / "process.log"
        proc = subprocess.Popen(command, cwd=cwd, env=self.env(**env), stdout=log.open("ab"),
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(proc)
        return proc

    def wait_for(self, code: str, *, timeout: float = 120, every: float = 0.2, what: str = "condition"):
        """Poll ``code`` (sets result) in a subprocess until the result is truthy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.python(code)
            if result:
                return result
            time.sleep(every)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    def query(self, sql: str) -> list[tuple]:
        """Read the shared database directly (fast enough to poll); write tables as {tasks} and {jobs}."""
        from django_tasks_db.models import DBTaskResult

        from tasks.models import Task

        sql = sql.format(tasks=Task._meta.db_table, jobs=DBTaskResult._meta.db_table)
        if self.server is not None:
            out = self.server.execute(sql, database=self.name)
            return [tuple(line.split("\t")) for line in out.splitlines() if line]
        import sqlite3

        with sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=20) as conn:
            return [tuple("" if v is None else str(v) for v in row) for row in conn.execute(sql).fetchall()]

    def close(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=30)
        if self.server is not None:
            self.server.drop_database(self.name)


CREATE_TASKS = """
from django.core.files import File
from accounts.models import User
from tasks import services
user, _ = User.objects.get_or_create(email={email!r}, defaults={{"display_name": {email!r}}})
result = []
for path in {paths!r}:
    with open(path, "rb") as fh:
        upload = File(fh, name=path.rsplit("/", 1)[-1])
        result.append(str(services.tasks_create(user=user, uploaded_files=[upload], engine={engine!r}).tasks[0].id))
"""


def create_tasks(db: WorkerDatabase, email: str, paths: list[str], engine: str) -> list[str]:
    return db.python(CREATE_TASKS.format(email=email, paths=[str(p) for p in paths], engine=engine))


def tasks_state(db: WorkerDatabase, ids: list[str]) -> dict:
    return db.python(f"""
from tasks.models import Task
result = {{str(t.pk): {{"status": t.status, "pages_done": t.pages_done, "page_count": t.page_count,
                       "worker_id": t.worker_id, "requeue_count": t.requeue_count, "error": t.error_message,
                       "files": sorted(t.files.values_list("kind", flat=True))}}
          for t in Task.objects.filter(pk__in={ids!r})}}
""")
