"""Writes for tasks: create, queue, retry, cancel, delete (the worker's own: tasks.pipeline.transitions).

Every refusal is a ``tasks.errors.ServiceError`` (code, message, status), which the pages
show as a message and the API turns into its JSON error.
"""

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from core.client_ip import client_ip
from tasks.errors import ServiceError
from tasks.files import staging
from tasks.files.object_storage import storage_errors
from tasks.files.storage import ORIGINAL_NAMES, StorageUnavailable, delete_task_folder, sha256_of, task_folder
from tasks.intake import documents
from tasks.models import AuditLog, Task, TaskFile, UploadKey

log = logging.getLogger("tool_ocr.tasks")

# Fairness: every task a user already has waiting or running, and every PAGES_PER_STEP pages
# of them, lowers the queue priority of the user's next task by one (0 down to -100).
PAGES_PER_STEP = 10


class TaskLimitReached(ServiceError):
    code, status = "task_limit_reached", 429

    def __init__(self, limit):
        self.limit = limit
        super().__init__(f"You already have {limit} tasks waiting or running. Wait for some to finish, then upload again.",
                         details={"max_tasks_per_user": limit})


class InvalidTransition(ServiceError):
    """The task is in the wrong state for this action (the API answers 409)."""

    code, status = "invalid_state", 409

    def __init__(self, task: Task, action: str):
        self.task, self.action = task, action
        super().__init__(f"A {task.get_status_display().lower()} task cannot be {action}.",
                         details={"status": task.status})


class InvalidChoice(ServiceError):
    code, status = "invalid_input", 400


def engine_names() -> list[str]:
    """The OCR engines this installation offers (tasks.ocr.engines decides)."""
    from tasks.ocr import engines

    return list(engines.ENGINES)


def _check_engine(engine: str | None) -> str:
    engine = engine or settings.OCR_ENGINE
    names = engine_names()
    if engine not in names:
        raise InvalidChoice(f"Unknown OCR engine “{engine}”: choose one of {', '.join(names)}.",
                            code="invalid_engine", details={"engine": engine, "choices": names})
    return engine


def language_choices() -> dict:
    """{"choices": tags some engine reads, "engines": {engine: its tags}}: what a 400 offers instead."""
    from tasks.ocr import languages

    per_engine = {name: languages.engine_languages(name) for name in engine_names()}
    return {"choices": languages.all_languages(engine_names()), "engines": per_engine}


def _check_language(language: str | None) -> str:
    """The canonical tag(s) (``zh-tw+EN`` -> ``zh-Hant+en``); 400 with the choices when nothing here reads it."""
    from tasks.ocr import languages

    raw = language or settings.OCR_DEFAULT_LANGUAGE
    offered = language_choices()
    if not isinstance(raw, str):
        raise InvalidChoice("The language must be a text such as en or zh-Hant+en.", code="invalid_language",
                            details={"language": str(raw), **offered})
    try:
        tags = languages.parse(raw)
    except languages.LanguageError as exc:
        raise InvalidChoice(f"{exc}: choose one of {', '.join(offered['choices'])}.", code="invalid_language",
                            details={"language": raw[:64], **offered}) from None
    unreadable = [t for t in tags if t not in offered["choices"]]
    if unreadable:
        raise InvalidChoice(f"No OCR engine here reads {languages.label('+'.join(unreadable))} ({'+'.join(unreadable)}): "
                            f"choose one of {', '.join(offered['choices'])}.", code="invalid_language",
                            details={"language": raw[:64], **offered})
    return "+".join(tags)


def _choose_engine(engine: str | None, language: str) -> str:
    """The engine asked for, if it reads the language; without one, the default if it does, else one that does."""
    from tasks.ocr import engines, languages

    readers = engines.engines_for(language)
    if engine:
        engine = _check_engine(engine)
        if engine not in readers:
            raise InvalidChoice(
                f"{engines.engine_label(engine)} does not read {languages.label(language)} on this server: "
                f"choose {', '.join(engines.engine_label(r) for r in readers)}, or another language.",
                code="invalid_language", details={"language": language, "engine": engine, "engines": readers,
                                                  **language_choices()})
        return engine
    return settings.OCR_ENGINE if settings.OCR_ENGINE in readers else readers[0]


