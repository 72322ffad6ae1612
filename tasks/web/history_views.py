"""The history pages: list with filters, sorting and pages (HTMX partials), details modal,
row and bulk actions, statistics, export, and the header's live badge and brief stats.

Thin: reads are tasks.selectors with the signed-in user, writes are tasks.services.
An HTMX request gets the partial it swaps; the same URL without HTMX (a shared link,
the back button, a reload) gets the whole page showing the same view.
"""

import uuid
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from core.audit import Actor
from core.errors import AppError
from tasks import selectors, services
from tasks.history import search
from tasks.history.params import DEFAULT_ORDERING, DEFAULT_PAGE_SIZE, PAGE_SIZES, TaskFilters, parse_filters
from tasks.models import Task
from tasks.web.charts import daily_chart
from tasks.web.context_processors import badge_context
from tasks.web import frames
from tasks.web.export import export_response
from tasks.web.history_rows import row_html, row_values, rows_html
from tasks.web.zip_download import results_zip_response

COLUMNS = (("filename", "File"), ("status", "Status"), (None, "Engine"), (None, "Pages"),
           ("created_at", "Created"), ("processing_seconds", "Duration"))
# The column headings' sort orders as one list, for phones (where the headings are hidden).
SORT_CHOICES = (("-created_at", "Newest first"), ("created_at", "Oldest first"), ("filename", "File name A–Z"),
                ("-filename", "File name Z–A"), ("status", "Status"), ("-status", "Status, reversed"), ("-processing_seconds", "Longest first"),
                ("processing_seconds", "Shortest first"))
ACTIONS = ("retry", "cancel", "delete")
BULK_ACTIONS = ("download", *ACTIONS)
MAX_BULK = 100
# The table counts at most this many rows ("1–25 of more than 1,000"): an exact count of a
# 100,000-task history costs more than the page itself. The JSON API counts exactly.
COUNT_LIMIT = 1000
# A search (``q``) counts at most this many matches ("1–25 of more than 100"): finding a common word's
# first 1,000 matches reads ~16,000 names of a 100,000-task history, a third of the page's time budget;
# its first 100, a tenth of that. Searches with few matches are counted exactly from the indexes anyway.
SEARCH_COUNT_LIMIT = 100


def history_required(view):
    """ENABLE_TASK_HISTORY=false: these pages do not exist (404); OCR pages keep working."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not settings.ENABLE_TASK_HISTORY:
            raise Http404("Task history is turned off on this server.")
        return view(request, *args, **kwargs)

    return wrapper


def _view_filters(data) -> tuple[TaskFilters, dict]:
    """The filters of a shared link; an invalid value is reported and left out, not a dead page."""
    try:
        return parse_filters(data), {}
    except AppError as exc:
        errors = dict(exc.details)
    cleaned = data.copy()
    for key in list(errors) + (["created_from", "created_to"] if "__all__" in errors else []):
        cleaned.pop(key, None)
    try:
        return parse_filters(cleaned), errors
    except AppError:
        return TaskFilters(), errors


def _filters_query(filters: TaskFilters) -> str:
    """The filters as a short query string: no empty fields, no default ordering."""
    query = QueryDict(mutable=True)
    query.setlist("status", filters.status)
    for name in ("q", "created_from", "created_to"):
        value = getattr(filters, name)
        if value:
            query[name] = value.isoformat() if hasattr(value, "isoformat") else value
    if filters.ordering != DEFAULT_ORDERING:
        query["ordering"] = filters.ordering
    return query.urlencode()


def _suffix(request) -> str:
    """``?<the list's query>`` for the URLs of actions, so their answer shows the same view."""
    query = request.GET.urlencode()
    return f"?{query}" if query else ""


def _int(value, default):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _page_numbers(page: int, last: int, known: bool = True) -> list:
    """1 … 4 5 [6] 7 8 … 40: a window around the page, the ends, None for a gap.

    known=False: without an exact count ``last`` is only the next page, and no end is shown.
    """
    wanted = {1, *range(max(1, page - 2), min(last, page + 2) + 1)}
    if known:
        wanted.add(last)
    out, previous = [], 0
    for n in sorted(wanted):
        if n - previous > 1:
            out.append(None)
        out.append(n)
        previous = n
    return out


