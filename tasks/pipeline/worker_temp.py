"""Each OCR worker keeps its temporary files in a folder of its own, locked while it runs.

A worker killed with SIGKILL cannot remove its half-written searchable PDF. Its folder's lock
(``flock``, released by the kernel when the process dies) tells the next worker that starts on
the host that the folder is abandoned: ``claim`` removes every such folder before taking a new
one. A live worker's folder stays locked, so two workers never remove each other's files.
"""

import fcntl
import logging
import os
import shutil
import tempfile
import time

log = logging.getLogger("tool_ocr.worker")

PREFIX = "tool-ocr-worker-"
_state = {"folder": None, "lock": None}


def folder() -> str | None:
    """This worker's temporary folder (None outside a worker: the system's temporary folder)."""
    return _state["folder"]


def claim(base: str | None = None) -> tuple[str, int]:
    """Remove abandoned worker folders under ``base`` (TMPDIR), then take a locked one; (folder, removed)."""
    base = base or tempfile.gettempdir()
    removed = sweep(base)
    path = tempfile.mkdtemp(prefix=PREFIX, dir=base)
    lock_path = os.path.join(path, ".lock")
    open(lock_path, "w").close()
    # Held open, read-only (a writable open file would keep the folder's filesystem from being remounted
    # read-only), and locked for the process' life.
    lock = open(lock_path)  # noqa: SIM115
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _state.update(folder=path, lock=lock)
    if removed:
        log.warning("removed %d temporary file(s) that stopped workers left behind", removed)
    return path, removed


def sweep(base: str, *, legacy_age: float = 3600) -> int:
    """Files removed from worker folders whose owner is gone (and loose ``tool-ocr-*.pdf`` of older versions)."""
    removed = 0
    try:
        entries = list(os.scandir(base))
    except OSError:
        return 0
    for entry in entries:
        if entry.name.startswith(PREFIX) and entry.is_dir(follow_symlinks=False):
            if _abandoned(entry.path):
                removed += sum(1 for _r, _d, files in os.walk(entry.path) for name in files if name != ".lock")
                shutil.rmtree(entry.path, ignore_errors=True)
        elif entry.name.startswith("tool-ocr-") and entry.name.endswith(".pdf") and entry.is_file():
            try:  # a live worker of an older version writes to its PDF every page
                if time.time() - entry.stat().st_mtime > legacy_age:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                pass
    return removed


def _abandoned(path: str) -> bool:
    lock_path = os.path.join(path, ".lock")
    try:
        fh = open(lock_path)  # noqa: SIM115
    except FileNotFoundError:  # being created right now, or left by a crash before the lock existed
        try:
            return time.time() - os.stat(path).st_mtime > 60
        except OSError:
            return False
    except OSError:
        return False
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # its worker is alive
        return True


def release() -> None:
    """On a clean stop: the worker's own folder goes (a killed worker's is removed by the next one)."""
    folder, lock = _state["folder"], _state["lock"]
    _state.update(folder=None, lock=None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
    if lock:
        lock.close()
