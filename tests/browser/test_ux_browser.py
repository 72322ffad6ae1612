"""Issue 14 in Chromium: never silent (failing server by route interception, a row deleted in another
context, timeouts), uploads people can trust (per-file progress, post/redirect/get, big batches),
phones (390×844, no sideways scroll on any page), keyboard paths, axe-core on every page and state,
told when a task finishes (badge, tab title, notification, other tabs), times in the browser's zone.

Screenshots and the axe results per page go to test-artifacts/ (phone-*.png, axe-results.json).
"""

import json
import os
from datetime import datetime, timedelta, timezone as dt_timezone
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from tasks.models import Task, TaskFile
from tests.browser_support import ARTIFACTS, axe_violations, new_page, serious, sign_in_through_the_login_page
from tests.tasks.history_helpers import make_task

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

# db_independent: templates and scripts in Chromium; their queries run on MariaDB in the server-side tests
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.db_independent]

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "tests" / "data" / "pages"
PHONE = {"width": 390, "height": 844}
CJK_NAME = "陳美玲-報告書.png"
TEXT = "ACME Supplies Ltd.\nInvoice 2024-0312\n陳美玲 報告書\nTotal due: 142.50 EUR\n"


@pytest.fixture
def server(live_server, settings):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return live_server.url


def _page(browser, base_url, sign_in=True, **context_args):
    return new_page(browser, base_url, sign_in=sign_in, **{"viewport": {"width": 1280, "height": 900}, **context_args})


def _ada():
    from accounts.models import User

    return User.objects.get(email="ada.lin@example.com")


def _done_task(user, filename=CJK_NAME, minutes_ago=3):
    """A completed task with its text (result.json and result.txt), as the worker leaves it."""
    created = timezone.now() - timedelta(minutes=minutes_ago)
    task = make_task(user, filename=filename, status="completed", created_at=created, with_files=True)
    body = json.dumps({"pages": [{"number": 1, "text": TEXT, "lines": []}]}).encode()
    TaskFile.objects.filter(task=task, kind="result_json").delete()
    tf = TaskFile(task=task, kind="result_json", name=filename.rsplit(".", 1)[0] + ".json",
                  mime_type="application/json", size_bytes=len(body))
    tf.file.save("result.json", ContentFile(body), save=False)
    tf.save()
    return task


def _go(page, path):
    response = page.goto(page.base_url + path)
    page.wait_for_load_state("load")
    return response


# --- axe-core -----------------------------------------------------------------------------------
AXE_RESULTS = {}


def _axe(page, state: str) -> list:
    """Serious and critical axe-core violations of the page as it is now; all results are kept for the report."""
    violations = axe_violations(page)
    AXE_RESULTS[state] = violations
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "axe-results.json").write_text(json.dumps(AXE_RESULTS, indent=1, ensure_ascii=False))
    return serious(violations)


def _walk_every_state(page, check):
    """Visit every page and state and call check(name) on each. The history starts empty."""
    from playwright.sync_api import expect

    ada = _ada()
    _go(page, "/history/")
    expect(page.get_by_test_id("history-empty")).to_be_visible()
    check("history-empty")
    _go(page, "/")
    check("home-empty")

    done = _done_task(ada)
    running = make_task(ada, filename="scan-running.png", status="processing", page_count=3, pages_done=1)
    failed = make_task(ada, filename="contract-scan.pdf", status="failed", with_files=True)
    for i in range(6):
        make_task(ada, filename=f"receipt-{i:03d}-with-a-rather-long-name-from-the-scanner.png", status="completed",
                  created_at=timezone.now() - timedelta(days=i, hours=2), with_files=True)
    _go(page, "/")
    check("home")
    _go(page, f"/tasks/{done.id}/")
    expect(page.get_by_test_id("ocr-text")).to_contain_text("陳美玲")
    check("task-done")
    _go(page, f"/tasks/{running.id}/")
    check("task-running")
    _go(page, f"/tasks/{failed.id}/")
    expect(page.get_by_test_id("task-error")).to_be_visible()
    check("task-failed")
    _go(page, "/history/")
    expect(page.get_by_test_id("task-row")).to_have_count(9)
    check("history")
    _go(page, "/history/?q=nothing-matches-this")
    expect(page.get_by_test_id("history-no-match")).to_be_visible()
    check("history-no-match")
    _go(page, "/history/")
    page.locator(f'tr[data-task-id="{done.id}"]').get_by_test_id("open-details").click()
    expect(page.get_by_test_id("task-modal")).to_be_visible()
    expect(page.get_by_test_id("task-detail")).to_be_visible()
    check("history-modal")
    page.keyboard.press("Escape")
    _go(page, "/history/stats/")
    expect(page.get_by_test_id("daily-chart")).to_be_visible()
    check("statistics")
    _go(page, f"/tasks/{failed.id}/retry/")
    check("confirm-retry")
    _go(page, f"/tasks/{running.id}/cancel/")
    check("confirm-cancel")
    _go(page, f"/tasks/{done.id}/delete/")
    check("confirm-delete")
    response = _go(page, "/tasks/00000000-0000-0000-0000-000000000000/")
    assert response.status == 404
    expect(page.get_by_test_id("error-page")).to_be_visible()
    check("error-404")


