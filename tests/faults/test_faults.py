"""The fault suite: the app as deployed (gunicorn, a plain ``manage.py db_worker``, file storage) on a
MariaDB of its own, while the test kills, freezes and restarts the database, SIGKILLs the web and
worker processes, fills or write-protects the storage and the temporary folder, and takes the
sign-in API down or makes it hang.

Each test checks what the user saw (status, message), the end state of every task, and that
the files in storage and the TaskFile rows match exactly. Recovery times (seconds after the
dependency came back) are printed as ``FAULT <name>: ...`` lines (run with -s to see them).
"""

import http.client
import io
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image

from tests.faults.stack import FaultStack, timed, wait_until
from tests.tasks.pipeline_helpers import PAGES

pytestmark = [pytest.mark.mariadb]

FINISHED = ("completed", "failed", "cancelled")


def report(name: str, **figures) -> None:
    print(f"FAULT {name}: " + ", ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                                         for k, v in figures.items()))


# --- inputs: real pages, cut so that tesseract reads each in about a second -------------------------
def _strip(n: int, height: int = 700) -> Image.Image:
    page = Image.open(PAGES / "libtasn1_p13.png").convert("L")
    top = (n * 170) % max(1, page.height - height)
    return page.crop((0, top, page.width, top + height))


def png_bytes(n: int) -> bytes:
    out = io.BytesIO()
    _strip(n).save(out, "PNG")
    return out.getvalue()


def pdf_bytes(pages: int) -> bytes:
    images = [_strip(n).convert("RGB") for n in range(pages)]
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=200, save_all=True, append_images=images[1:])
    return out.getvalue()


# --- the user's side --------------------------------------------------------------------------------
def api_upload(session: requests.Session, url: str, files: list[tuple[str, bytes]], key: str | None = None,
               timeout: float = 60) -> requests.Response:
    headers = {"X-CSRFToken": session.cookies.get("csrftoken", "")}
    if key:
        headers["Idempotency-Key"] = key
    return session.post(url + "/api/v1/tasks", files=[("files", (n, b)) for n, b in files], headers=headers,
                        timeout=timeout)


