"""File names and hashing through Django's storage API (a shared volume or S3 in production).

Every file of a task lives under ``<user id>/<task id>/`` with a name we generate; nothing
here ever touches the local file system directly, so workers on other machines see the
same files through the same storage backend.
"""

import hashlib
import logging
import os
import re

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage

from tasks.models import TaskFile

log = logging.getLogger("tool_ocr.tasks")

ORIGINAL_NAMES = {"image/png": "original.png", "image/jpeg": "original.jpg", "image/tiff": "original.tif",
                  "image/bmp": "original.bmp", "image/webp": "original.webp", "application/pdf": "original.pdf"}
RESULT_NAMES = {TaskFile.Kind.RESULT_TXT: "result.txt", TaskFile.Kind.RESULT_JSON: "result.json",
                TaskFile.Kind.RESULT_PDF: "result.pdf"}


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
    return default_storage.open(check_task_file_name(task_file), "rb")


def delete_task_files(files) -> None:
    for f in files:
        if f.file.name:
            default_storage.delete(f.file.name)


def delete_task_folder(task) -> None:
    """Remove everything stored under the task's folder, also a file a failed save left half-written.

    The folder belongs to one task (its id is a fresh UUID), so whatever is in it goes.
    """
    folder = task_folder(task)
    try:
        _dirs, names = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in names:
        try:
            default_storage.delete(f"{folder}/{name}")
        except OSError:  # keep going: the others should still go
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
