"""Pages for uploading and following OCR tasks; thin: the work is in services and selectors."""

import json
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import TooManyFilesSent
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from core.audit import Actor
from core.errors import AppError
from tasks import selectors, services
from tasks.files.file_links import KINDS, file_url
from tasks.files.storage import open_task_file
from tasks.intake.uploads import files_from_request
from tasks.models import Task, TaskFile
from tasks.ocr.engines import ENGINE_CHOICES
from tasks.services import TaskLimitReached
from tasks.web import frames
from tasks.web.forms import RetryForm, UploadForm
from tasks.web.page_view import LOW_CONFIDENCE, page_view


UPLOAD_RESULT_KEY = "tool_ocr_upload_result"


def _home(request, form, *, status=200, result=None):
    recent = selectors.task_list(user=request.user)[:10]
    result = result or {}
    return render(request, "tasks/home.html", {
        "form": form, "recent_tasks": recent, "max_upload_mb": settings.MAX_UPLOAD_MB,
        "max_files": settings.DATA_UPLOAD_MAX_NUMBER_FILES, "max_tasks": settings.MAX_TASKS_PER_USER,
        "accepted": selectors.task_get_many(user=request.user, task_ids=result.get("accepted", [])),
        "refused": result.get("refused", []), "over_cap": result.get("over_cap"),
        "upload_key": uuid.uuid4().hex}, status=status)


def _is_xhr_upload(request) -> bool:
    """static/js/upload.js sends the form with XMLHttpRequest (for the progress) and asks for JSON."""
    return request.headers.get("X-Upload") == "xhr"


def _after_upload(request, *, accepted, refused, over_cap, chosen, status, replayed=False):
    """Post/redirect/get: the outcome waits in the session for the page the browser is sent to,
    so reloading that page never sends the files again."""
    again = " (already received earlier)" if replayed else ""
    if len(accepted) == 1 and not refused and not over_cap:
        messages.success(request, f"“{accepted[0].filename}” is queued for OCR{again}.")
        target = reverse("tasks:detail", args=[accepted[0].id])
    else:
        if accepted and not refused and not over_cap:
            messages.success(request, f"{len(accepted)} files are queued for OCR, in the order chosen{again}.")
        request.session[UPLOAD_RESULT_KEY] = {"accepted": [str(t.id) for t in accepted],
                                              "refused": refused, "over_cap": over_cap, "chosen": chosen}
        target = reverse("tasks:home")
    if _is_xhr_upload(request):
        return JsonResponse({"redirect": target, "accepted": len(accepted)}, status=200 if accepted else status)
    return redirect(target)


def _over_cap(left_out: list[str]) -> dict | None:
    """The files past MAX_TASKS_PER_USER (the abuse cap), named in one message."""
    if not left_out:
        return None
    message = (f"You may have at most {settings.MAX_TASKS_PER_USER} tasks waiting or running, so "
               f"{len(left_out)} file{'s were' if len(left_out) != 1 else ' was'} not uploaded. "
               "Choose them again once some of your tasks have finished.")
    return {"names": left_out, "message": message}


@login_required
@require_http_methods(["GET", "POST"])
def home(request):
    """Upload one or more files: one task per file, queued in the order chosen; each refusal is named.

    The batch policy is services.tasks_create's, as for the API: one refused file and no file of the
    upload is kept (each refused file is named); a server killed half-way keeps none either. Unlike
    the API, files past MAX_TASKS_PER_USER do not refuse the rest (``fit_to_cap``): the ones that fit
    are queued and the others named, so a person who chose a big folder keeps what fits. The form
    carries an idempotency key (``upload_key``): the same form sent twice (a reload after a lost
    connection) shows the tasks of the first send instead of making new ones.
    """
    last_language = selectors.last_language(user=request.user)
    if request.method == "GET":
        if request.htmx and request.htmx.target == "recent-tasks":
            return render(request, "tasks/_recent_tasks.html",
                          {"recent_tasks": selectors.task_list(user=request.user)[:10]})
        result = request.session.pop(UPLOAD_RESULT_KEY, None)
        chosen = (result or {}).get("chosen") or {}
        return _home(request, UploadForm(initial=chosen, last_language=last_language), result=result)
    try:
        files, oversized = files_from_request(request, "files")
    except TooManyFilesSent:
        form = UploadForm(request.POST, last_language=last_language)
        form.add_error("files", f"At most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files per upload: "
                                "choose fewer at a time.")
        return _upload_form_error(request, form)
    form = UploadForm(request.POST, last_language=last_language)
    if not form.is_valid():
        return _upload_form_error(request, form)
    if not files and not oversized:
        form.add_error("files", "Choose at least one file to read.")
        return _upload_form_error(request, form)
    accepted, replayed, over_cap, refused, refusal_status = [], False, None, [], None
    if oversized:  # cut off while streaming (too large): the whole upload is refused
        refused = [(name, f"{exc.message} No file of this upload was kept.") for name, exc in oversized]
        refusal_status = oversized[0][1].status
    else:
        try:
            created = services.tasks_create(user=request.user, uploaded_files=files,
                                            engine=form.cleaned_data["engine"] or None,
                                            language=form.cleaned_data["language"] or None,
                                            upload_key=request.POST.get("upload_key"), fit_to_cap=True)
            accepted, replayed, over_cap = created.tasks, created.replayed, _over_cap(created.left_out)
        except AppError as exc:
            refused = [(r["file"], r["message"]) for r in exc.details.get("refused", ())] or [
                (exc.details.get("file") or files[0].name, exc.message)]
            refusal_status = exc.status
    chosen = {k: form.cleaned_data[k] for k in ("engine", "language") if form.cleaned_data[k]}
    # The refusal's own status (415 for a type we do not take, 429 at the limit, 503 when storage is down).
    status = refusal_status or (TaskLimitReached.status if over_cap else 200)
    if not accepted and not _is_xhr_upload(request):
        # Nothing was created, so a reload cannot duplicate anything: answer with the page itself.
        return _home(request, UploadForm(initial=chosen, last_language=last_language), status=status,
                     result={"refused": refused, "over_cap": over_cap})
    return _after_upload(request, accepted=accepted, refused=refused, over_cap=over_cap, chosen=chosen,
                         status=status, replayed=replayed)


