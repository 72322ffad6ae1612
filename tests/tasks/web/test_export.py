"""Export: exactly the filtered list, row for row, streamed, named after its range."""

import csv
import io
import json
import tracemalloc
from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import AuditLog
from tasks import selectors
from tasks.models import Task
from tests.tasks.history_helpers import generate_history, make_task, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(user_a, user_b):
    generate_history(user_b, n=10, seed=3)
    return generate_history(user_a, n=45, seed=5)


def _csv_rows(response):
    assert response.streaming
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")  # the byte-order mark Excel needs for UTF-8
    text = raw.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _json_rows(response):
    assert response.streaming
    return json.loads(b"".join(response.streaming_content))


CASES = [
    {},
    {"status": ["failed", "cancelled"], "ordering": "filename"},
    {"q": "re", "ordering": "-processing_seconds"},
    {"created_from": 12, "created_to": 3, "ordering": "status"},
]


def _query(case):
    today = timezone.localdate()
    out = {}
    for key, value in case.items():
        out[key] = (today - timedelta(days=value)).isoformat() if key.startswith("created_") else value
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: ",".join(c) or "none")
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_equals_the_filtered_list_row_for_row(client, history, user_a, case, fmt, monkeypatch):
    monkeypatch.setattr("tasks.web.export.CHUNK_SIZE", 4)  # several keyset chunks
    signed_in(client, user_a)
    params = {**_query(case), "format": fmt}
    response = client.get("/history/export/", params)
    assert response.status_code == 200
    rows = _csv_rows(response) if fmt == "csv" else _json_rows(response)
    from tasks.history.params import parse_filters

    listed = list(selectors.task_list(user=user_a, filters=parse_filters(params).as_dict()))
    assert [r["id"] for r in rows] == [str(t.id) for t in listed]
    assert len(rows) == len(listed) > 0
    for row, task in zip(rows, listed):
        assert row["filename"] == task.filename and row["status"] == task.status
        assert row["created_at"] == task.created_at.isoformat()
        seconds = row["processing_seconds"]
        if task.processing_seconds is None:
            assert seconds in ("", None)
        else:
            assert float(seconds) == task.processing_seconds
    # the HTML list with the same filters shows the same first page
    page = client.get("/history/", {**params, "page_size": 100}).content.decode()
    page = page[page.index('id="history-results"'):]  # the header's badge names running tasks too
    positions = [page.index(str(t.id)) for t in listed[:20]]
    assert positions == sorted(positions)


def test_api_export_takes_json_or_form_bodies(client, history, user_a):
    signed_in(client, user_a)
    expected = [str(t.id) for t in selectors.task_list(user=user_a, filters={"status": ["completed"]})]
    by_json = client.post("/api/v1/history/export", {"format": "json", "status": ["completed"]},
                          content_type="application/json")
    assert by_json.status_code == 200 and by_json["Content-Type"].startswith("application/json")
    assert [r["id"] for r in _json_rows(by_json)] == expected
    by_form = client.post("/api/v1/history/export", {"format": "csv", "status": "completed"})
    assert by_form["Content-Type"].startswith("text/csv")
    assert [r["id"] for r in _csv_rows(by_form)] == expected


def test_file_name_says_the_range(client, user_a):
    signed_in(client, user_a)
    make_task(user_a)
    today = timezone.localdate().isoformat()
    ranged = client.get("/history/export/?format=csv&created_from=2025-01-01&created_to=2025-01-31")
    assert ranged["Content-Disposition"] == 'attachment; filename="tool-ocr-tasks_2025-01-01_to_2025-01-31.csv"'
    open_ended = client.post("/api/v1/history/export", {"format": "json"})
    assert open_ended["Content-Disposition"] == f'attachment; filename="tool-ocr-tasks_start_to_{today}.json"'
    assert open_ended["X-Content-Type-Options"] == "nosniff"


def test_spreadsheet_formulas_in_names_are_defused(client, user_a):
    signed_in(client, user_a)
    make_task(user_a, filename="=HYPERLINK(\"http://evil\")", status="failed", error_message="+1 then @cmd")
    rows = _csv_rows(client.get("/history/export/?format=csv"))
    assert rows[0]["filename"] == "'=HYPERLINK(\"http://evil\")"
    assert rows[0]["error_message"] == "'+1 then @cmd"
    assert _json_rows(client.get("/history/export/?format=json"))[0]["filename"] == "=HYPERLINK(\"http://evil\")"


def test_export_is_audited_and_only_the_users_rows(client, history, user_a, user_b):
    signed_in(client, user_b)
    rows = _csv_rows(client.get("/history/export/?format=csv"))
    assert len(rows) == Task.objects.filter(user=user_b).count() == 10
    assert not {r["id"] for r in rows} & {str(t.id) for t in history}
    entry = AuditLog.objects.get(action="history.export")
    assert entry.user == user_b and entry.details["format"] == "csv"


@pytest.mark.parametrize("query,message", [
    ("format=xlsx", "Use format=csv or format=json."),
    ("format=csv&created_from=yesterday", "is not a date"),
    ("format=csv&status=lost", "is not one of"),
])
def test_bad_export_parameters_are_refused(client, user_a, query, message):
    signed_in(client, user_a)
    response = client.get(f"/history/export/?{query}")
    assert response.status_code == 400 and message in response.content.decode()
    api = client.post(f"/api/v1/history/export?{query}")
    assert api.status_code == 400 and api.json()["error"]["code"] == "invalid_input"
    assert not AuditLog.objects.filter(action="history.export").exists()


def _peak_export_memory(client) -> tuple[int, int]:
    tracemalloc.start()
    response = client.get("/history/export/?format=csv")
    size = sum(len(chunk) for chunk in response.streaming_content)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, size


def test_memory_stays_flat_as_rows_grow(client, user_a):
    """Peak memory of a 40,000-row export stays near that of a 4,000-row one (chunks, not the result set)."""
    signed_in(client, user_a)
    now = timezone.now()

    def add(n, start):
        Task.objects.bulk_create([Task(user=user_a, filename=f"bulk-{start + i:06d}.png", status="completed",
                                       created_at=now - timedelta(seconds=start + i), processing_seconds=1.0)
                                  for i in range(n)], batch_size=2000)

    add(4000, 0)
    small_peak, small_size = _peak_export_memory(client)
    add(36000, 4000)
    big_peak, big_size = _peak_export_memory(client)
    assert big_size > 9 * small_size
    assert big_peak < 1.5 * small_peak, (small_peak, big_peak)
    assert big_peak < big_size  # less than the download itself
