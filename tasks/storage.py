"""File names and hashing through Django's storage API (a shared volume or S3 in production)."""

import hashlib

from django.core.files.storage import default_storage

from tasks.models import TaskFile

ORIGINAL_NAMES = {"image/png": "original.png", "image/jpeg": "original.jpg"}


def sha256_of(fh) -> str:
    fh.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: fh.read(1024 * 1024), b""):
        digest.update(chunk)
    fh.seek(0)
    return digest.hexdigest()


def open_task_file(task_file: TaskFile):
    return default_storage.open(task_file.file.name, "rb")


def delete_task_files(files) -> None:
    for f in files:
        if f.file.name:
            default_storage.delete(f.file.name)
