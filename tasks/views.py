"""Pages for uploading and following OCR tasks; thin: the work is in services and selectors."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from tasks import selectors, services
from tasks.documents import DocumentError
from tasks.forms import UploadForm
from tasks.models import TaskFile
from tasks.storage import open_task_file


@login_required
@require_http_methods(["GET", "POST"])
def home(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                task = services.task_create(user=request.user, uploaded_file=form.cleaned_data["file"])
            except DocumentError as exc:
                form.add_error("file", exc.message)
                status = exc.status
            except services.TaskLimitReached as exc:
                form.add_error("file", str(exc))
                status = 429
            else:
                messages.success(request, f"“{task.filename}” is queued for OCR.")
                return redirect("tasks:detail", task_id=task.id)
        else:
            status = 400
    recent = selectors.task_list(user=request.user)[:10]
    return render(request, "tasks/home.html", {"form": form, "recent_tasks": recent}, status=status)


def _task_or_404(request, task_id):
    task = selectors.task_get(user=request.user, task_id=task_id)
    if task is None:
        raise Http404("No such task.")
    return task


def _result_text(task):
    tf = next((f for f in task.files.all() if f.kind == TaskFile.Kind.RESULT_TXT), None)
    if tf is None:
        return None
    with open_task_file(tf) as fh:
        return fh.read().decode("utf-8", errors="replace")


@login_required
def task_detail(request, task_id):
    task = _task_or_404(request, task_id)
    context = {"task": task, "text": _result_text(task)}
    if request.htmx:
        return render(request, "tasks/_task_status.html", context)
    return render(request, "tasks/detail.html", context)