def _multipart(fields: dict, files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for filename, content in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def send_and_kill(web, session, path: str, fields: dict, files, headers: dict, delay: float) -> None:
    """Send the whole request body, wait ``delay`` seconds, then SIGKILL the web processes."""
    body, content_type = _multipart(fields, files)
    parts = urlsplit(web.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    conn.request("POST", path, body=body, headers={"Content-Type": content_type, "Cookie": cookie,
                                                   "Referer": web.url + "/", **headers})
    time.sleep(delay)  # the body is in the server's hands; it is inspecting and storing the files
    web.kill()
    conn.close()


def page_form(session: requests.Session, url: str) -> dict:
    html = session.get(url + "/", timeout=30).text
    key = html.split('name="upload_key" value="', 1)[1].split('"', 1)[0]
    return {"csrfmiddlewaretoken": session.cookies.get("csrftoken", ""), "upload_key": key, "engine": "tesseract"}


def tasks_with_key(stack: FaultStack, key: str) -> list[dict]:
    return [t for t in stack.task_rows() if t["upload_key"] == key]


def wait_finished(stack: FaultStack, count: int, timeout: float) -> list[dict]:
    return wait_until(lambda: (rows := stack.task_rows()) and len(rows) == count
                      and all(r["status"] in FINISHED for r in rows) and rows,
                      timeout=timeout, every=0.5, what=f"{count} tasks to finish")


def assert_all_completed_once(stack: FaultStack, rows: list[dict]) -> None:
    assert [r["status"] for r in rows] == ["completed"] * len(rows), rows
    for r in rows:
        assert r["pages_done"] == r["page_count"], r
    # Exactly one original and three results per task, each file with its row (and nothing else).
    assert len(stack.file_rows()) == 4 * len(rows)
    stack.assert_files_match_rows()


def unavailable_page(r: requests.Response) -> None:
    assert r.status_code == 503, (r.status_code, r.text[:300])
    assert "Temporarily unavailable" in r.text and "Try again" in r.text
    assert "Server Error" not in r.text


def unavailable_json(r: requests.Response, dependency: str) -> None:
    assert r.status_code == 503, (r.status_code, r.text[:300])
    error = r.json()["error"]
    assert error["code"] == "service_unavailable" and error["details"]["dependency"] == dependency, error
    assert "Try again" in error["message"]


# --- the database -----------------------------------------------------------------------------------
def test_database_killed_and_restarted_while_tasks_run_a_plain_db_worker_goes_on(stack, own_mariadb):
    web = stack.start_web()
    session = stack.signed_in(web)
    worker = stack.worker()
    idle = stack.worker("idle", "--queue-name", "nothing-here")  # polls the queue when the database goes
    r = api_upload(session, web.url, [("long.pdf", pdf_bytes(4)), ("a.png", png_bytes(1)), ("b.png", png_bytes(2))])
    assert r.status_code == 201, r.text
    wait_until(lambda: any(t["status"] == "processing" and int(t["pages_done"]) >= 1 for t in stack.task_rows()),
               timeout=120, what="a task half-way")

    own_mariadb.kill()
    killed = time.monotonic()
    # What people see while the database is down: 503s with the branded page or the contract's JSON.
    unavailable_page(session.get(web.url + "/", timeout=30))
    unavailable_page(session.get(web.url + "/history/", timeout=30))
    unavailable_json(session.get(web.url + "/api/v1/tasks", timeout=30), "database")
    health, seconds = timed(requests.get, web.url + "/healthz", cookies=session.cookies, timeout=30)
    assert health.status_code == 503 and health.json()["database"] != "ok"
    assert seconds < stack.settings["HEALTH_CHECK_TIMEOUT"] + 1.5
    fresh = requests.Session()
    assert fresh.get(web.url + "/login/", timeout=30).status_code == 200  # the form needs no database
    unavailable_page(fresh.post(web.url + "/login/", data={"username": "ada.lin@example.com", "password": "demo-password",
                                                           "csrfmiddlewaretoken": fresh.cookies.get("csrftoken", "")},
                                timeout=30))
    time.sleep(max(0.0, 8 - (time.monotonic() - killed)))
    assert worker.poll() is None and idle.poll() is None, "a worker exited when the database went away"

    restart = own_mariadb.start()
    back = time.monotonic()
    first_ok = wait_until(lambda: session.get(web.url + "/", timeout=30).status_code == 200 and time.monotonic(),
                          timeout=30, what="the pages to answer again")
    rows = wait_finished(stack, 3, timeout=stack.settings["TASK_HEARTBEAT_TIMEOUT"]
                         + stack.settings["REAPER_INTERVAL"] + 120)
    done = time.monotonic()
    assert worker.poll() is None and idle.poll() is None
    assert_all_completed_once(stack, rows)
    busy_log = (stack.tmp_path / "w" / "worker.log").read_text(errors="replace")
    assert "database unavailable" in busy_log  # it noticed, and carried on
    idle_log = (stack.tmp_path / "idle" / "worker.log").read_text(errors="replace")
    assert "database still unavailable" in idle_log and "database back after" in idle_log
    metrics = requests.get(web.url + "/metrics", timeout=30).text
    outages = [line for line in metrics.splitlines() if line.startswith("tool_ocr_worker_db_outages_total")]
    assert outages and float(outages[0].split()[-1]) >= 1, outages
    assert requests.get(web.url + "/readyz", timeout=30).json()["checks"]["worker"]["status"] == "ok"
    report("database SIGKILL", outage_s=back - killed, db_restart_s=restart, pages_back_s=first_ok - back,
           all_tasks_done_s=done - back, requeued=sum(int(r["requeue_count"]) for r in rows))


def test_database_frozen_every_request_and_probe_answers_within_its_timeout(stack, own_mariadb):
    web = stack.start_web()
    session = stack.signed_in(web)
    worker = stack.worker()
    assert api_upload(session, web.url, [("long.pdf", pdf_bytes(3))]).status_code == 201
    wait_until(lambda: any(int(t["pages_done"]) >= 1 for t in stack.task_rows()), timeout=120, what="progress")

    own_mariadb.freeze()
    frozen = time.monotonic()
    limit = stack.settings["DATABASE_CONNECT_TIMEOUT"] + stack.settings["DATABASE_QUERY_TIMEOUT"] + 2
    page, page_s = timed(session.get, web.url + "/", timeout=60)
    unavailable_page(page)
    api, api_s = timed(session.get, web.url + "/api/v1/tasks", timeout=60)
    unavailable_json(api, "database")
    probe_limit = stack.settings["HEALTH_CHECK_TIMEOUT"] + 1.5
    health, health_s = timed(requests.get, web.url + "/healthz", cookies=session.cookies, timeout=60)
    ready, ready_s = timed(requests.get, web.url + "/readyz", timeout=60)
    assert health.status_code == 503 and ready.status_code == 503
    assert ready.json()["checks"]["database"]["status"] in ("timeout", "unavailable")
    assert page_s < limit and api_s < limit, (page_s, api_s)
    assert health_s < probe_limit and ready_s < probe_limit, (health_s, ready_s)
    time.sleep(max(0.0, 10 - (time.monotonic() - frozen)))
    assert worker.poll() is None

    own_mariadb.thaw()
    back = time.monotonic()
    first_ok = wait_until(lambda: session.get(web.url + "/", timeout=30).status_code == 200 and time.monotonic(),
                          timeout=30, what="the pages to answer again")
    rows = wait_finished(stack, 1, timeout=stack.settings["TASK_HEARTBEAT_TIMEOUT"]
                         + stack.settings["REAPER_INTERVAL"] + 120)
    assert worker.poll() is None
    assert_all_completed_once(stack, rows)
    report("database SIGSTOP", frozen_s=back - frozen, page_503_s=page_s, api_503_s=api_s, healthz_s=health_s,
           readyz_s=ready_s, pages_back_s=first_ok - back, task_done_s=time.monotonic() - back)


# --- the web process killed mid-upload ---------------------------------------------------------------
@pytest.mark.parametrize("path", ["api", "page"])
def test_web_killed_mid_upload_leaves_the_whole_batch_or_nothing_and_the_key_tells_which(stack, path):
    stack.settings["MAX_TASKS_PER_USER"] = 1000
    batch = [(f"scan{n}.png", png_bytes(n)) for n in range(8)]
    outcomes, leftovers = [], 0
    for delay in (0.05, 0.2, 0.5, 1.0):
        web = stack.start_web()
        session = stack.signed_in(web)
        if path == "api":
            key = uuid.uuid4().hex
            send_and_kill(web, session, "/api/v1/tasks", {}, batch,
                          {"X-CSRFToken": session.cookies.get("csrftoken", ""), "Idempotency-Key": key}, delay)
        else:
            form = page_form(session, web.url)
            key = form["upload_key"]
            send_and_kill(web, session, "/", form, batch, {}, delay)
        kept = len(tasks_with_key(stack, key))
        assert kept in (0, len(batch)), f"a killed upload kept {kept} of {len(batch)} files"
        leftovers += len(stack.stored_files() - stack.file_rows())
        # The client sends the same request again with the same key: it learns what exists, nothing doubles.
        web = stack.start_web()
        session = stack.signed_in(web)
        if path == "api":
            again = api_upload(session, web.url, batch, key=key)
            assert again.status_code == (200 if kept else 201), again.text
            assert (again.headers.get("Idempotent-Replayed") == "true") == bool(kept)
            assert len(again.json()["tasks"]) == len(batch)
        else:
            fields = {**page_form(session, web.url), "upload_key": key}
            again = session.post(web.url + "/", data=fields, files=[("files", f) for f in batch],
                                 allow_redirects=True, timeout=60)
            assert again.status_code == 200 and "8 files are queued for OCR" in again.text
            assert ("already received earlier" in again.text) == bool(kept)
        assert len(tasks_with_key(stack, key)) == len(batch)
        outcomes.append("kept" if kept else "none")
        web.kill()
    stack.settle_and_check_files()
    assert len(stack.task_rows()) == 4 * len(batch)
    report(f"web SIGKILL mid-upload ({path})", outcomes="/".join(outcomes), files_left_before_cleanup=leftovers)


# --- the worker killed -------------------------------------------------------------------------------
def test_worker_killed_mid_task_and_at_the_last_page_each_task_completes_once(stack):
    web = stack.start_web()
    session = stack.signed_in(web)
    first = stack.worker("w")
    assert api_upload(session, web.url, [("mid.pdf", pdf_bytes(3))]).status_code == 201
    wait_until(lambda: any(int(t["pages_done"]) >= 1 for t in stack.task_rows()), timeout=120, what="progress")
    os.killpg(first.pid, signal.SIGKILL)
    killed = time.monotonic()
    temp = stack.tmp_path / "w" / "tmp"
    dead_folders = [p for p in temp.iterdir() if p.name.startswith("tool-ocr-worker-")]
    assert dead_folders and any(f.name.startswith("tool-ocr-") for d in dead_folders for f in d.iterdir())

    second = stack.worker("w")  # same host, same TMPDIR: it removes what the killed worker left
    wait_until(lambda: not any(p.exists() for p in dead_folders), timeout=60, what="the dead worker's temp files")
    rows = wait_finished(stack, 1, timeout=stack.settings["TASK_HEARTBEAT_TIMEOUT"]
                         + stack.settings["REAPER_INTERVAL"] + 120)
    mid_done = time.monotonic() - killed
    assert rows[0]["status"] == "completed" and rows[0]["requeue_count"] == "1", rows

    # At the last page: every page read, killed the moment the first result file appears in storage.
    created = api_upload(session, web.url, [("last.pdf", pdf_bytes(2))])
    assert created.status_code == 201
    task = created.json()["tasks"][0]
    folder = next(stack.media.glob(f"*/{task['id']}"))
    deadline = time.monotonic() + 120
    while not (folder / "result.txt").exists():
        assert time.monotonic() < deadline, "the worker never stored results"
        time.sleep(0.001)
    os.killpg(second.pid, signal.SIGKILL)
    killed = time.monotonic()
    left_by_kill = sorted(p.name for p in folder.iterdir())
    stack.worker("w")
    rows = wait_finished(stack, 2, timeout=stack.settings["TASK_HEARTBEAT_TIMEOUT"]
                         + stack.settings["REAPER_INTERVAL"] + 120)
    last_done = time.monotonic() - killed
    assert_all_completed_once(stack, rows)
    stack.settle_and_check_files()
    leftovers = [p for p in temp.iterdir() if p.name.startswith("tool-ocr-worker-")]
    assert len(leftovers) == 1  # only the live worker's own folder
    report("worker SIGKILL", mid_task_done_s=mid_done, last_page_done_s=last_done,
           last_page_requeued=rows[-1]["requeue_count"], files_at_kill="+".join(left_by_kill))


# --- storage and temporary folder ---------------------------------------------------------------------
def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace')}")


def _remount(path: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True)


def _fill(path: Path, leave_kb: int) -> Path:
    filler = path / "filler.bin"
    stat = os.statvfs(path)
    free = stat.f_bavail * stat.f_frsize
    with open(filler, "ab") as fh:
        fh.write(b"\0" * max(0, free - leave_kb * 1024))
    return filler


@pytest.fixture
def tmpfs(tmp_path):
    mounted = []

    def mount(path: Path, size: str) -> Path:
        _mount_tmpfs(path, size)
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_storage_full_and_read_only_answer_503_and_tell_the_user_to_retry_later(stack, tmpfs):
    tmpfs(stack.media, "6m")
    web = stack.start_web()
    session = stack.signed_in(web)

    # Full while uploading: 503 with the contract's JSON, nothing kept; the page says so too.
    filler = _fill(stack.media, leave_kb=64)
    r = api_upload(session, web.url, [("a.png", png_bytes(1))])
    assert r.status_code == 503 and r.json()["error"]["code"] == "storage_unavailable", r.text
    assert "nothing was saved" in r.json()["error"]["message"]
    page = session.post(web.url + "/", data=page_form(session, web.url), files=[("files", ("a.png", png_bytes(1)))],
                        timeout=60)
    assert page.status_code == 503 and "nothing was saved" in page.text
    assert stack.task_rows() == [] and stack.stored_files() == {"filler.bin"}
    filler.unlink()

    # Full while the worker stores the results: the task fails with a storage message, no partial file stays.
    assert api_upload(session, web.url, [("doc.pdf", pdf_bytes(3))]).status_code == 201
    worker = stack.worker()
    wait_until(lambda: any(int(t["pages_done"]) >= 1 for t in stack.task_rows()), timeout=120, what="progress")
    filler = _fill(stack.media, leave_kb=4)
    rows = wait_finished(stack, 1, timeout=120)
    task = session.get(f"{web.url}/api/v1/tasks/{rows[0]['id']}", timeout=30).json()
    assert task["status"] == "failed" and task["error"]["code"] == "storage_unavailable", task
    assert "full or read-only" in task["error"]["message"] and "retry the task later" in task["error"]["message"]
    assert "engine" not in task["error"]["message"].replace("Nothing is wrong with the file or the engine", "")
    assert stack.stored_files() - {"filler.bin"} == stack.file_rows()  # only the original: no partial result
    filler.unlink()
    freed = time.monotonic()
    retry = session.post(f"{web.url}/api/v1/tasks/{rows[0]['id']}/retry",
                         headers={"X-CSRFToken": session.cookies.get("csrftoken", "")}, timeout=30)
    assert retry.status_code == 202, retry.text
    rows = wait_finished(stack, 1, timeout=120)
    assert_all_completed_once(stack, rows)
    full_recovery = time.monotonic() - freed

    # Read-only: uploads 503, /readyz 503 (storage), downloads still work.
    _remount(stack.media, "ro")
    try:
        r = api_upload(session, web.url, [("b.png", png_bytes(2))])
        assert r.status_code == 503 and r.json()["error"]["code"] == "storage_unavailable"
        ready = requests.get(web.url + "/readyz", timeout=30)
        assert ready.status_code == 503 and ready.json()["checks"]["storage"]["status"] == "unavailable"
        assert session.get(f"{web.url}/api/v1/tasks/{rows[0]['id']}/result.txt", timeout=30).status_code == 200
    finally:
        _remount(stack.media, "rw")
    back = time.monotonic()
    assert api_upload(session, web.url, [("b.png", png_bytes(2))]).status_code == 201
    worker.kill()
    stack.settle_and_check_files()
    report("storage full / read-only", retry_after_space_freed_done_s=full_recovery,
           upload_ok_after_rw_s=time.monotonic() - back)


def test_temporary_folder_unwritable_is_503_for_uploads_and_a_clear_failure_for_the_worker(stack, tmpfs):
    web_tmp = tmpfs(stack.tmp_path / "web-tmp", "8m")
    web = stack.start_web(TMPDIR=web_tmp)
    session = stack.signed_in(web)
    _remount(web_tmp, "ro")
    try:
        unavailable_json(api_upload(session, web.url, [("a.png", png_bytes(1))]), "temp")
        form = page_form(session, web.url)
        page = session.post(web.url + "/", data=form, files=[("files", ("a.png", png_bytes(1)))], timeout=60)
        unavailable_page(page)
        assert "temporary folder" in page.text
        ready = requests.get(web.url + "/readyz", timeout=30)
        assert ready.status_code == 503 and ready.json()["checks"]["temp_folder"]["status"] == "unavailable"
    finally:
        _remount(web_tmp, "rw")
    back = time.monotonic()
    assert api_upload(session, web.url, [("a.png", png_bytes(1))], key="first").status_code == 201
    upload_back = time.monotonic() - back
    assert stack.task_rows()[0]["upload_key"] == "first"
    session.post(f"{web.url}/api/v1/tasks/{stack.task_rows()[0]['id']}/cancel",
                 headers={"X-CSRFToken": session.cookies.get("csrftoken", "")}, timeout=30)

    worker_tmp = tmpfs(stack.tmp_path / "w" / "tmp", "8m")
    worker = stack.worker("w")
    wait_until(lambda: any(p.name.startswith("tool-ocr-worker-") for p in worker_tmp.iterdir()), timeout=60,
               what="the worker's temporary folder")
    _remount(worker_tmp, "ro")
    try:
        assert api_upload(session, web.url, [("b.png", png_bytes(2))]).status_code == 201
        rows = [r for r in wait_finished(stack, 2, timeout=120) if r["filename"] == "b.png"]
        task = session.get(f"{web.url}/api/v1/tasks/{rows[0]['id']}", timeout=30).json()
        assert task["error"]["code"] == "temp_folder_unavailable" and "temporary folder" in task["error"]["message"]
        assert worker.poll() is None
    finally:
        _remount(worker_tmp, "rw")
    retried = time.monotonic()
    session.post(f"{web.url}/api/v1/tasks/{rows[0]['id']}/retry",
                 headers={"X-CSRFToken": session.cookies.get("csrftoken", "")}, timeout=30)
    rows = [r for r in wait_finished(stack, 2, timeout=120) if r["filename"] == "b.png"]
    assert rows[0]["status"] == "completed"
    stack.assert_files_match_rows()
    report("temporary folder read-only", upload_ok_after_rw_s=upload_back,
           worker_retry_done_s=time.monotonic() - retried)


# --- the sign-in API ----------------------------------------------------------------------------------
def test_auth_api_down_or_hanging_new_sign_ins_get_503_signed_in_users_carry_on(stack, dev_auth_api):
    web = stack.start_web()
    session = stack.signed_in(web)

    def sign_in_attempt():
        fresh = requests.Session()
        fresh.get(web.url + "/login/", timeout=30)
        return fresh.post(web.url + "/login/", data={"username": "ada.lin@example.com", "password": "demo-password",
                                                      "csrfmiddlewaretoken": fresh.cookies.get("csrftoken", "")},
                          allow_redirects=False, timeout=60)

    for mode in ({"fail_mode": "drop"}, {"delay_seconds": 30}):
        dev_auth_api.configure(**mode)
        attempt, seconds = timed(sign_in_attempt)
        assert attempt.status_code == 503, (mode, attempt.status_code)
        assert "sign-in service is unavailable" in attempt.text and "Try again" in attempt.text
        assert seconds < stack.settings["EXTERNAL_AUTH_TOTAL_TIMEOUT"] + 3, (mode, seconds)
        assert session.get(web.url + "/", timeout=30).status_code == 200
        assert session.get(web.url + "/api/v1/me", timeout=30).status_code == 200
        dev_auth_api.reset()
        back = time.monotonic()
        wait_until(lambda: sign_in_attempt().status_code == 302, timeout=60, what="sign-in to work again")
        report(f"auth API {'down' if 'fail_mode' in mode else 'hanging'}", sign_in_503_s=seconds,
               sign_in_back_s=time.monotonic() - back)
