"""Issue 14 on the server side: uploads by post/redirect/get (also for the XHR upload), big batches
queued in order with one message for what the cap refused, the labelled badge and its state,
branded error pages (also under DEBUG), times with their zone, download names, ZIP entry times."""

import io
import json
import zipfile
from datetime import datetime, timezone as dt_timezone

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from tasks.models import Task
from tasks.web.downloads import safe_download_name, shorten_middle
from tests.tasks.history_helpers import make_task, signed_in
from tests.tasks.pipeline_helpers import queued_jobs, sample_inputs

SAMPLES = sample_inputs()
XHR = {"X-Upload": "xhr"}


def _png(name):
    _n, content, _mime, _pages = SAMPLES["png"]
    return SimpleUploadedFile(name, content)


@pytest.fixture
def page_client(client, user_a):
    return signed_in(client, user_a)


@pytest.mark.django_db(transaction=True)
def test_a_batch_bigger_than_runs_at_once_is_queued_whole_in_the_order_chosen(page_client, user_a, settings):
    settings.MAX_TASKS_PER_USER = 100
    names = [f"scan-{i:02d}.png" for i in range(30)]
    response = page_client.post("/", {"files": [_png(n) for n in names]}, headers=XHR)
    assert response.status_code == 200 and response.json() == {"redirect": "/", "accepted": 30}
    created = list(Task.objects.filter(user=user_a).order_by("created_at").values_list("filename", flat=True))
    assert created == names and queued_jobs() == 30
    # The queue takes them in that order: priority never rises, and equal priorities go by enqueue time.
    from django_tasks_db.models import DBTaskResult
    order = [json.loads(json.dumps(r.args_kwargs))["args"][0] for r in DBTaskResult.objects.order_by(
        "-priority", "run_after", "enqueued_at")]
    by_id = {str(t.id): t.filename for t in Task.objects.all()}
    assert [by_id[i] for i in order] == names
    page = page_client.get("/").content.decode()
    assert "30 files are queued for OCR, in the order chosen." in page
    assert "30 files are queued" not in page_client.get("/").content.decode()  # once: a reload sends and says nothing


@pytest.mark.django_db(transaction=True)
def test_files_past_the_cap_are_named_in_one_message_and_nothing_else_is_lost(page_client, user_a, settings):
    settings.MAX_TASKS_PER_USER = 3
    make_task(user_a, status="pending")
    response = page_client.post("/", {"files": [_png(f"p{i}.png") for i in range(5)]}, headers=XHR)
    assert response.status_code == 200 and response.json()["redirect"] == "/"  # some were queued
    assert sorted(Task.objects.filter(user=user_a).exclude(filename="scan.png").values_list("filename", flat=True)) \
        == ["p0.png", "p1.png"]
    page = page_client.get("/").content.decode()
    assert page.count("You may have at most 3 tasks waiting or running, so 3 files were not uploaded.") == 1
    assert "<li>p2.png</li>" in page and "<li>p3.png</li>" in page and "<li>p4.png</li>" in page
    assert "Queued for OCR, in this order:" in page


@pytest.mark.django_db(transaction=True)
def test_xhr_upload_without_files_is_a_json_400_and_writes_nothing(page_client):
    response = page_client.post("/", {"engine": "easyocr"}, headers=XHR)
    assert response.status_code == 400 and response.json() == {"errors": ["Choose at least one file to read."]}
    assert not Task.objects.exists()


@pytest.mark.django_db
def test_one_xhr_file_goes_to_its_task_page(page_client, user_a):
    response = page_client.post("/", {"files": [_png("one.png")]}, headers=XHR)
    task = Task.objects.get(user=user_a)
    assert response.json()["redirect"] == f"/tasks/{task.id}/"


@pytest.mark.django_db
def test_the_upload_offers_the_camera_and_the_recent_tasks_update_live(page_client, user_a):
    make_task(user_a, filename="running.png", status="processing")
    page = page_client.get("/").content.decode()
    assert 'accept="image/*,application/pdf,.tif,.tiff"' in page
    assert 'id="recent-tasks"' in page and "every 3s" in page
    part = page_client.get("/", headers={"HX-Request": "true", "HX-Target": "recent-tasks"}).content.decode()
    assert part.lstrip().startswith('<div id="recent-tasks"')
    assert "running.png" in part and "<html" not in part
    Task.objects.update(status="completed")
    part = page_client.get("/", headers={"HX-Request": "true", "HX-Target": "recent-tasks"}).content.decode()
    assert "every 3s" not in part  # nothing runs: the list stops polling


