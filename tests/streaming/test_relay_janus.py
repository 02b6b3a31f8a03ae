"""Scale-out over WHIP to a real Janus relay, on loopback.

The real ``janus`` (Debian's package) runs with a temporary copy of ``deploy/janus``'s configs
(free ports, and random values for the API secret, the room secret and the room pin, as an
install would set them), and the real WHIP front-end (``deploy/janus/whip_frontend.py``) runs as
the command the README gives. The device side is ``streaming.whip.WhipPublisher`` publishing a
``RedactedVideoTrack`` of a ``FrameHub`` that is fed ``privacy.RedactedFrame`` s made by the real
``FrameGate``. Viewers are aiortc peer connections that subscribe through Janus's VideoRoom API
over its HTTP transport (Janus offers, the viewer answers), and through the front-end's viewer
endpoint, which does the same on the relay host.

Network: no STUN or TURN server on either side, IPv6 and mDNS off. Janus and aiortc both leave
out loopback interfaces when they gather host candidates, so ICE pairs this host's own
addresses, which the kernel delivers locally: nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import socket
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from firmware.identity import ensure_device_identity
from streaming.hub import FrameHub
from streaming.track import RedactedVideoTrack
from streaming.whip import WhipError, WhipPublisher
from testkit.api import ApiFactory, Client, make_uscc
from testkit.gates import DAILY_9_TO_21, opt_in, register
from testkit.net import free_port
from testkit.relay import ROOM, LocalRelay, RelayViewer, deploy_module
from testkit.webrtc import GatedCamera, Receiver, server_hub

CAMERA = "cam1"
W, H = 320, 240
IDLE_TIMEOUT_S = 2  # the front-end drops a publication whose video stopped this long
LEFT, RIGHT = (40, 200, 60), (200, 60, 180)  # BGR: green | purple, so size and side both show


janusapi = deploy_module("janusapi")  # the viewers below speak to Janus with the relay's client


@pytest.fixture(scope="module")
def relay_frontend_args() -> tuple[str, ...]:
    return ("--idle-timeout", str(IDLE_TIMEOUT_S))


# -- the device side: redacted frames into a hub, a track of them published over WHIP ---------


def two_colours(_sequence: int) -> np.ndarray:
    """Green on the left, purple on the right: the received picture shows size and side."""
    image = np.empty((H, W, 3), np.uint8)
    image[:, : W // 2] = LEFT
    image[:, W // 2 :] = RIGHT
    return image


@contextlib.asynccontextmanager
async def camera_track() -> AsyncIterator[RedactedVideoTrack]:
    async with camera_and_track() as (_camera, track):
        yield track


@contextlib.asynccontextmanager
async def camera_and_track() -> AsyncIterator[tuple[GatedCamera, RedactedVideoTrack]]:
    hub = FrameHub(asyncio.get_running_loop())
    camera = GatedCamera(hub, two_colours, CAMERA)
    try:
        yield camera, RedactedVideoTrack(hub, CAMERA)
    finally:
        camera.stop()


# -- the viewer side: VideoRoom subscribers over Janus's HTTP API ----------------------------


async def janus_publishers(http: aiohttp.ClientSession, relay: LocalRelay) -> list[dict[str, Any]]:
    """The room's publishers, as Janus lists them."""
    janus = janusapi.JanusSession(http, relay.janus_url, relay.janus_secret)
    await janus.open("janus.plugin.videoroom")
    try:
        data, _ = await janus.message({"request": "listparticipants", "room": ROOM})
    finally:
        await janus.destroy()
    return [p for p in data["participants"] if p.get("publisher")]


