"""Never a file without its row, never a row without its file, whatever process dies when.

Before a process writes files into a task folder (an upload, a worker's results) it commits
a StagedFolder row naming the folder; the files are then written through the storage API
(a local folder or S3 alike: nothing is renamed), and the transaction that creates their
TaskFile rows deletes that StagedFolder row ("adopts" the files). A deletion commits its
StagedFolder row together with the rows it removes and deletes it once the files are gone.

If the process dies in between, its StagedFolder row stays. ``cleanup_stale`` (run by the
reaper every REAPER_INTERVAL, and by ``manage.py reap_stuck_tasks``) takes rows older than
STAGING_GRACE_SECONDS and deletes every file of their folder that no TaskFile row names.
An adoption whose StagedFolder row is gone (taken by the cleanup because the write took
longer than the grace) fails and removes its own files, so the two cannot both win.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from tasks.files.storage import delete_task_files
from tasks.models import StagedFolder, TaskFile

log = logging.getLogger("tool_ocr.tasks")


class StagingExpired(Exception):
    """The files were written so slowly that the cleanup took them; nothing of this write is kept."""


def stage(folders, reason: str) -> list[int]:
    """Record that files are about to be written into (or deleted from) these folders.

    Outside a transaction the record commits at once (a write: before the files exist); inside one
    it commits with the caller's rows (a deletion: together with the rows it removes)."""
    now = timezone.now()
    with transaction.atomic():
        rows = [StagedFolder.objects.create(folder=folder, reason=reason, created_at=now) for folder in folders]
    return [row.pk for row in rows]


def adopt(staged_ids: list[int], names: list[str] = ()) -> None:
    """Inside the transaction that creates the files' rows: the staging rows go, the files must be there."""
    if not staged_ids:
        return
    deleted = StagedFolder.objects.filter(pk__in=staged_ids).delete()[0]
    if deleted != len(staged_ids):
        raise StagingExpired(f"{len(staged_ids) - deleted} staging record(s) were already cleaned up")
    for name in names:
        if not default_storage.exists(name):
            raise StagingExpired(f"{name} is no longer in storage")


def release(staged_ids: list[int]) -> None:
    """After a failed write whose files are removed: the staging rows go too (best effort: the cleanup
    finds them later if the database is the thing that failed)."""
    if not staged_ids:
        return
    try:
        StagedFolder.objects.filter(pk__in=staged_ids).delete()
    except Exception as exc:  # the database may be the failure we are cleaning up after
        log.warning("could not drop staging records (the cleanup will): %s", exc)


def unreferenced_files(folder: str) -> list[str]:
    """Storage names in the folder that no TaskFile row names."""
    try:
        _dirs, names = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    known = set(TaskFile.objects.filter(file__startswith=f"{folder}/").values_list("file", flat=True))
    return [f"{folder}/{name}" for name in names if f"{folder}/{name}" not in known]


def delete_names(names) -> int:
    """Delete these storage names, going on past failures; returns how many went."""
    gone = 0
    for name in names:
        try:
            default_storage.delete(name)
            gone += 1
        except FileNotFoundError:
            pass
        except Exception as exc:
            log.warning("could not delete a staged file: %s", exc, extra={"path": name})
    return gone


def remove_empty_folder(folder: str) -> None:
    """FileSystemStorage leaves an empty task folder behind; object stores have no folders."""
    import os

    try:
        os.rmdir(default_storage.path(folder))
    except (OSError, NotImplementedError, AttributeError):
        pass


def cleanup_stale(*, now=None, grace: int | None = None) -> dict:
    """Delete what dead processes left: files without a row in folders staged longer than the grace ago.

    A folder that also has a younger staging row (a live write in it) is left for a later run.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.STAGING_GRACE_SECONDS if grace is None else grace)
    report = {"folders": 0, "files": 0}
    stale_folders = sorted(set(StagedFolder.objects.filter(created_at__lt=cutoff).values_list("folder", flat=True)))
    for folder in stale_folders:
        if StagedFolder.objects.filter(folder=folder, created_at__gte=cutoff).exists():
            continue
        # Files first, rows last, under the rows' lock: a late adoption waits and then finds its row gone;
        # a cleanup that dies half-way leaves its rows for the next run.
        with transaction.atomic():
            ids = list(StagedFolder.objects.select_for_update(skip_locked=True)
                       .filter(folder=folder, created_at__lt=cutoff).values_list("pk", flat=True))
            if not ids:
                continue
            names = unreferenced_files(folder)
            report["files"] += delete_names(names)
            remove_empty_folder(folder)
            StagedFolder.objects.filter(pk__in=ids).delete()
        report["folders"] += 1
        if names:
            log.warning("staging cleanup: removed %d file(s) a stopped process left without a row", len(names),
                        extra={"folder": folder, "files": names})
    return report


def delete_then_release(files, staged) -> None:
    """Delete the files; the staging record goes only once none is left (else the cleanup finishes)."""
    delete_task_files(files)
    try:
        if any(f.file.name and default_storage.exists(f.file.name) for f in files):
            return
    except Exception:  # the storage cannot even say: leave it to the cleanup
        return
    release(staged)
