"""The viewer web page in a real browser: Debian's headless Chromium, driven by Playwright, against
the real owner-API server on loopback. It logs in through the form, lists the cameras, watches one
over WHEP and checks that decoded frames of the published colour and size play; it sees the
session end when the owner opts out, the refusal reason when a camera is not live, the login
error, the Chinese texts for a Chinese browser, and a public viewing link opened from the URL.

Frames are made by the real ``privacy.framegate.FrameGate`` and published into the server's frame
hub, as the privacy stage does on a device. Chromium comes from apt (``/usr/bin/chromium``);
Playwright's own browser download is never used. The tests skip when that binary is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, expect, sync_playwright

from camera_app.api.handlers_web import PAGE_CSP
from testkit.api import OWNER, OWNER_PASSWORD, ApiFactory, Client, RunningApi, make_id
from testkit.gates import audit_events
from testkit.webrtc import GatedCamera, server_hub, solid

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
W, H = 320, 240
ORANGE_RGB = (230, 120, 30)
WAIT_MS = 10_000

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt)")


def publisher_of(api: RunningApi) -> GatedCamera:
    """Flat orange redacted frames into the server's hub at 15 fps."""
    return GatedCamera(server_hub(api), solid(W, H, ORANGE_RGB[::-1]))  # frames are BGR


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
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser: Browser, api: RunningApi, *, locale: str = "en-US", path: str = "/"):
    context = browser.new_context(locale=locale)
    context.set_default_timeout(WAIT_MS)
    context.add_init_script(_RECORD_CSP_VIOLATIONS)
    page = context.new_page()
    log = PageLog()
    page.on("console", lambda m: log.console_errors.append(m) if m.type == "error" else None)

    def record_offer(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/whep"):
            log.offers.append(request.post_data or "")

    page.on("request", record_offer)
    page.goto(api.url + path)
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
    page.get_by_label("用户名" if zh else "User name").fill(username)
    page.get_by_label("密码" if zh else "Password").fill(password)
    page.get_by_role("button", name="登录" if zh else "Log in").click()


def live_home(start_api: ApiFactory) -> tuple[RunningApi, Client]:
    """A home camera that streams: opt-in, the owner's registration, started."""
    api = start_api()
    owner = api.owner()
    owner.post("/api/cameras/cam1/streaming/opt-in", {"confirmation": "STREAM cam1"})
    owner.post("/api/registrations", {"kind": "owner", "name": "王小明", "resident_id": make_id()})
    assert owner.post("/api/cameras/cam1/streaming/start").status == 200
    return api, owner


def sessions(api: RunningApi) -> int:
    assert api.server.context is not None
    return len(api.server.context.live.viewer_sessions)


def ended_reasons(api: RunningApi) -> list[str]:
    return [e["reason"] for e in audit_events(api) if e["event"] == "session_ended"]


def start_watching(page: Page) -> None:
    """Click Watch and wait until decoded frames play."""
    page.get_by_role("button", name="Watch Front door").click()
    video = page.get_by_label("Live video of Front door")
    expect(video).to_be_visible()
    assert wait_in_page(page, "document.querySelector('video').currentTime > 0.3")


def test_owner_logs_in_and_watches_real_frames_then_stops(
    browser: Browser, start_api: ApiFactory
) -> None:
    api, _ = live_home(start_api)
    publisher = publisher_of(api)
    try:
        page, log = open_page(browser, api)
        log_in(page, OWNER, OWNER_PASSWORD)
        expect(page.get_by_text(f"Logged in as {OWNER}")).to_be_visible()
        camera = page.get_by_role("listitem").filter(has_text="Front door")
        expect(camera).to_contain_text("Live now")
        cookie = next(c for c in page.context.cookies() if c["name"] == "session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

        start_watching(page)
        played = page.evaluate("() => document.querySelector('video').currentTime")
        assert wait_in_page(page, f"document.querySelector('video').currentTime > {played + 0.5}")
        picture = page.evaluate(
            """() => {
                const video = document.querySelector("video");
                const canvas = document.createElement("canvas");
                canvas.width = video.videoWidth;
                canvas.height = video.videoHeight;
                const context = canvas.getContext("2d");
                context.drawImage(video, 0, 0);
                const [r, g, b] = context.getImageData(video.videoWidth / 2,
                                                       video.videoHeight / 2, 1, 1).data;
                return {width: video.videoWidth, height: video.videoHeight, rgb: [r, g, b],
                        muted: video.muted, audioTracks: video.srcObject.getAudioTracks().length};
            }"""
        )
        assert (picture["width"], picture["height"]) == (W, H)
        assert all(
            abs(got - want) < 30 for got, want in zip(picture["rgb"], ORANGE_RGB, strict=True)
        ), picture
        assert picture["muted"] and picture["audioTracks"] == 0
        assert len(log.offers) == 1
        assert "m=audio" not in log.offers[0] and "a=recvonly" in log.offers[0]
        assert "a=candidate" in log.offers[0]  # ICE gathering finished before the offer left
        assert sessions(api) == 1

        page.get_by_role("button", name="Stop").click()
        expect(page.get_by_text("You stopped watching.")).to_be_visible()
        expect(page.locator("video")).to_be_hidden()
        assert api.wait_for(lambda: sessions(api) == 0)
        assert ended_reasons(api) == ["viewer left"]  # the page's DELETE ended it

        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_label("User name")).to_be_visible()
        assert not [c for c in page.context.cookies() if c["name"] == "session"]
        assert csp_violations(page) == []
        assert log.unexpected_errors("/api/me") == []
    finally:
        publisher.stop()


def test_page_says_when_the_owner_ends_the_stream(browser: Browser, start_api: ApiFactory) -> None:
    api, owner = live_home(start_api)
    publisher = publisher_of(api)
    try:
        page, log = open_page(browser, api)
        log_in(page, OWNER, OWNER_PASSWORD)
        start_watching(page)
        assert owner.post("/api/cameras/cam1/streaming/opt-out").status == 200
        expect(page.get_by_role("status")).to_have_text("The live stream has ended.", timeout=5000)
        expect(page.locator("video")).to_be_hidden()
        camera = page.get_by_role("listitem").filter(has_text="Front door")
        expect(camera).to_contain_text("Not available: the camera is not streaming")
        expect(page.get_by_role("button", name="Watch Front door")).to_have_count(0)
        assert sessions(api) == 0
        assert csp_violations(page) == []
        assert log.unexpected_errors("/api/me", "/api/cameras/cam1/live") == []
    finally:
        publisher.stop()


def _family_viewer(api: RunningApi, owner: Client) -> tuple[str, str]:
    invited = owner.post(
        "/api/viewers", {"username": "grandma", "role": "family", "cameras": ["cam1"]}
    )
    assert invited.status == 201, invited.body
    accepted = api.client().post(
        "/api/invites/accept",
        {"code": invited.body["code"], "password": "grandma-2026", "consent": True},
    )
    assert accepted.status == 201, accepted.body
    return "grandma", "grandma-2026"


def test_viewer_of_a_camera_that_is_not_live_sees_why_and_no_player(
    browser: Browser, start_api: ApiFactory
) -> None:
    api = start_api()
    owner = api.owner()
    username, password = _family_viewer(api, owner)
    page, log = open_page(browser, api)
    log_in(page, username, password)
    expect(page.get_by_text("Logged in as grandma")).to_be_visible()
    camera = page.get_by_role("listitem").filter(has_text="Front door")
    expect(camera).to_contain_text("Not available: the camera is not streaming")
    expect(camera.get_by_role("button")).to_have_count(0)
    expect(page.locator("video")).to_be_hidden()
    assert log.offers == [] and sessions(api) == 0
    assert csp_violations(page) == []
    assert log.unexpected_errors("/api/me", "/api/cameras/cam1/live") == []


def test_wrong_password_shows_an_error_and_sets_no_session(
    browser: Browser, start_api: ApiFactory
) -> None:
    api = start_api()
    api.owner()
    page, _ = open_page(browser, api)
    log_in(page, OWNER, "not the password")
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_role("heading", name="Cameras")).to_be_hidden()
    assert not [c for c in page.context.cookies() if c["name"] == "session"]


