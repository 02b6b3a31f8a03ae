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

from playwright.sync_api import Browser, Page, expect

from camera_app.api.handlers_web import PAGE_CSP
from testkit.api import OWNER, OWNER_PASSWORD, ApiFactory, Client, RunningApi, make_id
from testkit.browser import csp_violations, log_in, needs_chromium, open_page, wait_in_page
from testkit.gates import audit_events
from testkit.webrtc import GatedCamera, server_hub, solid

W, H = 320, 240
ORANGE_RGB = (230, 120, 30)

pytestmark = needs_chromium


def publisher_of(api: RunningApi) -> GatedCamera:
    """Flat orange redacted frames into the server's hub at 15 fps."""
    return GatedCamera(server_hub(api), solid(W, H, ORANGE_RGB[::-1]))  # frames are BGR


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
        page, log = open_page(browser, api.url)
        log_in(page, OWNER, OWNER_PASSWORD)
        expect(page.get_by_text(f"Logged in as {OWNER}")).to_be_visible()
        page.get_by_test_id("nav-live").click()  # the owner starts on Events
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
        page, log = open_page(browser, api.url)
        log_in(page, OWNER, OWNER_PASSWORD)
        page.get_by_test_id("nav-live").click()
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
    page, log = open_page(browser, api.url)
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
    page, _ = open_page(browser, api.url)
    log_in(page, OWNER, "not the password")
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_role("heading", name="Cameras")).to_be_hidden()
    assert not [c for c in page.context.cookies() if c["name"] == "session"]


def test_page_speaks_the_browser_language(browser: Browser, start_api: ApiFactory) -> None:
    api = start_api()
    api.owner()
    page, _ = open_page(browser, api.url, locale="zh-CN")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
    log_in(page, OWNER, OWNER_PASSWORD, zh=True)
    page.get_by_role("link", name="实时").click()
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
    page, _ = open_page(browser, api.url, path=f"/#link={token}")
    expect(page.get_by_text("Public viewer")).to_be_visible()
    camera = page.get_by_role("listitem").filter(has_text="Front counter")
    expect(camera).to_contain_text("Not available: the camera is not streaming")
    assert token not in page.url

    revoked, _ = open_page(browser, api.url, path="/#link=" + "x" * 43)
    expect(revoked.get_by_test_id("link-ended")).to_have_text(
        "This viewing link is unknown or was revoked."
    )
    # someone who came through a link has no account: never a password form
    expect(revoked.locator("input[type=password]")).to_have_count(0)


def test_page_files_are_served_with_a_strict_policy(start_api: ApiFactory) -> None:
    api = start_api()
    client = api.client()
    page = client.get("/")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Content-Security-Policy"] == PAGE_CSP
    assert "'unsafe-inline'" not in PAGE_CSP and "'unsafe-eval'" not in PAGE_CSP
    assert b"<script>" not in page.raw and b"style=" not in page.raw  # nothing inline
    script = client.get("/web/app.js")
    assert script.status == 200 and script.headers["Content-Type"].startswith("text/javascript")
    again = client.get("/web/app.js", headers={"If-None-Match": script.headers["ETag"]})
    assert again.status == 304
    for missing in ("/web/nothing.js", "/web/index.html", "/web/..%2Fhandlers_web.py"):
        reply = client.get(missing)
        assert reply.status == 404 and reply.error == "not_found", missing
    # the API keeps its own, unchanged policy
    api_policy = client.get("/api/health").headers["Content-Security-Policy"]
    assert api_policy == "default-src 'self'; frame-ancestors 'none'"
