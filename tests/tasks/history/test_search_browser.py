"""Search inside the text and "Run again with…" in Chromium, as a user meets them."""

import os

import pytest

from accounts.models import User
from tasks.models import Task
from tests.browser_support import new_page
from tests.tasks.history.test_search import completed

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser, live_server, settings):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    page = new_page(browser, live_server.url, timeout=20000)
    yield page
    page.context.close()


def test_search_box_finds_the_text_shows_the_snippet_and_the_task_runs_again(page):
    from playwright.sync_api import expect

    user = User.objects.get(email="ada.lin@example.com")
    task = completed(user, "Minutes of the meeting. <b>Zephyrine</b> budget approved by 陳美玲.", filename="minutes.png")
    completed(user, "Another page about the canteen.", filename="canteen.png")

    page.goto(page.base_url + "/history/")
    page.get_by_test_id("filter-q").fill("zephyr")
    snippet = page.get_by_test_id("snippet")
    expect(snippet).to_have_count(1)
    expect(snippet).to_contain_text("<b>Zephyrine</b> budget")  # the text's markup shown as text
    expect(snippet.locator("mark")).to_have_text("Zephyrine")
    page.get_by_test_id("filter-q").fill("美玲")
    expect(page.get_by_test_id("snippet").locator("mark")).to_have_text("美玲")

    page.goto(f"{page.base_url}/tasks/{task.id}/")
    page.get_by_text("Run again with…").click()
    page.locator("input[name=engine][value=tesseract]").check()
    page.get_by_test_id("run-again-submit").click()
    expect(page.get_by_test_id("task-status")).to_have_text("Pending")
    expect(page.get_by_test_id("earlier-results")).to_be_visible()
    expect(page.get_by_test_id("downloads")).to_contain_text("Text")
    task.refresh_from_db()
    assert (task.status, task.engine, task.retry_count) == (Task.Status.PENDING, "tesseract", 1)