def _safe_display_name(name: str) -> str:
    """The user's file name as data: no path parts, no control characters, bounded length."""
    name = (name or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip() or "upload"
    return name[-255:]


def _lock_user(user_id) -> None:
    """Serialise a user's limit checks: two parallel uploads cannot both pass MAX_TASKS_PER_USER."""
    get_user_model().objects.select_for_update().filter(pk=user_id).first()


def _check_task_limit(user_id) -> None:
    active = Task.objects.filter(user_id=user_id, status__in=Task.ACTIVE_STATUSES).count()
    if active >= settings.MAX_TASKS_PER_USER:
        raise TaskLimitReached(settings.MAX_TASKS_PER_USER)


def task_create(*, user, uploaded_file, engine: str | None = None, language: str | None = None) -> Task:
    """Check the upload, save the task and its original file, and queue it after commit.

    Either both the row and the file exist afterwards, or neither does (see tasks_create).
    """
    return tasks_create(user=user, uploaded_files=[uploaded_file], engine=engine, language=language,
                        name_files=False).tasks[0]


UPLOAD_KEY = re.compile(r"^[\x21-\x7e]{1,64}$")


class IdempotencyConflict(ServiceError):
    code, status = "idempotency_key_reused", 409

    def __init__(self, key: str):
        super().__init__("This idempotency key was already used for other files. Use a new key for a new upload.",
                         details={"idempotency_key": key})


@dataclass
class Created:
    """What an upload created; ``replayed``: the key was seen before and these are the tasks made then."""

    tasks: list
    replayed: bool = False


def _check_upload_key(key: str | None) -> str:
    key = (key or "").strip()
    if key and not UPLOAD_KEY.match(key):
        raise InvalidChoice("The idempotency key must be 1 to 64 printable ASCII characters without spaces.",
                            code="invalid_idempotency_key", details={"idempotency_key": "1-64 printable ASCII"})
    return key


def _earlier_upload(user_id, key: str, digests: list[str]) -> list | None:
    """The tasks an earlier request with this key created (all or none exist: one transaction made them)."""
    if not key:
        return None
    earlier = list(Task.objects.filter(user_id=user_id, upload_key_row__key=key).order_by("created_at", "id"))
    if not earlier:
        return None
    if sorted(t.sha256 for t in earlier) != sorted(digests):
        raise IdempotencyConflict(key)
    return earlier


def _refusal_for(exc: ServiceError, upload, index: int, count: int, name_files: bool = True) -> ServiceError:
    if not name_files:
        return exc
    refused = [{"file": upload.name, "index": index, "code": exc.code, "message": exc.message}]
    exc.details = {**exc.details, "file": upload.name, "index": index, "files_in_request": count, "refused": refused}
    if count > 1:
        exc.message = f"“{upload.name}”: {exc.message} No file of this upload was kept."
    return exc


def tasks_create(*, user, uploaded_files, engine: str | None = None, language: str | None = None,
                 upload_key: str | None = None, name_files: bool = True) -> Created:
    """One task per file, all or nothing, queued after commit; a refusal names the file.

    The files are written under a staging record (tasks.files.staging) committed first and adopted in
    the transaction that saves every row, so a process killed at any moment leaves either the
    whole upload or nothing that the cleanup does not remove. ``upload_key`` (the client's
    idempotency key): the same key again returns the tasks created the first time, unchanged.
    """
    files = list(uploaded_files)
    language = _check_language(language)
    engine, key = _choose_engine(engine, language), _check_upload_key(upload_key)
    if not key or not UploadKey.objects.filter(user_id=user.pk, key=key).exists():
        try:
            _check_task_limit(user.pk)  # before the costly inspection; checked again under the lock below
        except ServiceError as exc:
            raise _refusal_for(exc, files[0], 0, len(files), name_files) from None
    prepared, refusals = [], []
    for index, upload in enumerate(files):
        try:
            if getattr(upload, "size", 0) and upload.size > settings.MAX_UPLOAD_MB * 1024 * 1024:
                raise documents.file_too_large()
            info = documents.inspect(upload)
        except ServiceError as exc:
            refusals.append({"file": upload.name, "index": index, "code": exc.code, "message": exc.message,
                             "_exc": exc, "_upload": upload})
            continue
        task = Task(id=uuid.uuid4(), user=user, filename=_safe_display_name(upload.name), engine=engine,
                    language=language, mime_type=info.mime_type, size_bytes=upload.size, sha256=sha256_of(upload),
                    page_count=info.page_count)
        prepared.append((upload, info, task))
    if refusals:  # every bad file is named (details["refused"]); the error itself is the first one's
        first = refusals[0]
        exc = _refusal_for(first["_exc"], first["_upload"], first["index"], len(files), name_files)
        if name_files:
            exc.details["refused"] = [{k: v for k, v in r.items() if not k.startswith("_")} for r in refusals]
        raise exc
    earlier = _earlier_upload(user.pk, key, [t.sha256 for _u, _i, t in prepared])
    if earlier is not None:
        return Created(earlier, replayed=True)
    try:
        staged = staging.stage([task_folder(t) for _u, _i, t in prepared], "upload")
    except OSError as exc:  # e.g. SQLite on a full disk
        raise StorageUnavailable() from exc
    written = []
    try:
        with transaction.atomic():
            _lock_user(user.pk)
            earlier = _earlier_upload(user.pk, key, [t.sha256 for _u, _i, t in prepared])
            if earlier is not None:  # a parallel request with the same key got there first
                raise _Replay(earlier)
            for index, (upload, info, task) in enumerate(prepared):
                try:
                    _check_task_limit(user.pk)
                except ServiceError as exc:
                    raise _refusal_for(exc, upload, index, len(files), name_files) from None
                task.save(force_insert=True)
                if key:
                    UploadKey.objects.create(user_id=user.pk, key=key, task=task)
                original = TaskFile(task=task, kind=TaskFile.Kind.ORIGINAL, name=task.filename,
                                    mime_type=info.mime_type, size_bytes=upload.size, sha256=task.sha256)
                upload.seek(0)
                try:
                    original.file.save(ORIGINAL_NAMES[info.mime_type], File(upload), save=False)
                except storage_errors() as exc:  # a full disk, or the bucket down or refusing
                    log.error("storage failed while saving an upload: %s", exc, extra={"task_id": str(task.id)})
                    raise StorageUnavailable() from exc
                written.append(original.file.name)
                original.save()
            try:
                staging.adopt(staged, written)
            except staging.StagingExpired as exc:
                raise StorageUnavailable() from exc
            for _u, _i, task in prepared:
                transaction.on_commit(partial(task_enqueue, task))
    except _Replay as replay:
        _discard_upload(prepared, staged)
        return Created(replay.tasks, replayed=True)
    except BaseException:
        _discard_upload(prepared, staged)
        raise
    for _u, _i, task in prepared:
        log.info("task created", extra={"task_id": str(task.id), "user_id": user.pk})
    return Created([t for _u, _i, t in prepared])


class _Replay(Exception):
    def __init__(self, tasks):
        self.tasks = tasks


def _discard_upload(prepared, staged) -> None:
    """The rows rolled back: the files written for them go, then their staging records."""
    for _u, _i, task in prepared:
        try:
            delete_task_folder(task)
        except Exception as exc:  # the cleanup finds the folder through its staging record
            log.warning("could not remove a failed upload's files: %s", exc, extra={"task_id": str(task.id)})
    staging.release(staged)


def task_priority(task: Task) -> int:
    """Queue priority (-100..0): lower for users who already have many tasks or pages waiting.

    The worker takes the highest priority first, so one user's 300-page document or a
    hundred queued files do not hold back someone else's single page.
    """
    ahead = (Task.objects.filter(user_id=task.user_id, status__in=Task.ACTIVE_STATUSES)
             .exclude(pk=task.pk).aggregate(n=Count("id"), pages=Sum("page_count")))
    pages = (ahead["pages"] or 0) + task.page_count
    return -min(100, ahead["n"] + pages // PAGES_PER_STEP)


def task_enqueue(task: Task) -> None:
    from tasks.jobs import process_task

    result = process_task.using(priority=task_priority(task)).enqueue(str(task.id))
    Task.objects.filter(pk=task.pk).update(queue_result_id=str(result.id))


def audit(*, request=None, user=None, action: str, obj=None, outcome=AuditLog.Outcome.ALLOWED, **details) -> AuditLog:
    """Write one audit row; request gives the user, IP and user agent."""
    if request is not None and user is None and getattr(request, "user", None) and request.user.is_authenticated:
        user = request.user
    return AuditLog.objects.create(
        user=user, user_email=getattr(user, "email", "") or "", action=action,
        object_type=type(obj).__name__.lower() if obj is not None else "",
        object_id=str(getattr(obj, "pk", "") or ""), outcome=outcome,
        ip_address=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:512] if request is not None else ""),
        details=details,
    )


