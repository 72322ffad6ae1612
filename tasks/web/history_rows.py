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
"""

import secrets
from functools import lru_cache

from django.core.signals import setting_changed
from django.template.loader import get_template
from django.urls import get_script_prefix
from django.utils import timezone, translation
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
    """Everything ``history/_row.html`` shows of ``task`` (``files``: its TaskFile rows, else task.files.all())."""
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
            html = _draw(key)
        except TypeError:  # a value that cannot be a key (none of row_values' are): drawn every time
            html = _draw.__wrapped__(key)
        out.append(mark_safe(html.replace(_SUFFIX_MARK, suffix)))
    return out


@lru_cache(maxsize=MAX_ROWS)
def _draw(key) -> str:
    _source, _zone, _language, _prefix, items = key
    return get_template(ROW_TEMPLATE).render({"task": dict(items), "view_suffix": _SUFFIX_MARK})


def _forget(**kwargs):
    _draw.cache_clear()  # tests swap templates, URLconfs and time zones (override_settings)


setting_changed.connect(_forget)
