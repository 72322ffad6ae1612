"""Operator reads across all users: storage per person, and files and rows that disagree.

Storage is walked through Django's storage API (listdir), so the same report works on a
shared volume or an object store. Layout: ``<user id>/<task id>/<generated name>``.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.core.files.storage import default_storage
from django.db.models import Count, Sum
from django.utils import timezone

from tasks.models import Task, TaskFile


def user_usage(user_ids) -> dict:
    """{user id: {"active_tasks", "storage_bytes"}} for these users, in two grouped queries."""
    user_ids = list(user_ids)
    usage = {uid: {"active_tasks": 0, "storage_bytes": 0} for uid in user_ids}
    if not user_ids:
        return usage
    # Only the waiting and running rows: an index range on (user, status, ...), even for a user with 100,000 tasks.
    rows = (Task.objects.filter(user_id__in=user_ids, status__in=Task.ACTIVE_STATUSES).order_by().values("user_id")
            .annotate(active=Count("id")))
    for row in rows:
        usage[row["user_id"]]["active_tasks"] = row["active"]
    for user_id, stored in _stored_bytes(user_ids):
        usage[user_id]["storage_bytes"] = stored or 0
    return usage


def _stored_bytes(user_ids):
    """(user id, bytes) from UserStorage: one maintained row per user, not a sum over 100,000 task rows."""
    from tasks.models import UserStorage

    return UserStorage.objects.filter(user_id__in=user_ids).values_list("user_id", "bytes")


def storage_by_user():
    """[(email, tasks, files, bytes)] for every user with files, largest first."""
    rows = (TaskFile.objects.order_by().values("task__user_id", "task__user__email")
            .annotate(files=Count("id"), tasks=Count("task_id", distinct=True), b=Sum("size_bytes"))
            .order_by("-b"))
    return [(r["task__user__email"], r["tasks"], r["files"], r["b"] or 0) for r in rows]


@dataclass(frozen=True)
class OrphanFile:
    name: str
    size: int
    reason: str  # no_task (folder of an unknown task), no_row (task exists, file unknown), stray (outside the layout)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False


# On a bucket, one listing call already gives each object's size and time: kept here so the report
# does not send two more requests per object (name -> (size, last modified)).
_bucket_meta: dict = {}


def _listdir(path):
    from tasks.files.object_storage import on_bucket

    if on_bucket():
        return _bucket_listdir(path)
    try:
        return default_storage.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return [], []


def _bucket_listdir(path, remember=True):
    """Like listdir on a bucket (one paginated LIST), remembering each object's size and time."""
    import posixpath

    from storages.utils import clean_name

    prefix = default_storage._normalize_name(clean_name(path)) if path else default_storage._normalize_name("")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    dirs, files = [], []
    pages = default_storage.connection.meta.client.get_paginator("list_objects_v2").paginate(
        Bucket=default_storage.bucket_name, Prefix=prefix, Delimiter="/")
    for page in pages:
        dirs += [posixpath.relpath(p["Prefix"], prefix or ".") for p in page.get("CommonPrefixes", ())]
        for entry in page.get("Contents", ()):
            if entry["Key"] == prefix:
                continue
            name = posixpath.relpath(entry["Key"], prefix or ".")
            files.append(name)
            if remember:
                _bucket_meta[f"{path}/{name}" if path else name] = (entry["Size"], entry["LastModified"])
    return dirs, files


def _old_enough(name, limit) -> bool:
    """Files written in the last ``grace`` may belong to an upload whose row is not committed yet."""
    if name in _bucket_meta:
        return _bucket_meta[name][1] < limit
    try:
        return default_storage.get_modified_time(name) < limit
    except (OSError, NotImplementedError):
        return True


def orphan_files(*, grace: timedelta = timedelta(hours=1), batch_size: int = 500, progress=None):
    """Yield files in storage that no TaskFile row points to and are older than ``grace``."""
    limit = timezone.now() - grace
    _bucket_meta.clear()
    user_dirs, top_files = _listdir("")
    for name in top_files:
        if not name.startswith(".") and _old_enough(name, limit):
            yield OrphanFile(name, _size(name), "stray")
    scanned = 0
    for user_dir in sorted(user_dirs):
        if user_dir.startswith("."):
            continue
        task_dirs, loose = _listdir(user_dir)
        for name in loose:
            path = f"{user_dir}/{name}"
            if _old_enough(path, limit):
                yield OrphanFile(path, _size(path), "stray")
        for start in range(0, len(task_dirs), batch_size):
            batch = task_dirs[start:start + batch_size]
            ids = [d for d in batch if _is_uuid(d)]
            known_tasks = {str(pk) for pk in Task.objects.filter(pk__in=ids).values_list("pk", flat=True)}
            known_files = set(TaskFile.objects.filter(task_id__in=ids).values_list("file", flat=True))
            for task_dir in batch:
                _sub, names = _listdir(f"{user_dir}/{task_dir}")
                for name in names:
                    path = f"{user_dir}/{task_dir}/{name}"
                    if path in known_files or not _old_enough(path, limit):
                        continue
                    reason = "no_row" if task_dir in known_tasks else ("no_task" if _is_uuid(task_dir) else "stray")
                    yield OrphanFile(path, _size(path), reason)
            scanned += len(batch)
            if progress:
                progress(scanned)


def _size(name) -> int:
    if name in _bucket_meta:
        return _bucket_meta[name][0]
    try:
        return default_storage.size(name)
    except (OSError, NotImplementedError):
        return 0


def rows_without_file(*, batch_size: int = 1000, progress=None):
    """Yield (row id, storage name, task id) of TaskFile rows whose file is missing, scanning by primary key."""
    last = 0
    checked = 0
    while True:
        rows = list(TaskFile.objects.filter(pk__gt=last).order_by("pk").values_list("pk", "file", "task_id")[:batch_size])
        if not rows:
            return
        exists = _exists_in_batch([name for _pk, name, _task in rows if name])
        for pk, name, task_id in rows:
            if not name or not exists(name):
                yield pk, name, task_id
        last = rows[-1][0]
        checked += len(rows)
        if progress:
            progress(checked)


def _exists_in_batch(names):
    """exists(name) for these names: on a bucket one LIST per task folder instead of one HEAD per file."""
    from tasks.files.object_storage import on_bucket

    if not on_bucket():
        return default_storage.exists
    present = set()
    for folder in sorted({name.rsplit("/", 1)[0] for name in names if "/" in name}):
        _dirs, files = _bucket_listdir(folder, remember=False)
        present.update(f"{folder}/{f}" for f in files)
    return lambda name: name in present if "/" in name else default_storage.exists(name)
