"""End to end in Chromium against a live server and the real worker with real Tesseract:
sign in, upload, watch the progress bar, find the task by filter, open its details,
download the text, delete it; then sorting, page size, the back button, bulk delete and
the statistics on a generated history. Screenshots go to test-artifacts/.
"""

import os
import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from django.utils import timezone
from PIL import Image

from accounts.models import User
from tasks.models import Task
from tests.browser_support import ARTIFACTS, new_page
from tests.tasks.history_helpers import make_task

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "tests" / "data" / "pages"


@pytest.fixture
def page(browser, live_server, settings):
    """Signed in as Ada through the real login page and the bundled company sign-in API."""
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = new_page(browser, live_server.url, timeout=20000, accept_downloads=True,
                    viewport={"width": 1280, "height": 900})
    yield page
    page.context.close()


def _three_page_pdf(path: Path) -> Path:
    images = [Image.open(PAGES / name).convert("RGB") for name in ("libtasn1_p13.png", "libtasn1_p22.png",
                                                                   "mime_spec_p8.png")]
    images[0].save(path, "PDF", save_all=True, append_images=images[1:], resolution=200)
    return path


class WorkerThread(threading.Thread):
    """The real database worker (the loop of ``manage.py db_worker --batch``) in a thread, so the
    browser can watch while it works; only the command's signal handlers, which need the main
    thread, are left out."""

    def __init__(self):
        super().__init__(daemon=True)
        self.error = None

    def run(self):
        from django.db import connections
        from django_tasks_db.management.commands.db_worker import Worker

        try:
            Worker(queue_names=["default"], excluded_queue_names=[], interval=0.2, batch=True,
                   backend_name="default", startup_delay=False, max_tasks=None, worker_id="e2e-browser").run()
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            connections.close_all()


@pytest.mark.timeout(600)
def test_upload_progress_filter_details_download_delete(page, tmp_path):
    from playwright.sync_api import expect

    pdf = _three_page_pdf(tmp_path / "quarterly-report-e2e.pdf")
    page.goto(page.base_url + "/")
    expect(page.get_by_test_id("active-badge")).to_have_text("0 running")
    page.set_input_files("input[type=file][name=files]", str(pdf))
    page.check("input[name=engine][value=tesseract]")
    page.get_by_role("button", name="Upload and read").click()

    # the task page follows the worker: status, a progress bar that moves, the header badge
    expect(page.get_by_test_id("task-status")).to_have_text("Pending")
    expect(page.get_by_test_id("active-badge")).to_have_text("1 running")
    task = Task.objects.get()
    assert task.page_count == 3 and task.engine == "tesseract"
    worker = WorkerThread()
    worker.start()
    expect(page.get_by_test_id("task-status")).to_have_text("Processing", timeout=120000)
    progress = page.locator("#task-status progress")
    seen = {progress.get_attribute("value")}
    page.screenshot(path=str(ARTIFACTS / "e2e-1-processing.png"))
    while page.get_by_test_id("task-status").inner_text() == "Processing":
        seen.add(progress.get_attribute("value"))
        page.wait_for_timeout(300)
    expect(page.get_by_test_id("task-status")).to_have_text("Completed", timeout=180000)
    worker.join(timeout=120)
    assert worker.error is None, worker.error
    assert progress.get_attribute("value") == "100"
    assert seen & {"0", "33", "67"}, seen  # the bar was seen before the end
    expect(page.get_by_test_id("active-badge")).to_have_text("0 running", timeout=15000)  # the badge polled down
    expect(page.locator("main")).not_to_contain_text("is queued for OCR")  # the upload's note went with the news
    page.screenshot(path=str(ARTIFACTS / "e2e-2-completed.png"), full_page=True)

    # find it in the history with a file-name filter; the URL keeps the filter
    make_task(User.objects.get(email="ada.lin@example.com"), filename="other-letter.png", status="failed")
    page.get_by_role("link", name="Task History").click()
    expect(page.get_by_test_id("task-row")).to_have_count(2)
    page.wait_for_load_state("load")  # htmx binds the filter's triggers when the page has loaded
    page.get_by_test_id("filter-q").fill("quarterly")
    expect(page.get_by_test_id("task-row")).to_have_count(1)
    expect(page).to_have_url(page.base_url + "/history/?q=quarterly")  # short and shareable
    row = page.get_by_test_id("task-row")
    expect(row.get_by_test_id("row-status")).to_have_text("Completed")
    page.screenshot(path=str(ARTIFACTS / "e2e-3-history-filtered.png"))

    # the back button shows the unfiltered list again, forward the filtered one
    page.go_back()
    expect(page.get_by_test_id("task-row")).to_have_count(2)
    page.go_forward()
    expect(page.get_by_test_id("task-row")).to_have_count(1)
    expect(page.get_by_test_id("filter-q")).to_have_value("quarterly")

    # details in the modal, and the text as a download
    page.get_by_test_id("open-details").click()
    modal = page.get_by_test_id("task-modal")
    expect(modal).to_be_visible()
    expect(modal.get_by_test_id("detail-status")).to_have_text("Completed")
    expect(modal).to_contain_text("tesseract")
    page.screenshot(path=str(ARTIFACTS / "e2e-4-details-modal.png"))
    with page.expect_download() as download_info:
        modal.get_by_test_id("detail-download-txt").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".txt")
    text = Path(download.path()).read_text()
    assert "ASN" in text.upper() and len(text) > 500

    # delete, with confirmation: the row goes, the filter stays, nothing is left
    page.once("dialog", lambda dialog: dialog.accept())
    modal.get_by_test_id("detail-delete").click()
    expect(modal).to_be_hidden()
    expect(page.get_by_test_id("notice")).to_contain_text("deleted")
    expect(page.get_by_test_id("history-no-match")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "e2e-5-deleted.png"))
    assert list(Task.objects.values_list("filename", flat=True)) == ["other-letter.png"]


