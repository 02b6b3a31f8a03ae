"""Live view over WebRTC: a real aiortc client sends a WHEP offer to the real server and receives
the camera's redacted frames, the privacy-hold slate when the gate withholds, and loses its
session when the owner opts out; the owner sees who is watching and ends a session.

Frames are made by the real ``privacy.framegate.FrameGate`` (streamed: a redacted copy; withheld:
the slate) and published into the server's frame hub, as the privacy stage does on a device.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from privacy.frame import WithholdReason
from privacy.slate import privacy_hold_slate
from testkit.api import MONDAY_10, ApiFactory, Client, RunningApi, make_id
from testkit.gates import (
    audience_member,
    ended_sessions,
    invite_parent,
    kindergarten,
    live_shop,
    public_link,
    ready_kindergarten,
)
from testkit.webrtc import GatedCamera, Receiver, server_hub, solid

W, H = 320, 240
GREEN = (40, 200, 60)  # BGR


def publisher_of(api: RunningApi, camera: str = "cam1") -> GatedCamera:
    """Flat green frames into the server's hub at 15 fps; withheld (the slate) when told."""
    return GatedCamera(server_hub(api), solid(W, H, GREEN), camera)


def post_offer(client: Client, path: str, sdp: str, token: str | None = None):
    return client.call("POST", path, raw=sdp.encode(), content_type="application/sdp", token=token)


def live_home(start_api: ApiFactory) -> tuple[RunningApi, Client]:
    api = start_api()
    owner = api.owner()
    owner.post("/api/cameras/cam1/streaming/opt-in", {"confirmation": "STREAM cam1"})
    owner.post("/api/registrations", {"kind": "owner", "name": "王小明", "resident_id": make_id()})
    return api, owner