def test_axe_finds_nothing_serious_on_any_page_or_state(browser, server):
    from playwright.sync_api import expect

    page = _page(browser, server, sign_in=False)
    problems = {}
    try:
        _go(page, "/login/")
        problems["sign-in"] = _axe(page, "sign-in")
        page.fill("#id_username", "ada.lin@example.com")
        page.get_by_test_id("login-submit").click()  # empty password: the error in place
        expect(page.get_by_test_id("login-error")).to_be_visible()
        problems["sign-in-error"] = _axe(page, "sign-in-error")
        sign_in_through_the_login_page(page, server)
        _walk_every_state(page, lambda name: problems.__setitem__(name, _axe(page, name)))
        _go(page, "/history/")
        page.route("**/history/tasks/*/delete/**", lambda route: route.fulfill(status=500, body="boom"))
        page.on("dialog", lambda dialog: dialog.accept())
        page.get_by_test_id("row-delete").first.click()
        expect(page.get_by_test_id("request-problem")).to_be_visible()
        problems["history-request-failed"] = _axe(page, "history-request-failed")
    finally:
        page.context.close()
    assert {name: found for name, found in problems.items() if found} == {}
    assert len(problems) >= 17


def test_the_axe_check_can_fail(browser, server):
    """The injected axe really reports: a page with an unlabelled field and an image without text fails."""
    page = _page(browser, server, sign_in=False)
    try:
        _go(page, "/login/")
        page.evaluate("""() => { const i = document.createElement('input'); i.type = 'text';
                                document.querySelector('main').append(i, document.createElement('img')); }""")
        found = {v["id"] for v in _axe(page, "self-check (a broken page on purpose)")}
        assert {"label", "image-alt"} <= found
    finally:
        page.context.close()


