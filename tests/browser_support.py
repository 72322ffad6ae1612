"""What every Playwright test shares: Debian's Chromium, its flags for this closed network, the artifacts folder."""

import os
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling out, and this network refuses it.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]


def chromium_or_skip():
    """Skip where Chromium is missing on a developer's machine; in CI (CI=true) that is a failure."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing: scripts/system_deps.sh installs it")
        pytest.skip("Debian's chromium is not installed")
    return pytest.importorskip("playwright.sync_api")


def sign_in_through_the_login_page(page, base_url, email="ada.lin@example.com", password="demo-password"):
    """The real login page and the bundled company API; returns once the header shows the user."""
    page.goto(base_url + "/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("user-name").wait_for()
