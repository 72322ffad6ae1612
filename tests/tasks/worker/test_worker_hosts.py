"""Worker hosts without a shared disk: a web process and two workers, one MariaDB, one bucket.

Each process is its own "host": its own MEDIA_ROOT, DATA_DIR and TMPDIR, nothing shared but
the database and the bucket (moto's S3 server over HTTP). Files are uploaded through the web
process over HTTP, read by the workers from the bucket into their temporary folders, and the
results are downloaded through the web process again. One worker is SIGKILLed in the middle
of a task; the reaper (run by the other worker) puts the task back and the other worker
finishes it. Afterwards no host has anything on its disk but empty temporary folders.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.tasks.pipeline_helpers import PAGES, encode
from tests.tasks.worker_processes import WorkerDatabase, tasks_state

pytestmark = pytest.mark.mariadb

CSRF = "a" * 32  # any well-formed token: the API compares the X-CSRFToken header with the csrftoken cookie

SESSION = """
from datetime import timedelta
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from accounts import crypto
from accounts.models import TokenSession, User
user = User.objects.create_user(email={email!r}, display_name="Host Test")
store = SessionStore()
store[SESSION_KEY] = str(user.pk)
store[BACKEND_SESSION_KEY] = "accounts.backends.ExternalAuthBackend"
store[HASH_SESSION_KEY] = user.get_session_auth_hash()
store.create()
now = timezone.now()
TokenSession.objects.create(user=user, session_key=store.session_key, access_token_enc=crypto.encrypt("t"),
                            token_type="Bearer", issued_at=now, expires_at=now + timedelta(hours=8))
result = [settings.SESSION_COOKIE_NAME, store.session_key]
"""


class Host:
    """One machine's private folders."""

    def __init__(self, root: Path, name: str):
        self.root = root / name
        self.files, self.data, self.tmp = self.root / "files", self.root / "data", self.root / "tmp"
        for folder in (self.files, self.data, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)

    def env(self, tmp=True) -> dict:
        env = {"MEDIA_ROOT": str(self.files), "DATA_DIR": str(self.data)}
        return {**env, "TMPDIR": str(self.tmp)} if tmp else env  # db.start_worker sets TMPDIR itself

    def leftovers(self) -> list[str]:
        """Files on this host's disk other than its logs (the worker's and the web's own output)."""
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*")
                      if p.is_file() and p.suffix != ".log")


def _page(tmp_path: Path, name: str, pages: int, height: int = 700) -> Path:
    """A real page (a strip of a sample) repeated ``pages`` times as a TIFF."""
    page = Image.open(PAGES / "libtasn1_p13.png").convert("L")
    strip = page.crop((0, 0, page.width, min(height, page.height)))
    path = tmp_path / name
    path.write_bytes(encode(strip, "TIFF", save_all=True, append_images=[strip] * (pages - 1),
                            compression="tiff_deflate"))
    return path