# A person's refused attempts (another user's task or file) are audited, but at most this many rows a
# minute per user: past it they are only logged, so nobody can fill the audit table by repeating one.
DENIED_AUDIT_PER_MINUTE = 30


def audit_denied(*, request, action: str, obj=None, **details) -> AuditLog | None:
    """A 'denied' audit row for the signed-in user, rate-limited per user (None when over the limit)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        recent = AuditLog.objects.filter(user=user, outcome=AuditLog.Outcome.DENIED,
                                         created_at__gte=timezone.now() - timedelta(minutes=1))[:DENIED_AUDIT_PER_MINUTE]
        if recent.count() >= DENIED_AUDIT_PER_MINUTE:
            log.warning("denied attempt not audited: over %d a minute action=%s user_id=%s",
                        DENIED_AUDIT_PER_MINUTE, action, user.pk)
            return None
    return audit(request=request, action=action, obj=obj, outcome=AuditLog.Outcome.DENIED, **details)


RERUN_STATUSES = (Task.Status.COMPLETED, Task.Status.FAILED, Task.Status.CANCELLED)


def task_retry(*, task: Task, engine: str | None = None, language: str | None = None, request=None,
               allow_completed: bool = True, audit_action: str = "task.retry", **audit_details) -> Task:
    """Run a finished task again, optionally with another engine and/or language; queued after commit.

    completed, failed or cancelled -> pending, retry_count + 1. The earlier run's results stay
    downloadable (and searchable) until the new run completes and task_complete swaps them.
    The audit row (who, from where, which engine and language before and after) is written in
    the same transaction as the change. ``allow_completed=False`` (bulk retries in the history
    and the admin) takes failed and cancelled tasks only.
    """
    if engine:
        engine = _check_engine(engine)
    if language:
        language = _check_language(language)
    if engine or language:  # the engine must read the language; a new language alone may need another engine
        from tasks.ocr.engines import engines_for

        target = language or task.language or settings.OCR_DEFAULT_LANGUAGE
        engine = _choose_engine(engine or (task.engine if task.engine in engines_for(target) else None), target)
    with transaction.atomic():
        _lock_user(task.user_id)
        fields = {"status": Task.Status.PENDING, "retry_count": task.retry_count + 1, "requeue_count": 0,
                  "pages_done": 0, "started_at": None, "completed_at": None, "heartbeat_at": None,
                  "processing_seconds": None, "error_code": "", "error_message": "", "worker_id": ""}
        if engine:
            fields["engine"] = engine
        if language:
            fields["language"] = language
        current = Task.objects.select_for_update().filter(pk=task.pk).values_list(
            "status", "engine", "language").first()
        allowed = RERUN_STATUSES if allow_completed else (Task.Status.FAILED, Task.Status.CANCELLED)
        if current is None or current[0] not in allowed:
            task.refresh_from_db()
            raise InvalidTransition(task, "retried")
        status, old_engine, old_language = current
        _check_task_limit(task.user_id)
        if not Task.objects.filter(pk=task.pk, status=status).update(**fields):
            task.refresh_from_db()
            raise InvalidTransition(task, "retried")
        task.refresh_from_db()
        audit(request=request, user=None if request is not None else task.user, action=audit_action, obj=task,
              previous_status=status, engine=task.engine, language=task.language, previous_engine=old_engine,
              previous_language=old_language, **audit_details)
        transaction.on_commit(lambda: task_enqueue(task))
    log.info("task retried", extra={"task_id": str(task.id), "user_id": task.user_id})
    return task


def task_cancel(*, task: Task, request=None, audit_action: str = "task.cancel", **audit_details) -> Task:
    """pending -> cancelled at once; processing -> cancelled, and the worker stops before its next page.

    The audit row is written in the same transaction as the change.
    """
    now = timezone.now()
    with transaction.atomic():
        updated = Task.objects.filter(pk=task.pk, status__in=Task.ACTIVE_STATUSES).update(
            status=Task.Status.CANCELLED, completed_at=now, error_code="cancelled",
            error_message="Cancelled by the user.")
        task.refresh_from_db()
        if updated:
            audit(request=request, action=audit_action, obj=task, **audit_details)
    if not updated:
        raise InvalidTransition(task, "cancelled")
    log.info("task cancelled", extra={"task_id": str(task.id), "user_id": task.user_id})
    return task


def task_delete(*, task: Task, request=None, audit_action: str = "task.delete", **audit_details) -> None:
    """Delete the task's rows, then (once that committed) every file under its folder.

    Allowed in any state: a worker still on it finds the row gone and stops before the next page.
    The audit row is written in the same transaction as the deletion of the rows.
    """
    with transaction.atomic():
        Task.objects.select_for_update().filter(pk=task.pk).first()  # waits for a task_complete in flight
        files = list(TaskFile.objects.filter(task_id=task.pk))
        Task.objects.filter(pk=task.pk).delete()
        audit(request=request, action=audit_action, obj=task, filename=task.filename, **audit_details)
        staged = staging.stage([task_folder(task)], "delete")  # a crash before the files go: the cleanup finishes
        transaction.on_commit(lambda: (staging.delete_then_release(files, staged), delete_task_folder(task)))
    log.info("task deleted", extra={"task_id": str(task.pk), "user_id": task.user_id})