def _text_pixels(image: np.ndarray) -> float:
    """The share of the bottom-left corner (where a watermark goes) that is not the green."""
    corner = image[H - 24 :, : W // 2].astype(np.int16)
    return float((np.abs(corner - np.array(GREEN)).max(axis=2) > 60).mean())


def _looks_like(image: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(image.astype(np.int16) - reference.astype(np.int16)).mean())


def test_viewer_receives_redacted_frames_then_slate_then_is_cut_off(
    start_api: ApiFactory,
) -> None:
    api, owner = live_home(start_api)
    publisher = publisher_of(api)
    try:
        assert owner.post("/api/cameras/cam1/streaming/start").status == 200
        asyncio.run(_watch(api, owner, publisher))
    finally:
        publisher.stop()
    (ended,) = ended_sessions(api)
    assert "owner opted out" in ended["reason"]


async def _watch(api: RunningApi, owner: Client, publisher: GatedCamera) -> None:
    viewer = Receiver()
    try:
        offer = await viewer.offer()
        reply = await asyncio.to_thread(post_offer, owner, "/api/cameras/cam1/whep", offer)
        assert reply.status == 201, reply.body
        assert reply.headers["Content-Type"].startswith("application/sdp")
        assert reply.headers["Location"].startswith("/api/whep/")
        answer = reply.raw.decode()
        assert "m=audio" not in answer
        await viewer.accept(answer)

        first = await viewer.frame(timeout=20)
        assert first.shape == (H, W, 3)
        assert _text_pixels(first) < 0.01, "the owner's home stream is not watermarked"
        green = np.zeros_like(first)
        green[:] = GREEN
        assert _looks_like(first, green) < 20

        publisher.withhold = WithholdReason.PERSON_WITHOUT_FACE
        slate = privacy_hold_slate(W, H)
        for _ in range(60):
            image = await viewer.frame(timeout=20)
            if _looks_like(image, slate) < 25:
                break
        else:
            pytest.fail("the privacy-hold slate never arrived")

        # the owner opts out: the gate closes, the session is ended by the server
        await asyncio.to_thread(owner.post, "/api/cameras/cam1/streaming/opt-out")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                item = await asyncio.wait_for(viewer.frames.get(), timeout=1)
            except TimeoutError:
                item = "timeout"
            if item is None or viewer.pc.connectionState in ("closed", "failed"):
                break
        else:
            pytest.fail("the session was not ended when the owner opted out")
    finally:
        await viewer.close()


def test_offers_are_authorised_and_validated(start_api: ApiFactory) -> None:
    api, owner = live_home(start_api)
    sdp = asyncio.run(_sdp_only())
    anonymous = api.client()
    assert post_offer(anonymous, "/api/cameras/cam1/whep", sdp).status == 401
    not_live = post_offer(owner, "/api/cameras/cam1/whep", sdp)
    assert not_live.status == 409 and not_live.error == "not_live"
    assert owner.post("/api/cameras/cam1/streaming/start").status == 200
    assert post_offer(owner, "/api/cameras/elsewhere/whep", sdp).status == 404
    for bad in ("", "hello", "v=0\r\nthis is not sdp", "v=0\r\n" + "a=x\r\n" * 10000, "\xff"):
        reply = post_offer(owner, "/api/cameras/cam1/whep", bad)
        assert 400 <= reply.status < 500, (bad[:20], reply.status)
        assert reply.error and reply.body["reason"]
    wrong_type = owner.call(
        "POST", "/api/cameras/cam1/whep", raw=sdp.encode(), content_type="text/plain"
    )
    assert wrong_type.status == 415
    assert api.server.context is not None and len(api.server.context.live.viewer_sessions) == 0
    # the server still answers a good offer afterwards
    good = post_offer(owner, "/api/cameras/cam1/whep", sdp)
    assert good.status == 201
    session = good.headers["Location"]
    assert owner.call("DELETE", session).status == 200
    assert owner.call("DELETE", session).status == 404


async def _sdp_only() -> str:
    viewer = Receiver()
    sdp = await viewer.offer()
    await viewer.close()
    return sdp


def test_parent_is_cut_off_when_their_viewing_window_ends(start_api: ApiFactory) -> None:
    api, owner = kindergarten(start_api)
    ready_kindergarten(api, owner)
    assert owner.post("/api/cameras/kg-a/streaming/start").status == 200
    _, parent = invite_parent(owner, api)
    publisher = publisher_of(api, "kg-a")
    try:
        asyncio.run(_cut_off(api, parent))
    finally:
        publisher.stop()


async def _cut_off(api: RunningApi, parent: Client) -> None:
    viewer = Receiver()
    try:
        offer = await viewer.offer()
        reply = await asyncio.to_thread(post_offer, parent, "/api/cameras/kg-a/whep", offer)
        assert reply.status == 201, reply.body
        await viewer.accept(reply.raw.decode())
        assert api.server.context is not None
        sessions = api.server.context.live.viewer_sessions
        assert len(sessions) == 1
        # a kindergarten stream carries the parent's watermark (account id + time) in the pixels
        for _ in range(5):
            image = await viewer.frame(timeout=20)
        assert _text_pixels(image) > 0.05, "no watermark on the parent's stream"
        api.clock.advance(7 * 3600 + 1)  # Monday 17:00:01, the parent's window closed
        for _ in range(50):  # the server's ticker re-checks once a second
            if len(sessions) == 0:
                break
            await asyncio.sleep(0.1)
        assert len(sessions) == 0, "the parent's session outlived their viewing window"
    finally:
        await viewer.close()


def test_owner_sees_who_is_watching_and_ends_a_session(start_api: ApiFactory) -> None:
    api, owner = kindergarten(start_api)
    ready_kindergarten(api, owner)
    assert owner.post("/api/cameras/kg-a/streaming/start").status == 200
    _, parent = invite_parent(owner, api)
    publisher = publisher_of(api, "kg-a")
    try:
        asyncio.run(_end_by_owner(api, owner, parent))
    finally:
        publisher.stop()
    ended = ended_sessions(api)
    assert ended == [
        {
            "event": "session_ended",
            "camera_id": "kg-a",
            "session": ended[0]["session"],
            "reason": "ended by owner",
            "viewer": "parent-li",
            "role": "parent",
        }
    ]
    conn = api.db()
    try:
        actor = conn.execute("SELECT actor FROM audit WHERE event = 'session_ended'").fetchone()
    finally:
        conn.close()
    assert actor[0] == "owner"  # who ended it; the details name whose session it was


async def _end_by_owner(api: RunningApi, owner: Client, parent: Client) -> None:
    viewer = Receiver()
    try:
        assert (await asyncio.to_thread(owner.get, "/api/live/sessions")).body == []
        offer = await viewer.offer()
        reply = await asyncio.to_thread(post_offer, parent, "/api/cameras/kg-a/whep", offer)
        assert reply.status == 201, reply.body
        await viewer.accept(reply.raw.decode())
        await viewer.frame(timeout=20)

        listed = await asyncio.to_thread(owner.get, "/api/live/sessions")
        assert listed.status == 200
        (watching,) = listed.body
        session_id = reply.headers["Location"].rsplit("/", 1)[1]
        assert watching == {
            "id": session_id,
            "camera_id": "kg-a",
            "username": "parent-li",
            "role": "parent",
            "label": None,
            "started_at": MONDAY_10,
            "remote": "127.0.0.1",
        }
        # only the owner sees who watches, or ends a session
        for call in (
            lambda: parent.get("/api/live/sessions"),
            lambda: parent.post(f"/api/live/sessions/{session_id}/end"),
        ):
            refused = await asyncio.to_thread(call)
            assert refused.status == 403
        unknown = await asyncio.to_thread(owner.post, "/api/live/sessions/nope/end")
        assert unknown.status == 404 and unknown.error == "unknown_session"

        ended = await asyncio.to_thread(owner.post, f"/api/live/sessions/{session_id}/end")
        assert ended.status == 200 and ended.body["ended"] is True
        assert ended.body["username"] == "parent-li"
        assert api.server.context is not None
        assert len(api.server.context.live.viewer_sessions) == 0
        assert (await asyncio.to_thread(owner.get, "/api/live/sessions")).body == []
        again = await asyncio.to_thread(owner.post, f"/api/live/sessions/{session_id}/end")
        assert again.status == 404
        deadline = time.monotonic() + 10
        while viewer.pc.connectionState not in ("closed", "failed"):
            assert time.monotonic() < deadline, "the viewer's connection outlived its session"
            await asyncio.sleep(0.1)
    finally:
        await viewer.close()


def test_public_viewers_are_listed_by_their_link_label(start_api: ApiFactory) -> None:
    api, owner = live_shop(start_api)
    public = audience_member(api, public_link(owner))
    publisher = publisher_of(api, "counter")
    try:
        asyncio.run(_watch_publicly(api, owner, public))
    finally:
        publisher.stop()


async def _watch_publicly(api: RunningApi, owner: Client, public: Client) -> None:
    viewer = Receiver()
    try:
        offer = await viewer.offer()
        reply = await asyncio.to_thread(post_offer, public, "/api/cameras/counter/whep", offer)
        assert reply.status == 201, reply.body
        await viewer.accept(reply.raw.decode())
        (watching,) = (await asyncio.to_thread(owner.get, "/api/live/sessions")).body
        assert watching["role"] == "public" and watching["label"] == "shop website"
        assert watching["camera_id"] == "counter"
    finally:
        await viewer.close()