def _columns(ordering: str) -> list[dict]:
    columns = []
    for key, label in COLUMNS:
        column = {"key": key, "label": label, "active": False, "desc": False, "next": None}
        if key:
            if ordering.lstrip("-") == key:
                column.update(active=True, desc=ordering.startswith("-"),
                              next=key if ordering.startswith("-") else f"-{key}")
            else:
                column["next"] = f"-{key}" if key == "created_at" else key
        columns.append(column)
    return columns


def _attach_snippets(user, rows, q) -> None:
    """Each row found by its text gets ``snippet_html``: the text around the first hit, escaped, the hit marked.

    Every row gets the attribute (empty without a search): a template asking a model for an attribute it
    lacks costs a dir() of the instance: about a tenth of the rows' rendering time.
    """
    if not q:
        for task in rows:
            task.snippet_html = ""
        return
    snippets = selectors.task_snippets(user=user, task_ids=[task.pk for task in rows], q=q)
    for task in rows:
        task.snippet_html = search.snippet_html(snippets.get(task.pk))


def _results_context(request, notice: str = "", notice_error: bool = False) -> dict:
    filters, errors = _view_filters(request.GET)
    page_size = _int(request.GET.get("page_size"), DEFAULT_PAGE_SIZE)
    if page_size not in PAGE_SIZES:
        page_size = DEFAULT_PAGE_SIZE
    page_number = max(1, _int(request.GET.get("page"), 1))
    count_limit = SEARCH_COUNT_LIMIT if filters.as_dict().get("q") else COUNT_LIMIT
    page = selectors.task_page(user=request.user, filters=filters.as_dict(), page=page_number,
                               page_size=page_size, clamp=True, count_limit=count_limit, light=True)
    _attach_snippets(request.user, page.rows, filters.as_dict().get("q"))
    has_any = bool(page.count) or selectors.task_list(user=request.user).exists()
    suffix = _suffix(request)
    files = selectors.task_file_names_of(user=request.user, tasks=page.rows)
    return {
        "filters": filters, "errors": errors, "page": page, "page_size": page_size, "page_sizes": PAGE_SIZES,
        "ordering": filters.ordering, "default_ordering": DEFAULT_ORDERING, "columns": _columns(filters.ordering),
        "page_numbers": (_page_numbers(page.page, page.num_pages) if page.exact else
                         _page_numbers(page.page, page.page + (1 if page.has_next else 0), known=False)),
        "has_any": has_any,
        "statuses": Task.Status.choices, "view_query": request.GET.urlencode(), "view_suffix": suffix,
        "export_query": _filters_query(filters),
        "notice": notice, "notice_error": notice_error, "retention_days": settings.TASK_RETENTION_DAYS,
        "max_bulk": MAX_BULK, "sort_choices": SORT_CHOICES,
        "rows_html": rows_html([row_values(task, files[task.pk]) for task in page.rows], view_suffix=suffix),
    }


@history_required
@login_required
@require_GET
@vary_on_headers("HX-Request")
def history_page(request):
    context = _results_context(request)
    if request.htmx and not request.htmx.history_restore_request:
        return frames.render(request, "history/_results.html", context)
    return frames.render(request, "history/list.html", context)


def _apply(request, task: Task, action: str) -> str | None:
    """Run one action; None when done, else why not (wrong state, limit)."""
    actor = Actor.of(request, via="history")
    try:
        if action == "retry":
            services.task_retry(task=task, actor=actor, allow_completed=False)
        elif action == "cancel":
            services.task_cancel(task=task, actor=actor)
        elif action == "delete":
            services.task_delete(task=task, actor=actor)
    except AppError as exc:  # wrong state, limit reached, storage down
        return exc.message
    return None


_DONE = {"retry": "queued again", "cancel": "cancelled", "delete": "deleted"}


def _after_action(request, notice: str, error: bool):
    """HTMX: the list as it is now (same filters and page) and a nudge to the badge; else back to the list."""
    if request.htmx:
        response = frames.render(request, "history/_results.html", _results_context(request, notice, error))
        response["HX-Trigger"] = "tasks-changed"
        return response
    (messages.error if error else messages.success)(request, notice)
    query = request.GET.urlencode()
    return HttpResponseRedirect(reverse("history:list") + (f"?{query}" if query else ""))


