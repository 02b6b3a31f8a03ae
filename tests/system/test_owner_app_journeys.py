"""Whole journeys through the owner app in real Chromium against the real ``camera-app run``:

- a kindergarten: the director opens every gate in the streaming wizard, invites a parent with
  today's viewing window; the parent joins through the invite link in a second browser, reads
  their hours, watches live inside the window, is told "your viewing hours ended" when it closes,
  and never reaches a recording;
- a shop: from an empty device to a public link playing in a second browser, only through the app
  (setup code, registration, the sign downloaded as PDF, attestation, opt-in, start, public link);
  when the owner revokes the link the viewer is told so and never sees a password form.

Only the streaming LED is fake (gpiozero's mock pin factory, as in every service test).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Browser, Page, expect

from testkit.api import Client, make_id, make_uscc
from testkit.browser import needs_chromium, open_page, save_screenshot, wait_in_page
from testkit.media import write_motion_video
from testkit.net import free_port, wait_until
from testkit.service import OWNER_PASSWORD, Device, api_answers, start_service, stop_service

pytestmark = [pytest.mark.slow, needs_chromium]

FPS = 15
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


DeviceFactory = Callable[[dict], Device]


@pytest.fixture
def start_device(tmp_path: Path) -> Iterator[DeviceFactory]:
    procs = []

    def start(config: dict) -> Device:
        video = write_motion_video(tmp_path / "motion.mp4", frames=90, fps=FPS, moving=(15, 45))
        port = free_port()
        data = {
            "capture": {"width": 640, "height": 480, "fps": FPS, "loop": True},
            "recording": {"preset": "ultrafast"},
            "storage": {"data_dir": str(tmp_path / "data"), "min_free_mb": 0},
            "api": {"host": "127.0.0.1", "port": port, "tls": False},
            **config,
        }
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(data))
        procs.append(start_service(path, f"file:{video}"))
        url = f"http://127.0.0.1:{port}"
        assert wait_until(lambda: api_answers(url)), "the service's API did not answer"
        return Device(url, tmp_path / "data")

    yield start
    for proc in procs:
        stop_service(proc)


def _log_in(page: Page, username: str, password: str) -> None:
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("[data-testid=login-form] button[type=submit]").click()


def _gate_done(page: Page, gate: str) -> None:
    expect(page.get_by_test_id(f"gate-{gate}").get_by_test_id("gate-status")).to_contain_text(
        "Done"
    )


def _opt_in(page: Page, camera: str) -> None:
    gate = page.get_by_test_id("gate-opt_in")
    gate.get_by_test_id("opt-in-phrase").fill(f"STREAM {camera}")
    gate.get_by_role("button", name="Opt in").click()
    _gate_done(page, "opt_in")


def _register(page: Page, organisation: str, person: str) -> None:
    form = page.get_by_test_id("registration-form")
    form.locator("input[name=organisation]").fill(organisation)
    form.locator("input[name=uscc]").fill(make_uscc())
    form.locator("input[name=name]").fill(person)
    form.locator("input[name=resident_id]").fill(make_id())
    form.get_by_role("button", name="Register").click()
    _gate_done(page, "registration")
    # the number is masked once sent
    expect(page.get_by_test_id("registration")).to_contain_text("*")


def _start(page: Page) -> None:
    page.get_by_test_id("stream-start").click()
    expect(page.get_by_test_id("stream-state")).to_have_text("Streaming live now")


def _watch(page: Page, camera_name: str) -> None:
    page.get_by_role("button", name=f"Watch {camera_name}").click()
    expect(page.get_by_test_id("live-video")).to_be_visible()
    assert wait_in_page(page, "document.querySelector('video').currentTime > 0.5", 20_000)


def _set_window(page: Page, editor: str, days: list[str], start: str, end: str) -> None:
    window = page.get_by_test_id(editor).get_by_test_id("schedule-window").first
    for day in DAYS:
        window.locator(f"input[value={day}]").set_checked(day in days)
    window.locator("input.start").fill(start)
    window.locator("input.end").fill(end)


def test_kindergarten_parent_joins_by_invite_and_watches_only_inside_the_window(
    browser: Browser, start_device: DeviceFactory
) -> None:
    device = start_device(
        {
            "camera": {
                "id": "sunflower",
                "name": "Sunflower room",
                "room": "Sunflower",
                "timezone": "UTC",
            },
            "streaming": {"profile": "kindergarten", "live_childcare_viewing_permitted": True},
        }
    )
    Client(device.url).post(
        "/api/setup", {"code": device.setup_code(), "username": "owner", "password": OWNER_PASSWORD}
    )
    director, _ = open_page(browser, device.url)
    _log_in(director, "owner", OWNER_PASSWORD)
    director.get_by_test_id("nav-streaming").click()
    expect(director.get_by_test_id("streaming-wizard")).to_be_visible()
    _opt_in(director, "sunflower")
    _register(director, "上海市阳光幼儿园（浦东）", "张老师")
    consent = director.get_by_test_id("consent-form")
    consent.locator("input").nth(0).fill("Signed forms in the office cabinet, folder 3")
    consent.locator("input").nth(1).fill("18")
    consent.locator("input").nth(2).fill((date.today() + timedelta(days=180)).isoformat())
    consent.get_by_role("button", name="Record the consent").click()
    _gate_done(director, "guardian_consent")
    _start(director)

    # a window that holds now and closes within two minutes (device time zone: UTC)
    now = datetime.now(UTC)
    start = (now - timedelta(minutes=10)).replace(second=0, microsecond=0)
    end = (now + timedelta(minutes=2)).replace(second=0, microsecond=0)
    director.get_by_test_id("nav-viewers").click()
    invite = director.get_by_test_id("invite-form")
    invite.get_by_test_id("invite-role").select_option("parent")
    invite.get_by_test_id("invite-username").fill("parent.li")
    invite.get_by_test_id("invite-rooms").fill("Sunflower")
    _set_window(director, "invite-hours", [DAYS[start.weekday()]], f"{start:%H:%M}", f"{end:%H:%M}")
    invite.get_by_test_id("invite-until").fill((date.today() + timedelta(days=30)).isoformat())
    expect(invite.get_by_test_id("invite-watermark")).to_be_disabled()  # forced for parents
    invite.get_by_role("button", name="Make the invite").click()
    link = director.get_by_test_id("once-link").text_content() or ""
    assert "#join=" in link
    expect(director.get_by_test_id("qr-code")).to_be_visible()
    expect(director.get_by_test_id("viewer-list")).to_contain_text("parent.li")

    # the parent joins in their own browser
    parent, log = open_page(browser, link, path="")
    form = parent.get_by_test_id("join-form")
    expect(form).to_be_visible()
    expect(parent.get_by_test_id("join-hours")).to_contain_text(f"{start:%H:%M}–{end:%H:%M}")
    expect(parent.get_by_test_id("join-terms")).not_to_be_empty()
    save_screenshot(parent, "join-en-desktop")
    assert "#join" not in parent.url  # the code left the address
    parent.get_by_test_id("join-consent").check()
    form.locator("input[type=password]").nth(0).fill("parent password 2026")
    form.locator("input[type=password]").nth(1).fill("parent password 2026")
    form.get_by_role("button", name="Join").click()
    expect(parent.get_by_text("Logged in as parent.li")).to_be_visible()
    expect(parent.get_by_test_id("my-hours")).to_contain_text(f"{start:%H:%M}–{end:%H:%M}")
    expect(parent.get_by_test_id("nav-events")).to_have_count(0)
    _watch(parent, "Sunflower room")

    # never a recording: the routes answer as if nothing were there
    for path in ("/api/cameras/sunflower/events", "/api/device/health"):
        assert parent.request.get(device.url + path).status == 404, path

    # the window closes during the session
    wait_s = (end - datetime.now(UTC)).total_seconds() + 15
    expect(parent.get_by_role("status")).to_have_text(
        "Your viewing hours ended. You can watch again in your next window.",
        timeout=int(wait_s * 1000),
    )
    expect(parent.get_by_role("button", name="Watch Sunflower room")).to_have_count(0)
    assert (
        log.unexpected_errors(
            "/api/me",
            "/api/cameras/sunflower/live",
            "/api/device/health",
            "/api/cameras/sunflower/events",
        )
        == []
    )


def test_shop_from_an_empty_device_to_a_public_link_playing(
    browser: Browser, start_device: DeviceFactory, tmp_path: Path
) -> None:
    device = start_device(
        {
            "camera": {"id": "counter", "name": "Front counter", "timezone": "UTC"},
            "streaming": {"profile": "merchant", "public_url": "https://shop-cam.example.com"},
        }
    )
    owner, _ = open_page(browser, device.url)
    expect(owner.get_by_test_id("setup-form")).to_be_visible()
    owner.get_by_label("Setup code").fill(device.setup_code())
    owner.get_by_label("New password (at least 10 characters)").fill(OWNER_PASSWORD)
    owner.get_by_role("button", name="Create the owner account").click()
    expect(owner.get_by_text("Logged in as owner")).to_be_visible()

    owner.get_by_test_id("nav-streaming").click()
    _opt_in(owner, "counter")
    _register(owner, "Smith & Sons (Shanghai) Ltd.", "John Smith")
    sign = owner.get_by_test_id("notice-form")
    sign.locator("input").nth(0).fill("Smith & Sons (Shanghai) Ltd.")
    sign.locator("input").nth(1).fill("Showing the bakery counter to customers online")
    sign.locator("input").nth(2).fill("021-5555 0100")
    _set_window(owner, "notice-hours", list(DAYS), "00:00", "23:59")
    # an address a customer's phone cannot open is refused, with the reason in the step
    sign.get_by_test_id("notice-public-url").fill("http://192.168.1.20:8080")
    sign.get_by_role("button", name="Make the sign").click()
    expect(owner.get_by_test_id("gate-notice_posted").locator(".step-error")).to_contain_text(
        "not on a customer's phone"
    )
    sign.get_by_test_id("notice-public-url").fill("")  # the configured public address then
    sign.get_by_role("button", name="Make the sign").click()
    expect(owner.get_by_test_id("notice-preview")).to_be_visible()
    assert wait_in_page(
        owner, "document.querySelector('[data-testid=notice-preview]').naturalWidth > 500"
    )
    with owner.expect_download() as wait:
        owner.get_by_test_id("notice-download").click()
    pdf = Path(wait.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    owner.get_by_test_id("notice-attest-check").check()
    owner.get_by_role("button", name="Confirm the sign is posted").click()
    _gate_done(owner, "notice_posted")
    _gate_done(owner, "notice_current")
    _gate_done(owner, "notice_hours")
    _start(owner)

    owner.get_by_test_id("nav-viewers").click()
    owner.get_by_test_id("link-label").fill("Window sticker")
    owner.get_by_role("button", name="Make a link").click()
    link = owner.get_by_test_id("once-link").text_content() or ""
    assert "#link=" in link

    viewer, _ = open_page(browser, link, path="")
    expect(viewer.get_by_text("Public viewer")).to_be_visible()
    _watch(viewer, "Front counter")
    owner.get_by_test_id("nav-viewers").click()
    expect(owner.get_by_test_id("live-sessions")).to_contain_text("Window sticker")

    # the owner revokes the link: the viewer is told, and is never asked for a password
    owner.get_by_test_id("public-links").get_by_role("button", name="Revoke").click()
    expect(viewer.get_by_test_id("link-ended")).to_be_visible(timeout=20_000)
    expect(viewer.locator("input[type=password]")).to_have_count(0)
