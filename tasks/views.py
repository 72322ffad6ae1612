"""Pages for uploading and following OCR tasks; thin: the work is in services and selectors."""

import json
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from tasks import selectors, services
from tasks.downloads import KIND_BY_SUFFIX
from tasks.errors import ServiceError
from tasks.file_links import file_url
from tasks.forms import RetryForm, UploadForm
from tasks.models import Task, TaskFile
from tasks.ocr.engines import ENGINE_CHOICES
from tasks.storage import open_task_file
from tasks.uploads import files_from_request

# What the task page offers to download, in this order: (url suffix, label).
DOWNLOADS = [("result.txt", "Text"), ("result.json", "JSON with boxes"), ("result.pdf", "Searchable PDF"),
             ("original", "Original")]


def _home(request, form, *, status=200, accepted=(), refused=()):
    recent = selectors.task_list(user=request.user)[:10]
    return render(request, "tasks/home.html", {"form": form, "recent_tasks": recent, "accepted": accepted,
                                               "refused": refused, "max_upload_mb": settings.MAX_UPLOAD_MB,
                                               "upload_key": uuid.uuid4().hex},
                  status=status)


@login_required
@require_http_methods(["GET", "POST"])
def home(request):
    """Upload one or more files: one task per file, all or nothing (a refused file is named, none is kept).

    The form carries an idempotency key (``upload_key``): the same form sent twice (a reload after
    a lost connection) shows the tasks of the first send instead of making new ones.
    """
    if request.method == "GET":
        return _home(request, UploadForm())
    files, refused = files_from_request(request, "files")
    form = UploadForm(request.POST)
    if not form.is_valid():
        return _home(request, form, status=400)
    if not files and not refused:
        form.add_error("files", "Choose at least one file to read.")
        return _home(request, form, status=400)
    chosen = {"engine": form.cleaned_data["engine"]} if form.cleaned_data["engine"] else {}
    if refused:  # cut off while streaming (too large): the whole upload is refused
        name, exc = refused[0]
        return _home(request, UploadForm(initial=chosen), status=exc.status,
                     refused=[(name, f"{exc.message} No file of this upload was kept.")])
    try:
        created = services.tasks_create(user=request.user, uploaded_files=files,
                                        engine=form.cleaned_data["engine"] or None,
                                        upload_key=request.POST.get("upload_key"))
    except ServiceError as exc:
        refused = [(r["file"], r["message"]) for r in exc.details.get("refused", ())] or [
            (exc.details.get("file") or (files[0].name if len(files) == 1 else "Upload"), exc.message)]
        return _home(request, UploadForm(initial=chosen), status=exc.status, refused=refused)
    accepted = created.tasks
    again = " (already received earlier)" if created.replayed else ""
    if len(accepted) == 1:
        messages.success(request, f"“{accepted[0].filename}” is queued for OCR{again}.")
        return redirect("tasks:detail", task_id=accepted[0].id)
    messages.success(request, f"{len(accepted)} files are queued for OCR{again}.")
    return redirect("tasks:home")


def _task_or_404(request, task_id) -> Task:
    task = selectors.task_get(user=request.user, task_id=task_id)
    if task is None:
        raise Http404("No such task.")
    return task


def _result_pages(task: Task) -> list[dict] | None:
    """[{number, text}] from result.json, or None before there is a result."""
    tf = next((f for f in task.files.all() if f.kind == TaskFile.Kind.RESULT_JSON), None)
    if tf is None:
        return None
    try:
        with open_task_file(tf) as fh:
            data = json.load(fh)
        return [{"number": p.get("number"), "text": p.get("text", ""), "from_text_layer": p.get("read_from") == "text_layer"}
                for p in data.get("pages", [])]
    except (OSError, ValueError, AttributeError):
        return None


def _downloads(task: Task) -> list[dict]:
    """The task's files in DOWNLOADS order, linked to the JSON API's download URLs (owner check and audit there)."""
    kinds = {f.kind: f for f in task.files.all()}
    return [{"url": file_url(task.id, KIND_BY_SUFFIX[suffix]), "label": label,
             "name": kinds[KIND_BY_SUFFIX[suffix]].name, "size_bytes": kinds[KIND_BY_SUFFIX[suffix]].size_bytes}
            for suffix, label in DOWNLOADS if KIND_BY_SUFFIX[suffix] in kinds]


ENGINE_LABELS = {name: label for name, label, _help in ENGINE_CHOICES}


def page_ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> "1–3, 5"."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in spans)


def _how_read(task: Task) -> list[str]:
    """Sentences saying which pages came from the PDF's own text and which were OCR'd (only when some were read)."""
    read = task.pages_read
    if not read or not read["text_layer"]:
        return []
    out = [f"{'Page' if len(read['text_layer']) == 1 else 'Pages'} {page_ranges(read['text_layer'])}: "
           "read from the PDF's own text (exact, no OCR)."]
    if read["ocr"]:
        out.append(f"{'Page' if len(read['ocr']) == 1 else 'Pages'} {page_ranges(read['ocr'])}: "
                   f"no text in the PDF, recognised by OCR ({ENGINE_LABELS.get(task.engine, task.engine)}).")
    return out


def _detail_context(task: Task) -> dict:
    downloads = _downloads(task)
    can_retry = task.status in services.RERUN_STATUSES
    return {"task": task, "pages": _result_pages(task), "downloads": downloads, "how_read": _how_read(task),
            "can_retry": can_retry, "retry_form": RetryForm(task=task) if can_retry else None,
            # A task run again keeps its earlier results until the new run completes.
            "earlier_results": bool(task.retry_count and task.is_active and len(downloads) > 1),
            "can_cancel": task.is_active}


@login_required
@require_GET
def task_detail(request, task_id):
    """The task page; HTMX polls the status part of it while the task is waiting or running."""
    task = _task_or_404(request, task_id)
    context = _detail_context(task)
    if request.htmx:
        return render(request, "tasks/_task_status.html", context)
    return render(request, "tasks/detail.html", context)


def _confirm(request, task, action, *, form=None, status=200):
    return render(request, "tasks/confirm.html", {"task": task, "action": action, "form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def task_retry(request, task_id):
    """GET asks for the engine and language of the new run; POST queues the task again ("Run again with…")."""
    task = _task_or_404(request, task_id)
    form = RetryForm(request.POST or None, task=task)
    if request.method == "GET" or not form.is_valid():
        return _confirm(request, task, "retry", form=form, status=200 if request.method == "GET" else 400)
    try:
        task = services.task_retry(task=task, engine=form.cleaned_data["engine"],
                                   language=form.cleaned_data["language"] or None, request=request)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("tasks:detail", task_id=task.id)
    messages.success(request, f"“{task.filename}” is queued again ({task.engine}, {task.language}). "
                              "Its earlier results stay here until the new run completes.")
    return redirect("tasks:detail", task_id=task.id)


@login_required
@require_http_methods(["GET", "POST"])
def task_cancel(request, task_id):
    task = _task_or_404(request, task_id)
    if request.method == "GET":
        return _confirm(request, task, "cancel")
    try:
        services.task_cancel(task=task, request=request)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"“{task.filename}” is cancelled.")
    return redirect("tasks:detail", task_id=task.id)


@login_required
@require_http_methods(["GET", "POST"])
def task_delete(request, task_id):
    task = _task_or_404(request, task_id)
    if request.method == "GET":
        return _confirm(request, task, "delete")
    services.task_delete(task=task, request=request)
    messages.success(request, f"“{task.filename}” and its files are deleted.")
    return redirect("tasks:home")
