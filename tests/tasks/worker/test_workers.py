"""Worker processes: restarted after N tasks by scripts/run_worker.sh (which stops its worker when stopped),
and two workers on two working folders sharing one MariaDB database and one storage folder run every task once."""

import json
import os
import signal
import time
from pathlib import Path

import pytest
from PIL import Image

from tasks import services
from tests.tasks.pipeline_helpers import PAGES, encode
from tests.tasks.worker_processes import ROOT, WorkerDatabase, create_tasks, tasks_state


def _engine() -> str:
    return "tesseract" if "tesseract" in services.engine_names() else "easyocr"


def _pages(tmp_path: Path, count: int, engine: str) -> list[Path]:
    """Small real pages: strips of a shared page (EasyOCR is slow on whole pages)."""
    page = Image.open(PAGES / "libtasn1_p13.png").convert("L")
    height = page.height if engine == "tesseract" else 200
    paths = []
    for n in range(count):
        top = (n * 150) % max(1, page.height - height)
        path = tmp_path / f"page{n}.png"
        path.write_bytes(encode(page.crop((0, top, page.width, top + height)), "PNG"))
        paths.append(path)
    return paths


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
    return " Z " not in stat  # a zombie has exited


def _wait_all_finished(db: WorkerDatabase, ids: list[str], timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    hex_ids = ",".join(f"'{i.replace('-', '')}'" for i in ids)
    while time.monotonic() < deadline:
        rows = db.query(f"SELECT status FROM {{tasks}} WHERE id IN ({hex_ids})")
        if len(rows) == len(ids) and all(r[0] in ("completed", "failed", "cancelled") for r in rows):
            return tasks_state(db, ids)
        time.sleep(0.5)
    raise AssertionError(f"tasks not finished after {timeout} s: {tasks_state(db, ids)}")


def test_run_worker_restarts_the_worker_after_n_tasks_and_stops_it_when_stopped(tmp_path):
    db = WorkerDatabase(tmp_path, mariadb=False)
    try:
        db.migrate()
        engine = _engine()
        ids = create_tasks(db, "alice@example.com", _pages(tmp_path, 3, engine), engine)
        supervisor = db.start(["bash", str(ROOT / "scripts" / "run_worker.sh"), "--interval", "0.2"],
                              log=tmp_path / "supervisor.log", WORKER_MAX_TASKS=1, PYTHON=os.sys.executable)
        state = _wait_all_finished(db, ids)
        assert {s["status"] for s in state.values()} == {"completed"}, state
        pids = {s["worker_id"].split(":")[1] for s in state.values()}
        assert len(pids) == 3  # one fresh worker process per task

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the third worker exits; a fourth starts and waits for work
            waiting = [pid for pid in _children(supervisor.pid) if str(pid) not in pids]
            if waiting:
                break
            time.sleep(0.1)
        [worker] = waiting
        os.kill(supervisor.pid, signal.SIGTERM)  # what make run's Ctrl+C does to it
        assert supervisor.wait(timeout=60) == 0
        time.sleep(0.2)
        assert not _alive(worker), "the worker outlived its supervisor"
        assert db.query("SELECT COUNT(*) FROM {jobs} WHERE task_path = 'tasks.jobs.periodic_job' "
                        "AND status = 'READY'") == [("5",)]  # the supervisor queued the periodic jobs
    finally:
        db.close()


@pytest.mark.mariadb
def test_two_workers_in_separate_folders_share_one_database_and_storage_and_run_each_task_once(tmp_path):
    db = WorkerDatabase(tmp_path, mariadb=True)
    try:
        db.migrate()
        engine = _engine()
        count = 8 if engine == "tesseract" else 6
        ids = create_tasks(db, "alice@example.com", _pages(tmp_path, count, engine), engine)
        ids += create_tasks(db, "bob@example.com", _pages(tmp_path, 2, engine), engine)
        workers = [db.start_worker(cwd=tmp_path / f"machine{n}", log=tmp_path / f"machine{n}" / "worker.log")
                   for n in (1, 2)]
        state = _wait_all_finished(db, ids)
        for w in workers:
            os.killpg(w.pid, signal.SIGTERM)
            w.wait(timeout=120)

        assert {s["status"] for s in state.values()} == {"completed"}, state
        by_worker = {}
        for task_id, s in state.items():
            by_worker.setdefault(s["worker_id"].split(":")[1], []).append(task_id)
            assert s["files"] == ["original", "result_json", "result_pdf", "result_txt"]
        assert len(by_worker) == 2, f"one worker did everything: {by_worker}"

        # Exactly once: one job per task, run once; each worker log says "task completed" once per task in total.
        jobs = db.query("SELECT args_kwargs, status, return_value FROM {jobs} WHERE task_path = 'tasks.jobs.process_task'")
        assert sorted(json.loads(a)["args"][0] for a, _s, _r in jobs) == sorted(ids)
        assert {(s, json.loads(r)) for _a, s, r in jobs} == {("SUCCESSFUL", "completed")}
        completed = []
        for n in (1, 2):
            for line in (tmp_path / f"machine{n}" / "worker.log").read_text().splitlines():
                if '"task completed"' in line:
                    completed.append(json.loads(line[line.index("{"):])["task_id"])
        assert sorted(completed) == sorted(ids)
        # One storage folder: every result is there, under its user's and task's folder.
        for task_id in ids:
            assert any((db.media).glob(f"*/{task_id}/result.pdf"))
        # Separate working folders: each worker's temporary files (the PDFs it builds) went when done.
        for n in (1, 2):
            assert list((tmp_path / f"machine{n}" / "tmp").glob("tool-ocr-*")) == []
    finally:
        db.close()
