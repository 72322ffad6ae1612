"""File names and hashing through Django's storage API (a local folder, or a bucket with FILE_STORAGE=s3).

Every file of a task lives under ``<user id>/<task id>/`` with a name we generate; nothing
here ever touches the local file system directly, so workers on other machines see the
same files through the same storage backend.
"""

import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage

from core.errors import AppError
from tasks.files.object_storage import is_missing_object, on_bucket, storage_errors
from tasks.models import TaskFile

log = logging.getLogger("tool_ocr.tasks")


class StorageUnavailable(AppError):
    code, status = "storage_unavailable", 503

    def __init__(self):
        super().__init__("The file could not be stored just now, so nothing was saved. Try again in a moment.")


def sha256_of(fh) -> str:
    fh.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: fh.read(1024 * 1024), b""):
        digest.update(chunk)
    fh.seek(0)
    return digest.hexdigest()


def task_folder(task) -> str:
    return f"{task.user_id}/{task.pk}"


_LEAF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


def check_task_file_name(task_file: TaskFile) -> str:
    """The file's storage name, after checking it is ``<owner id>/<task id>/<generated name>``.

    Names are generated, so this only fails if a row was tampered with; it keeps such a row from
    opening another user's file (or anything outside the storage) through a download. On a local
    folder the resolved path (symlinks followed) must also stay inside the owner's folder.
    """
    name = task_file.file.name or ""
    parts = name.split("/")
    task = task_file.task
    if len(parts) != 3 or parts[:2] != [str(task.user_id), str(task.pk)] or not _LEAF.match(parts[2]):
        raise SuspiciousFileOperation(f"task file {task_file.pk} has an unexpected storage name")
    try:
        owner_folder = os.path.realpath(default_storage.path(parts[0]))
        resolved = os.path.realpath(default_storage.path(name))
    except NotImplementedError:  # object storage: no local paths, the name check above is what counts
        return name
    if not resolved.startswith(owner_folder + os.sep):
        raise SuspiciousFileOperation(f"task file {task_file.pk} resolves outside its owner's folder")
    return name


def open_task_file(task_file: TaskFile):
    """The file for reading (on a bucket: spooled to TMPDIR past 1 MB, never whole in memory)."""
    return default_storage.open(check_task_file_name(task_file), "rb")


class _ObjectStream:
    """A bucket object's body read in chunks as it arrives: nothing is buffered whole, not even on disk."""

    def __init__(self, body, size):
        self._body, self.size = body, size

    def read(self, amount=-1):
        return self._body.read(None if amount is None or amount < 0 else amount)

    def close(self):
        self._body.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def stream_task_file(task_file: TaskFile):
    """A readable stream of the file with ``size``, for downloads; FileNotFoundError when it is gone.

    On a bucket this is one GET whose body is passed on chunk by chunk; on a folder, the file itself.
    """
    name = check_task_file_name(task_file)
    if not on_bucket():
        return default_storage.open(name, "rb")  # a Django File: has .size
    try:
        response = default_storage.bucket.Object(default_storage._normalize_name(name)).get()
    except storage_errors() as exc:
        if is_missing_object(exc):
            raise FileNotFoundError(name) from exc
        raise
    return _ObjectStream(response["Body"], int(response.get("ContentLength") or 0))


def copy_to_local(task_file: TaskFile, target) -> None:
    """Copy the stored file into ``target`` (an open local file, e.g. in the worker's TMPDIR), in chunks."""
    try:
        with stream_task_file(task_file) as source:
            shutil.copyfileobj(source, target, 1024 * 1024)
    except FileNotFoundError:
        raise
    except storage_errors() as exc:
        if is_missing_object(exc):
            raise FileNotFoundError(task_file.file.name) from exc
        raise
    target.flush()
    target.seek(0)


@contextlib.contextmanager
def local_copy(task_file: TaskFile, folder: str | None = None):
    """The stored file copied into this process's temporary folder (TMPDIR, or ``folder``), removed afterwards.

    Workers read originals this way, so a worker host needs no shared disk: the bucket is read
    once, in chunks, and the pages are rendered from the local copy.
    """
    with tempfile.NamedTemporaryFile(prefix="tool-ocr-original-", dir=folder) as fh:
        copy_to_local(task_file, fh)
        yield fh


def delete_task_files(files) -> None:
    """Delete these files; one that cannot be deleted now is logged (storage_report finds it later)."""
    for f in files:
        if f.file.name:
            try:
                default_storage.delete(f.file.name)
            except storage_errors():
                log.warning("could not delete a task file", extra={"path": f.file.name})


def delete_task_folder(task) -> None:
    """Remove everything stored under the task's folder, also a file a failed save left half-written.

    The folder belongs to one task (its id is a fresh UUID), so whatever is in it goes.
    """
    folder = task_folder(task)
    try:
        _dirs, names = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    except storage_errors():  # the bucket is down: storage_report --fix removes what is left later
        log.warning("could not list a task folder to clean it", extra={"path": folder})
        return
    for name in names:
        try:
            default_storage.delete(f"{folder}/{name}")
        except storage_errors():  # keep going: the others should still go
            log.warning("could not delete a task file", extra={"path": f"{folder}/{name}"})
    _remove_empty_dirs(task)


def _remove_empty_dirs(task) -> None:
    """FileSystemStorage leaves the empty task folder behind; remove it (object stores have no folders).

    The user's folder stays: another upload of the same user may be creating its task folder in it.
    """
    try:
        os.rmdir(default_storage.path(task_folder(task)))
    except (OSError, NotImplementedError, AttributeError):
        pass
