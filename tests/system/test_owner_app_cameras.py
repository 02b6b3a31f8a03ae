"""Two cameras on one device in the owner app, in real Chromium against the real ``camera-app
run`` with two ``file:`` cameras (``testkit.cameras``: a door where something crosses, a still
yard): the events page shows the door's events under the door and none under the yard, the
device card each camera's frame rate, the masks page a picker of both, and the live page plays
each camera's own picture (its pixels read back from the <video>, told apart by content).

Only the streaming LED is fake (gpiozero's mock pin factory, as in every service test).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from testkit.browser import (
    DESKTOP,
    PHONE,
    log_in,
    needs_chromium,
    open_page,
    save_screenshot,
    wait_in_page,
)
from testkit.cameras import MARK, CameraClip, two_camera_service
from testkit.net import wait_until
from testkit.service import OWNER_PASSWORD, Device, go_live

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture
def device(tmp_path: Path) -> Iterator[tuple[Device, CameraClip, CameraClip]]:
    with two_camera_service(tmp_path) as service:
        owner = service.owner()
        go_live(owner, "door")
        opted = owner.post("/api/cameras/yard/streaming/opt-in", {"confirmation": "STREAM yard"})
        assert opted.status in (200, 201), opted.body
        assert owner.post("/api/cameras/yard/streaming/start").status == 200
        yield Device(service.url, service.data_dir), service.door, service.yard


def _events_shown(page: Page, items: Locator) -> bool:
    if items.count():
        return True
    page.wait_for_timeout(1500)
    page.reload()
    return items.count() > 0


BLOCK = 10  # the mark corner is compared in blocks of 10x10 pixels (codec noise averages out)

_MARK_BLOCKS = f"""() => {{
    const video = document.querySelector("[data-testid=live-video]");
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const g = canvas.getContext("2d");
    g.drawImage(video, 0, 0);
    const x0 = {MARK[1].start}, y0 = {MARK[0].start};
    const w = {MARK[1].stop - MARK[1].start}, hh = {MARK[0].stop - MARK[0].start};
    const px = g.getImageData(x0, y0, w, hh).data;
    const rows = [];
    for (let by = 0; by < hh; by += {BLOCK}) {{
        const row = [];
        for (let bx = 0; bx < w; bx += {BLOCK}) {{
            let sum = 0;
            for (let y = by; y < by + {BLOCK}; y++) {{
                for (let x = bx; x < bx + {BLOCK}; x++) {{
                    const i = 4 * (y * w + x);
                    sum += (px[i] + px[i + 1] + px[i + 2]) / 3;
                }}
            }}
            row.push(sum / ({BLOCK} * {BLOCK}));
        }}
        rows.push(row);
    }}
    return rows;
}}"""


def _mark_blocks(clip: CameraClip) -> np.ndarray:
    """The mark corner of the clip's scene, grey, in BLOCK x BLOCK means."""
    grey = clip.scene[MARK].astype(np.float64).mean(axis=2)
    h, w = grey.shape
    return grey.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).mean(axis=(1, 3))


def _watching(
    page: Page, name: str, clip: CameraClip, other: CameraClip, screenshot: str | None = None
) -> None:
    """Watch camera ``name``: the video plays, and its mark corner has ``clip``'s colours
    rather than ``other``'s (the privacy-hold slate is neither: wait past it)."""
    page.get_by_role("button", name=f"Watch {name}").click()
    expect(page.get_by_test_id("live-video")).to_be_visible()
    assert wait_in_page(page, "document.querySelector('video').videoWidth === 640", 30_000)

    distances: list[tuple[float, float]] = []

    def shows_clip() -> bool:
        blocks = np.array(page.evaluate(_MARK_BLOCKS))
        ours = float(np.abs(blocks - _mark_blocks(clip)).mean())
        theirs = float(np.abs(blocks - _mark_blocks(other)).mean())
        distances.append((ours, theirs))
        return ours < 8 and theirs > 3 * ours

    assert wait_until(shows_clip, timeout=30), distances[-5:]
    if screenshot is not None:
        page.set_viewport_size(PHONE)
        page.get_by_test_id("live-video").scroll_into_view_if_needed()
        save_screenshot(page, screenshot)
        page.set_viewport_size(DESKTOP)
    page.get_by_role("button", name="Stop").click()


def test_owner_app_shows_both_cameras_with_their_own_events_and_live_view(
    browser: Browser, device: tuple[Device, CameraClip, CameraClip]
) -> None:
    dev, door, yard = device
    page, log = open_page(browser, dev.url)
    log_in(page, "owner", OWNER_PASSWORD)
    expect(page.get_by_text("Logged in as owner")).to_be_visible()

    # events: the door's under the door; the yard has none
    picker = page.get_by_test_id("event-camera")
    expect(picker.locator("option")).to_have_count(2)
    items = page.get_by_test_id("event-item")
    assert wait_until(lambda: _events_shown(page, items), timeout=60)
    expect(picker).to_have_value("door")
    expect(page.get_by_test_id("camera-health").locator("[data-camera=door]")).to_contain_text(
        "fps"
    )
    expect(page.get_by_test_id("camera-health").locator("[data-camera=yard]")).to_contain_text(
        "fps"
    )
    page.set_viewport_size(PHONE)
    save_screenshot(page, "multi-camera-events")
    page.set_viewport_size(DESKTOP)
    picker.select_option("yard")
    expect(items).to_have_count(0)
    expect(page.get_by_text("No motion events for this choice.")).to_be_visible()
    picker.select_option("door")
    expect(items.first).to_be_visible()

    # live: both cameras listed, each plays its own picture
    page.get_by_test_id("nav-live").click()
    expect(page.get_by_test_id("camera-item")).to_have_count(2)
    _watching(page, "Front door", door, yard)
    _watching(page, "Yard", yard, door, screenshot="multi-camera-live")

    # masks: one picker of both cameras; the yard's masks under #/masks/yard
    page.get_by_test_id("nav-masks").click()
    masks_picker = page.get_by_test_id("mask-camera")
    expect(masks_picker.locator("option")).to_have_count(2)
    masks_picker.select_option("yard")
    expect(page).to_have_url(f"{dev.url}/#/masks/yard")
    expect(page.get_by_test_id("mask-camera")).to_have_value("yard")
    assert log.unexpected_errors("/api/me") == []
