"""The page beside its text in Chromium: a real page read by Tesseract through the worker; the page image
with the lines drawn over it, the toggle, pointing at a line on either side highlights the other, the
low-confidence marks, "Copy text" per page and for the whole document, one continuous text, axe."""

import json
import os

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from tasks.models import TaskFile
from tasks.web.page_view import LOW_CONFIDENCE
from tests import pagegen
from tests.browser_support import ARTIFACTS, axe_violations, new_page, serious, sign_in_through_the_login_page
from tests.tasks.pipeline_helpers import PAGES, run_worker, task_create

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

# db_independent: the page view in Chromium; its server side runs on MariaDB in test_page_view
pytestmark = [pytest.mark.browser, pytest.mark.ocr, pytest.mark.django_db(transaction=True),
              pytest.mark.db_independent]



def _two_page_tiff() -> bytes:
    import io

    from PIL import Image

    letter, _truth = pagegen.text_page()
    second = Image.open(PAGES / "libtasn1_p13.png").convert("L")
    buf = io.BytesIO()
    letter.convert("L").save(buf, "TIFF", save_all=True, append_images=[second], compression="tiff_deflate")
    return buf.getvalue()


def test_page_overlay_toggle_hover_and_copy(browser, live_server, settings):
    from playwright.sync_api import expect

    from accounts.models import User

    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    page = new_page(browser, live_server.url, sign_in=False, timeout=20000, viewport={"width": 1400, "height": 1000})
    context = page.context
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    try:
        sign_in_through_the_login_page(page, live_server.url)
        ada = User.objects.get(email="ada.lin@example.com")
        task = task_create(user=ada, uploaded_file=SimpleUploadedFile("two-pages.tiff", _two_page_tiff()),
                                    engine="tesseract")
        run_worker()
        task.refresh_from_db()
        assert task.status == "completed", task.error_message
        with default_storage.open(task.files.get(kind=TaskFile.Kind.RESULT_JSON).file.name) as fh:
            result = json.load(fh)

        page.goto(f"{live_server.url}/tasks/{task.id}/")
        expect(page.get_by_test_id("ocr-page")).to_have_count(2)
        images = page.get_by_test_id("page-image")
        expect(images).to_have_count(2)
        for i in range(2):
            images.nth(i).scroll_into_view_if_needed()
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=images.nth(i).element_handle())
        first = page.locator('[data-testid="ocr-page"][data-page="1"]')
        polygons, spans = first.locator("polygon[data-line]"), first.locator("span.ocr-line[data-line]")
        lines = [l for l in result["pages"][0]["lines"] if l["text"].strip()]
        expect(polygons).to_have_count(len(lines))
        expect(spans).to_have_count(len(lines))
        low = sum(1 for l in result["pages"][0]["lines"] if l["text"].strip() and l["confidence"] < LOW_CONFIDENCE)
        expect(first.locator("mark.low-conf")).to_have_count(low)
        expect(first.locator("polygon.low-conf")).to_have_count(low)

        # The overlay covers the image exactly (same box on screen).
        img_box = first.get_by_test_id("page-image").bounding_box()
        svg_box = first.get_by_test_id("page-lines").bounding_box()
        assert all(abs(img_box[k] - svg_box[k]) < 1.5 for k in ("x", "y", "width", "height")), (img_box, svg_box)

        # Pointing at a line on the page highlights its text, and back.
        target = polygons.nth(min(3, len(lines) - 1))
        line_id = target.get_attribute("data-line")
        target.hover()
        expect(first.locator(f'span[data-line="{line_id}"]')).to_have_class("ocr-line hl")
        page.mouse.move(1, 1)
        expect(first.locator(f'span[data-line="{line_id}"]')).not_to_have_class("ocr-line hl")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "task-page-overlay.png"))
        other = spans.nth(0)
        other_id = other.get_attribute("data-line")
        other.hover()
        expect(first.locator(f'polygon[data-line="{other_id}"]')).to_have_class("hl")
        page.mouse.move(1, 1)

        # The toggle hides and shows the drawn lines.
        toggle = page.get_by_test_id("lines-toggle")
        toggle.uncheck()
        expect(first.get_by_test_id("page-lines")).to_be_hidden()
        toggle.check()
        expect(first.get_by_test_id("page-lines")).to_be_visible()

        # One continuous text: no scroll box, no cap on its height.
        for box in page.get_by_test_id("page-text").element_handles():
            style = box.evaluate("el => [getComputedStyle(el).overflowY, getComputedStyle(el).maxHeight,"
                                 " el.scrollHeight - el.clientHeight]")
            assert style[0] == "visible" and style[1] == "none" and style[2] <= 1, style

        # Copy text of a page, and of the whole document.
        texts = [p["text"] for p in result["pages"]]
        page.locator('[data-testid="ocr-page"][data-page="2"]').get_by_test_id("copy-page").click()
        expect(page.locator('[data-testid="ocr-page"][data-page="2"]').get_by_test_id("copy-page")).to_contain_text("Copied")
        assert page.evaluate("() => navigator.clipboard.readText()") == texts[1] and texts[1]
        page.get_by_test_id("copy-all").click()
        expect(page.get_by_test_id("copy-all")).to_have_text("Copied")
        assert page.evaluate("() => navigator.clipboard.readText()") == "\n\n".join(texts)
        assert "Riverside warehouse" in texts[0]

        # axe: nothing serious or critical on the task page with its pages drawn.
        assert serious(axe_violations(page)) == []

        # On a phone the page and its text stack, and nothing scrolls sideways.
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        expect(page.get_by_test_id("page-image")).to_have_count(2)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        image_box = first.get_by_test_id("page-image").bounding_box()
        assert image_box["height"] > 300  # its place is kept (width and height) before it has loaded
        text_box = first.get_by_test_id("page-text").bounding_box()
        assert text_box["y"] >= image_box["y"] + image_box["height"] - 1  # below the image, not beside it
        page.screenshot(path=str(ARTIFACTS / "phone-task-page-overlay.png"), full_page=False)
    finally:
        context.close()
