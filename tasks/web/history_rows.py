"""The history table's rows: drawn from a plain dict of what a row shows, each drawing kept per process.

A history page draws 25 rows of about 26 variables each; Django's template engine spent two thirds of
the page's CPU on them, and most rows are the same from one look at the list to the next. So:

- ``row_values`` reads everything ``history/_row.html`` shows of a task into a dict (the template
  reads ``task.<key>`` from it: a dict lookup instead of an attribute, method or related-manager call);
- ``row_html`` draws the row from that dict and keeps the HTML per process, keyed by the dict itself
  plus what else the drawing depends on (the template's source, the active time zone and language,
  the script prefix). A change to anything shown (status, progress, a new result file, the search's snippet, ...)
  is a change of the key, so a stale row is never served; a row that did not change costs no drawing.
- the list's query string (``view_suffix``, part of the row's HTMX URLs) is not in the key: the row is
  drawn with a marker there, and the marker is replaced by the escaped suffix on the way out.
- a row not kept yet (each process's first look at it) is drawn by ``_draw_direct``, the template written
  out in Python with the same escaping and filters: about a third of the engine's CPU. It is used only
  while the template's text is the one it was written from (``_DIRECT_FOR``); tests draw both ways and
  compare them byte for byte, and an edited template is drawn by the engine until it is written out again.
"""

import hashlib
import html
import secrets
import uuid
from functools import lru_cache

from django.core.signals import setting_changed
from django.template.loader import get_template
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone, translation
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

from tasks.files.file_links import BY_KIND, ORIGINAL, file_url, sorted_files
from tasks.models import Task

ROW_TEMPLATE = "history/_row.html"
# Rows kept per process (about 2 KB each): a few thousand people's first pages.
MAX_ROWS = 8192
# Stands for the list's query string while a row is drawn; random per process, so no file name or
# text can contain it by chance or on purpose; survives escaping unchanged (hex digits only).
_SUFFIX_MARK = "vsfx" + secrets.token_hex(16)
_STATUS_LABELS = dict(Task.Status.choices)  # what get_status_display() shows, without its lookups


def row_values(task: Task, files=None) -> dict:
    """Everything ``history/_row.html`` shows of ``task`` (``files``: its files, TaskFile rows or
    selectors.FileName, else task.files.all())."""
    files = task.files.all() if files is None else files
    return {
        "id": task.id, "status": task.status, "get_status_display": _STATUS_LABELS.get(task.status, task.status),
        "filename": task.filename, "engine": task.engine,
        # Escaped here unless already safe: a text and its safe twin are equal keys but not the same HTML.
        "snippet_html": conditional_escape(getattr(task, "snippet_html", "")),
        "is_active": task.status in Task.ACTIVE_STATUSES, "progress_percent": task.progress_percent,
        "pages_done": task.pages_done, "page_count": task.page_count,
        "created_at": task.created_at, "processing_seconds": task.processing_seconds,
        "links": tuple((BY_KIND[f.kind].short_label, file_url(task.id, f.kind), f.name)
                       for f in sorted_files(files) if f.kind != ORIGINAL.kind),
    }


def row_html(values: dict, *, view_suffix: str = ""):
    """The row's <tr> (safe HTML), drawn once per process for each distinct ``values``."""
    return rows_html([values], view_suffix=view_suffix)[0]


def rows_html(rows: list[dict], *, view_suffix: str = "") -> list:
    """Each row's <tr> (safe HTML); what the drawing depends on besides the values is read once for all rows."""
    context = (get_template(ROW_TEMPLATE).template.source, timezone.get_current_timezone_name(),
               translation.get_language(), get_script_prefix())
    suffix = conditional_escape(view_suffix)
    out = []
    for values in rows:
        key = (*context, tuple(values.items()))
        try:
            drawn = _draw(key)
        except TypeError:  # a value that cannot be a key (none of row_values' are): drawn every time
            drawn = _draw.__wrapped__(key)
        out.append(mark_safe(drawn.replace(_SUFFIX_MARK, suffix)))
    return out


@lru_cache(maxsize=MAX_ROWS)
def _draw(key) -> str:
    source, _zone, _language, _prefix, items = key
    if _source_digest(source) == _DIRECT_FOR:
        return _draw_direct(dict(items), _SUFFIX_MARK)
    return get_template(ROW_TEMPLATE).render({"task": dict(items), "view_suffix": _SUFFIX_MARK})


# sha256 of the history/_row.html that _draw_direct writes out.
_DIRECT_FOR = "fbca8135eb12efcd681b7dda818b189789321dd3ad2e491ced71629c33362e15"


