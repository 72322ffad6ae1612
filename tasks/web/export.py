"""Streamed CSV and JSON export of exactly the rows the history list shows for the same filters.

The rows come from selectors.task_iter (keyset chunks in the list's order), are written
a batch at a time and sent as they are made, so memory stays flat at any row count.
"""

import csv
import json
import re
from datetime import datetime

from django.http import StreamingHttpResponse
from django.utils import timezone

from core.audit import Actor, audit
from core.models import AuditAction
from tasks.history.params import TaskFilters
from tasks.selectors import task_iter

COLUMNS = ("id", "filename", "status", "engine", "language", "created_at", "started_at", "completed_at",
           "processing_seconds", "page_count", "size_bytes", "retry_count", "error_code", "error_message")
_BATCH = 500
CHUNK_SIZE = 2000  # rows per keyset query


def export_filename(filters: TaskFilters, fmt: str) -> str:
    """tool-ocr-tasks_<from>_to_<to>.<fmt>: the name says the range the rows cover."""
    start = filters.created_from.isoformat() if filters.created_from else "start"
    end = filters.created_to.isoformat() if filters.created_to else timezone.localdate().isoformat()
    return f"tool-ocr-tasks_{start}_to_{end}.{fmt}"


def _plain(name, value):
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if name == "id":
        return str(value)
    return value


# CSV injection: a spreadsheet runs a cell that starts with one of these as a formula. Excel in a
# locale whose list separator is ";" (or one that splits on tabs or "|") cuts a line at those even
# inside our quotes, so a formula could also start right after one: every such start gets an apostrophe.
_FORMULA_START = re.compile(r"(^|[,;\t|\r\n])([=+\-@\t\r])")


def _csv_cell(name, value):
    """Every text cell formula-safe in any separator locale (numbers stay numbers)."""
    value = _plain(name, value)
    if value is None:
        return ""
    if isinstance(value, str):
        return _FORMULA_START.sub(lambda m: m.group(1) + "'" + m.group(2), value)
    return value


class _Line:
    """A write-only file for csv.writer that hands back what was written."""

    def __init__(self):
        self.parts = []

    def write(self, text):
        self.parts.append(text)

    def take(self) -> str:
        text, self.parts = "".join(self.parts), []
        return text


def iter_csv(*, user, filters: dict):
    """UTF-8 with a byte-order mark (Excel then reads 報告書.png right), every text cell quoted."""
    buffer = _Line()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(COLUMNS)
    for n, row in enumerate(task_iter(user=user, filters=filters, fields=COLUMNS, chunk_size=CHUNK_SIZE), start=1):
        writer.writerow([_csv_cell(name, value) for name, value in zip(COLUMNS, row)])
        if n % _BATCH == 0:
            yield buffer.take()
    yield buffer.take()


def iter_json(*, user, filters: dict):
    """A JSON array of objects, one per row, written as the rows arrive."""
    parts, first = ["["], True
    for n, row in enumerate(task_iter(user=user, filters=filters, fields=COLUMNS, chunk_size=CHUNK_SIZE), start=1):
        item = {name: _plain(name, value) for name, value in zip(COLUMNS, row)}
        parts.append(("\n" if first else ",\n") + json.dumps(item, ensure_ascii=False))
        first = False
        if n % _BATCH == 0:
            yield "".join(parts)
            parts = []
    parts.append("\n]\n")
    yield "".join(parts)


def export_response(*, request, filters: TaskFilters, fmt: str) -> StreamingHttpResponse:
    """The download; one audit row says who exported which filters."""
    user = request.user
    rows = iter_csv if fmt == "csv" else iter_json
    content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/json; charset=utf-8"
    response = StreamingHttpResponse(rows(user=user, filters=filters.as_dict()), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{export_filename(filters, fmt)}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    audit(actor=Actor.of(request), action=AuditAction.HISTORY_EXPORT, format=fmt,
          filters={k: (str(v) if v is not None and not isinstance(v, (list, str)) else v)
                   for k, v in filters.as_dict().items()})
    return response