@history_required
@login_required
@require_POST
def task_action(request, task_id, action):
    if action not in ACTIONS:
        raise Http404("No such action.")
    task = selectors.task_get_or_404(user=request.user, task_id=task_id)
    problem = _apply(request, task, action)
    if problem:
        return _after_action(request, problem, True)
    return _after_action(request, f"“{task.filename}” {_DONE[action]}.", False)


def _selected_ids(request) -> list:
    ids = []
    for raw in request.POST.getlist("ids")[:MAX_BULK]:
        try:
            ids.append(uuid.UUID(raw))
        except (ValueError, AttributeError):
            continue
    return ids


@history_required
@login_required
@require_POST
def bulk_action(request):
    action = request.POST.get("action", "")
    if action not in BULK_ACTIONS:
        return _after_action(request, "Choose an action for the selected tasks.", True)
    tasks = selectors.task_get_many(user=request.user, task_ids=_selected_ids(request))
    if not tasks:
        return _after_action(request, "Select at least one of your tasks first.", True)
    if action == "download":
        response = results_zip_response(request, tasks)
        if response is None:
            return _after_action(request, "None of the selected tasks has results yet.", True)
        return response
    done, skipped = 0, []
    for task in tasks:
        problem = _apply(request, task, action)
        if problem:
            skipped.append(task.filename)
        else:
            done += 1
    notice = f"{done} task{'s' if done != 1 else ''} {_DONE[action]}."
    if skipped:
        notice += f" {len(skipped)} skipped (not in a state for this): {', '.join(skipped[:5])}" + \
                  ("…" if len(skipped) > 5 else "")
    return _after_action(request, notice, done == 0)


@history_required
@login_required
@require_GET
@vary_on_headers("HX-Request")
def task_modal(request, task_id):
    """The details partial for the modal; without HTMX, the task's own page."""
    task = selectors.task_get_or_404(user=request.user, task_id=task_id)
    if not request.htmx:
        return HttpResponseRedirect(reverse("tasks:detail", args=[task.id]))
    return render(request, "history/_task_detail.html", {"task": task, "view_query": request.GET.urlencode()})


@history_required
@login_required
@require_GET
def task_row(request, task_id):
    """One row, polled while the task runs (the rest of the table, and its checkboxes, stay put)."""
    task = selectors.task_get_or_404(user=request.user, task_id=task_id)
    return HttpResponse(row_html(row_values(task), view_suffix=_suffix(request)))


@history_required
@login_required
@require_GET
def stats_page(request):
    filters, errors = _view_filters(request.GET)
    today = timezone.localdate()
    stats = selectors.task_stats(user=request.user, filters=filters.as_dict(), today=today)
    return render(request, "history/stats.html", {
        "filters": filters, "errors": errors, "stats": stats, "chart": daily_chart(stats["daily"]),
        "today": today, "retention_days": settings.TASK_RETENTION_DAYS,
        "presets": [(label, (today - timedelta(days=days - 1)).isoformat()) for label, days in
                    (("Last 7 days", 7), ("Last 30 days", 30), ("Last 90 days", 90))],
    })


@history_required
@login_required
def export_view(request):
    """GET (a link) or POST (a form): ``format`` csv | json plus the list's filters."""
    if request.method not in ("GET", "POST"):
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    data = request.GET if request.method == "GET" else request.POST
    fmt = data.get("format", "csv")
    if fmt not in ("csv", "json"):
        return HttpResponseBadRequest("Use format=csv or format=json.", content_type="text/plain")
    try:
        filters = parse_filters(data)
    except AppError as exc:
        return HttpResponseBadRequest(exc.message, content_type="text/plain; charset=utf-8")
    return export_response(request=request, filters=filters, fmt=fmt)


@require_GET
def active_badge(request):
    """The header badge, polled while tasks run; 286 tells HTMX to stop polling when signed out."""
    if not request.user.is_authenticated:
        return HttpResponse(status=286)
    return render(request, "history/_badge.html",
                  {**badge_context(request.user), "history_enabled": settings.ENABLE_TASK_HISTORY})


@history_required
@login_required
@require_GET
def user_brief_stats(request):
    return render(request, "history/_user_stats.html", {"brief": selectors.task_brief_stats(user=request.user)})
