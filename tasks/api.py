"""JSON endpoints for tasks and history (mounted by tool_ocr.api under /api/v1/).

Thin: reads go through tasks.selectors with the signed-in user, writes through
tasks.services; another user's task is answered exactly like an unknown id (404).
"""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from django.conf import settings
from django.http import HttpResponse
from ninja import File, Form, Query, Router, Schema
from ninja.files import UploadedFile
from pydantic import Field, StrictStr

from core.audit import Actor
from core.errors import AppError, NotFound
from core.http import BodyOrQuery
from tasks import selectors, services
from tasks.files.file_links import KINDS, file_url, sorted_files
from tasks.history import search
from tasks.history.params import PageParams, TaskFilters
from tasks.intake.uploads import files_from_request
from tasks.models import Task
from tasks.ocr import engines
from tasks.web.downloads import serve_task_file
from tasks.web.export import export_response


class ProgressOut(Schema):
    pages_done: int
    pages_total: int


class TaskErrorOut(Schema):
    code: str
    message: str


class TaskFileOut(Schema):
    kind: str
    name: str
    size_bytes: int
    url: str


class PagesReadOut(Schema):
    text_layer: list[int]
    ocr: list[int]


class TaskOut(Schema):
    id: UUID
    filename: str
    status: Literal[tuple(Task.Status.values)]  # type: ignore[valid-type]
    engine: str
    language: str
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    processing_seconds: float | None
    page_count: int
    progress: ProgressOut
    size_bytes: int
    retry_count: int
    error: TaskErrorOut | None
    files: list[TaskFileOut]
    pages_read: PagesReadOut | None = None


class TasksCreatedOut(Schema):
    tasks: list[TaskOut]


class TaskListedOut(TaskOut):
    snippet: str | None = None  # only in a list searched with q (the response leaves unset fields out)


class TaskPageOut(Schema):
    count: int
    page: int
    page_size: int
    results: list[TaskListedOut]


class LanguageOut(Schema):
    code: str
    label: str


class EngineOptionsOut(Schema):
    name: str
    label: str
    languages: list[LanguageOut]


class OcrOptionsOut(Schema):
    default_engine: str
    default_language: str
    engines: list[EngineOptionsOut]


class RetryIn(Schema):
    """The retry body (JSON or form) or query string; both optional."""

    engine: StrictStr | None = None
    language: StrictStr | None = None


class ExportIn(TaskFilters):
    format: Literal["csv", "json"] = Field("csv", description="csv or json")


class DailyOut(Schema):
    date: str
    completed: int
    failed: int


class StatsOut(Schema):
    total: int
    by_status: dict[str, int]
    pages_processed: int
    avg_processing_seconds: float | None
    p95_processing_seconds: float | None
    success_rate: float | None
    storage_bytes: int
    daily: list[DailyOut]


class ErrorBody(Schema):
    code: str
    message: str
    details: dict


class ErrorOut(Schema):
    error: ErrorBody


def task_out(task: Task) -> dict:
    """The contract's Task; ``task.files`` should be prefetched."""
    has_error = task.status in (Task.Status.FAILED, Task.Status.CANCELLED) and (task.error_code or task.error_message)
    return {
        "id": task.id, "filename": task.filename, "status": task.status, "engine": task.engine,
        "language": task.language, "created_at": task.created_at, "started_at": task.started_at,
        "completed_at": task.completed_at, "processing_seconds": task.processing_seconds,
        "page_count": task.page_count, "progress": {"pages_done": task.pages_done, "pages_total": task.page_count},
        "size_bytes": task.size_bytes, "retry_count": task.retry_count,
        "error": {"code": task.error_code, "message": task.error_message} if has_error else None,
        "files": [{"kind": f.kind, "name": f.name, "size_bytes": f.size_bytes, "url": file_url(task.id, f.kind)}
                  for f in sorted_files(task.files.all())],
        "pages_read": task.pages_read,  # which pages came from the PDF's own text, which were OCR'd
    }


def _require_history():
    if not settings.ENABLE_TASK_HISTORY:
        raise NotFound("Task history is turned off on this server.")


ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 503: ErrorOut}

account_router = Router(tags=["account"])  # /me: the person and their active tasks
tasks_router = Router(tags=["tasks"])
history_router = Router(tags=["history"])
ocr_router = Router(tags=["ocr"])


class MeOut(Schema):
    email: str
    name: str
    job_title: str
    office_location: str
    active_tasks: int


# operation_id: the name it had while accounts.api served it; the OpenAPI document does not change.
@account_router.get("/me", response=MeOut, summary="The signed-in user", operation_id="accounts_api_me")
def me(request):
    user = request.user
    return {"email": user.email, "name": user.name, "job_title": user.job_title,
            "office_location": user.office_location, "active_tasks": selectors.task_active_count(user=user)}


@ocr_router.get("/options", response={200: OcrOptionsOut, **ERRORS},
                summary="The engines and languages this installation reads, and the defaults")
def ocr_options(request):
    """Only what is installed: a language whose Tesseract pack is missing is not listed."""
    return engines.ocr_options()


@tasks_router.post("", response={200: TasksCreatedOut, 201: TasksCreatedOut, 409: ErrorOut, 413: ErrorOut,
                                 415: ErrorOut, 429: ErrorOut, **ERRORS},
                   summary="Upload one or more files: one task per file")