@pytest.mark.django_db
def test_badge_is_labelled_and_carries_what_finished(page_client, user_a, user_b):
    running = make_task(user_a, filename="running.png", status="processing")
    done = make_task(user_a, filename="報告書.png", status="completed")
    make_task(user_b, filename="theirs.png", status="processing")
    html = page_client.get("/nav/badge/").content.decode()
    assert ">1 running</a>" in html
    state = json.loads(__import__("html").unescape(html.split('data-state="')[1].split('"')[0]))
    assert state["active"] == [{"id": str(running.id), "name": "running.png"}]
    assert state["finished"] == [{"id": str(done.id), "name": "報告書.png", "status": "completed"}]
    assert "theirs.png" not in html


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_a_deleted_tasks_url_is_a_branded_404_with_the_header_and_a_way_back(page_client, user_a, debug, settings):
    settings.DEBUG = debug
    task = make_task(user_a)
    task_id = task.id
    task.delete()
    for url in (f"/tasks/{task_id}/", "/no/such/page/"):
        response = page_client.get(url)
        html = response.content.decode()
        assert response.status_code == 404, url
        assert 'data-testid="error-page"' in html and "Not found" in html
        assert 'class="topbar"' in html and 'data-testid="user-name"' in html  # the header, signed in
        assert 'href="/">Go to the upload page</a>' in html
        assert "Technical" not in html and "Using the URLconf" not in html  # not Django's debug page


@pytest.mark.django_db
def test_403_and_csrf_failure_are_branded(user_a, settings):
    from django.test import Client

    client = signed_in(Client(enforce_csrf_checks=True), user_a)
    response = client.post("/", {"engine": "easyocr"})
    assert response.status_code == 403 and 'data-testid="error-page"' in response.content.decode()
    assert "Reload the page and try again" in response.content.decode()


def test_500_page_renders_without_a_request_or_database():
    from ops.error_views import server_error
    from django.test import RequestFactory

    request = RequestFactory().get("/")  # no user, no session: the header shows only the brand
    response = server_error(request)
    html = response.content.decode()
    assert response.status_code == 500 and "Something went wrong" in html and 'class="topbar"' in html


@pytest.mark.django_db
def test_debug_mode_answers_an_empty_password_like_production(client, settings):
    """The sign-in fragment with its 400 comes back; htmx's page is never replaced (no django-htmx debug script)."""
    settings.DEBUG = True
    page = client.get("/login/").content.decode()
    assert "django-htmx.js" not in page and "/static/django_htmx/htmx-2.min.js" in page
    response = client.post("/login/", {"username": "ada.lin@example.com", "password": ""}, headers={"HX-Request": "true"})
    assert response.status_code == 400 and "<html" not in response.content.decode()


@pytest.mark.django_db
def test_times_are_iso_like_with_the_zone_named(page_client, user_a, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    make_task(user_a, filename="t.png", created_at=datetime(2026, 3, 12, 13, 5, tzinfo=dt_timezone.utc))
    with override_settings(TIME_ZONE="Europe/Berlin"):
        html = page_client.get("/history/").content.decode()
    assert '<time datetime="2026-03-12T13:05:00+00:00" data-local="minutes">2026-03-12 14:05 CET</time>' in html
    assert 'placeholder="YYYY-MM-DD"' in html and 'type="date"' not in html


def test_download_names_keep_the_start_and_the_extension():
    name = "Quarterly report for the board meeting held on December 31 2024 " * 3 + "v3 FINAL.ocr.pdf"
    short = safe_download_name(name)
    assert len(short) <= 150 and short.startswith("Quarterly report for the board meeting")
    assert short.endswith("v3 FINAL.ocr.pdf") and "…" in short
    assert shorten_middle("short.png") == "short.png"
    assert safe_download_name("報告書" * 100 + ".png").endswith(".png")


@pytest.mark.django_db
def test_zip_entries_carry_the_tasks_time(page_client, user_a, settings):
    settings.TIME_ZONE = "UTC"
    task = make_task(user_a, filename="one.png", status="completed", with_files=True,
                     created_at=datetime(2026, 3, 12, 13, 5, 0, tzinfo=dt_timezone.utc))
    response = page_client.post("/history/bulk/", {"action": "download", "ids": [str(task.id)]})
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    finished = task.completed_at
    for info in archive.infolist():
        assert info.date_time == (2026, 3, 12, 13, 5, finished.second - finished.second % 2)


@pytest.mark.django_db
def test_the_sign_in_request_may_take_its_worst_case_before_the_browser_gives_up(client, settings):
    from accounts import external_auth

    settings.EXTERNAL_AUTH_TOTAL_TIMEOUT = 60
    page = client.get("/login/").content.decode()
    timeout_ms = int(page.split("hx-request='{\"timeout\": ")[1].split("}")[0])
    assert timeout_ms >= external_auth.worst_case_seconds() * 1000 + 4000 and timeout_ms > 20000


@pytest.mark.django_db
def test_a_bad_request_is_a_branded_400(client):
    response = client.get("/login/", HTTP_HOST="not-ours.example")  # DisallowedHost: Django's 400 path
    html = response.content.decode()
    assert response.status_code == 400 and 'data-testid="error-page"' in html and "Bad request" in html
    assert 'href="/">Go to the upload page</a>' in html