def test_sorting_page_size_bulk_delete_and_stats(page):
    from playwright.sync_api import expect

    ada = User.objects.get(email="ada.lin@example.com")
    now = timezone.now()
    for i in range(30):
        make_task(ada, filename=f"scan-{i:02d}.png", status=("completed", "failed", "cancelled")[i % 3],
                  created_at=now - timedelta(hours=i * 7), processing_seconds=float(i + 1), page_count=1 + i % 4)
    page.goto(page.base_url + "/history/")
    rows = page.get_by_test_id("task-row")
    expect(rows).to_have_count(25)
    expect(page.get_by_test_id("page-summary")).to_have_text("1–25 of 30")

    page.get_by_test_id("sort-filename").click()
    expect(page).to_have_url(page.base_url + "/history/?ordering=filename")
    expect(rows.first.get_by_test_id("open-details")).to_have_text("scan-00.png")
    page.get_by_test_id("sort-filename").click()
    expect(rows.first.get_by_test_id("open-details")).to_have_text("scan-29.png")
    page.get_by_test_id("page-size").select_option("10")
    expect(rows).to_have_count(10)
    page.get_by_test_id("page-3").click()
    expect(page.get_by_test_id("page-summary")).to_have_text("21–30 of 30")
    expect(rows.first.get_by_test_id("open-details")).to_have_text("scan-09.png")
    page.screenshot(path=str(ARTIFACTS / "e2e-6-sorted-paged.png"))
    page.reload()  # a shared link or a reload shows the same view
    expect(page.get_by_test_id("page-summary")).to_have_text("21–30 of 30")
    expect(rows.first.get_by_test_id("open-details")).to_have_text("scan-09.png")

    page.get_by_test_id("filter-status-failed").check()
    expect(page).to_have_url(re.compile(r"status=failed"))
    expect(rows.get_by_test_id("row-status")).to_have_text(["Failed"] * 10)  # the new rows, not the old page
    page.get_by_test_id("select-all").check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("bulk-delete").click()
    expect(page.get_by_test_id("notice")).to_have_text("10 tasks deleted.")
    expect(page.get_by_test_id("history-no-match")).to_be_visible()
    assert Task.objects.filter(user=ada).count() == 20 and not Task.objects.filter(status="failed").exists()

    page.get_by_test_id("clear-filters-empty").click()
    expect(page.get_by_test_id("page-summary")).to_have_text("1–20 of 20")
    page.locator(".usermenu summary").click()
    expect(page.get_by_test_id("user-brief-stats")).to_contain_text("20 tasks: 10 completed, 0 failed")
    page.get_by_test_id("user-brief-stats").get_by_role("link", name="All statistics").click()
    expect(page.get_by_test_id("stat-total")).to_have_text("20")
    expect(page.get_by_test_id("stat-success-rate")).to_have_text("100.0 %")
    expect(page.get_by_test_id("daily-chart")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "e2e-7-stats.png"), full_page=True)
