"""Issue 16's "must show" for the site: on loopback, the real mosquitto, the real relay (Janus
behind the real front-end, trusting both devices' ticket keys), two kindergarten devices (real
owner-API servers, each publishing its streaming cameras to the relay) and the site. One parent
login watches their child's room on each device, with tickets those devices signed; a ticket
for one camera is refused at another's endpoint; a parent of another room never gets theirs;
when the school withdraws the grant, both devices revoke the tickets and the relay cuts the
parent off at once.

kg1 films Sunflower (kg-a, green) and Rainbow (kg-b); kg2 films Sunflower's nap room (kg-c,
blue) and Moon (kg-d).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from playwright.sync_api import Browser, expect

from privacy.gates.viewers import TERMS_VERSION
from testkit.api import ApiFactory, Client, RunningApi
from testkit.broker import MqttBroker
from testkit.browser import (
    PHONE,
    csp_violations,
    log_in,
    needs_chromium,
    open_page,
    save_screenshot,
    wait_in_page,
)
from testkit.clock import FakeClock
from testkit.gates import audit_events
from testkit.net import wait_until
from testkit.relay import (
    LocalRelay,
    RelayViewer,
)
from testkit.site import (
    EVERY_DAY,
    PARENT_PASSWORD,
    STAFF,
    STAFF_PASSWORD,
    RunningSite,
    accept_terms,
    site_device,
    start_site,
)
from testkit.webrtc import GatedCamera, server_hub, solid

pytestmark = pytest.mark.slow

W, H = 320, 240
GREEN, BLUE, GREY = (40, 200, 60), (200, 80, 30), (128, 128, 128)


def devices_on_relay(
    start_api: ApiFactory, broker: MqttBroker, relay: LocalRelay, tmp_path: Path
) -> tuple[RunningApi, RunningApi, str]:
    """kg1 and kg2 publishing to the relay, whose front-end trusts both devices' keys (made in
    their data directories first, as ``camera-app relay-key`` would print them)."""
    # start_api's data directories, in order
    base, on_relay = relay.frontend_for_devices([tmp_path / "data0", tmp_path / "data1"], tmp_path)
    kg1, _ = site_device(start_api, broker, "kg1", real_time=True, relay=on_relay)
    kg2, _ = site_device(start_api, broker, "kg2", real_time=True, relay=on_relay)
    return kg1, kg2, base


@pytest.fixture
def site(mqtt_broker: MqttBroker, tmp_path: Path) -> Iterator[RunningSite]:
    running = start_site(mqtt_broker, tmp_path / "site", FakeClock(time.time()))
    try:
        yield running
    finally:
        running.stop()


def test_one_login_watches_the_right_room_on_each_device_through_the_relay(
    start_api: ApiFactory,
    mqtt_broker: MqttBroker,
    relay: LocalRelay,
    site: RunningSite,
    tmp_path: Path,
) -> None:
    with school_on_relay(start_api, mqtt_broker, relay, site, tmp_path) as (kg1, kg2, staff, li):
        assert site.acknowledged("kg2", {li})
        asyncio.run(_watch(site, staff, relay, li))
    # each device audited the tickets it signed for the site's account, and their revocation
    for device, camera in ((kg1, "kg-a"), (kg2, "kg-c")):
        events = audit_events(device)
        issued = [e for e in events if e["event"] == "relay_ticket_issued"]
        assert {e["camera_id"] for e in issued} == {camera}
        revoked = [e for e in events if e["event"] == "relay_ticket_revoked"]
        assert revoked and {e["viewer"] for e in revoked} == {f"site:{li}"}
        assert {e["ticket"] for e in issued} <= {e["ticket"] for e in revoked}


@contextlib.contextmanager
def school_on_relay(
    start_api: ApiFactory,
    broker: MqttBroker,
    relay: LocalRelay,
    site: RunningSite,
    tmp_path: Path,
) -> Iterator[tuple[RunningApi, RunningApi, Client, str]]:
    """Both devices on the relay, each room's camera a flat colour (kg-a green, kg-c blue,
    the others grey), the office logged in, li a parent of Sunflower and wang of Rainbow, both
    held by kg1: (kg1, kg2, the office, li's account id). The relay's log is printed when the
    block fails."""
    kg1, kg2, _base = devices_on_relay(start_api, broker, relay, tmp_path)
    cameras = [
        GatedCamera(server_hub(kg1), solid(W, H, GREEN), "kg-a"),
        GatedCamera(server_hub(kg1), solid(W, H, GREY), "kg-b"),
        GatedCamera(server_hub(kg2), solid(W, H, BLUE), "kg-c"),
        GatedCamera(server_hub(kg2), solid(W, H, GREY), "kg-d"),
    ]
    try:
        assert site.device_seen("kg1") and site.device_seen("kg2")
        site.add_account(STAFF, STAFF_PASSWORD)
        staff = site.login(STAFF, STAFF_PASSWORD)
        li = _parent(staff, "li", ["Sunflower"])
        wang = _parent(staff, "wang", ["Rainbow"])
        assert site.acknowledged("kg1", {li, wang})
        yield kg1, kg2, staff, li
    except BaseException:
        print(relay.log_tail())
        raise
    finally:
        for camera in cameras:
            camera.stop()


def _parent(staff: Client, username: str, rooms: list[str], *, accept: bool = True) -> str:
    """A parent with a grant of ``rooms``, who accepted the viewing terms (unless not
    ``accept``: the page asks them)."""
    made = staff.post(
        "/api/accounts", {"username": username, "password": PARENT_PASSWORD, "role": "parent"}
    )
    assert made.status == 201, made.body
    body = {"rooms": rooms, "schedule": EVERY_DAY, "expires_at": time.time() + 30 * 86400}
    assert staff.put(f"/api/grants/{made.body['id']}", body).status == 200
    if accept:
        accept_terms(Client(staff.base).login(username, PARENT_PASSWORD))
    return str(made.body["id"])


async def _ticket(parent: Client, device: str, camera: str) -> dict:
    """The parent's ticket from the site, once the device publishes the camera to the relay."""
    deadline = time.monotonic() + 15
    while True:
        reply = await asyncio.to_thread(parent.post, f"/api/watch/{device}/{camera}")
        if reply.status == 200 or time.monotonic() > deadline:
            break
        assert (reply.status, reply.error) == (403, "not_on_relay"), reply.body
        await asyncio.sleep(0.2)
    assert reply.status == 200, reply.body
    assert reply.body["camera_id"] == camera
    return dict(reply.body)


def _centre(image: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in image[H // 2, W // 2])


def _near(pixel: tuple[int, ...], colour: tuple[int, int, int]) -> bool:
    return max(abs(a - b) for a, b in zip(pixel, colour, strict=True)) < 40


async def _watch(site: RunningSite, staff: Client, relay: LocalRelay, li: str) -> None:
    parent = await asyncio.to_thread(site.login, "li", PARENT_PASSWORD)
    on_kg1 = await _ticket(parent, "kg1", "kg-a")
    on_kg2 = await _ticket(parent, "kg2", "kg-c")
    # another room, on either device: never a ticket
    for device, camera in (("kg1", "kg-b"), ("kg2", "kg-d")):
        other = await asyncio.to_thread(parent.post, f"/api/watch/{device}/{camera}")
        assert (other.status, other.error) == (403, "wrong_camera")
    wang = await asyncio.to_thread(site.login, "wang", PARENT_PASSWORD)
    for device, camera in (("kg1", "kg-a"), ("kg2", "kg-c")):
        theirs = await asyncio.to_thread(wang.post, f"/api/watch/{device}/{camera}")
        assert (theirs.status, theirs.error) == (403, "wrong_camera")
    async with aiohttp.ClientSession() as http:
        # a ticket for kg-a is refused at kg-c's endpoint
        wrong = RelayViewer(http, relay, "kg-c", on_kg1["ticket"], url=on_kg2["whep_url"])
        with pytest.raises(AssertionError, match="403"):
            await wrong.open()
        await wrong.close()
        viewers = [
            RelayViewer(http, relay, "kg-a", on_kg1["ticket"], url=on_kg1["whep_url"]),
            RelayViewer(http, relay, "kg-c", on_kg2["ticket"], url=on_kg2["whep_url"]),
        ]
        try:
            for viewer, colour in zip(viewers, (GREEN, BLUE), strict=True):
                await viewer.open()
                image = await viewer.frame(timeout=20)
                for _ in range(3):
                    image = await viewer.frame()
                assert _near(_centre(image), colour), _centre(image)
            # the school withdraws the grant: each device revokes, the relay cuts both off
            withdrawn = await asyncio.to_thread(staff.call, "DELETE", f"/api/grants/{li}")
            assert withdrawn.status == 200
            at = time.time()
            for viewer in viewers:
                ended = await viewer.ended(timeout=10)
                # the grant set to each device, its revocation pushed to the relay, the hang-up
                assert ended - at < 1.0, ended - at  # 0.03-0.10 s measured
        finally:
            for viewer in viewers:
                await viewer.close()
    again = await asyncio.to_thread(parent.post, "/api/watch/kg1/kg-a")
    assert (again.status, again.error) == (403, "wrong_camera")


@needs_chromium
def test_the_parents_phone_watches_on_the_site_page(
    browser: Browser,
    start_api: ApiFactory,
    mqtt_broker: MqttBroker,
    relay: LocalRelay,
    tmp_path: Path,
) -> None:
    """The site's page in real Chromium, in Chinese: the parent logs in once, accepts the viewing
    terms, sees the Sunflower cameras of both devices (and no other), and Watch plays kg-c from
    the relay with the ticket kg2 signed; nothing breaks the page's CSP."""
    kg1, kg2, base = devices_on_relay(start_api, mqtt_broker, relay, tmp_path)
    site = start_site(mqtt_broker, tmp_path / "site", FakeClock(time.time()), relay_origin=base)
    cameras = [
        GatedCamera(server_hub(kg1), solid(W, H, GREEN), "kg-a"),
        GatedCamera(server_hub(kg2), solid(W, H, BLUE), "kg-c"),
    ]
    try:
        assert site.device_seen("kg1") and site.device_seen("kg2")
        site.add_account(STAFF, STAFF_PASSWORD)
        li = _parent(site.login(STAFF, STAFF_PASSWORD), "li", ["Sunflower"], accept=False)
        assert kg2.wait_for(
            lambda: kg2.server.live is not None and kg2.server.live.relay.publishing("kg-c"),
            timeout=10,
        )
        page, _log = open_page(browser, site.url, locale="zh-CN", viewport=PHONE)
        expect(page.get_by_role("heading", level=1)).to_have_text("幼儿园摄像头")
        log_in(page, "li", PARENT_PASSWORD, zh=True)
        # the viewing terms first (the device's own text); the grant reaches the devices then
        expect(page.locator("#terms-text")).to_contain_text("观看时段")
        assert not site.acknowledged("kg2", {li}, timeout=0.5)
        page.get_by_role("button", name="我同意").click()
        assert site.acknowledged("kg2", {li})
        listed = page.get_by_test_id("camera-list")
        expect(listed).to_contain_text("Sunflower room")
        expect(listed).to_contain_text("Sunflower nap room")
        expect(listed).not_to_contain_text("Rainbow")
        expect(listed).not_to_contain_text("Moon")
        expect(page.get_by_test_id("my-grant")).to_contain_text("您的观看时段：周一至周日")
        page.get_by_role("button", name="观看 Sunflower nap room").click()
        expect(page.get_by_role("status")).to_have_text("正在观看：Sunflower nap room")
        assert wait_in_page(page, "document.querySelector('video').currentTime > 0.5", 20_000)
        assert csp_violations(page) == []
        save_screenshot(page, "site-parent-zh")
    except BaseException:
        print(relay.log_tail())
        raise
    finally:
        for camera in cameras:
            camera.stop()
        site.stop()


def test_an_invited_parent_watches_their_room_through_the_relay(
    start_api: ApiFactory,
    mqtt_broker: MqttBroker,
    relay: LocalRelay,
    site: RunningSite,
    tmp_path: Path,
) -> None:
    """No password set by staff: a parent joins with an invite code (their username and
    password, the terms accepted) and gets a ticket that plays their room from the relay; not
    another room's."""
    kg1, _kg2, _base = devices_on_relay(start_api, mqtt_broker, relay, tmp_path)
    camera = GatedCamera(server_hub(kg1), solid(W, H, GREEN), "kg-a")
    try:
        assert site.device_seen("kg1") and site.device_seen("kg2")
        site.add_account(STAFF, STAFF_PASSWORD)
        staff = site.login(STAFF, STAFF_PASSWORD)
        body = {"rooms": ["Sunflower"], "schedule": EVERY_DAY, "expires_on": "2099-07-15"}
        made = staff.post("/api/invites", body)
        assert made.status == 201, made.body
        joined = site.client().post(
            "/api/invites/redeem",
            {
                "code": made.body["code"],
                "username": "li",
                "password": PARENT_PASSWORD,
                "terms": TERMS_VERSION,
            },
        )
        assert joined.status == 201, joined.body
        parent = Client(site.url, joined.body["token"])
        # on a thread of its own: the module's Chromium (Playwright) may hold this thread's loop
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, _watch_green(parent, relay)).result(timeout=60)
        other = parent.post("/api/watch/kg1/kg-b")
        assert (other.status, other.error) == (403, "wrong_camera")
    except BaseException:
        print(relay.log_tail())
        raise
    finally:
        camera.stop()


def _viewer(http: aiohttp.ClientSession, relay: LocalRelay, ticket: dict) -> RelayViewer:
    """A viewer of the relay with a ticket the site gave (not yet connected)."""
    return RelayViewer(http, relay, ticket["camera_id"], ticket["ticket"], url=ticket["whep_url"])


async def _cut_off(
    viewer: RelayViewer, client: Client, path: str, body: dict | None = None, within: float = 1.0
) -> None:
    """POST ``body`` to ``path`` and check that the relay ends ``viewer`` ``within`` seconds."""
    reply = await asyncio.to_thread(client.post, path, body or {})
    assert reply.status == 200, reply.body
    at = time.time()
    ended = await viewer.ended(timeout=10)
    print(f"cut off {ended - at:.3f} s after POST {path}")
    assert ended - at < within, ended - at


@contextlib.asynccontextmanager
async def _watching(
    http: aiohttp.ClientSession, relay: LocalRelay, *tickets: dict
) -> AsyncIterator[list[RelayViewer]]:
    """A viewer of the relay for each ticket, each connected and receiving; closed after."""
    viewers = [_viewer(http, relay, ticket) for ticket in tickets]
    try:
        for viewer in viewers:
            await viewer.open()
            await viewer.frame(timeout=20)
        yield viewers
    finally:
        await asyncio.gather(*(viewer.close() for viewer in viewers))


async def _watch_green(parent: Client, relay: LocalRelay) -> None:
    ticket = await _ticket(parent, "kg1", "kg-a")
    async with aiohttp.ClientSession() as http, _watching(http, relay, ticket) as (viewer,):
        for _ in range(3):
            image = await viewer.frame()
        assert _near(_centre(image), GREEN), _centre(image)


def test_pausing_a_room_cuts_its_parents_off_at_the_relay(
    start_api: ApiFactory,
    mqtt_broker: MqttBroker,
    relay: LocalRelay,
    site: RunningSite,
    tmp_path: Path,
) -> None:
    """Staff pause Sunflower: li, watching kg-a through the relay, is cut off within a second
    (the grants go to kg1 without the room; kg1 revokes li's tickets and tells the relay);
    wang, watching Rainbow on the same device, keeps watching. Resumed, li watches again."""
    with (
        school_on_relay(start_api, mqtt_broker, relay, site, tmp_path) as (_, _, staff, li),
        ThreadPoolExecutor(1) as pool,  # a thread of its own, as above
    ):
        pool.submit(asyncio.run, _paused(site, staff, relay, li)).result(timeout=120)


async def _paused(site: RunningSite, staff: Client, relay: LocalRelay, account: str) -> None:
    li = await asyncio.to_thread(site.login, "li", PARENT_PASSWORD)
    wang = await asyncio.to_thread(site.login, "wang", PARENT_PASSWORD)
    sunflower, rainbow = await _ticket(li, "kg1", "kg-a"), await _ticket(wang, "kg1", "kg-b")
    async with (
        aiohttp.ClientSession() as http,
        _watching(http, relay, sunflower, rainbow) as (watching, bystander),
    ):
        # the grants sent, the revocation pushed
        await _cut_off(watching, staff, "/api/rooms/Sunflower/pause", within=1.5)
        for _ in range(10):  # Rainbow's viewer is not touched
            await bystander.frame(timeout=5)
    refused = await asyncio.to_thread(li.post, "/api/watch/kg1/kg-a")
    assert (refused.status, refused.error) == (409, "room_paused")
    resumed = await asyncio.to_thread(staff.post, "/api/rooms/Sunflower/resume", {})
    assert resumed.status == 200, resumed.body
    kg1 = site.service.directory.devices["kg1"]
    assert await asyncio.to_thread(
        wait_until, lambda: kg1.ack is not None and account in kg1.ack.accepted, 10
    )  # kg1 took li's grant again
    again = await _ticket(li, "kg1", "kg-a")  # the device took the grant again
    async with aiohttp.ClientSession() as http, _watching(http, relay, again) as (viewer,):
        assert _near(_centre(await viewer.frame()), GREEN)


def test_a_login_that_ends_cuts_its_stream_off_at_the_relay(
    start_api: ApiFactory,
    mqtt_broker: MqttBroker,
    relay: LocalRelay,
    site: RunningSite,
    tmp_path: Path,
) -> None:
    """li watches Sunflower on two phones. From one, li changes the password (the other phone
    was lost): the lost phone's stream is cut off at the relay within a second, this one's
    keeps going; then li logs out here and this stream is cut off too. The site names the
    ended logins to the devices (retained); each revokes the tickets it gave for them."""
    with (
        school_on_relay(start_api, mqtt_broker, relay, site, tmp_path) as (kg1, _, _, _),
        ThreadPoolExecutor(1) as pool,  # a thread of its own, as above
    ):
        pool.submit(asyncio.run, _logins_end(site, relay)).result(timeout=120)
    revoked = [e for e in audit_events(kg1) if e["event"] == "relay_ticket_revoked"]
    assert [e["reason"] for e in revoked] == ["site login ended"] * 2


async def _logins_end(site: RunningSite, relay: LocalRelay) -> None:
    here = await asyncio.to_thread(site.login, "li", PARENT_PASSWORD)
    lost = await asyncio.to_thread(site.login, "li", PARENT_PASSWORD)
    mine, theirs = await _ticket(here, "kg1", "kg-a"), await _ticket(lost, "kg1", "kg-a")
    async with (
        aiohttp.ClientSession() as http,
        _watching(http, relay, mine, theirs) as (watching, stolen),
    ):
        new = {"current": PARENT_PASSWORD, "new": PARENT_PASSWORD + "-new"}
        await _cut_off(stolen, here, "/api/password", new)
        for _ in range(10):  # this phone's login stays, and so does its stream
            await watching.frame(timeout=5)
        await _cut_off(watching, here, "/api/logout")