def _upload_form_error(request, form):
    if _is_xhr_upload(request):
        return JsonResponse({"errors": [str(e) for errors in form.errors.values() for e in errors]}, status=400)
    return _home(request, form, status=400)


def _result_pages(task: Task) -> list[dict] | None:
    """[{number, text}] from result.json, or None before there is a result."""
    tf = next((f for f in task.files.all() if f.kind == TaskFile.Kind.RESULT_JSON), None)
    if tf is None:
        return None
    try:
        with open_task_file(tf) as fh:
            data = json.load(fh)
        return [{"number": p.get("number"), "text": p.get("text", ""), "from_text_layer": p.get("read_from") == "text_layer",
                 "turned": p.get("turned") or [], "engine": p.get("engine", ""),
                 "view": page_view(p, p.get("number"))}  # the page beside its text (tasks/web/page_view.py)
                for p in data.get("pages", [])]
    except (OSError, ValueError, AttributeError):
        return None


def _downloads(task: Task) -> list[dict]:
    """The task's files in the file kinds' order, linked to the JSON API's download URLs."""
    files = {f.kind: f for f in task.files.all()}
    return [{"url": file_url(task.id, k.kind), "label": k.label, "name": files[k.kind].name,
             "size_bytes": files[k.kind].size_bytes} for k in KINDS if k.kind in files]


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
            "can_cancel": task.is_active,
            "page_images": task.status == Task.Status.COMPLETED and any(
                f.kind == TaskFile.Kind.RESULT_PDF for f in task.files.all()),
            "low_confidence_percent": round(LOW_CONFIDENCE * 100)}


@login_required
@require_GET
def task_detail(request, task_id):
    """The task page; HTMX polls the status part of it while the task is waiting or running."""
    task = selectors.task_get_or_404(user=request.user, task_id=task_id)
    context = _detail_context(task)
    if request.htmx:
        return frames.render(request, "tasks/_task_status.html", context)
    return frames.render(request, "tasks/detail.html", context)


def _confirm(request, task, action, *, form=None, status=200):
    return render(request, "tasks/confirm.html", {"task": task, "action": action, "form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def task_retry(request, task_id):
    """GET asks for the engine and language of the new run; POST queues the task again ("Run again with…")."""
    task = selectors.task_get_or_404(user=request.user, task_id=task_id)
    form = RetryForm(request.POST or None, task=task)
    if request.method == "GET" or not form.is_valid():
        return _confirm(request, task, "retry", form=form, status=200 if request.method == "GET" else 400)
    try:
        task = services.task_retry(task=task, actor=Actor.of(request), engine=form.cleaned_data["engine"],
                                   language=form.cleaned_data["language"] or None)
    except AppError as exc:
        messages.error(request, exc.message)
        return redirect("tasks:detail", task_id=task.id)
    messages.success(request, f"“{task.filename}” is queued again ({task.engine}, {task.language}). "
                              "Its earlier results stay here until the new run completes.")
    return redirect("tasks:detail", task_id=task.id)


@login_required
@require_http_methods(["GET", "POST"])
def task_cancel(request, task_id):
    task = selectors.task_get_or_404(user=request.user, task_id=task_id)
    if request.method == "GET":
        return _confirm(request, task, "cancel")
    try:
        services.task_cancel(task=task, actor=Actor.of(request))
    except AppError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"“{task.filename}” is cancelled.")
    return redirect("tasks:detail", task_id=task.id)


@login_required
@require_http_methods(["GET", "POST"])
def task_delete(request, task_id):
    task = selectors.task_get_or_404(user=request.user, task_id=task_id)
    if request.method == "GET":
        return _confirm(request, task, "delete")
    services.task_delete(task=task, actor=Actor.of(request))
    messages.success(request, f"“{task.filename}” and its files are deleted.")
    return redirect("tasks:home")