def test_no_page_scrolls_sideways_on_a_phone(browser, server):
    """390×844: every page and state fits the width; screenshots (with 陳美玲) go to test-artifacts/phone-*.png."""
    page = _page(browser, server, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    wide = {}

    def check(name):
        sizes = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
        if sizes[0] > sizes[1]:
            wide[name] = sizes
        page.screenshot(path=str(ARTIFACTS / f"phone-{name}.png"), full_page=True)

    try:
        page.context.clear_cookies()
        _go(page, "/login/")
        check("sign-in")
        sign_in_through_the_login_page(page, server)
        _walk_every_state(page, check)
        # The history's filters fold into a panel: the first row and its actions are on the first screen.
        _go(page, "/history/")
        assert page.locator("details.filter-panel").evaluate("d => d.open") is False
        row = page.get_by_test_id("task-row").first
        box = row.get_by_test_id("row-delete").bounding_box()
        assert box and box["y"] + box["height"] <= PHONE["height"] and box["x"] + box["width"] <= PHONE["width"]
        page.get_by_test_id("filter-panel").click()
        assert page.locator("details.filter-panel").evaluate("d => d.open") is True
        check("history-filters-open")
        # the column headings are hidden on a phone: the same orders are a list in the panel
        page.get_by_test_id("sort-select").select_option("filename")
        page.wait_for_url("**/history/?ordering=filename")
        from playwright.sync_api import expect
        expect(page.get_by_test_id("task-row").first.get_by_test_id("open-details")).to_have_text("contract-scan.pdf")
        assert page.get_by_test_id("sort-select").input_value() == "filename"
    finally:
        page.context.close()
    assert wide == {}


def test_a_failing_server_is_never_silent_and_try_again_works(browser, server):
    from playwright.sync_api import expect

    page = _page(browser, server)
    try:
        ada = _ada()
        failed = make_task(ada, filename="contract-scan.pdf", status="failed", with_files=True)
        _go(page, "/history/")
        row = page.locator(f'tr[data-task-id="{failed.id}"]')

        # 500: a message that says what failed, and "Try again" that does it
        page.route("**/history/tasks/*/retry/**", lambda route: route.fulfill(status=500, body="Server Error"))
        row.get_by_test_id("row-retry").click()
        problem = page.get_by_test_id("request-problem")
        expect(problem).to_contain_text("“Retry contract-scan.pdf” failed: the server had a problem (error 500).")
        assert page.get_by_test_id("request-problems").get_attribute("aria-live") == "assertive"
        expect(row.get_by_test_id("row-status")).to_have_text("Failed")  # nothing pretended
        page.screenshot(path=str(ARTIFACTS / "ux-request-failed.png"))
        page.unroute("**/history/tasks/*/retry/**")
        page.get_by_test_id("try-again").click()
        expect(page.get_by_test_id("notice")).to_contain_text("queued again")
        expect(problem).to_have_count(0)
        assert Task.objects.get(pk=failed.pk).status == "pending"

        # no answer at all (network error)
        page.route(lambda url: "q=" in url, lambda route: route.abort())
        page.get_by_test_id("filter-q").fill("contract")
        expect(page.get_by_test_id("request-problem")).to_contain_text("could not be reached")
        page.unroute(lambda url: "q=" in url)

        # a slow answer: the indicator after a short delay, then the timeout message
        held = []
        page.route(lambda url: "q=" in url, lambda route: held.append(route))
        page.evaluate("() => { htmx.config.timeout = 1500; }")
        page.get_by_test_id("filter-q").fill("contrac")
        expect(page.get_by_test_id("busy-indicator")).to_contain_text("Working…")
        expect(page.get_by_test_id("request-problem")).to_contain_text("took too long", timeout=5000)
        expect(page.get_by_test_id("busy-indicator")).to_be_hidden()
        for route in held:
            try:
                route.abort()
            except Exception:  # noqa: BLE001 - the browser gave up on it already
                pass
    finally:
        page.context.close()


def test_a_row_deleted_in_another_context_disappears_with_a_note(browser, server):
    from playwright.sync_api import expect

    page = _page(browser, server)
    other = _page(browser, server)  # another browser context: another tab or device of the same person
    try:
        ada = _ada()
        first = make_task(ada, filename="first.png", status="failed", with_files=True)
        second = make_task(ada, filename="second.png", status="completed", with_files=True)
        running = make_task(ada, filename="running.png", status="processing")
        _go(page, "/history/")
        expect(page.get_by_test_id("task-row")).to_have_count(3)

        _go(other, "/history/")
        other.on("dialog", lambda dialog: dialog.accept())
        other.locator(f'tr[data-task-id="{first.id}"]').get_by_test_id("row-delete").click()
        expect(other.get_by_test_id("notice")).to_contain_text("deleted")

        page.locator(f'tr[data-task-id="{first.id}"]').get_by_test_id("row-retry").click()
        expect(page.locator(f'tr[data-task-id="{first.id}"]')).to_have_count(0)
        expect(page.get_by_test_id("request-note")).to_contain_text("“first.png” no longer exists")

        # the details modal of a task deleted elsewhere: the modal closes, the row goes
        Task.objects.filter(pk=second.pk).delete()
        page.locator(f'tr[data-task-id="{second.id}"]').get_by_test_id("open-details").click()
        expect(page.locator(f'tr[data-task-id="{second.id}"]')).to_have_count(0)
        expect(page.get_by_test_id("request-note")).to_contain_text("“second.png” no longer exists")
        expect(page.get_by_test_id("task-modal")).to_be_hidden()

        # a polled row (the task runs) that is deleted goes by itself
        Task.objects.filter(pk=running.pk).delete()
        expect(page.locator(f'tr[data-task-id="{running.id}"]')).to_have_count(0, timeout=10000)

        # the task page of a task deleted elsewhere says so instead of polling on in silence
        waiting = make_task(ada, filename="waiting.png", status="pending")
        _go(page, f"/tasks/{waiting.id}/")
        Task.objects.filter(pk=waiting.pk).delete()
        expect(page.get_by_test_id("task-gone")).to_be_visible(timeout=10000)
        # its way back is the header's link to the upload page (under the script prefix behind a proxy)
        assert page.get_by_test_id("task-gone").locator("a").get_attribute("href") == "/"
        page.evaluate("document.querySelector('.topbar .brand').setAttribute('href', '/ocr/')")
        again = make_task(ada, filename="again.png", status="pending")
        _go(page, f"/tasks/{again.id}/")
        page.evaluate("document.querySelector('.topbar .brand').setAttribute('href', '/ocr/')")
        Task.objects.filter(pk=again.pk).delete()
        expect(page.get_by_test_id("task-gone").locator("a")).to_have_attribute("href", "/ocr/", timeout=10000)
    finally:
        page.context.close()
        other.context.close()


def test_keyboard_only_skip_link_sorting_and_the_modal(browser, server):
    from playwright.sync_api import expect

    page = _page(browser, server)
    try:
        ada = _ada()
        for name in ("b.png", "a.png", "c.png"):
            make_task(ada, filename=name, status="completed", with_files=True)
        _go(page, "/history/")
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.textContent") == "Skip to main content"
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.id") == "main"

        # sort by the keyboard: the focus stays on the column's link after the list is swapped
        page.get_by_test_id("sort-filename").focus()
        page.keyboard.press("Enter")
        expect(page).to_have_url(page.base_url + "/history/?ordering=filename")
        expect(page.get_by_test_id("task-row").first).to_contain_text("a.png")
        expect(page.locator(":focus")).to_have_attribute("data-testid", "sort-filename")
        page.keyboard.press("Enter")  # and once more, still by keyboard
        expect(page).to_have_url(page.base_url + "/history/?ordering=-filename")
        expect(page.locator(":focus")).to_have_attribute("data-testid", "sort-filename")
        # "Rows per page" is swapped out of band: the focus stays on it too
        page.get_by_test_id("page-size").focus()
        page.get_by_test_id("page-size").select_option("10")
        expect(page).to_have_url(page.base_url + "/history/?ordering=-filename&page_size=10")
        expect(page.locator(":focus")).to_have_attribute("data-testid", "page-size")

        # the modal: opened by keyboard, focus inside, Tab stays inside, Esc closes, focus back on the opener
        opener = page.get_by_test_id("open-details").first
        opener.focus()
        page.keyboard.press("Enter")
        dialog = page.get_by_test_id("task-modal")
        expect(dialog).to_be_visible()
        expect(page.get_by_test_id("task-detail")).to_be_visible()
        for _ in range(12):
            page.keyboard.press("Tab")
            assert page.evaluate("() => document.getElementById('task-modal').contains(document.activeElement)")
        page.keyboard.press("Shift+Tab")
        assert page.evaluate("() => document.getElementById('task-modal').contains(document.activeElement)")
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        assert page.evaluate("() => document.activeElement.getAttribute('data-testid')") == "open-details"
    finally:
        page.context.close()


NOTIFICATION_SPY = """
window.__notifications = [];
const RealNotification = window.Notification;
window.Notification = class extends RealNotification {
  constructor(title, options) { super(title, options); window.__notifications.push(title); }
};
"""


def test_told_when_a_task_finishes_badge_title_notification_and_other_tabs(browser, server):
    from playwright.sync_api import expect

    page = _page(browser, server, permissions=["notifications"])
    page.context.add_init_script(NOTIFICATION_SPY)
    try:
        ada = _ada()
        other = page.context.new_page()  # a second Tool OCR tab, opened while nothing runs
        other.goto(server + "/history/stats/")
        expect(other.get_by_test_id("active-badge")).to_have_text("0 running")

        task = make_task(ada, filename=CJK_NAME, status="processing")
        _go(page, "/")
        expect(page.get_by_test_id("active-badge")).to_have_text("1 running")
        assert page.get_by_test_id("active-badge").get_attribute("aria-label") == "1 task running or waiting"
        expect(page).to_have_title("(1 running) Upload · Tool OCR")
        expect(other.get_by_test_id("active-badge")).to_have_text("1 running")  # told by the first tab
        expect(other).to_have_title("(1 running) Statistics · Tool OCR")

        page.get_by_test_id("user-name").click()
        toggle = page.get_by_test_id("notify-toggle")
        expect(toggle).to_have_text("Tell me when a task finishes")
        toggle.click()
        expect(toggle).to_have_text("Stop telling me when a task finishes")
        page.mouse.click(5, 300)  # an outside click closes the user menu
        expect(page.get_by_test_id("user-menu")).to_be_hidden()
        other.evaluate("() => Object.defineProperty(document, 'hidden', {get: () => true})")  # a tab in the background

        Task.objects.filter(pk=task.pk).update(status="completed", pages_done=1, completed_at=timezone.now())
        expect(page.get_by_test_id("active-badge")).to_have_text("0 running", timeout=10000)
        expect(page).to_have_title("Upload · Tool OCR")
        expect(page.get_by_test_id("recent-status")).to_have_text("Completed", timeout=10000)  # the home list too
        expect(other).to_have_title(f"✓ {CJK_NAME} · Statistics · Tool OCR", timeout=10000)
        notes = page.evaluate("() => window.__notifications") + other.evaluate("() => window.__notifications")
        assert f"Tool OCR: “{CJK_NAME}” is done." in notes
        page.screenshot(path=str(ARTIFACTS / "ux-told-when-done.png"))
    finally:
        page.context.close()


def _png(path: Path, text_width=60) -> Path:
    Image.new("RGB", (text_width, 30), "white").save(path, "PNG")
    return path


UPLOAD_SPY = """
(() => {
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (body) {
    const log = {progress_events: 0, bars: null, status: "", answered_after_sent: false};
    let sent = false;
    this.upload.addEventListener("progress", () => { log.progress_events += 1; });
    this.upload.addEventListener("load", () => {  // after the page's own listener: the bars as shown
      sent = true;
      log.bars = [...document.querySelectorAll("[data-testid=file-progress]")].map(b => [b.value, b.max]);
      log.status = document.getElementById("upload-status").textContent;
    });
    this.addEventListener("readystatechange", () => {
      if (this.readyState === 2) { log.answered_after_sent = sent; }
      sessionStorage.setItem("upload-log", JSON.stringify(log));
    });
    return send.call(this, body);
  };
})();
"""


def test_upload_shows_progress_per_file_then_redirects_and_a_reload_sends_nothing(browser, server, tmp_path):
    from playwright.sync_api import expect

    page = _page(browser, server)
    page.context.add_init_script(UPLOAD_SPY)
    try:
        files = [str(PAGES / "libtasn1_p13.png"), str(PAGES / "libtasn1_p22.png"), str(PAGES / "mime_spec_p8.png")]
        _go(page, "/")
        page.set_input_files("input[type=file][name=files]", files)
        expect(page.get_by_test_id("chosen-file")).to_have_count(3)
        page.get_by_test_id("upload-submit").click()
        expect(page.get_by_test_id("upload-accepted").locator("li")).to_have_count(3)
        # What the page showed while the bytes went, before the answer (recorded by UPLOAD_SPY)
        log = json.loads(page.evaluate("() => sessionStorage.getItem('upload-log')"))
        sizes = [Path(f).stat().st_size for f in files]
        assert log["bars"] == [[size, size] for size in sizes]  # one bar per file, each full
        assert log["status"].startswith("Sent. Checking the files")
        assert log["progress_events"] >= 1 and log["answered_after_sent"] is True
        expect(page.get_by_test_id("upload-accepted").locator("li")).to_have_count(3)
        assert [t.filename for t in Task.objects.order_by("created_at")] == [Path(f).name for f in files]
        page.reload()
        page.wait_for_load_state("load")
        expect(page.get_by_test_id("upload-accepted")).to_have_count(0)
        assert Task.objects.count() == 3  # the reload sent nothing

        # 30 files at once: all queued, in the order chosen
        many = [str(_png(tmp_path / f"batch-{i:02d}.png")) for i in range(30)]
        page.set_input_files("input[type=file][name=files]", many)
        page.get_by_test_id("upload-submit").click()
        expect(page.get_by_test_id("upload-accepted").locator("li")).to_have_count(30, timeout=60000)
        names = page.get_by_test_id("upload-accepted").locator("li a").all_inner_texts()
        assert names == [Path(f).name for f in many]
    finally:
        page.context.close()


def test_times_are_shown_in_the_browsers_zone_with_the_zone_named(browser, server, settings):
    from playwright.sync_api import expect

    settings.TIME_ZONE = "UTC"
    page = _page(browser, server, timezone_id="Asia/Taipei")
    try:
        make_task(_ada(), filename="t.png", created_at=datetime(2026, 3, 12, 13, 5, tzinfo=dt_timezone.utc))
        _go(page, "/history/")
        cell = page.get_by_test_id("task-row").locator("td.created time")
        expect(cell).to_have_text("2026-03-12 21:05 GMT+8")
        assert cell.get_attribute("title") == "Time zone: Asia/Taipei"
        assert page.get_by_test_id("filter-from").get_attribute("placeholder") == "YYYY-MM-DD"
    finally:
        page.context.close()


def test_debug_mode_keeps_the_sign_in_page_on_an_empty_password(browser, server, settings):
    from playwright.sync_api import expect

    settings.DEBUG = True
    page = _page(browser, server, sign_in=False)
    try:
        _go(page, "/login/")
        page.fill("#id_username", "ada.lin@example.com")
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("login-error")).to_be_visible()
        expect(page.locator("#login-form")).to_be_visible()  # the page is still there, not a fragment
        expect(page.locator("header.topbar")).to_be_visible()
    finally:
        page.context.close()
