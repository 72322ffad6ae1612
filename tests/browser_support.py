"""What every Playwright test shares: Debian's Chromium, its flags for this closed network, the artifacts folder."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Screenshots and axe results; TEST_ARTIFACTS (relative to the repository) gives each of .ci/run's side-by-side
# passes its own folder, so neither overwrites the other's.
ARTIFACTS = ROOT / os.environ.get("TEST_ARTIFACTS", "test-artifacts")
CHROMIUM = "/usr/bin/chromium"
AXE_JS = Path(__file__).resolve().parent / "a11y" / "axe.min.js"  # axe-core 4.10.3 from the npm registry (MPL-2.0)
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


def new_page(browser, base_url, *, sign_in=True, timeout=15000, **context_args):
    """A page in a fresh browser context on the live server (close it with ``page.context.close()``),
    signed in as Ada through the login page unless ``sign_in`` is false."""
    page = browser.new_context(**context_args).new_page()
    page.set_default_timeout(timeout)
    page.base_url = base_url
    if sign_in:
        sign_in_through_the_login_page(page, base_url)
    return page


def axe_violations(page) -> list:
    """Every axe-core violation of the page as it is now: id, impact, help and the first nodes."""
    if not page.evaluate("() => !!window.axe"):
        page.evaluate(AXE_JS.read_text())  # evaluate, not a <script>: the page's CSP stays as it is
    return page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
    }""")


def serious(violations: list) -> list:
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def sign_in_through_the_login_page(page, base_url, email="ada.lin@example.com", password="demo-password"):
    """The real login page and the bundled company API; returns once the header shows the user."""
    page.goto(base_url + "/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("user-name").wait_for()