def create_tasks(request, response: HttpResponse, files: File[list[UploadedFile]] = None,
                 engine: Form[str | None] = None, language: Form[str | None] = None):
    """All or nothing: if one file is refused, no task of this request is kept (the error names the file).

    ``Idempotency-Key`` header (optional): sending the same request again with the same key (after a
    lost connection) answers 200 with the tasks the first request created, and creates nothing.
    """
    uploads, oversized = files_from_request(request, "files")
    if oversized:
        name, error = oversized[0]
        raise AppError(f"“{name}”: {error.message}", code=error.code, status=error.status,
                       details={**error.details, "file": name, "files_in_request": len(uploads) + len(oversized)})
    if not uploads:
        raise AppError("Send at least one file in the multipart field “files”.", code="no_files", status=400,
                       details={"files": "required"})
    result = services.tasks_create(user=request.user, uploaded_files=uploads, engine=engine or None,
                                   language=language or None, upload_key=request.headers.get("Idempotency-Key"))
    tasks = result.tasks
    created = selectors.task_get_many(user=request.user, task_ids=[t.pk for t in tasks])
    order = {t.pk: i for i, t in enumerate(tasks)}
    body = {"tasks": [task_out(t) for t in sorted(created, key=lambda t: order[t.pk])]}
    if result.replayed:  # the same Idempotency-Key again: what the first request created, nothing new
        response["Idempotent-Replayed"] = "true"
        return 200, body
    return 201, body


@tasks_router.get("", response={200: TaskPageOut, **ERRORS}, summary="Your tasks, filtered, sorted, paginated",
                  exclude_unset=True)
def list_tasks(request, filters: Query[TaskFilters], paging: Query[PageParams]):
    filters = filters.as_dict()
    page = selectors.task_page(user=request.user, filters=filters, page=paging.page,
                               page_size=paging.page_size, with_files=True)
    results = [task_out(t) for t in page.rows]
    if filters.get("q"):  # searched: each task says where its text matched (null: the file name did)
        snippets = selectors.task_snippets(user=request.user, task_ids=[t.pk for t in page.rows], q=filters["q"])
        for task, out in zip(page.rows, results):
            out["snippet"] = search.snippet_text(snippets.get(task.pk))
    return {"count": page.count, "page": page.page, "page_size": page.page_size, "results": results}


@tasks_router.get("/{uuid:task_id}", response={200: TaskOut, **ERRORS}, summary="One task with files and progress")
def get_task(request, task_id: UUID):
    return task_out(selectors.task_get_or_404(user=request.user, task_id=task_id))


@tasks_router.delete("/{uuid:task_id}", response={204: None, **ERRORS}, summary="Delete a task and its files")
def delete_task(request, task_id: UUID):
    task = selectors.task_get_or_404(user=request.user, task_id=task_id)
    services.task_delete(task=task, actor=Actor.of(request, via="api"))
    return 204, None


@tasks_router.post("/{uuid:task_id}/retry", response={202: TaskOut, 409: ErrorOut, 429: ErrorOut, **ERRORS},
                   summary="Run a finished task again (optional body: {\"engine\": ..., \"language\": ...})",
                   openapi_extra=BodyOrQuery.OPENAPI)
def retry_task(request, task_id: UUID, choices: Annotated[RetryIn, BodyOrQuery(...)]):
    """The earlier results stay downloadable until the new run completes and replaces them."""
    task = selectors.task_get_or_404(user=request.user, task_id=task_id)
    task = services.task_retry(task=task, actor=Actor.of(request, via="api"), engine=choices.engine,
                               language=choices.language)
    return 202, task_out(selectors.task_get(user=request.user, task_id=task.pk))


@tasks_router.post("/{uuid:task_id}/cancel", response={202: TaskOut, 409: ErrorOut, **ERRORS},
                   summary="Cancel a pending or processing task")
def cancel_task(request, task_id: UUID):
    task = selectors.task_get_or_404(user=request.user, task_id=task_id)
    services.task_cancel(task=task, actor=Actor.of(request, via="api"))
    return 202, task_out(selectors.task_get(user=request.user, task_id=task.pk))


def _download(kind):
    def view(request, task_id: UUID):
        return serve_task_file(request, task_id=task_id, kind=kind)
    return view


for _file_kind in KINDS:
    _view = _download(_file_kind.kind)
    _view.__name__ = f"download_{_file_kind.suffix.replace('.', '_')}"
    tasks_router.get(f"/{{uuid:task_id}}/{_file_kind.suffix}", response={200: None, **ERRORS},
                     summary=f"Download {_file_kind.suffix} as an attachment",
                     url_name=f"task-{_file_kind.suffix}")(_view)


@history_router.get("/stats", response={200: StatsOut, **ERRORS}, summary="Your figures for a date range")
def history_stats(request, filters: Query[TaskFilters]):
    """success_rate = completed / (completed + failed); processing times and pages cover completed tasks."""
    _require_history()
    stats = selectors.task_stats(user=request.user, filters=filters.as_dict())
    stats["daily"] = [{**d, "date": d["date"].isoformat()} for d in stats["daily"]]
    return stats


@history_router.post("/export", response={200: None, **ERRORS},
                     summary="Download exactly the filtered rows as CSV or JSON (streamed)",
                     openapi_extra=BodyOrQuery.OPENAPI)
def history_export(request, params: Annotated[ExportIn, BodyOrQuery(...)]):
    """Body (form or JSON) or query string: ``format`` = csv | json, plus the list's filters."""
    _require_history()
    return export_response(request=request, filters=params, fmt=params.format)