class Viewer(Receiver):
    """One relay viewer, as a Janus VideoRoom client does it: a participant handle that joins
    the room without publishing (it gets the room's events, e.g. ``unpublished``), and a
    subscriber handle for which Janus offers the camera's feed and the viewer's aiortc peer
    answers."""

    def __init__(self, http: aiohttp.ClientSession, relay: LocalRelay) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []
        self.room = janusapi.JanusSession(
            http, relay.janus_url, relay.janus_secret, on_event=self.events.append
        )
        self.feed = janusapi.JanusSession(http, relay.janus_url, relay.janus_secret)
        self._pin = relay.room_pin

    async def open(self) -> str:
        """Join the room and subscribe to its publisher; returns the publisher's feed id."""
        await self.room.open("janus.plugin.videoroom")
        join = {"request": "join", "room": ROOM, "ptype": "publisher", "pin": self._pin}
        data, _ = await self.room.message({**join, "display": "viewer"})
        assert data["videoroom"] == "joined", data
        publishers = data["publishers"]
        assert len(publishers) == 1, publishers
        feed = str(publishers[0]["id"])
        await self.feed.open("janus.plugin.videoroom")
        subscribe = {**join, "ptype": "subscriber", "streams": [{"feed": feed}]}
        data, offer = await self.feed.message(subscribe)
        assert data["videoroom"] == "attached" and offer is not None, data
        assert "m=audio" not in offer["sdp"]
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        answer = {"type": "answer", "sdp": self.pc.localDescription.sdp}
        data, _ = await self.feed.message({"request": "start"}, answer)
        assert data.get("started") == "ok", data
        return feed

    async def told_unpublished(self, feed: str, timeout: float = 10) -> None:
        """Wait for the room to tell this viewer that ``feed`` is gone."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events:
                data = event.get("plugindata", {}).get("data", {})
                if str(data.get("unpublished")) == feed or str(data.get("leaving")) == feed:
                    return
            await asyncio.sleep(0.05)
        pytest.fail(f"the viewer was not told that the feed ended: {self.events}")

    async def frames_stop(self, quiet: float = 1.5, timeout: float = 10) -> None:
        """Wait until no frame arrived for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if await asyncio.wait_for(self.frames.get(), quiet) is None:
                    return  # the track ended
            except TimeoutError:
                return
        pytest.fail("frames kept arriving after the camera stopped publishing")

    async def close(self) -> None:
        await asyncio.gather(self.feed.destroy(), self.room.destroy())
        await super().close()


