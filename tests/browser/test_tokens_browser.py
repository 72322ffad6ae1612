"""The personal API tokens page in Chromium: create (shown once, Copy), use it from a script, revoke with a
confirm; axe-core finds nothing serious or critical on the page (empty, just created, listed) or the confirm."""

import os

import pytest
import requests

from tests.browser_support import axe_violations, new_page, serious, sign_in_through_the_login_page

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

# db_independent: the tokens page in Chromium; tokens' queries run on MariaDB in tests/accounts
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.db_independent]


def _serious_axe_violations(page) -> list:
    return serious(axe_violations(page))


def test_tokens_page_create_copy_use_revoke(browser, live_server, settings):
    from playwright.sync_api import expect

    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    page = new_page(browser, live_server.url, sign_in=False, viewport={"width": 1280, "height": 900})
    context = page.context
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    try:
        sign_in_through_the_login_page(page, live_server.url)
        page.get_by_test_id("user-name").click()
        page.get_by_test_id("tokens-link").click()
        expect(page.get_by_test_id("no-tokens")).to_be_visible()
        problems = {"tokens-empty": _serious_axe_violations(page)}

        page.get_by_test_id("token-name").fill("nightly import")
        page.get_by_test_id("token-expiry").select_option("30")
        page.get_by_test_id("token-create").click()
        expect(page.get_by_test_id("token-created")).to_contain_text("shown only this once")
        plain = page.get_by_test_id("token-value").input_value()
        assert plain.startswith("tocr_")
        expect(page.get_by_test_id("token-row")).to_have_count(1)
        problems["tokens-created"] = _serious_axe_violations(page)
        page.get_by_test_id("token-copy").click()
        expect(page.get_by_test_id("token-copy")).to_have_text("Copied")
        assert page.evaluate("() => navigator.clipboard.readText()") == plain

        # A script uses it; the page then says when it was last used.
        me = requests.get(live_server.url + "/api/v1/me", headers={"Authorization": f"Bearer {plain}"}, timeout=30)
        assert me.status_code == 200 and me.json()["email"] == "ada.lin@example.com"
        page.goto(live_server.url + "/account/tokens/")
        expect(page.get_by_test_id("token-value")).to_have_count(0)  # shown once only
        expect(page.get_by_test_id("token-row")).not_to_contain_text("not yet")
        problems["tokens-listed"] = _serious_axe_violations(page)

        page.get_by_test_id("token-revoke").click()
        expect(page.get_by_role("heading", name="Revoke the token “nightly import”?")).to_be_visible()
        problems["token-revoke-confirm"] = _serious_axe_violations(page)
        page.get_by_test_id("token-revoke-confirm").click()
        expect(page.locator(".messages")).to_contain_text("is revoked")
        expect(page.get_by_test_id("no-tokens")).to_be_visible()
        gone = requests.get(live_server.url + "/api/v1/me", headers={"Authorization": f"Bearer {plain}"}, timeout=30)
        assert gone.status_code == 401 and gone.json()["error"]["code"] == "not_authenticated"
        assert {k: v for k, v in problems.items() if v} == {}
    finally:
        context.close()
