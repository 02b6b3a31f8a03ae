"""The owner web app in real Chromium against the real ``camera-app run`` on a looping video with
motion: the owner sets up the device in the browser with the console's one-time code, sees
events with thumbnails, plays a clip (its ``currentTime`` advances), downloads it (the bytes
decode with PyAV), deletes an event (gone, and audited), and disarms and arms monitoring.

Only the streaming LED is fake (gpiozero's mock pin factory, as in every service test).
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
import yaml
from playwright.sync_api import Browser, Locator, Page, expect

from testkit.api import Client
from testkit.browser import DESKTOP, PHONE, needs_chromium, open_page, save_screenshot, wait_in_page
from testkit.media import write_motion_video
from testkit.net import free_port, wait_until
from testkit.service import OWNER_PASSWORD, Device, api_answers, start_service, stop_service

pytestmark = [pytest.mark.slow, needs_chromium]

FPS = 15
CAMERA = "door"
MAGENTA = (255, 0, 255)  # BGR
# across the path of the moving box (x 0..560, y 180..300 of 640x480): motion on either side
AREA = [(0.3, 0.25), (0.6, 0.25), (0.6, 0.75), (0.3, 0.75)]
WIDTH, HEIGHT = 640, 480


@pytest.fixture
def device(tmp_path: Path) -> Iterator[Device]:
    tmp = tmp_path
    # 6 s looping in real time, motion from 1 s to 3 s of every loop: an event per loop
    video = write_motion_video(tmp / "motion.mp4", frames=90, fps=FPS, moving=(15, 45))
    port = free_port()
    config = tmp / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "camera": {"id": CAMERA, "name": "Front door", "timezone": "UTC"},
                "capture": {"width": WIDTH, "height": HEIGHT, "fps": FPS, "loop": True},
                "events": {"trigger_frames": 3, "pre_roll_s": 1, "post_roll_s": 1},
                "recording": {"preset": "ultrafast"},
                "storage": {"data_dir": str(tmp / "data"), "min_free_mb": 0},
                "api": {"host": "127.0.0.1", "port": port, "tls": False},
                # no area yet; the colour is one nothing in the test scene has
                "privacy_masks": {"color": list(MAGENTA), "areas": []},
            }
        )
    )
    proc = start_service(config, f"file:{video}")
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: api_answers(url)), "the service's API did not answer"
        yield Device(url, tmp / "data")
    finally:
        stop_service(proc)


def _log_in(page: Page) -> None:
    page.get_by_label("User name").fill("owner")
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_owner_sets_up_then_plays_downloads_deletes_and_disarms(
    browser: Browser, device: Device
) -> None:
    page, log = open_page(browser, device.url)
    # first run: the setup form, with the code from the device's console
    expect(page.get_by_test_id("setup-form")).to_be_visible()
    page.get_by_label("Setup code").fill(device.setup_code())
    page.get_by_label("New password (at least 10 characters)").fill(OWNER_PASSWORD)
    # pressed twice (an impatient owner on a slow Pi): the second press is not sent, so no
    # "an owner account already exists" hides that the first one worked
    page.get_by_role("button", name="Create the owner account").dblclick()
    expect(page.get_by_text("Logged in as owner")).to_be_visible()
    expect(page.locator("#error")).to_have_text("")

    # events: at least one finished event with its snapshot loaded as a thumbnail
    events = page.get_by_test_id("event-list")
    finished = events.locator("[data-testid=event-item]:has(button:not([disabled]))")
    assert wait_until(lambda: _reload_until(page, finished), timeout=60)
    item = finished.first
    event_id = item.get_attribute("data-event")
    thumb = item.get_by_test_id("event-thumb")
    expect(thumb).to_be_visible()
    loaded = f"document.querySelector('[data-event=\"{event_id}\"] img').naturalWidth === 640"
    assert wait_in_page(page, loaded)

    # the clip plays in the page
    item.get_by_role("button").click()
    player = page.get_by_test_id("clip-player")
    expect(player).to_be_visible()
    player.evaluate("(video) => { video.muted = true; return video.play(); }")
    playing = "document.querySelector('[data-testid=clip-player]').currentTime > 0.5"
    assert wait_in_page(page, playing)

    # download: the saved bytes are the clip and decode
    with page.expect_download() as wait:
        page.get_by_test_id("clip-download").click()
    saved = Path(wait.value.path())
    with av.open(io.BytesIO(saved.read_bytes())) as container:
        assert sum(1 for _ in container.decode(video=0)) > FPS  # more than a second of video

    # delete: confirmed in the browser's dialog, gone from the list and from the API
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("event-delete").click()
    expect(page.locator(f"[data-event='{event_id}']")).to_have_count(0)
    owner = device.owner()
    assert owner.get(f"/api/events/{event_id}").status == 404

    # disarm and arm
    toggle = page.get_by_test_id("arm-toggle")
    expect(page.get_by_test_id("arm-state")).to_have_text("Armed: motion is recorded")
    toggle.click()
    expect(page.get_by_test_id("arm-state")).to_have_text("Disarmed: nothing is recorded")
    assert owner.get("/api/device/health").body["armed"] is False
    page.get_by_test_id("arm-toggle").click()
    expect(page.get_by_test_id("arm-state")).to_have_text("Armed: motion is recorded")
    assert owner.get("/api/device/health").body["armed"] is True

    # the audit log has the viewing, the download, the deletion and both switches
    audit = [line for line in owner.get("/api/audit").raw.decode().splitlines() if line]
    seen = [yaml.safe_load(line) for line in audit]
    names = [record["event"] for record in seen]
    about = [r for r in seen if (r.get("details") or {}).get("event") == event_id]
    assert {"recording_viewed", "event_deleted"} <= {r["event"] for r in about}, about
    assert names.index("disarmed") < names.index("armed", names.index("disarmed"))
    assert log.unexpected_errors("/api/me") == []


def _reload_until(page: Page, finished: Locator) -> bool:
    if finished.count():
        return True
    page.wait_for_timeout(1500)
    if not finished.count():
        page.get_by_test_id("nav-events").click()
        page.reload()
    return finished.count() > 0


SCREENS = ("events", "live", "streaming", "viewers", "masks", "audit", "settings")


def test_screens_at_phone_and_desktop_size_in_both_languages(
    browser: Browser, device: Device
) -> None:
    """Screenshots of each main screen for the README, made by the test run so they stay true;
    each screen must render without an error in both languages at both sizes."""
    Client(device.url).post(
        "/api/setup", {"code": device.setup_code(), "username": "owner", "password": OWNER_PASSWORD}
    )
    owner = device.owner()
    assert wait_until(lambda: bool(owner.get(f"/api/cameras/{CAMERA}/events").body["events"]))
    owner.post("/api/viewers", {"username": "grandma", "role": "family", "cameras": [CAMERA]})
    owner.post("/api/tokens", {"name": "Home Assistant", "scopes": ["events:read"]})
    for locale, lang in (("en-GB", "en"), ("zh-CN", "zh")):
        for size, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            page, log = open_page(browser, device.url, locale=locale, viewport=viewport)
            expect(page.get_by_test_id("login-form")).to_be_visible()
            save_screenshot(page, f"login-{lang}-{size}")
            page.locator("input[name=username]").fill("owner")
            page.locator("input[name=password]").fill(OWNER_PASSWORD)
            page.locator("[data-testid=login-form] button[type=submit]").click()
            expect(page.get_by_test_id("screen-events")).to_be_visible()
            for screen in SCREENS:
                page.goto(f"{device.url}/#/{screen}")
                expect(page.get_by_test_id(f"screen-{screen}")).to_be_visible()
                page.wait_for_load_state("networkidle")
                assert page.locator("#error").text_content() == "", (screen, lang)
                save_screenshot(page, f"{screen}-{lang}-{size}")
            assert log.unexpected_errors("/api/me", f"/api/cameras/{CAMERA}/live") == [], (
                lang,
                size,
            )
            page.context.close()


def _complete(owner: Client, exclude: set[str]) -> list[dict]:
    events = owner.get(f"/api/cameras/{CAMERA}/events?limit=200").body["events"]
    return [e for e in events if e["status"] == "complete" and e["id"] not in exclude]


def _area_colours(owner: Client, event: dict) -> np.ndarray:
    """Mean BGR inside the area (6 px in from its edges, where compression blurs) per frame."""
    clip = owner.get(event["clip_url"])
    x0, x1 = round(AREA[0][0] * (WIDTH - 1)) + 6, round(AREA[1][0] * (WIDTH - 1)) - 6
    y0, y1 = round(AREA[0][1] * (HEIGHT - 1)) + 6, round(AREA[2][1] * (HEIGHT - 1)) - 6
    with av.open(io.BytesIO(clip.raw)) as container:
        return np.array(
            [
                f.to_ndarray(format="bgr24")[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0)
                for f in container.decode(video=0)
            ]
        )


def test_a_mask_drawn_in_the_editor_fills_the_next_clip(browser: Browser, device: Device) -> None:
    Client(device.url).post(
        "/api/setup", {"code": device.setup_code(), "username": "owner", "password": OWNER_PASSWORD}
    )
    owner = device.owner()
    assert wait_until(lambda: bool(_complete(owner, set())), timeout=60)
    before = _area_colours(owner, _complete(owner, set())[0])
    assert (np.abs(before - MAGENTA).max(axis=1) > 100).all()  # the area as the camera sees it

    page, log = open_page(browser, device.url)
    _log_in(page)
    page.get_by_test_id("nav-masks").click()
    editor = page.get_by_test_id("mask-editor")
    expect(editor).to_be_visible()
    assert wait_in_page(page, "document.querySelector('[data-testid=mask-picture]').naturalWidth")
    canvas = editor.get_by_test_id("mask-canvas")
    box = canvas.bounding_box()
    assert box is not None
    for x, y in AREA:  # the owner clicks the four corners on the picture
        canvas.click(position={"x": x * box["width"], "y": y * box["height"]})
    expect(editor.get_by_test_id("mask-progress")).to_have_text("4 corners placed")
    editor.get_by_test_id("mask-finish").click()
    expect(editor.get_by_test_id("mask-list-privacy").get_by_test_id("mask-item")).to_have_count(1)
    editor.get_by_test_id("mask-save").click()
    expect(page.get_by_role("status")).to_have_text("The masks are saved and in force.")

    # what the editor saved is the polygon that was drawn (to the nearest pixel)
    saved = owner.get(f"/api/cameras/{CAMERA}/masks").body["privacy_masks"]
    assert len(saved) == 1
    assert np.abs(np.array(saved[0]["points"]) - np.array(AREA)).max() < 2 / WIDTH + 1e-3
    time.sleep(0.5)  # events that began before the save do not count
    earlier = {e["id"] for e in _complete(owner, set())} | {
        e["id"] for e in owner.get(f"/api/cameras/{CAMERA}/events").body["events"]
    }
    assert wait_until(lambda: bool(_complete(owner, earlier)), timeout=30)
    after = _area_colours(owner, _complete(owner, earlier)[-1])
    assert (np.abs(after - MAGENTA).max(axis=1) < 12).all(), after
    audit = [json.loads(line) for line in owner.get("/api/audit").raw.decode().splitlines()]
    assert [r["actor"] for r in audit if r["event"] == "config_changed"][-1] == "owner"
    assert log.unexpected_errors("/api/me") == []
