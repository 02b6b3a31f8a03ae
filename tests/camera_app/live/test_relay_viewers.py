"""A kindergarten through the relay, under the device's rules: the real owner API (gates, an
invited parent) publishing to the real Janus behind the real front-end, which trusts the
device's ticket key as ``camera-app relay-key`` printed it.

The device's clock is the tests' fake clock, set to the real time: the relay compares a
ticket's ``exp`` with its own (real) clock, as it would with a device on NTP.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from playwright.sync_api import Browser, expect

from camera_app.cli import main
from testkit.api import ApiFactory, Client, RunningApi
from testkit.browser import csp_violations, log_in, needs_chromium, open_page, wait_in_page
from testkit.gates import (
    FAMILY_PASSWORD,
    audit_events,
    invite_parent,
    kindergarten,
    opt_in,
    ready_kindergarten,
    register,
)
from testkit.relay import (
    LocalRelay,
    RelayViewer,
)
from testkit.webrtc import GatedCamera, server_hub, solid

W, H = 320, 240
PARENT_PASSWORD = "p4rent-pass!"  # as testkit.gates.invite_parent sets it
GREEN = (40, 200, 60)
EVERY_DAY = {
    "windows": [
        {
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "start": "00:00",
            "end": "24:00",
        }
    ]
}


def kindergarten_on_relay(
    start_api: ApiFactory, relay: LocalRelay, tmp_path: Path
) -> tuple[RunningApi, Client, str]:
    """The kindergarten (rooms kg-a, kg-b) configured for the relay, whose front-end was
    installed with this device's ticket key; kg-a streaming. Returns the front-end's base URL."""
    # as on a real install: the device's key (made on first use), then a front-end trusting it
    base, on_relay = relay.frontend_for_devices([tmp_path / "data0"], tmp_path)
    api, owner = kindergarten(start_api, relay=on_relay)
    api.clock.set_wall(time.time())
    ready_kindergarten(api, owner)
    assert owner.post("/api/cameras/kg-a/streaming/start").status == 200
    return api, owner, base


def test_a_parent_watches_their_room_on_the_relay_until_revoked(
    start_api: ApiFactory, relay: LocalRelay, tmp_path: Path
) -> None:
    api, owner, base = kindergarten_on_relay(start_api, relay, tmp_path)
    viewer_id, parent = invite_parent(owner, api, schedule=EVERY_DAY)
    camera = GatedCamera(server_hub(api), solid(W, H, GREEN), "kg-a")
    try:
        asyncio.run(_watch_until_revoked(api, owner, parent, viewer_id, relay, base))
    except BaseException:
        print(relay.log_tail())
        raise
    finally:
        camera.stop()
    events = audit_events(api)
    started = [e for e in events if e["event"] == "relay_started"]
    assert started and started[0]["camera_id"] == "kg-a" and started[0]["class_mark"] is True
    issued = [e for e in events if e["event"] == "relay_ticket_issued"]
    assert [(e["camera_id"], e["role"], e["mark"]) for e in issued] == [
        ("kg-a", "parent", True)
    ] * 2
    revoked = [e for e in events if e["event"] == "relay_ticket_revoked"]
    assert [(e["viewer"], e["reason"]) for e in revoked] == [
        ("parent-li", "ended by owner"),
        ("parent-li", "revoked"),
    ]
    assert [e["ticket"] for e in issued] == [e["ticket"] for e in revoked]


async def _watch_until_revoked(
    api: RunningApi,
    owner: Client,
    parent: Client,
    viewer_id: str,
    relay: LocalRelay,
    base: str,
) -> None:
    ticket = await _first_ticket(api, parent, base)
    # the other room is not theirs: no ticket (the same answer as the device's live view)
    other = await asyncio.to_thread(parent.post, "/api/cameras/kg-b/relay-ticket")
    assert (other.status, other.error) == (403, "wrong_camera")
    async with aiohttp.ClientSession() as http:
        viewer = RelayViewer(http, relay, "kg-a", ticket["ticket"], url=ticket["whep_url"])
        try:
            await viewer.open()
            image = await viewer.frame(timeout=20)
            for _ in range(5):
                image = await viewer.frame()
            # the relay stream carries the class mark (room and time) burned in on the device
            assert _ink(image) > 0.05, "no class mark on the kindergarten's relay stream"
            # the owner sees them watching on the relay, and ends that viewing
            listed = await asyncio.to_thread(owner.get, "/api/live/sessions")
            [seen] = [s for s in listed.body if s["remote"] == "relay"]
            assert (seen["username"], seen["camera_id"]) == ("parent-li", "kg-a")
            ended_by_owner = await asyncio.to_thread(
                owner.post, f"/api/live/sessions/{seen['id']}/end", {}
            )
            assert ended_by_owner.status == 200, ended_by_owner.body
            at = time.time()
            ended = await viewer.ended(timeout=5)
            assert ended - at < 1.5, ended - at  # the HTTP reply, the push, the hang-up
            listed = await asyncio.to_thread(owner.get, "/api/live/sessions")
            assert [s for s in listed.body if s["remote"] == "relay"] == []
        finally:
            await viewer.close()
        # the parent may still watch: a new ticket, until the owner revokes the parent
        again = await asyncio.to_thread(parent.post, "/api/cameras/kg-a/relay-ticket")
        assert again.status == 201, again.body
        viewer = RelayViewer(http, relay, "kg-a", again.body["ticket"], url=ticket["whep_url"])
        try:
            await viewer.open()
            await viewer.frame(timeout=20)
            # the owner revokes the parent: their login ends, the ticket is revoked and pushed
            revoked = await asyncio.to_thread(
                owner.post, f"/api/viewers/{viewer_id}/revoke", {"reason": "left the class"}
            )
            assert revoked.status == 200, revoked.body
            at = time.time()
            ended = await viewer.ended(timeout=5)
            assert ended - at < 1.5, ended - at
        finally:
            await viewer.close()
        refused = RelayViewer(http, relay, "kg-a", again.body["ticket"], url=ticket["whep_url"])
        with pytest.raises(AssertionError, match=r"403.*revoked"):
            await refused.open()
        await refused.close()


async def _first_ticket(api: RunningApi, parent: Client, base: str) -> dict:
    """The parent's first ticket, once the device publishes kg-a (within a tick)."""
    deadline = time.monotonic() + 10
    while True:
        reply = await asyncio.to_thread(parent.post, "/api/cameras/kg-a/relay-ticket")
        if reply.status == 201 or time.monotonic() > deadline:
            break
        assert (reply.status, reply.error) == (409, "not_on_relay"), reply.body
        await asyncio.sleep(0.2)
    assert reply.status == 201, reply.body
    ticket = reply.body
    assert ticket["whep_url"] == f"{base}/whep/endpoint/kg-a"
    assert ticket["expires_at"] <= api.clock.wall() + 600  # relay.ticket_max_ttl_s
    return ticket


