"""The upload and task pages in Chromium: files dropped on "/", a refusal per file, live progress that stops."""

import base64
import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tasks.models import Task
from tests.browser_support import ARTIFACTS, new_page
from tests.tasks.pipeline_helpers import CORPUS, PAGES, run_worker

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

# db_independent: drag and drop in Chromium; uploads run on MariaDB in intake/
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.db_independent]


DROP = """([files]) => {
  const transfer = new DataTransfer();
  for (const f of files) {
    const bytes = Uint8Array.from(atob(f.data), c => c.charCodeAt(0));
    transfer.items.add(new File([bytes], f.name, {type: f.type}));
  }
  const zone = document.getElementById("dropzone");
  zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: transfer, bubbles: true, cancelable: true}));
  zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
}"""


@pytest.fixture
def page(browser, live_server, settings):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    page = new_page(browser, live_server.url, timeout=20000)
    yield page
    page.context.close()


def _file(path: Path, mime: str) -> dict:
    return {"name": path.name, "type": mime, "data": base64.b64encode(path.read_bytes()).decode()}


def test_dropped_files_are_uploaded_and_the_task_page_follows_the_worker(page, fake_engine):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(page.base_url + "/")
    page.evaluate(DROP, [[_file(PAGES / "libtasn1_p13.png", "image/png"), _file(CORPUS / "notes.txt", "text/plain")]])
    expect(page.locator("#dropzone-list li")).to_have_count(2)
    expect(page.locator("#dropzone-list")).to_contain_text("libtasn1_p13.png")
    expect(page.locator(f"input[name=engine][value={django_settings.OCR_ENGINE}]")).to_be_checked()  # the default
    page.screenshot(path=str(ARTIFACTS / "upload-dropped.png"))
    page.get_by_role("button", name="Upload and read").click()

    # All or nothing: the refused file is named and no file of that upload was kept.
    expect(page.get_by_test_id("upload-error")).to_contain_text("notes.txt: This type of file is not supported")
    expect(page.get_by_test_id("upload-results")).to_contain_text("nothing of this upload was kept")
    assert not Task.objects.exists()
    page.evaluate(DROP, [[_file(PAGES / "libtasn1_p13.png", "image/png")]])
    expect(page.locator("#dropzone-list li")).to_have_count(1)
    page.get_by_role("button", name="Upload and read").click()
    expect(page.get_by_test_id("task-status")).to_have_text("Pending")  # one file: straight to its task
    page.screenshot(path=str(ARTIFACTS / "upload-results.png"))
    task = Task.objects.get()
    assert task.filename == "libtasn1_p13.png" and task.status == "pending"
    assert page.locator("#task-status").get_attribute("hx-trigger") == "every 2s"

    run_worker()  # the worker finishes while the page is open
    expect(page.get_by_test_id("task-status")).to_have_text("Completed", timeout=20000)
    expect(page.get_by_test_id("ocr-text")).to_contain_text("page1 size")
    assert page.locator("#task-status").get_attribute("hx-get") is None  # polling stopped
    expect(page.get_by_test_id("downloads")).to_contain_text("Searchable PDF")
    page.screenshot(path=str(ARTIFACTS / "task-completed.png"), full_page=True)

    page.get_by_role("link", name="Delete…").click()
    page.get_by_role("button", name="Delete").click()
    expect(page.locator(".messages")).to_contain_text("and its files are deleted")
    assert not Task.objects.exists()
