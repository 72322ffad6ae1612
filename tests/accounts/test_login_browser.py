"""The login page in Chromium: loading state while the API is slow, errors, retry, success."""

import os

import pytest

from tests.browser_support import ARTIFACTS, new_page

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

# db_independent: the sign-in pages in Chromium; sign-in's queries run on MariaDB in tests/accounts
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.db_independent]


@pytest.fixture
def page(browser, live_server, settings):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    page = new_page(browser, live_server.url, sign_in=False)
    yield page
    page.context.close()


def _fill(page, username, password):
    page.goto(page.base_url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)


def test_loading_state_then_the_name_in_the_header(page, dev_auth_api):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    dev_auth_api.configure(delay_seconds=1.5)
    _fill(page, "chen.meiling@example.com", "demo-password")
    loading = page.get_by_test_id("login-loading")
    expect(loading).to_be_hidden()
    page.get_by_test_id("login-submit").click()
    expect(loading).to_be_visible()
    expect(page.get_by_test_id("login-submit")).to_be_disabled()
    page.screenshot(path=str(ARTIFACTS / "login-loading.png"))
    expect(page.get_by_test_id("user-name")).to_have_text("陳美玲")
    assert page.url.rstrip("/") == page.base_url.rstrip("/")
    page.locator(".usermenu summary").click()
    expect(page.get_by_test_id("user-email")).to_have_text("chen.meiling@example.com")
    expect(page.get_by_test_id("user-job-title")).to_have_text("品質工程師")
    expect(page.get_by_test_id("user-office")).to_have_text("台北")
    page.screenshot(path=str(ARTIFACTS / "login-success-menu.png"))
    page.get_by_test_id("sign-out").click()
    expect(page.locator("#login-form")).to_be_visible()


def test_wrong_password_shows_an_error_and_keeps_the_form(page):
    from playwright.sync_api import expect

    _fill(page, "ada.lin@example.com", "not-the-password")
    page.get_by_test_id("login-submit").click()
    error = page.get_by_test_id("login-error")
    expect(error).to_contain_text("The email or password is not correct.")
    expect(error).to_contain_text("Check your company email and password")
    expect(page.get_by_test_id("login-retry")).to_have_count(0)
    expect(page.get_by_test_id("login-loading")).to_be_hidden()
    expect(page.get_by_test_id("login-submit")).to_be_enabled()
    assert page.input_value("#id_username") == "ada.lin@example.com"
    page.screenshot(path=str(ARTIFACTS / "login-wrong-password.png"))


def test_service_unavailable_offers_try_again_which_then_succeeds(page, dev_auth_api):
    from playwright.sync_api import expect

    dev_auth_api.configure(fail_mode="503")
    _fill(page, "ada.lin@example.com", "demo-password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("The sign-in service is unavailable. Try again")
    retry = page.get_by_test_id("login-retry")
    expect(retry).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "login-unavailable.png"))
    dev_auth_api.configure(fail_mode=None)
    retry.click()  # the password is still in the form
    expect(page.get_by_test_id("user-name")).to_have_text("Ada Lin")