def assert_camera_picture(image: np.ndarray) -> None:
    assert image.shape == (H, W, 3)
    # away from the seam, where VP8 blurs the colour edge
    left = image[:, : W // 2 - 16].reshape(-1, 3).mean(axis=0)
    right = image[:, W // 2 + 16 :].reshape(-1, 3).mean(axis=0)
    assert np.abs(left - LEFT).max() < 20, left
    assert np.abs(right - RIGHT).max() < 20, right


async def wait_for_publisher(http: aiohttp.ClientSession, relay: LocalRelay) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        publishers = await janus_publishers(http, relay)
        if publishers:
            return
        await asyncio.sleep(0.1)
    pytest.fail("the camera never appeared as the room's publisher")


# -- tests ------------------------------------------------------------------------------------


def test_relay_fans_out_the_one_published_stream(relay: LocalRelay) -> None:
    try:
        asyncio.run(_fan_out(relay))
    except BaseException:
        print(relay.log_tail())
        raise


async def _fan_out(relay: LocalRelay) -> None:
    async with aiohttp.ClientSession() as http, camera_track() as track:
        publisher = WhipPublisher(track, relay.endpoint(), relay.token)
        await publisher.start()
        assert publisher.resource_url is not None
        assert publisher.resource_url.startswith(f"{relay.whip_base}/whip/resource/")
        viewers: list[Viewer] = []
        guests: list[RelayViewer] = []
        try:
            await wait_for_publisher(http, relay)
            first = Viewer(http, relay)
            viewers.append(first)
            feed = await first.open()
            assert_camera_picture(await first.frame())

            # three more viewers at once: the relay fans out, the device still sends once
            more = [Viewer(http, relay) for _ in range(3)]
            viewers += more
            assert await asyncio.gather(*(viewer.open() for viewer in more)) == [feed] * 3
            pictures = await asyncio.gather(*(viewer.frame() for viewer in viewers))
            for picture in pictures:
                assert_camera_picture(picture)

            # viewers can also come through the front-end, with Janus's API kept off the network
            outside = [RelayViewer(http, relay) for _ in range(2)]
            guests += outside
            await asyncio.gather(*(viewer.open() for viewer in outside))
            for picture in await asyncio.gather(*(viewer.frame() for viewer in outside)):
                assert_camera_picture(picture)
            assert [p["id"] for p in await janus_publishers(http, relay)] == [feed]

            # the device stops publishing: DELETE, the relay unpublishes, the viewers' feed ends
            await publisher.close()
            assert publisher.resource_url is None
            assert await janus_publishers(http, relay) == []
            await asyncio.gather(*(viewer.told_unpublished(feed) for viewer in viewers))
            await asyncio.gather(*(viewer.frames_stop() for viewer in viewers))
            await asyncio.gather(*(viewer.ended() for viewer in outside))
            assert await janus_publishers(http, relay) == []
        finally:
            await publisher.close()
            await asyncio.gather(*(viewer.close() for viewer in [*viewers, *guests]))


def test_a_publication_whose_video_stops_is_dropped(relay: LocalRelay) -> None:
    asyncio.run(_goes_silent(relay))


async def _goes_silent(relay: LocalRelay) -> None:
    """The camera stops sending (a stalled pipeline, a device gone without a DELETE): the relay
    frees the room after the idle timeout and hangs up its viewers."""
    async with aiohttp.ClientSession() as http, camera_and_track() as (camera, track):
        publisher = WhipPublisher(track, relay.endpoint(), relay.token)
        viewer = RelayViewer(http, relay)
        try:
            await publisher.start()
            await wait_for_publisher(http, relay)
            await viewer.open()
            assert_camera_picture(await viewer.frame())
            camera.stop()
            deadline = time.monotonic() + IDLE_TIMEOUT_S + 10
            while await janus_publishers(http, relay):
                assert time.monotonic() < deadline, "the silent publication was never dropped"
                await asyncio.sleep(0.2)
            await viewer.ended()
        finally:
            await publisher.close()  # its resource is gone already: the DELETE gets a 404
            await viewer.close()


def test_publishing_over_https_verifies_the_relay(relay: LocalRelay, tmp_path: Path) -> None:
    """The front-end serving TLS itself (--certfile/--keyfile), as a relay host may run it."""
    identity = ensure_device_identity(tmp_path / "tls", ips=["127.0.0.1"])
    base = relay.start_frontend(
        "tls_frontend",
        "--certfile", str(identity.cert_path),
        "--keyfile", str(identity.key_path),
        cafile=identity.cert_path,
    )  # fmt: skip
    asyncio.run(_over_https(relay, f"{base}/whip/endpoint/{ROOM}", identity.cert_path))


async def _over_https(relay: LocalRelay, url: str, certificate: Path) -> None:
    async with aiohttp.ClientSession() as http, camera_track() as track:
        # the relay's certificate is not one the system trusts: refused before the offer is sent
        untrusted = WhipPublisher(track, url, relay.token)
        with pytest.raises(WhipError) as refused:
            await untrusted.start()
        assert refused.value.status is None and "certificate" in refused.value.reason.lower()
        assert relay.token not in str(refused.value)
        assert await janus_publishers(http, relay) == []

        trusted = ssl.create_default_context(cafile=str(certificate))
        publisher = WhipPublisher(track, url, relay.token, ssl_context=trusted)
        try:
            await publisher.start()
            assert publisher.resource_url is not None
            assert publisher.resource_url.startswith("https://127.0.0.1:")
            await wait_for_publisher(http, relay)
        finally:
            await publisher.close()
        assert await janus_publishers(http, relay) == []


def test_bad_token_is_refused_and_nothing_is_published(relay: LocalRelay) -> None:
    asyncio.run(_bad_token(relay))


async def _bad_token(relay: LocalRelay) -> None:
    async with aiohttp.ClientSession() as http, camera_track() as track:
        publisher = WhipPublisher(track, relay.endpoint(), "not-the-" + relay.token)
        with pytest.raises(WhipError) as refused:
            await publisher.start()
        assert refused.value.status == 401
        assert relay.token not in str(refused.value)
        assert publisher.connection_state == "closed"
        async with http.post(
            relay.endpoint(), data=b"v=0\r\n", headers={"Content-Type": "application/sdp"}
        ) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert await janus_publishers(http, relay) == []
        # viewers need a ticket (the publisher's token is not one), and a live room
        for token in (None, relay.token, "x" * 32):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with http.post(relay.viewer_endpoint(), headers=headers) as response:
                assert response.status == 401
        viewer = {"Authorization": f"Bearer {relay.ticket()}"}
        async with http.post(relay.viewer_endpoint(), headers=viewer) as response:
            assert response.status == 404  # nothing is being published
        # nor can a ticket publish or delete a publication
        async with http.post(
            relay.endpoint(), data=b"v=0\r\n", headers={**viewer, "Content-Type": "application/sdp"}
        ) as response:
            assert response.status == 401


def test_a_devices_own_token_publishes_to_its_rooms_only(relay: LocalRelay, tmp_path: Path) -> None:
    """``--room-token-file kg-b=FILE`` on a front-end of its own: that device's token publishes
    to kg-b, is refused 403 at kg-a, and cannot end kg-a's publication (made with the relay's
    token), though it ends its own."""
    own = secrets.token_urlsafe(24)
    token_file = tmp_path / "kg2-token"
    token_file.write_text(own + "\n")
    base = relay.start_frontend("room-tokens", "--room-token-file", f"kg-b={token_file}")
    asyncio.run(_room_tokens(relay, base, own))


async def _room_tokens(relay: LocalRelay, base: str, own: str) -> None:
    async with (
        aiohttp.ClientSession() as http,
        camera_track() as first,
        camera_track() as second,
        camera_track() as third,
    ):
        mine = WhipPublisher(first, f"{base}/whip/endpoint/kg-b", own)
        theirs = WhipPublisher(second, f"{base}/whip/endpoint/kg-a", relay.token)
        try:
            await mine.start()
            elsewhere = WhipPublisher(third, f"{base}/whip/endpoint/kg-a", own)
            with pytest.raises(WhipError) as refused:
                await elsewhere.start()
            assert refused.value.status == 403
            await theirs.start()
            assert theirs.resource_url is not None and mine.resource_url is not None
            auth = {"Authorization": f"Bearer {own}"}
            async with http.delete(theirs.resource_url, headers=auth) as reply:
                assert reply.status == 403, await reply.text()
            async with http.delete(mine.resource_url, headers=auth) as reply:
                assert reply.status == 200, await reply.text()
            async with http.delete(f"{base}/whip/resource/nothing", headers=auth) as reply:
                assert reply.status == 404
            async with http.delete(theirs.resource_url, headers={"Authorization": "Bearer x"}) as r:
                assert r.status == 401
        finally:
            await asyncio.gather(mine.close(), theirs.close())


def test_malformed_offers_and_unknown_rooms_are_refused(relay: LocalRelay) -> None:
    asyncio.run(_malformed(relay))


async def _malformed(relay: LocalRelay) -> None:
    auth = {"Authorization": f"Bearer {relay.token}"}
    sdp = {**auth, "Content-Type": "application/sdp"}
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="sendonly")
    pc.addTransceiver("audio", direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    with_audio = pc.localDescription.sdp
    video_only = re.sub(r"m=audio.*", "", with_audio, flags=re.S)  # the audio section is last
    await pc.close()
    async with aiohttp.ClientSession() as http:
        for bad in (b"", b"hello", b"v=0\r\nthis is not sdp\r\n", b"\xff\xfe", with_audio.encode()):
            async with http.post(relay.endpoint(), data=bad, headers=sdp) as response:
                assert response.status == 400, (bad[:20], response.status)
        # Janus parses what the front-end lets through, and refuses it as well
        broken = video_only.replace("a=fingerprint:", "a=fingerprint:x")
        async with http.post(relay.endpoint(), data=broken.encode(), headers=sdp) as response:
            assert response.status == 400, await response.text()
        text = {**auth, "Content-Type": "text/plain"}
        async with http.post(relay.endpoint(), data=video_only.encode(), headers=text) as response:
            assert response.status == 415
        async with http.post(
            relay.endpoint("no-such-room"), data=video_only.encode(), headers=sdp
        ) as response:
            assert response.status == 404
        async with http.delete(f"{relay.whip_base}/whip/resource/nothing", headers=auth) as reply:
            assert reply.status == 404
        assert await janus_publishers(http, relay) == []


# -- the publisher's own checks (no relay needed) ---------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://192.0.2.10/whip/endpoint/camera",
        "http://relay.example/whip/endpoint/camera",
        "http://localhost.example/whip/endpoint/camera",
        "ftp://127.0.0.1/whip",
        "https://user:pass@relay.example/whip/endpoint/camera",
    ],
)
def test_publisher_refuses_plain_http_beyond_loopback_before_any_traffic(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("WhipPublisher touched the network")

    monkeypatch.setattr("streaming.whip.aiohttp.ClientSession", no_network)
    monkeypatch.setattr("streaming.whip.RTCPeerConnection", no_network)
    asyncio.run(_refuses(url))


async def _refuses(url: str) -> None:
    async with camera_track() as track:
        with pytest.raises(WhipError) as refused:
            WhipPublisher(track, url, "a-token-that-must-not-leak")
        assert refused.value.status is None
        assert "a-token-that-must-not-leak" not in str(refused.value)


def test_publisher_reports_an_unreachable_relay() -> None:
    asyncio.run(_unreachable(free_port()))


async def _unreachable(port: int) -> None:
    async with camera_track() as track:
        publisher = WhipPublisher(track, f"http://127.0.0.1:{port}/whip/endpoint/camera", "t" * 32)
        with pytest.raises(WhipError) as refused:
            await publisher.start()
        assert refused.value.status is None
        assert "cannot reach the relay" in refused.value.reason
        assert "t" * 32 not in str(refused.value)
        assert publisher.connection_state == "closed"


# -- the device: the owner's start publishes, any gate closing unpublishes -------------------


def test_device_publishes_its_live_camera_to_the_relay_and_stops_with_the_gates(
    relay: LocalRelay, start_api: ApiFactory, tmp_path: Path
) -> None:
    token_file = tmp_path / "relay-token"
    token_file.write_text(relay.token + "\n")
    token_file.chmod(0o600)
    api = start_api(
        {
            "streaming": {
                "profile": "merchant",
                "public_url": "https://shop-cam.example.com",
                "relay": {"whip_url": relay.endpoint(), "token_file": str(token_file)},
            }
        }
    )
    owner = api.owner()
    register(owner, "business", uscc=make_uscc())
    opt_in(owner, CAMERA)
    notice = owner.post(
        f"/api/cameras/{CAMERA}/notices",
        {"operator": "Shop", "purpose": "Live", "contact": "c@example.cn", "hours": DAILY_9_TO_21},
    ).body
    owner.post(f"/api/notices/{notice['id']}/attest", {"confirmation": "posted"})
    camera = GatedCamera(server_hub(api), two_colours, CAMERA)
    try:
        assert owner.post("/api/cameras/cam1/streaming/start").status == 200
        asyncio.run(_device_publishes(relay, owner))
    except BaseException:
        print(relay.log_tail())
        raise
    finally:
        camera.stop()
    conn = api.db()
    try:
        rows = conn.execute(
            "SELECT event, details FROM audit WHERE event LIKE 'relay_%' ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()
    assert [r[0] for r in rows] == ["relay_started", "relay_stopped"]
    assert "127.0.0.1" in rows[0][1] and "owner opted out" in rows[1][1]
    assert relay.token not in str(rows)


async def _device_publishes(relay: LocalRelay, owner: Client) -> None:
    async with aiohttp.ClientSession() as http:
        await wait_for_publisher(http, relay)  # the server's ticker published within a second
        viewer = Viewer(http, relay)
        try:
            feed = await viewer.open()
            assert_camera_picture(await viewer.frame())
            # a gate closes: the stream stops and the relay publication goes with it
            await asyncio.to_thread(owner.post, "/api/cameras/cam1/streaming/opt-out")
            await viewer.told_unpublished(feed, timeout=5)
            assert await janus_publishers(http, relay) == []
        finally:
            await viewer.close()


def test_relay_config_is_checked() -> None:
    from camera_app.config.loader import ConfigError, parse_config

    good = {"whip_url": "https://relay.example/whip/endpoint/{camera}", "token_file": "/t"}
    config = parse_config({"streaming": {"profile": "merchant", "relay": good}})
    assert config.streaming.relay.endpoint("porch") == "https://relay.example/whip/endpoint/porch"
    bad = [
        ({"whip_url": "http://relay.example/whip", "token_file": "/t"}, "https"),
        ({"whip_url": "https://relay.example/whip"}, "token_file"),
        ({"whip_url": "https://user:pw@relay.example/w", "token_file": "/t"}, "credentials"),
        ({"whip_url": "https://relay.example/{nope}", "token_file": "/t"}, "whip_url"),
        ({"whip_url": "ftp://relay.example/w", "token_file": "/t"}, "whip_url"),
    ]
    for relay_section, words in bad:
        with pytest.raises(ConfigError, match=words):
            parse_config({"streaming": {"profile": "merchant", "relay": relay_section}})
    # every profile may use a relay now that its viewers need the device's tickets there
    for profile in ("kindergarten", "home"):
        parsed = parse_config({"streaming": {"profile": profile, "relay": good}}).streaming.relay
        assert parsed.viewer_endpoint("kg-a") == "https://relay.example/whep/endpoint/kg-a"
        assert parsed.audience == "https://relay.example"
        assert parsed.revocations_url == "https://relay.example/whip/revocations"
    with pytest.raises(ConfigError, match="whep_url is required"):
        odd = {"whip_url": "https://relay.example/publish/{camera}", "token_file": "/t"}
        parse_config({"streaming": {"profile": "merchant", "relay": odd}})


def test_a_relay_that_never_answers_does_not_hold_up_the_gates(
    start_api: ApiFactory, tmp_path: Path
) -> None:
    """Publishing runs beside the once-a-second gate check: a relay that accepts the connection
    and then says nothing (until the publisher's timeout) must not delay a time-based stop."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    token_file = tmp_path / "relay-token"
    token_file.write_text("t0ken-for-a-silent-relay")
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/whip/endpoint/camera"
    try:
        api = start_api(
            {
                "camera": {"id": "counter", "name": "Front counter"},
                "streaming": {
                    "profile": "merchant",
                    "public_url": "https://shop-cam.example.com",
                    "relay": {"whip_url": url, "token_file": str(token_file)},
                },
            }
        )
        owner = api.owner()
        register(owner, "business", uscc=make_uscc())
        opt_in(owner, "counter")
        notice = owner.post(
            "/api/cameras/counter/notices",
            {"operator": "Shop", "purpose": "Live kitchen", "contact": "shop@example.cn",
             "hours": DAILY_9_TO_21},
        ).body  # fmt: skip
        owner.post(f"/api/notices/{notice['id']}/attest", {"confirmation": "posted"})
        assert owner.post("/api/cameras/counter/streaming/start").status == 200
        time.sleep(1.5)  # the ticker has started a publish that now hangs on the silent relay
        api.clock.advance(11.5 * 3600)  # 21:30: outside the hours printed on the sign
        started = time.monotonic()
        assert api.wait_for(lambda: not api.led_on(), timeout=10)
        # the ticker acts within a second; held by the relay it would wait out the publisher's
        # 10 s timeout (margin for a loaded machine)
        assert time.monotonic() - started < 5
    finally:
        silent.close()