def _ink(image: np.ndarray) -> float:
    """The share of the bottom-left corner (where a mark goes) that is not the green."""
    corner = image[H - 24 :, : W // 2].astype(np.int16)
    return float((np.abs(corner - np.array(GREEN)).max(axis=2) > 60).mean())


def test_relay_key_prints_the_devices_public_key(tmp_path: Path, capsys) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  data_dir: {tmp_path / 'data'}\n")
    assert main(["relay-key", "--config", str(config)]) == 0
    first = capsys.readouterr()
    assert first.out.startswith("-----BEGIN PUBLIC KEY-----")
    assert "relay ticket key" in first.err
    key_file = tmp_path / "data" / "secrets" / "relay-ticket-key.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert main(["relay-key", "--config", str(config)]) == 0  # the same key from then on
    assert capsys.readouterr().out == first.out


@needs_chromium
def test_the_parents_phone_plays_through_the_relay_until_revoked(
    browser: Browser, start_api: ApiFactory, relay: LocalRelay, tmp_path: Path
) -> None:
    """The owner app in real Chromium: a parent's Watch plays through the relay (the device's
    own seats stay free); when the owner revokes them the relay ends the stream and the page
    asks them to log in again (their login ended too)."""
    api, owner, _base = kindergarten_on_relay(start_api, relay, tmp_path)
    viewer_id, _ = invite_parent(owner, api, schedule=EVERY_DAY)
    camera = GatedCamera(server_hub(api), solid(W, H, GREEN), "kg-a")
    try:
        page, _log = open_page(browser, api.url)
        log_in(page, "parent-li", PARENT_PASSWORD)
        expect(page.get_by_test_id("camera-list")).to_contain_text("Sunflower room")
        assert api.wait_for(
            lambda: (
                api.server.context is not None and api.server.context.live.relay.publishing("kg-a")
            ),
            timeout=10,
        )
        page.get_by_role("button", name="Watch Sunflower room").click()
        expect(page.get_by_test_id("via-relay")).to_be_visible()
        assert wait_in_page(page, "document.querySelector('video').currentTime > 0.5", 20_000)
        assert api.server.context is not None
        assert len(api.server.context.live.viewer_sessions) == 0  # not on the device's seats
        assert csp_violations(page) == []
        revoked = owner.post(f"/api/viewers/{viewer_id}/revoke", {"reason": "left the class"})
        assert revoked.status == 200
        # the login ended with the revocation; the relay ended the stream on the pushed list
        expect(page.get_by_role("status")).to_have_text(
            "Your session has ended. Please log in again."
        )
        frontend = relay.logs[f"frontend-{tmp_path.name}"]
        assert api.wait_for(lambda: "its ticket was revoked" in frontend.read_text())
    except BaseException:
        print(relay.log_tail())
        raise
    finally:
        camera.stop()


def test_a_home_camera_on_the_relay_keeps_a_watermarked_family_member_on_the_device(
    start_api: ApiFactory, relay: LocalRelay, tmp_path: Path
) -> None:
    """Home cameras may use the relay too, but its stream carries no per-viewer mark: a family
    member invited with a watermark gets no relay ticket (fail closed) and watches on the
    device, where their mark is drawn; one without gets a ticket."""
    base, on_relay = relay.frontend_for_devices([tmp_path / "data0"], tmp_path)
    api = start_api({"streaming": {"relay": on_relay}})
    api.clock.set_wall(time.time())
    owner = api.owner()
    opt_in(owner, "cam1")
    register(owner, "owner")
    assert owner.post("/api/cameras/cam1/streaming/start").status == 200
    camera = GatedCamera(server_hub(api), solid(W, H, GREEN), "cam1")
    try:
        marked = family(api, owner, "grandma", watermark=True)
        plain = family(api, owner, "grandpa", watermark=False)
        assert api.wait_for(
            lambda: (
                api.server.context is not None and api.server.context.live.relay.publishing("cam1")
            ),
            timeout=10,
        )
        refused = marked.post("/api/cameras/cam1/relay-ticket")
        assert (refused.status, refused.error) == (409, "watch_on_device")
        given = plain.post("/api/cameras/cam1/relay-ticket")
        assert given.status == 201, given.body
        assert given.body["whep_url"] == f"{base}/whep/endpoint/cam1"
    finally:
        camera.stop()


def family(api: RunningApi, owner: Client, name: str, *, watermark: bool) -> Client:
    """A family member of cam1, invited (with or without a watermark) and logged in."""
    invited = owner.post(
        "/api/viewers",
        {"username": name, "role": "family", "cameras": ["cam1"], "watermark": watermark},
    )
    assert invited.status == 201, invited.body
    accepted = api.client().post(
        "/api/invites/accept",
        {"code": invited.body["code"], "password": FAMILY_PASSWORD, "consent": True},
    )
    assert accepted.status == 201, accepted.body
    return api.client().login(name, FAMILY_PASSWORD)
