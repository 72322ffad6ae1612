"""The pages work under the Content-Security-Policy: a real sign-in, an upload, the task page polling,
history with its HTMX interactions (filter, sort, modal, row and bulk actions), statistics and the API
docs in Chromium, with no CSP violation, no script error and no request to another site."""

import os

import pytest

from accounts.models import User
from tests.browser_support import ARTIFACTS
from tests.tasks.history_helpers import make_task, png_bytes

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

# db_independent: the browser's CSP enforcement
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.db_independent]

# Runs before any page script (Playwright injects it outside the page's CSP) and keeps every violation.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sourceFile || "") + ":" + e.lineNumber);
});
"""


@pytest.fixture
def watched(browser, live_server, settings):
    """A page plus what went wrong on it: CSP messages, script errors, requests to other origins."""
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    context = browser.new_context()
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15000)
    problems = {"console": [], "errors": [], "foreign": [], "csp": []}
    page.on("console", lambda m: problems["console"].append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems["errors"].append(str(e)))
    page.on("request", lambda r: problems["foreign"].append(r.url)
            if not r.url.startswith((live_server.url, "data:", "blob:", "about:")) else None)
    page.base_url = live_server.url
    yield page, problems
    context.close()


def _collect(page, problems):
    problems["csp"] += page.evaluate("window.__csp || []")


def _htmx_answer(page, fragment: str):
    return page.expect_response(lambda r: fragment in r.url and r.request.headers.get("hx-request") == "true")


def test_every_page_and_htmx_interaction_works_under_the_csp(watched, tmp_path):
    from playwright.sync_api import expect

    page, problems = watched
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = page.base_url

    page.goto(base + "/login/")
    page.fill("#id_username", "ada.lin@example.com")
    page.fill("#id_password", "demo-password")
    page.get_by_test_id("login-submit").click()  # an HTMX post; the answer sends the browser home
    expect(page.get_by_test_id("user-name")).to_have_text("Ada Lin")
    _collect(page, problems)

    ada = User.objects.get(email="ada.lin@example.com")
    done = make_task(ada, filename="done-report.png", status="completed", with_files=True)
    make_task(ada, filename="failed-scan.png", status="failed")
    make_task(ada, filename="cancelled-letter.png", status="cancelled")

    scan = tmp_path / "scan.png"
    scan.write_bytes(png_bytes((300, 120)))
    page.goto(base + "/")
    page.set_input_files("#upload-form input[type=file]", str(scan))
    page.locator("#upload-form button[type=submit]").click()
    page.wait_for_url("**/tasks/*/")
    with _htmx_answer(page, "/tasks/"):  # the status part polls every 2 s while the task waits
        pass
    page.screenshot(path=str(ARTIFACTS / "csp-task-page.png"))
    _collect(page, problems)

    page.goto(base + f"/tasks/{done.id}/")
    expect(page.locator("h1")).to_have_text("done-report.png")
    _collect(page, problems)

    page.goto(base + "/history/")
    with _htmx_answer(page, "/history/"):
        page.get_by_test_id("filter-q").fill("report")
    expect(page.get_by_test_id("task-row")).to_have_count(1)
    with _htmx_answer(page, "/history/"):
        page.get_by_test_id("filter-q").fill("")
    with _htmx_answer(page, "/history/"):
        page.get_by_test_id("sort-filename").click()
    with _htmx_answer(page, f"/history/tasks/{done.id}/"):
        page.locator(f'[data-task-id="{done.id}"] [data-testid=open-details]').click()
    expect(page.get_by_test_id("task-modal")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "csp-history-modal.png"))
    page.get_by_test_id("modal-close").click()
    with _htmx_answer(page, "/retry/"):
        page.locator('tr:has-text("failed-scan.png") [data-testid=row-retry]').click()
    expect(page.get_by_test_id("notice")).to_contain_text("queued again")
    page.locator('tr:has-text("cancelled-letter.png") [data-testid=select-task]').check()
    with _htmx_answer(page, "/history/bulk/"):
        page.get_by_test_id("bulk-retry").click()
    expect(page.get_by_test_id("notice")).to_contain_text("1 task queued again.")
    page.locator(".usermenu summary").click()  # the brief statistics load when the menu opens
    expect(page.locator("#user-brief-stats")).not_to_contain_text("Your statistics", timeout=10000)
    page.screenshot(path=str(ARTIFACTS / "csp-history.png"))
    _collect(page, problems)

    page.goto(base + "/history/stats/")
    expect(page.locator("svg").first).to_be_visible()
    _collect(page, problems)

    page.goto(base + "/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Tool OCR API")
    page.screenshot(path=str(ARTIFACTS / "csp-api-docs.png"))
    _collect(page, problems)

    csp_messages = [m for m in problems["console"] if "Content Security Policy" in m or "Content-Security-Policy" in m]
    assert csp_messages == [] and problems["csp"] == [], (csp_messages, problems["csp"])
    assert problems["errors"] == [], problems["errors"]
    assert problems["foreign"] == [], problems["foreign"]
