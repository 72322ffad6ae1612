"""The rest of issue 15 (item 6) and the issue-14 parts on filters and CSV: plain-word date
messages and no 500 at the calendar's edges, CSV safe in every separator locale, no-store on
private answers, /admin/ for a non-operator, capped denied audit rows, /readyz details.
"""

import csv
import io
from html import unescape

import pytest

from core.audit import DENIED_AUDIT_PER_MINUTE
from core.models import AuditLog
from tests.tasks.history_helpers import make_task, signed_in

pytestmark = pytest.mark.django_db

RANGE_MESSAGE = "The 'From' date must be on or before the 'To' date."


# --- Dates: plain words, never a 500 ------------------------------------------------------
@pytest.mark.parametrize("path", ["/history/", "/history/stats/"])
@pytest.mark.parametrize("query,message", [
    ("created_to=9999-12-31", "The 'To' date “9999-12-31” is outside the dates we can look up"),
    ("created_from=0001-01-01", "The 'From' date “0001-01-01” is outside the dates we can look up"),
    ("created_from=2025-02-01&created_to=2025-01-01", RANGE_MESSAGE),
    ("created_from=31/01/2025", "The 'From' date “31/01/2025” is not a date"),
])
def test_bad_dates_on_the_pages_are_plain_field_messages(client, user_a, path, query, message):
    signed_in(client, user_a)
    response = client.get(f"{path}?{query}")
    html = unescape(response.content.decode())
    assert response.status_code == 200 and message in html
    assert "__all__" not in html and "left out:" not in html and "created_from must" not in html


@pytest.mark.parametrize("url", ["/api/v1/tasks", "/api/v1/history/stats", "/history/export/?format=csv",
                                 "/api/v1/history/export"])
@pytest.mark.parametrize("query", ["created_to=9999-12-31", "created_from=0001-01-01"])
def test_calendar_edges_are_a_400_with_the_message_on_the_api_and_export(client, user_a, url, query):
    signed_in(client, user_a)
    joined = f"{url}{'&' if '?' in url else '?'}{query}"
    response = client.post(joined) if url.endswith("/export") else client.get(joined)
    assert response.status_code == 400
    text = response.content.decode("unicode_escape") if url.startswith("/api/") else response.content.decode()
    assert "outside the dates we can look up" in text
    assert not AuditLog.objects.filter(action="history.export").exists()


def test_the_api_keys_the_range_message_to_the_to_date(client, user_a):
    signed_in(client, user_a)
    response = client.get("/api/v1/tasks?created_from=2025-02-01&created_to=2025-01-01")
    assert response.status_code == 400 and response.json()["error"]["details"] == {"created_to": RANGE_MESSAGE}


# --- CSV ------------------------------------------------------------------------------------
def test_csv_has_a_byte_order_mark_quotes_every_text_cell_and_defuses_formulas_after_any_separator(client, user_a):
    signed_in(client, user_a)
    make_task(user_a, filename="報告書;=cmd|' /C calc'!A0.png", status="failed", error_message="x,@SUM(1)\t-2")
    raw = b"".join(client.get("/history/export/?format=csv").streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    header, row = text.splitlines()[:2]
    assert header.startswith('"id","filename","status"')
    assert row.startswith('"') and '"failed"' in row and ",1," in row  # numbers stay numbers, text is quoted
    cells = next(csv.DictReader(io.StringIO(text)))
    assert cells["filename"] == "報告書;'=cmd|' /C calc'!A0.png"
    assert cells["error_message"] == "x,'@SUM(1)\t'-2"
    # Split as a semicolon-locale spreadsheet would: no piece starts a formula.
    for piece in row.replace('"', "").replace(",", ";").replace("\t", ";").split(";"):
        assert not piece[:1] in ("=", "+", "-", "@"), piece


# --- Cache-Control ----------------------------------------------------------------------------
def test_private_pages_api_answers_and_downloads_are_not_stored(client, user_a):
    signed_in(client, user_a)
    task = make_task(user_a, with_files=True)
    for url in ("/", "/history/", "/history/stats/", f"/tasks/{task.id}/", "/api/v1/tasks",
                f"/api/v1/tasks/{task.id}/text", "/history/export/?format=csv", "/api/v1/no-such-endpoint"):
        response = client.get(url)
        assert "no-store" in response.get("Cache-Control", ""), (url, response.status_code)
    assert "no-store" in client.get("/api/v1/tasks", HTTP_COOKIE="").get("Cache-Control", "")


@pytest.mark.parametrize("static_url", ["/api/", "/history/", "/tasks/", "https://cdn.example.com/"])
def test_no_static_url_the_settings_accept_makes_private_answers_storable(client, user_a, settings, static_url):
    """STATIC_URL is the operator's since the sub-path work (tool_ocr/settings.py accepts any path that starts
    and ends with /). Static files never pass through the middleware (nginx serves them, runserver's static
    handler answers before it), so no STATIC_URL may exempt a page, an API answer or a download from no-store."""
    settings.STATIC_URL = static_url
    signed_in(client, user_a)
    task = make_task(user_a, with_files=True)
    for url in ("/", "/history/", f"/tasks/{task.id}/", "/api/v1/tasks", f"/api/v1/tasks/{task.id}/result.txt",
                "/history/export/?format=csv"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response.get("Cache-Control", ""), (static_url, url)
    assert "no-store" in client.get("/api/v1/tasks", HTTP_COOKIE="").get("Cache-Control", "")


# --- /admin/ for a non-operator ---------------------------------------------------------------
def test_admin_tells_a_signed_in_non_operator_so_instead_of_a_redirect_circle(client, user_a):
    signed_in(client, user_a)
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403 and len(response.redirect_chain) <= 2
    assert "Operators only" in response.content.decode() and user_a.email in response.content.decode()


# --- Denied audit rows, rate-limited per user ---------------------------------------------------
def test_denied_audit_rows_are_capped_per_user(client, user_a, user_b):
    others = make_task(user_b)
    signed_in(client, user_a)
    for _ in range(DENIED_AUDIT_PER_MINUTE + 20):
        assert client.post(f"/tasks/{others.id}/delete/").status_code == 404
    assert AuditLog.objects.filter(user=user_a, outcome="denied").count() == DENIED_AUDIT_PER_MINUTE


# --- /readyz ---------------------------------------------------------------------------------------
def test_readyz_details_only_for_allowed_addresses(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    outside = client.get("/readyz", REMOTE_ADDR="198.51.100.7")
    assert set(outside.json()) == {"status"}
    inside = client.get("/readyz", REMOTE_ADDR="10.1.2.3").json()
    assert "queue_depth" in inside["checks"]["worker"] and "breaker" in inside["checks"]["auth_api"]
