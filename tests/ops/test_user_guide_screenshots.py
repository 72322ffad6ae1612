"""Screenshots for docs/user-guide.md, taken from the real pages in Chromium after a real sign-in.

The suite takes them into test-artifacts/ only; `make screenshots` (UPDATE_SCREENSHOTS=1) also
rewrites docs/images/, which are committed with the guide, so an ordinary test run changes no
tracked file. The task names include 陳美玲 (Debian's fonts-noto-cjk draws them).
"""

import json
import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from tests.browser_support import ARTIFACTS

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"
# db_independent: screenshots of the pages
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.db_independent]

SAMPLE_TEXT = ("ACME Supplies Ltd.\nInvoice 2024-0312\n\nDate: 12 March 2024\nBill to: Example Corp, 1 Main Street\n\n"
               "2 x Toner cartridge ........ 118.00\n1 x A4 paper, 5 reams ....... 24.50\n\nTotal due: 142.50 EUR\n")


def _task(user, filename, status, minutes_ago, text=None, pages=1):
    from tasks.models import Task, TaskFile

    created = timezone.now() - timedelta(minutes=minutes_ago)
    task = Task.objects.create(user=user, filename=filename, status=status, engine="easyocr", mime_type="image/png",
                               size_bytes=184_320, page_count=pages, pages_done=pages if status == "completed" else 0,
                               created_at=created, started_at=created, heartbeat_at=created,
                               completed_at=created + timedelta(seconds=31) if status != "pending" else None,
                               processing_seconds=31.4 if status == "completed" else None,
                               error_code="processing_error" if status == "failed" else "",
                               error_message="OCR failed: the page could not be read." if status == "failed" else "")
    original = TaskFile(task=task, kind="original", name=filename, mime_type="image/png", size_bytes=184_320)
    original.file.save("original.png", ContentFile(b"\x89PNG"), save=False)
    original.save()
    if text is not None:
        result = {"task_id": str(task.pk), "engine": "easyocr", "language": "en",
                  "pages": [{"number": 1, "width": 1240, "height": 1754, "text": text, "lines": []}]}
        for kind, name, mime, body in (("result_txt", "result.txt", "text/plain; charset=utf-8", text.encode()),
                                       ("result_json", "result.json", "application/json", json.dumps(result).encode())):
            tf = TaskFile(task=task, kind=kind, name=filename.rsplit(".", 1)[0] + name[6:], mime_type=mime,
                          size_bytes=len(body))
            tf.file.save(name, ContentFile(body), save=False)
            tf.save()
    return task


def _shot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"user-guide-{name}.png"
    page.screenshot(path=str(path), full_page=False)
    assert path.stat().st_size > 5_000  # a real rendering, not an empty page
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":  # `make screenshots`
        IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, IMAGES / f"{name}.png")
    return path


def test_user_guide_screenshots(live_server, dev_auth_api, browser):
    from accounts.models import User

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", "ada.lin@example.com")
        page.fill("input[name=password]", "demo-password")
        _shot(page, "login")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

        user = User.objects.get(email="ada.lin@example.com")
        done = _task(user, "invoice-2024-0312.png", "completed", 3, text=SAMPLE_TEXT)
        _task(user, "陳美玲-meeting-notes.jpg", "completed", 50, text="Notes\n")
        _task(user, "contract-scan.pdf", "failed", 120, pages=4)
        _task(user, "receipt-0457.png", "pending", 1)
        page.goto(f"{live_server.url}/")
        page.wait_for_load_state("networkidle")
        assert "Ada" in page.content()  # the header shows the name
        _shot(page, "home")

        page.goto(f"{live_server.url}/tasks/{done.pk}/")
        page.wait_for_load_state("networkidle")
        assert "Total due: 142.50 EUR" in page.content()
        _shot(page, "task")

        response = page.goto(f"{live_server.url}/history/")
        assert response is not None and response.status == 200
        page.wait_for_load_state("networkidle")
        assert "invoice-2024-0312.png" in page.content()
        _shot(page, "history")
    finally:
        page.context.close()