@lru_cache(maxsize=8)
def _source_digest(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def _escape(value) -> str:
    """conditional_escape's text without its wrappers (it is called ~30 times a row): safe text as it is,
    anything else str() and escaped by html.escape, as django.utils.html.escape does."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


def engine_filter(library: str, name: str):
    """A filter of the project's template libraries as the engine loaded it (the tags live above this layer):
    what the templates written out here and in frames.py apply."""
    return get_template(ROW_TEMPLATE).template.engine.template_libraries[library].filters[name]


def _draw_direct(task: dict, view_suffix: str) -> str:
    """history/_row.html, written out: what the engine draws from ``task``, byte for byte (tests compare)."""
    e = _escape
    when, duration = engine_filter("ui_tags", "when"), engine_filter("history_tags", "duration")
    tid, status, name = e(task["id"]), e(task["status"]), e(task["filename"])
    urlconf, prefix, id_text = get_urlconf(), get_script_prefix(), str(task["id"])
    task_url = e(_task_url("history:task", urlconf, prefix).replace(_ID_MARK, id_text))
    page_url = e(_task_url("tasks:detail", urlconf, prefix).replace(_ID_MARK, id_text))
    suffix = e(view_suffix)
    active = task["is_active"]
    out = [f'''
<tr id="task-row-{tid}" data-testid="task-row" data-task-id="{tid}" data-status="{status}"
    ''']
    if active:
        out.append(f'hx-get="{task_url}row/{suffix}" hx-trigger="every 3s" hx-swap="outerHTML"')
    out.append(f'''>
  <td class="check"><input type="checkbox" name="ids" value="{tid}" aria-label="Select {name}" data-testid="select-task"></td>
  <td class="filename"><a href="{page_url}" hx-get="{task_url}{suffix}"
         hx-target="#task-modal-body" hx-swap="innerHTML" data-testid="open-details">{name}</a>
    ''')
    if task["snippet_html"]:
        out.append(f'<div class="snippet" data-testid="snippet">{e(task["snippet_html"])}</div>')
    out.append(f'''</td>
  <td class="state" data-label="Status"><span class="status status-{status}" data-testid="row-status">{e(task["get_status_display"])}</span>
      ''')
    if active:
        percent = e(localize(task["progress_percent"]))
        out.append(f'<progress max="100" value="{percent}" aria-label="Progress">{percent}%</progress>')
    out.append(f'''</td>
  <td data-label="Engine">{e(task["engine"])}</td>
  <td data-label="Pages">''')
    if active:
        out.append(f'{e(localize(task["pages_done"]))} / ')
    out.append(f'''{e(localize(task["page_count"]))}</td>
  <td class="created" data-label="Created">{e(when(task["created_at"]))}</td>
  <td data-label="Duration">{e(duration(task["processing_seconds"]))}</td>
  <td class="actions">
    
    ''')
    for label, url, file_name in task["links"]:
        out.append(f'<a href="{e(url)}" title="Download {e(file_name)}" aria-label="{e(label)} of {name}" '
                   f'data-testid="download-{e(str(label).lower())}">{e(label)}</a>')
    out.append("\n    ")
    if task["status"] == "failed" or task["status"] == "cancelled":
        out.append(f'''
    <button type="button" class="link" hx-post="{task_url}retry/{suffix}" hx-target="#history-results" hx-swap="outerHTML" id="retry-{tid}" aria-label="Retry {name}" data-testid="row-retry">Retry</button>
    ''')
    out.append("\n    ")
    if active:
        out.append(f'''
    <button type="button" class="link" hx-post="{task_url}cancel/{suffix}" hx-target="#history-results" hx-swap="outerHTML" id="cancel-{tid}" aria-label="Cancel {name}" data-testid="row-cancel">Cancel</button>
    ''')
    out.append(f'''
    <button type="button" class="link danger" hx-post="{task_url}delete/{suffix}" hx-target="#history-results" hx-swap="outerHTML"
            hx-confirm="Delete “{name}” and its files? This cannot be undone." id="delete-{tid}" aria-label="Delete {name}" data-testid="row-delete">Delete</button>
  </td>
</tr>
''')
    return "".join(out)


# A task id that no real task has (random per process): reversed once, then replaced by each row's id.
_ID_MARK = str(uuid.uuid4())


@lru_cache(maxsize=16)
def _task_url(name, urlconf, prefix) -> str:
    """The URL named ``name`` (history:task, tasks:detail) with _ID_MARK for the id: what reverse() gives for
    a row's id, after one replace (the uuid converter writes an id as str(id)); reversing it per row was a
    tenth of drawing the row."""
    return reverse(name, args=[uuid.UUID(_ID_MARK)], urlconf=urlconf)


def _forget(**kwargs):
    _draw.cache_clear()  # tests swap templates, URLconfs and time zones (override_settings)
    _task_url.cache_clear()


setting_changed.connect(_forget)
