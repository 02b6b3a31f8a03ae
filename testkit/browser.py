"""Real Chromium for the web app's tests: Debian's headless ``/usr/bin/chromium`` driven by
Playwright (its own browser download is never used), pages that record their console errors and
CSP violations, and a poll inside the page that the CSP allows. Tests skip when the binary is
missing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    expect,
    sync_playwright,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 10_000
# Assertions wait as long as actions (Playwright's own default is 5 s): on a loaded CI machine
# the owner's set-up (three argon2 checks on one password worker, beside a streaming pipeline)
# took longer than 5 s once.
expect.set_options(timeout=WAIT_MS)

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt)")


@dataclass
class PageLog:
    """What the page said on its console, the CSP violations it saw, and its WHEP offers."""

    console_errors: list[ConsoleMessage] = field(default_factory=list)
    offers: list[str] = field(default_factory=list)

    def unexpected_errors(self, *allowed_failures: str) -> list[str]:
        """Console errors other than the browser's own "Failed to load resource" line for an
        API refusal the test expects (Chromium logs every 4xx of a fetch, e.g. the page's first
        ``GET /api/me`` before anyone logged in)."""
        out = []
        for message in self.console_errors:
            url = message.location.get("url", "")
            expected = message.text.startswith("Failed to load resource") and any(
                url.endswith(path) for path in allowed_failures
            )
            if not expected:
                out.append(f"{message.text} ({url})")
        return out


# Runs before the page's own scripts; Playwright injects it outside the page's CSP.
_RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for a test module."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(
    browser: Browser,
    base_url: str,
    *,
    locale: str = "en-US",
    path: str = "/",
    viewport: dict[str, int] | None = None,
) -> tuple[Page, PageLog]:
    """A new browser context (its own cookies) with one page at ``base_url + path``."""
    context: BrowserContext = browser.new_context(
        locale=locale, viewport=viewport or {"width": 1280, "height": 900}, accept_downloads=True
    )
    context.set_default_timeout(WAIT_MS)
    context.add_init_script(_RECORD_CSP_VIOLATIONS)
    page = context.new_page()
    log = PageLog()
    page.on("console", lambda m: log.console_errors.append(m) if m.type == "error" else None)

    def record_offer(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/whep"):
            log.offers.append(request.post_data or "")

    page.on("request", record_offer)
    page.goto(base_url + path)
    return page, log


def csp_violations(page: Page) -> list[str]:
    return page.evaluate("() => window.__cspViolations")


def wait_in_page(page: Page, condition: str, timeout_ms: int = WAIT_MS) -> bool:
    """Poll a JavaScript condition inside the page. (``page.wait_for_function`` compiles its
    predicate with eval, which the page's CSP forbids; a function passed to ``evaluate`` is
    compiled by the debugger protocol instead.)"""
    return page.evaluate(
        f"""async () => {{
            const until = Date.now() + {timeout_ms};
            while (Date.now() < until) {{
                if ({condition}) return true;
                await new Promise((resolve) => setTimeout(resolve, 50));
            }}
            return false;
        }}"""
    )


def log_in(page: Page, username: str, password: str, *, zh: bool = False) -> None:
    """Fill the login form and submit it."""
    page.get_by_label("用户名" if zh else "User name").fill(username)
    page.get_by_label("密码" if zh else "Password").fill(password)
    page.get_by_role("button", name="登录" if zh else "Log in").click()


SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def save_screenshot(page: Page, name: str) -> Path:
    """Write the page as ``docs/screenshots/<name>.png`` (the README shows them; the test run
    makes them, so they show the app as it is)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
