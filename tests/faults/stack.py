"""The whole app as an operator runs it, on a MariaDB of the test's own: gunicorn, db_worker, storage.

Built on tests.tasks.worker_processes.WorkerDatabase (subprocesses, ``manage.py shell`` to look
at the database like an operator would); adds the web process, a signed-in HTTP client, timed
requests, and the check every fault test ends with: the files in storage and the TaskFile rows
match exactly (no file without its row, no row without its file, no staging record left).
"""

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.faults.own_mariadb import OwnMariaDB
from tests.mysql import scratch_name
from tests.tasks.worker_processes import ROOT, WorkerDatabase

ADA = ("ada.lin@example.com", "demo-password")

# Short timeouts so that each fault plays out in seconds (each is a setting an operator can set).
FAST = {
    "DATABASE_CONNECT_TIMEOUT": 2, "DATABASE_QUERY_TIMEOUT": 6, "HEALTH_CHECK_TIMEOUT": 1.5,
    "TASK_HEARTBEAT_TIMEOUT": 12, "REAPER_INTERVAL": 5, "WORKER_DB_RETRY_MAX_WAIT": 2,
    "STAGING_GRACE_SECONDS": 3, "READYZ_WORKER_MAX_AGE": 10, "OCR_ENGINE": "tesseract",
    "EXTERNAL_AUTH_TOTAL_TIMEOUT": 3, "EXTERNAL_AUTH_TIMEOUT": 1, "EXTERNAL_AUTH_RETRIES": 1,
    "EXTERNAL_AUTH_BREAKER_RESET_SECONDS": 5,
    "SECURE_SSL_REDIRECT": "false", "ALLOWED_HOSTS": "127.0.0.1,localhost", "AUTH_MODE": "external",
    "LOG_FORMAT": "plain",
}


@dataclass
class Web:
    proc: subprocess.Popen
    url: str
    log: Path

    def kill(self) -> None:
        """SIGKILL the whole gunicorn process group: master and worker die at once."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)


class FaultStack(WorkerDatabase):
    def __init__(self, tmp_path: Path, mariadb: OwnMariaDB, auth_url: str, **settings):
        self.tmp_path = tmp_path
        self.media = tmp_path / "files"
        self.media.mkdir(parents=True, exist_ok=True)
        self.mariadb = mariadb
        self.server = mariadb.server
        self.name = scratch_name("fault")
        self.server.create_database(self.name)
        self.url = mariadb.url(self.name)
        self.processes = []
        self.settings = {**FAST, "EXTERNAL_AUTH_API_URL": auth_url, **settings}

    def env(self, **extra) -> dict:
        return super().env(**{**self.settings, **extra})

    # --- processes -------------------------------------------------------------
    def start_web(self, **env) -> Web:
        log = self.tmp_path / f"web-{len(self.processes)}.log"
        proc = self.start([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"),
                           "--chdir", str(ROOT), "--worker-tmp-dir", str(self.tmp_path), "tool_ocr.wsgi"], log=log,
                          GUNICORN_BIND="127.0.0.1:0", GUNICORN_WORKERS=1, GUNICORN_THREADS=4,
                          GUNICORN_LOG_LEVEL="info", **env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
            if found:
                web = Web(proc, found.group(1), log)
                _wait_http(web.url + "/healthz")
                return web
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"gunicorn did not start:\n{log.read_text(errors='replace')[-3000:]}")

    def worker(self, name: str = "w", *args, **env) -> subprocess.Popen:
        return self.start_worker(*args, cwd=self.tmp_path / name, **env)

    # --- what the user sees ---------------------------------------------------
    def signed_in(self, web: Web) -> requests.Session:
        session = requests.Session()
        session.get(web.url + "/login/", timeout=30)
        r = session.post(web.url + "/login/", data={"username": ADA[0], "password": ADA[1],
                                                    "csrfmiddlewaretoken": session.cookies.get("csrftoken", "")},
                         headers={"Referer": web.url + "/login/"}, allow_redirects=False, timeout=30)
        assert r.status_code == 302, (r.status_code, r.text[:500])
        return session

    # --- end state ---------------------------------------------------------------
    def stored_files(self) -> set[str]:
        found = set()
        for dirpath, _dirs, files in os.walk(self.media):
            for name in files:
                rel = os.path.relpath(os.path.join(dirpath, name), self.media)
                if not rel.startswith(".readyz-"):
                    found.add(rel)
        return found

    def file_rows(self) -> set[str]:
        from tasks.models import TaskFile

        rows = self.server.execute(f"SELECT file FROM {TaskFile._meta.db_table};", database=self.name)
        return {line for line in rows.splitlines() if line}

    def staged_rows(self) -> int:
        from tasks.models import StagedFolder

        return int(self.server.execute(f"SELECT COUNT(*) FROM {StagedFolder._meta.db_table};",
                                       database=self.name).strip())

    def reap(self) -> str:
        """What the periodic reaper does (also the staging cleanup), run once now."""
        return self.manage("reap_stuck_tasks")

    def assert_files_match_rows(self) -> None:
        files, rows = self.stored_files(), self.file_rows()
        assert files - rows == set(), f"files without a row: {sorted(files - rows)}"
        assert rows - files == set(), f"rows without a file: {sorted(rows - files)}"

    def settle_and_check_files(self) -> None:
        """After the staging grace, the cleanup removes what a killed process left; then all must match."""
        time.sleep(float(self.settings["STAGING_GRACE_SECONDS"]) + 0.5)
        self.reap()
        self.assert_files_match_rows()
        assert self.staged_rows() == 0

    def task_rows(self) -> list[dict]:
        from tasks.models import Task, UploadKey

        out = self.server.execute(
            f"SELECT t.id, t.status, t.pages_done, t.page_count, t.requeue_count, t.error_code, COALESCE(k.`key`, ''), "
            f"t.filename FROM {Task._meta.db_table} t LEFT JOIN {UploadKey._meta.db_table} k ON k.task_id = t.id "
            f"ORDER BY t.created_at;", database=self.name)
        keys = ["id", "status", "pages_done", "page_count", "requeue_count", "error_code", "upload_key", "filename"]
        rows = [dict(zip(keys, line.split("\t"))) for line in out.splitlines() if line]
        for row in rows:
            row["id"] = str(uuid.UUID(row["id"]))  # stored as CHAR(32)
        return rows

    def close(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=30)
        try:
            self.server.drop_database(self.name)
        except Exception:  # the server may be the thing the test killed
            pass


def _wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def timed(func, *args, **kwargs):
    """(result, seconds)."""
    started = time.monotonic()
    result = func(*args, **kwargs)
    return result, time.monotonic() - started


def wait_until(predicate, *, timeout: float, every: float = 0.3, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