def _gunicorn(db: WorkerDatabase, host: Host, env: dict) -> tuple[subprocess.Popen, str]:
    log = host.root / "web.log"
    proc = db.start([str(Path(sys.executable).with_name("gunicorn")), "-b", "127.0.0.1:0", "-w", "2",
                     "--access-logfile", "-", "tool_ocr.wsgi"], cwd=host.root, log=log, **env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", log.read_text())
        if found:
            return proc, found.group(1)
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    raise AssertionError(f"gunicorn did not start:\n{log.read_text()[-3000:]}")


def _wait(db, ids, statuses=("completed", "failed", "cancelled"), timeout=600):
    deadline = time.monotonic() + timeout
    hex_ids = ",".join(f"'{i.replace('-', '')}'" for i in ids)
    while time.monotonic() < deadline:
        rows = db.query(f"SELECT status FROM {{tasks}} WHERE id IN ({hex_ids})")
        if len(rows) == len(ids) and all(r[0] in statuses for r in rows):
            return tasks_state(db, ids)
        time.sleep(0.5)
    raise AssertionError(f"tasks not finished after {timeout} s: {tasks_state(db, ids)}")


def test_web_and_two_worker_hosts_share_only_the_database_and_the_bucket(tmp_path, moto_s3, dev_auth_api):
    from tasks import services

    engine = "tesseract" if "tesseract" in services.engine_names() else "easyocr"
    bucket = moto_s3.new_bucket()
    db = WorkerDatabase(tmp_path, mariadb=True)
    web, host1, host2 = Host(tmp_path, "web"), Host(tmp_path, "host1"), Host(tmp_path, "host2")
    common = {**moto_s3.env(bucket), "EXTERNAL_AUTH_API_URL": dev_auth_api.url, "TASK_HEARTBEAT_TIMEOUT": "10",
              "REAPER_INTERVAL": "5", "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false",
              "OMP_THREAD_LIMIT": "1"}
    try:
        db.manage("migrate", "--no-input", "-v0", **common, **web.env())
        cookie_name, session = db.python(SESSION.format(email="hosts@example.com"), **common, **web.env())
        server, base = _gunicorn(db, web, {**common, **web.env()})
        http = requests.Session()
        http.cookies.set(cookie_name, session)
        http.cookies.set("csrftoken", CSRF)

        # A long document first (the one a worker will die on), then short ones.
        files = [_page(tmp_path, "long.tiff", 8)] + [_page(tmp_path, f"short{n}.tiff", 1) for n in range(5)]
        ids = []
        for path in files:
            with path.open("rb") as fh:
                response = http.post(f"{base}/api/v1/tasks", files={"files": (path.name, fh, "image/tiff")},
                                     data={"engine": engine}, headers={"X-CSRFToken": CSRF}, timeout=60)
            assert response.status_code == 201, response.text
            ids.append(response.json()["tasks"][0]["id"])
        long_id = ids[0]
        keys = moto_s3.keys(bucket)
        assert len([k for k in keys if k.endswith("/original.tif")]) == len(ids)

        victim = db.start_worker(cwd=host1.root, log=host1.root / "worker.log", **common, **host1.env(tmp=False))
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # wait until the first worker is inside the long task
            state = tasks_state(db, [long_id])[long_id]
            if state["status"] == "processing" and state["pages_done"] >= 1:
                break
            time.sleep(0.3)
        else:
            raise AssertionError(f"the first worker never started the long task: {tasks_state(db, [long_id])}")
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        killed_worker = state["worker_id"]

        survivor = db.start_worker(cwd=host2.root, log=host2.root / "worker.log", **common, **host2.env(tmp=False))
        final = _wait(db, ids)
        assert {s["status"] for s in final.values()} == {"completed"}, final
        assert final[long_id]["requeue_count"] == 1 and final[long_id]["pages_done"] == 8
        assert final[long_id]["worker_id"] != killed_worker
        assert all(s["files"] == ["original", "result_json", "result_pdf", "result_txt"] for s in final.values())

        # Every task ran to the end exactly once: one "task completed" line per task across both hosts.
        completed = []
        for host in (host1, host2):
            for line in (host.root / "worker.log").read_text().splitlines():
                if '"task completed"' in line:
                    completed.append(json.loads(line[line.index("{"):])["task_id"])
        assert sorted(completed) == sorted(ids)
        jobs = db.query("SELECT status, exception_class_path FROM {jobs} WHERE task_path = 'tasks.jobs.process_task'")
        assert sorted(jobs) == sorted([("SUCCESSFUL", "")] * len(ids) + [("FAILED", "tasks.reaper.WorkerLost")])

        # The results come back through the web process, from the bucket.
        for task_id in ids:
            response = http.get(f"{base}/api/v1/tasks/{task_id}/result.txt", timeout=30)
            assert response.status_code == 200 and len(response.text.strip()) > 20
        assert len(moto_s3.keys(bucket)) == 4 * len(ids)

        os.killpg(survivor.pid, signal.SIGTERM)
        survivor.wait(timeout=120)
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        # Nothing on any host's disk: no task files, and the temporary copies were removed (the
        # killed worker's copy of the long document is the one exception a SIGKILL leaves behind).
        assert web.leftovers() == [] and host2.leftovers() == []
        # (in its own tool-ocr-worker-* folder: the next worker started on that host removes it, tasks/pipeline/worker_temp.py)
        assert [any(part.startswith("tool-ocr-") for part in Path(p).parts) for p in host1.leftovers()] == \
            [True] * len(host1.leftovers())
    finally:
        db.close()