def test_page_speaks_the_browser_language(browser: Browser, start_api: ApiFactory) -> None:
    api = start_api()
    api.owner()
    page, _ = open_page(browser, api, locale="zh-CN")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
    log_in(page, OWNER, OWNER_PASSWORD, zh=True)
    camera = page.get_by_role("listitem").filter(has_text="Front door")
    # the refusal comes from the server, asked in the page's language
    expect(camera).to_contain_text("无法观看：该摄像头当前未在直播")
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()


def test_public_viewing_link_in_the_address_logs_in_and_is_removed(
    browser: Browser, start_api: ApiFactory
) -> None:
    api = start_api(
        {"camera": {"id": "counter", "name": "Front counter"}, "streaming": {"profile": "merchant"}}
    )
    owner = api.owner()
    link = owner.post("/api/cameras/counter/public-links", {"label": "shop website"})
    assert link.status == 201, link.body
    token = link.body["link"]
    page, _ = open_page(browser, api, path=f"/#link={token}")
    expect(page.get_by_text("Public viewer")).to_be_visible()
    camera = page.get_by_role("listitem").filter(has_text="Front counter")
    expect(camera).to_contain_text("Not available: the camera is not streaming")
    assert token not in page.url

    revoked, _ = open_page(browser, api, path="/#link=" + "x" * 43)
    expect(revoked.get_by_role("alert")).to_have_text(
        "This viewing link is unknown or was revoked."
    )
    expect(revoked.get_by_label("User name")).to_be_visible()


def test_page_files_are_served_with_a_strict_policy(start_api: ApiFactory) -> None:
    api = start_api()
    client = api.client()
    page = client.get("/")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Content-Security-Policy"] == PAGE_CSP
    assert "'unsafe-inline'" not in PAGE_CSP and "'unsafe-eval'" not in PAGE_CSP
    assert b"<script>" not in page.raw and b"style=" not in page.raw  # nothing inline
    script = client.get("/web/viewer.js")
    assert script.status == 200 and script.headers["Content-Type"].startswith("text/javascript")
    again = client.get("/web/viewer.js", headers={"If-None-Match": script.headers["ETag"]})
    assert again.status == 304
    for missing in ("/web/nothing.js", "/web/index.html", "/web/..%2Fhandlers_web.py"):
        reply = client.get(missing)
        assert reply.status == 404 and reply.error == "not_found", missing
    # the API keeps its own, unchanged policy
    api_policy = client.get("/api/health").headers["Content-Security-Policy"]
    assert api_policy == "default-src 'self'; frame-ancestors 'none'"
