"""Relay viewers under the device's rules: tickets checked and re-checked by the real front-end
in front of the real Janus, on loopback.

The device side is the real ``camera_app.live.tickets.RelayTickets`` (signing, revocation
pushes) or, for tickets a device would never make (forged, wrong key, wrong audience), the
test device's key directly (``LocalRelay.ticket``). Two cameras publish at once, in rooms
``kg-a`` (green) and ``kg-b`` (purple), so a picture shows which room a viewer gets.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import jwt
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from yarl import URL

from camera_app.live.tickets import (
    ALGORITHM,
    RelayTickets,
    key_id,
    load_ticket_key,
    public_key_pem,
)
from camera_app.logins import Principal
from firmware.db import open_database
from privacy.audit import AuditLog
from privacy.gates.roles import Role
from privacy.gates.viewers import Access, CameraInfo
from streaming.hub import FrameHub
from streaming.relayconfig import RelayConfig
from streaming.track import RedactedVideoTrack
from streaming.whip import WhipPublisher
from testkit.clock import RunningClock
from testkit.relay import DEPLOY, LocalRelay, RelayViewer
from testkit.webrtc import GatedCamera, solid

W, H = 320, 240
GREEN, PURPLE = (40, 200, 60), (200, 60, 180)  # BGR: room A, room B
ROOMS = {"kg-a": GREEN, "kg-b": PURPLE}
CAMERAS = {
    "kg-a": CameraInfo("kg-a", "Sunflower room", "Sunflower", "kindergarten"),
    "kg-b": CameraInfo("kg-b", "Rainbow room", "Rainbow", "kindergarten"),
}
CUT_OFF_S = 1.0  # the bound: a viewer's media ends within this of the push or the expiry


@contextlib.asynccontextmanager
async def two_rooms(relay: LocalRelay) -> AsyncIterator[None]:
    """Rooms A and B both published, each a flat colour of its own."""
    hub = FrameHub(asyncio.get_running_loop())
    cameras = [GatedCamera(hub, solid(W, H, colour), room) for room, colour in ROOMS.items()]
    publishers = [
        WhipPublisher(RedactedVideoTrack(hub, room), relay.endpoint(room), relay.token)
        for room in ROOMS
    ]
    try:
        await asyncio.gather(*(p.start() for p in publishers))
        await asyncio.gather(*(streaming(relay, room) for room in ROOMS))
        yield
    finally:
        await asyncio.gather(*(p.close() for p in publishers))
        for camera in cameras:
            camera.stop()


async def streaming(relay: LocalRelay, room: str, timeout: float = 10) -> None:
    """Wait until viewers can subscribe to ``room`` (Janus has the camera's media)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            probe = {"Authorization": f"Bearer {relay.ticket(room)}"}
            async with http.post(relay.viewer_endpoint(room), headers=probe) as reply:
                if reply.status == 201:
                    resource = str(URL(relay.whip_base).with_path(reply.headers["Location"]))
                    async with http.delete(resource, headers=probe) as gone:
                        assert gone.status == 200
                    return
                assert reply.status == 404, await reply.text()
            await asyncio.sleep(0.1)
    pytest.fail(f"room {room} never had a stream")


def room_of(image: np.ndarray) -> str:
    colour = image.reshape(-1, 3).mean(axis=0)
    rooms = [room for room, bgr in ROOMS.items() if np.abs(colour - bgr).max() < 25]
    assert len(rooms) == 1, colour
    return rooms[0]


class Device:
    """The device's ticket side, as ``build_live`` makes it, for the relay under test."""

    def __init__(self, relay: LocalRelay, key: Ed25519PrivateKey, db: Path) -> None:
        self.clock = RunningClock()
        self.conn: sqlite3.Connection = open_database(db)
        config = RelayConfig(
            whip_url=relay.whip_base + "/whip/endpoint/{camera}", token_file=Path("/unused")
        )
        self.tickets = RelayTickets(
            key, config, self.clock, AuditLog(self.conn, self.clock), issuer="test-device"
        )

    def issue(self, camera: str, login: str, seconds_left: float | None = None) -> str:
        principal = Principal(
            "parent-li", Role.PARENT, "v1", self.clock.wall() + 3600, session_id=login
        )
        access = Access(True, watermark=True, seconds_left=seconds_left)
        return self.tickets.issue(principal, CAMERAS[camera], access, mark="viewer v1").token

    def audit(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT event FROM audit ORDER BY seq")]


@pytest.fixture
def device(relay: LocalRelay, tmp_path: Path) -> Iterator[Device]:
    made = Device(relay, relay.device_key, tmp_path / "camera.db")
    yield made
    made.conn.close()


async def assert_refused(
    http: aiohttp.ClientSession,
    relay: LocalRelay,
    room: str,
    ticket: str | None,
    status: int,
    words: str,
) -> None:
    """A subscription to ``room`` with ``ticket`` is refused with ``status``, saying ``words``."""
    headers = {"Authorization": f"Bearer {ticket}"} if ticket is not None else {}
    async with http.post(relay.viewer_endpoint(room), headers=headers) as reply:
        text = await reply.text()
        assert (reply.status, words in text) == (status, True), (reply.status, text)


def malformed_revocations(relay: LocalRelay, **claims: object) -> str:
    """A revocation list signed with the device's key whose content is malformed."""
    now = math.floor(time.time())
    body = {
        "iss": "test-device",
        "aud": relay.whip_base,
        "iat": now,
        "exp": now + 60,
        "use": "revocations",
        "not_before": 0,
        **claims,
    }
    kid = key_id(relay.device_key.public_key())
    return jwt.encode(body, relay.device_key, algorithm=ALGORITHM, headers={"kid": kid})


# -- at subscribe ------------------------------------------------------------------------------


def test_bad_tickets_are_refused_with_a_clear_status(relay: LocalRelay, device: Device) -> None:
    asyncio.run(_bad_tickets(relay, device))


async def _bad_tickets(relay: LocalRelay, device: Device) -> None:
    good = device.issue("kg-a", "login-1")
    head, body, signature = good.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    stranger = Ed25519PrivateKey.generate()
    cases = {
        "forged": (f"{head}.{body}.{flipped}", 401, "signature is not valid"),
        "wrong key": (relay.ticket("kg-a", key=stranger), 401, "key this relay does not know"),
        "wrong aud": (
            relay.ticket("kg-a", audience="https://other-relay.example"),
            401,
            "another relay",
        ),
        "expired": (
            relay.ticket("kg-a", exp=math.floor(time.time()) - 5),
            401,
            "expired",
        ),
        "not a jwt": ("x" * 40, 401, "not a JWT"),
        "no ticket": (None, 401, "ticket is required"),
        "publisher token": (relay.token, 401, "not a JWT"),
        "no cam": (relay.ticket("kg-a", cam=None), 401, "not valid"),
        "other camera": (device.issue("kg-b", "login-1"), 403, "another camera"),
    }
    async with aiohttp.ClientSession() as http, two_rooms(relay):
        for ticket, status, words in cases.values():
            await assert_refused(http, relay, "kg-a", ticket, status, words)
        # and the good one is let in: the refusals above were for what they say
        viewer = RelayViewer(http, relay, "kg-a", good)
        try:
            await viewer.open()
            assert room_of(await viewer.frame()) == "kg-a"
        finally:
            await viewer.close()


def test_a_device_key_bound_to_its_rooms_opens_no_other_room(
    relay: LocalRelay, tmp_path: Path
) -> None:
    """``--ticket-key-file kg-b=KEY``: that device's tickets open kg-b only, while a key
    installed without rooms (the test device's) opens every room as before. A front-end of
    its own on the same Janus, with no publication: a ticket that passes every check gets 404
    (no stream), one refused for its key 403."""
    kg2 = Ed25519PrivateKey.generate()
    pem = tmp_path / "kg2.pem"
    pem.write_text(public_key_pem(kg2))
    base = relay.start_frontend("bound", "--ticket-key-file", f"kg-b={pem}")

    async def answer(http: aiohttp.ClientSession, room: str, ticket: str) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {ticket}"}
        async with http.post(f"{base}/whep/endpoint/{room}", headers=headers) as reply:
            return reply.status, await reply.text()

    async def answers() -> list[tuple[int, str]]:
        async with aiohttp.ClientSession() as http:
            return [
                await answer(http, "kg-a", relay.ticket("kg-a", key=kg2, audience=base)),
                await answer(http, "kg-b", relay.ticket("kg-b", key=kg2, audience=base)),
                await answer(http, "kg-a", relay.ticket("kg-a", audience=base)),
            ]

    elsewhere, own, unbound = asyncio.run(answers())
    assert elsewhere[0] == 403 and "not trusted for this room" in elsewhere[1], elsewhere
    assert own[0] == 404 and "no stream" in own[1], own
    assert unbound[0] == 404 and "no stream" in unbound[1], unbound


def test_a_bad_room_binding_stops_the_front_end_with_a_clear_error(
    relay: LocalRelay, tmp_path: Path
) -> None:
    """A ticket key or a device's publisher token bound to no room, a key that does not load,
    a token short enough to guess, or no publisher token at all: the front-end does not start,
    and says why."""
    pem = tmp_path / "key.pem"
    pem.write_text(public_key_pem(Ed25519PrivateKey.generate()))
    short = tmp_path / "short-token"
    short.write_text("guessable")
    token = ["--token-file", str(relay.files["token"])]
    for args, words in (
        ([*token, "--ticket-key-file", f"={pem}"], "give ROOM,ROOM=PATH"),
        ([*token, "--ticket-key-file", "kg-a=/nonexistent.pem"], "cannot load"),
        ([*token, "--room-token-file", f"kg-a,={short}"], "at least"),
        ([*token, "--room-token-file", str(relay.files["token"])], "name the device's rooms"),
        (["--ticket-key-file", str(pem)], "give the publishers' token"),
    ):
        result = subprocess.run(
            [sys.executable, str(DEPLOY / "whip_frontend.py"), "--janus", relay.janus_url,
             "--listen", "127.0.0.1:1", "--audience", "https://relay.example", *args],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert result.returncode == 2 and words in result.stderr, (args, result.stderr)


def test_a_parent_of_room_a_never_receives_room_b(relay: LocalRelay, device: Device) -> None:
    asyncio.run(_rooms(relay, device))


async def _rooms(relay: LocalRelay, device: Device) -> None:
    async with aiohttp.ClientSession() as http, two_rooms(relay):
        parent_a = RelayViewer(http, relay, "kg-a", device.issue("kg-a", "login-a"))
        parent_b = RelayViewer(http, relay, "kg-b", device.issue("kg-b", "login-b"))
        try:
            await asyncio.gather(parent_a.open(), parent_b.open())
            for _ in range(10):  # every frame of A's viewer is room A's, and B's room B's
                assert room_of(await parent_a.frame()) == "kg-a"
                assert room_of(await parent_b.frame()) == "kg-b"
            # A's ticket opens nothing in room B, not even by renewing B's resource with it
            await assert_refused(http, relay, "kg-b", parent_a.ticket, 403, "another camera")
            assert parent_b.resource is not None
            async with http.post(f"{parent_b.resource}/renew", headers=parent_a.auth) as reply:
                assert reply.status == 403
            # nor can A hang up or answer for B's session (another viewer's: no such resource)
            a_ticket_for_b = device.issue("kg-b", "login-a")
            async with http.delete(
                parent_b.resource, headers={"Authorization": f"Bearer {a_ticket_for_b}"}
            ) as reply:
                assert reply.status == 404
            assert room_of(await parent_b.frame()) == "kg-b"  # B still watches
        finally:
            await asyncio.gather(parent_a.close(), parent_b.close())


# -- while watching ------------------------------------------------------------------------------


def test_a_revoked_ticket_ends_its_session_within_a_second_and_is_refused_after(
    relay: LocalRelay, device: Device
) -> None:
    asyncio.run(_revoked(relay, device))


async def _revoked(relay: LocalRelay, device: Device) -> None:
    async with aiohttp.ClientSession() as http, two_rooms(relay):
        leaving = RelayViewer(http, relay, "kg-a", device.issue("kg-a", "login-out"))
        staying = RelayViewer(http, relay, "kg-a", device.issue("kg-a", "login-stays"))
        try:
            await asyncio.gather(leaving.open(), staying.open())
            await asyncio.gather(leaving.frame(), staying.frame())
            # the login ends on the device (logout, revoked viewer, owner ended it): its
            # tickets are revoked and the list pushed at once
            assert device.tickets.revoke_for_logins({"login-out"}, "logout") == 1
            pushed = time.time()
            assert device.tickets._pushing is not None
            await device.tickets._pushing
            ended = await leaving.ended(timeout=5)
            assert ended - pushed < CUT_OFF_S, ended - pushed
            assert leaving.last_frame_at - pushed < CUT_OFF_S
            assert room_of(await staying.frame()) == "kg-a"  # only that viewer
            # the revoked ticket is refused afterwards
            await assert_refused(http, relay, "kg-a", leaving.ticket, 403, "revoked")
        finally:
            await asyncio.gather(leaving.close(), staying.close())
    assert device.audit().count("relay_ticket_revoked") == 1


def test_a_viewer_is_cut_off_within_a_second_of_their_window_end(
    relay: LocalRelay, device: Device
) -> None:
    asyncio.run(_window_ends(relay, device))


async def _window_ends(relay: LocalRelay, device: Device) -> None:
    async with aiohttp.ClientSession() as http, two_rooms(relay):
        # the parent's viewing window ends in ~3 s: the ticket's exp is that moment
        ticket = device.issue("kg-a", "login-w", seconds_left=3.5)
        window_end = math.floor(device.clock.wall() + 3.5)
        viewer = RelayViewer(http, relay, "kg-a", ticket)
        try:
            await viewer.open()
            assert room_of(await viewer.frame()) == "kg-a"
            ended = await viewer.ended(timeout=10)
            assert window_end <= ended < window_end + CUT_OFF_S, ended - window_end
            assert viewer.last_frame_at < window_end + CUT_OFF_S
        finally:
            await viewer.close()
        await assert_refused(http, relay, "kg-a", ticket, 401, "expired")


def test_a_renewed_ticket_keeps_the_session(relay: LocalRelay, device: Device) -> None:
    asyncio.run(_renewed(relay, device))


async def _renewed(relay: LocalRelay, device: Device) -> None:
    async with aiohttp.ClientSession() as http, two_rooms(relay):
        viewer = RelayViewer(http, relay, "kg-a", device.issue("kg-a", "login-r", 2.5))
        try:
            await viewer.open()
            await viewer.frame()
            fresh = device.issue("kg-a", "login-r")  # the owner app renews before exp
            assert viewer.resource is not None
            renew = {"Authorization": f"Bearer {fresh}"}
            async with http.post(f"{viewer.resource}/renew", headers=renew) as reply:
                assert reply.status == 204
            await asyncio.sleep(4)  # past the first ticket's exp
            assert viewer.pc.connectionState == "connected"
            assert room_of(await viewer.frame()) == "kg-a"
            # another viewer's ticket cannot renew it
            other = device.issue("kg-a", "login-other")
            async with http.post(
                f"{viewer.resource}/renew", headers={"Authorization": f"Bearer {other}"}
            ) as reply:
                assert reply.status == 404
        finally:
            await viewer.close()


def test_a_restarted_device_voids_its_earlier_tickets(
    relay: LocalRelay, device: Device, tmp_path: Path
) -> None:
    asyncio.run(_restarted(relay, device, tmp_path))


async def _restarted(relay: LocalRelay, device: Device, tmp_path: Path) -> None:
    """Tickets live in the device's memory: a new run cannot revoke the last run's, so it tells
    the relay to refuse them (``not_before``), and the viewers fetch new ones."""
    async with aiohttp.ClientSession() as http, two_rooms(relay):
        viewer = RelayViewer(http, relay, "kg-a", device.issue("kg-a", "login-x"))
        try:
            await viewer.open()
            await viewer.frame()
            await asyncio.sleep(1.1)  # the new run starts in a later second
            again = Device(relay, relay.device_key, tmp_path / "camera-2.db")
            try:
                assert await again.tickets.push()
                await viewer.ended(timeout=CUT_OFF_S + 1)
                await assert_refused(http, relay, "kg-a", viewer.ticket, 403, "restarted")
                fresh = RelayViewer(http, relay, "kg-a", again.issue("kg-a", "login-x"))
                await fresh.open()
                assert room_of(await fresh.frame()) == "kg-a"
                await fresh.close()
            finally:
                again.conn.close()
        finally:
            await viewer.close()


def test_revocation_lists_must_be_signed_by_an_installed_device_key(
    relay: LocalRelay, device: Device, tmp_path: Path
) -> None:
    asyncio.run(_unsigned_revocations(relay, device, tmp_path))


async def _unsigned_revocations(relay: LocalRelay, device: Device, tmp_path: Path) -> None:
    url = f"{relay.whip_base}/whip/revocations"
    stranger = Device(relay, load_ticket_key(tmp_path / "stranger.pem"), tmp_path / "s.db")
    try:
        async with aiohttp.ClientSession() as http:
            for token, status in (
                (None, 401),
                (relay.token, 401),  # the publisher's token is not a device's signature
                (stranger.tickets.revocations_token(), 401),
                (device.issue("kg-a", "login-t"), 401),  # a ticket is not a revocation list
                (malformed_revocations(relay, revoked=[["a-jti", "soon"]]), 400),
                (malformed_revocations(relay, revoked="everything"), 400),
                (device.tickets.revocations_token(), 200),
            ):
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                async with http.post(url, headers=headers) as reply:
                    assert reply.status == status, (token, await reply.text())
    finally:
        stranger.conn.close()
