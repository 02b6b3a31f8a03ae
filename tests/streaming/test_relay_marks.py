"""Per-viewer marks on the relay: rotating group marks, with the real Janus, the real front-end
(``--mark-groups``) and the real ``deploy/janus/marker.py``, on loopback.

The camera publishes a flat picture into room ``kg-a``; the marker publishes G = 3 marked copies
of it; viewers whose ticket carries a ``mark`` watch a copy and move every period (2 s here), as
the front-end's log says. The codes are read back from the frames the viewers decode
(``markcode.read``, no OCR), and ``trace.py`` names a viewer from a recording of theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import aiohttp
import av
import cv2
import jwt
import numpy as np
import pytest

from streaming.hub import FrameHub
from streaming.track import RedactedVideoTrack
from streaming.whip import WhipPublisher
from testkit.relay import (
    DEPLOY,
    LocalRelay,
    RelayViewer,
    deploy_module,
)
from testkit.webrtc import GatedCamera, solid

pytestmark = pytest.mark.slow

ROOM = "kg-a"
W, H = 320, 240
GROUPS = 3
PERIOD_S = 2.0
markcode = deploy_module("markcode")


@pytest.fixture(scope="module")
def mark_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("marks") / "marks.jsonl"


@pytest.fixture(scope="module")
def relay_frontend_args(mark_log: Path) -> tuple[str, ...]:
    return (
        "--mark-groups",
        str(GROUPS),
        "--mark-period",
        str(PERIOD_S),
        "--mark-log",
        str(mark_log),
    )


@pytest.fixture(scope="module")
def relay(relay: LocalRelay) -> LocalRelay:
    """The module's relay with the marker running too."""
    relay.start_marker((ROOM,), GROUPS)
    return relay


def log_entries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def logged_group(mark_log: Path, jti: str, period: int) -> int | None:
    groups = {
        e["group"] for e in log_entries(mark_log) if e["jti"] == jti and e["period"] == period
    }
    assert len(groups) <= 1, groups
    return groups.pop() if groups else None


def jti_of(ticket: str) -> str:
    return str(jwt.decode(ticket, options={"verify_signature": False})["jti"])


@contextlib.asynccontextmanager
async def camera(relay: LocalRelay, base: str | None = None) -> AsyncIterator[None]:
    """Room kg-a published (a flat green picture), through the front-end at ``base`` (default:
    the relay's)."""
    hub = FrameHub(asyncio.get_running_loop())
    gated = GatedCamera(hub, solid(W, H, (40, 200, 60)), ROOM)
    endpoint = f"{base or relay.whip_base}/whip/endpoint/{ROOM}"
    publisher = WhipPublisher(RedactedVideoTrack(hub, ROOM), endpoint, relay.token)
    try:
        await publisher.start()
        yield
    finally:
        await publisher.close()
        gated.stop()


async def watch(
    http: aiohttp.ClientSession, relay: LocalRelay, mark: str | None, timeout: float = 20
) -> RelayViewer:
    """A viewer of kg-a (marked when ``mark`` is given), once the relay accepts them: the
    camera's media and, for a marked viewer, the marker's copies must be up first (404/503
    until then)."""
    deadline = time.monotonic() + timeout
    claims = {"mark": mark} if mark is not None else {}
    while True:
        viewer = RelayViewer(http, relay, ROOM, relay.ticket(ROOM, **claims))
        async with http.post(relay.viewer_endpoint(ROOM), headers=viewer.auth) as reply:
            status, text = reply.status, await reply.text()
        if status == 201:
            # that probe took a place: free it, then open for real
            location = relay.whip_base + reply.headers["Location"]
            async with http.delete(location, headers=viewer.auth) as gone:
                assert gone.status == 200
            await viewer.open()
            return viewer
        assert status in (404, 503), (status, text)
        if time.monotonic() > deadline:
            pytest.fail(f"never accepted: {status} {text}\n{relay.log_tail()}")
        await asyncio.sleep(0.2)


def code_of(image: np.ndarray) -> Any:
    return markcode.read(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))


async def codes(viewer: RelayViewer, seconds: float) -> list[tuple[Any, np.ndarray]]:
    """The codes (and pictures) of the frames ``viewer`` decodes for ``seconds``."""
    out = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        image = await viewer.frame()
        out.append((code_of(image), image))
    return out


def settled(code: Any) -> bool:
    """Whether a frame was marked after the first second of its period: the front-end moves
    viewers at a period's start (within its 0.2 s check and a key frame), so a frame of that
    first second may still come from the last period's copy."""
    return code is not None and code.time % PERIOD_S >= 1


def test_marked_viewers_get_their_groups_codes_and_move_as_the_log_says(
    relay: LocalRelay, mark_log: Path
) -> None:
    asyncio.run(_groups(relay, mark_log))


async def _groups(relay: LocalRelay, mark_log: Path) -> None:
    async with aiohttp.ClientSession() as http, camera(relay):
        first = await watch(http, relay, "viewer v1")
        second = await watch(http, relay, "viewer v2")
        plain = await watch(http, relay, None)
        try:
            got = await asyncio.gather(codes(first, 2.5 * PERIOD_S), codes(second, 2.5 * PERIOD_S))
            # the unmarked viewer gets the camera's own feed: no code in it
            for _ in range(5):
                assert code_of(await plain.frame()) is None
            # a renewal that now asks for a mark does not keep the viewer on the unmarked feed
            sub = jwt.decode(plain.ticket, options={"verify_signature": False})["sub"]
            marked_now = {"Authorization": f"Bearer {relay.ticket(ROOM, sub=sub, mark='v9')}"}
            async with http.post(f"{plain.resource}/renew", headers=marked_now) as reply:
                assert reply.status == 409, await reply.text()
            await plain.ended(timeout=5)
            seen: dict[int, dict[int, int]] = {0: {}, 1: {}}  # viewer → period → group
            for n, (viewer, frames) in enumerate(zip((first, second), got, strict=True)):
                jti = jti_of(viewer.ticket)
                read = [c for c, _ in frames if settled(c)]
                assert len(read) > 10, len(read)
                for code in read:
                    assert code.room_tag == markcode.room_tag(ROOM)
                    period = int(code.time // PERIOD_S)
                    # every settled frame carries the group the log gives it for that period
                    assert code.group == logged_group(mark_log, jti, period), (n, code)
                    seen[n][period] = code.group
            # both moved at least once, and in every shared period they were in different groups
            for n in (0, 1):
                assert len(set(seen[n].values())) >= 2, seen[n]
            shared = seen[0].keys() & seen[1].keys()
            assert shared
            assert all(seen[0][p] != seen[1][p] for p in shared), seen
        finally:
            await asyncio.gather(first.close(), second.close(), plain.close())


def record(images: list[np.ndarray], path: Path) -> None:
    """A recording of what a viewer saw, as a screen recorder would make it: H.264 in MP4."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=15)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for n, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = n, Fraction(1, 15)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def test_the_trace_tool_names_the_viewer_a_recording_came_from(
    relay: LocalRelay, mark_log: Path, tmp_path: Path
) -> None:
    asyncio.run(_trace(relay, mark_log, tmp_path))


async def _trace(relay: LocalRelay, mark_log: Path, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as http, camera(relay):
        leaker = await watch(http, relay, "viewer v3")
        other = await watch(http, relay, "viewer v4")
        try:
            frames, _ = await asyncio.gather(
                codes(leaker, 3.5 * PERIOD_S), codes(other, 3.5 * PERIOD_S)
            )
        finally:
            await asyncio.gather(leaker.close(), other.close())
    read = [c for c, _ in frames if c is not None]
    assert len({c.time // PERIOD_S for c in read}) >= 3, (len(frames), read)
    recording = tmp_path / "leak.mp4"
    record([image for _, image in frames], recording)
    result = subprocess.run(
        [sys.executable, str(DEPLOY / "trace.py"), str(recording), "--json",
         "--log", str(mark_log)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    traced = json.loads(result.stdout)
    assert len(traced["periods"]) >= 3, traced
    assert [v["mark"] for v in traced["named"]] == ["viewer v3"], traced
    assert traced["named"][0]["jtis"] == [jti_of(leaker.ticket)]
    # one period alone names no one (the group is shared by G places): the tool says so
    period = traced["periods"][1]["period"]
    one = tmp_path / "one-period.mp4"
    record([image for c, image in frames if c is not None and c.time // PERIOD_S == period], one)
    short = subprocess.run(
        [sys.executable, str(DEPLOY / "trace.py"), str(one), "--json",
         "--log", str(mark_log)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert short.returncode == 1, short.stdout + short.stderr
    assert json.loads(short.stdout)["named"] == []
    assert "viewer v3" in [v["mark"] for v in json.loads(short.stdout)["candidates"]]


def test_without_the_marker_marked_viewers_are_refused_and_others_unaffected(
    relay: LocalRelay,
) -> None:
    try:
        asyncio.run(_marker_down(relay))
    finally:
        if relay.marker is None:  # the later tests need it: started again, as systemd would
            relay.start_marker((ROOM,), GROUPS)


async def _marker_down(relay: LocalRelay) -> None:
    async with aiohttp.ClientSession() as http, camera(relay):
        marked = await watch(http, relay, "viewer v5")
        plain = await watch(http, relay, None)
        try:
            await marked.frame()
            relay.stop_marker()  # as `systemctl stop`: its copies leave the room
            stopped = time.time()
            # the marked viewer is ended, not moved to the camera's unmarked feed
            await marked.ended(timeout=5)
            assert marked.last_frame_at - stopped < 3
            status, text = await refused(http, relay, "viewer v6")
            assert (status, "marker is not running" in text) == (503, True), text
            # the unmarked viewer keeps watching the camera's feed
            for _ in range(15):
                assert code_of(await plain.frame()) is None
        finally:
            await asyncio.gather(marked.close(), plain.close())


def test_copies_in_another_number_of_groups_end_the_marked_viewers_already_watching(
    relay: LocalRelay,
) -> None:
    """A second marker started by mistake with ``--groups 2`` puts copies in 2 groups beside
    the 3 of the right one: the front-end cannot trust the room's copies any more, logs it,
    and ends the marked viewers already watching (fail closed) at its next check, refusing
    new ones 503; an unmarked viewer keeps watching. Once the stray marker stops, marked
    viewers get in again."""
    asyncio.run(_regrouped(relay))


async def _regrouped(relay: LocalRelay) -> None:
    async with aiohttp.ClientSession() as http, camera(relay):
        marked = await watch(http, relay, "viewer v10")
        plain = await watch(http, relay, None)
        stray = None
        try:
            await marked.frame()
            since = relay.logs["whip_frontend"].stat().st_size
            stray = relay.start_marker((ROOM,), 2, name="marker-2-groups")
            await marked.ended(timeout=30)
            relay.wait_for_log(
                "whip_frontend", "the marker makes its copies in 2 groups", since, timeout=5
            )
            status, text = await refused(http, relay, "viewer v11")
            assert (status, "another number of groups" in text) == (503, True), (status, text)
            for _ in range(15):
                assert code_of(await plain.frame()) is None
            relay.stop_marker(stray)
            stray = None
            again = await watch(http, relay, "viewer v12", timeout=30)
            await again.frame()
            await again.close()
        finally:
            if stray is not None:
                relay.stop_marker(stray)
            await asyncio.gather(marked.close(), plain.close())


async def refused(
    http: aiohttp.ClientSession,
    relay: LocalRelay,
    mark: str,
    endpoint: str | None = None,
    audience: str | None = None,
) -> tuple[int, str]:
    """A marked viewer's subscription (at ``endpoint``, default the relay's viewer endpoint,
    with a ticket for ``audience``): its status and text."""
    headers = {"Authorization": f"Bearer {relay.ticket(ROOM, mark=mark, audience=audience)}"}
    async with http.post(endpoint or relay.viewer_endpoint(ROOM), headers=headers) as reply:
        return reply.status, await reply.text()


def test_a_marked_viewer_is_refused_503_while_janus_cannot_list_the_copies(
    relay: LocalRelay,
) -> None:
    """Janus hangs while a marked viewer subscribes: the front-end cannot list the marker's
    copies and refuses them 503 (marker down), not 500; once Janus answers again they get in."""
    asyncio.run(_copies_unlisted(relay))


async def _copies_unlisted(relay: LocalRelay) -> None:
    async with aiohttp.ClientSession() as http, camera(relay):
        first = await watch(http, relay, "viewer v7")  # the camera and the copies are up
        await first.close()
        since = relay.logs["whip_frontend"].stat().st_size
        with relay.janus_hung():
            asking = asyncio.create_task(refused(http, relay, "viewer v8"))
            # the front-end gave up on Janus's answer (the line comes before it lets go of its
            # Janus session, which would wait as long again for the hung Janus)
            await asyncio.to_thread(
                relay.wait_for_log, "whip_frontend", "could not look up the marker's copies", since
            )
        status, text = await asyncio.wait_for(asking, 30)
        assert (status, "marker is not running" in text) == (503, True), (status, text)
        # Janus answers again: marked viewers get in (503 until the front-end lists the copies,
        # which the marker may publish anew: its own requests to Janus timed out too)
        deadline = time.monotonic() + 40
        ticket = {"Authorization": f"Bearer {relay.ticket(ROOM, mark='viewer v9')}"}
        while True:
            async with http.post(relay.viewer_endpoint(ROOM), headers=ticket) as reply:
                if reply.status == 201:
                    location = relay.whip_base + reply.headers["Location"]
                    break
                assert reply.status == 503 and time.monotonic() < deadline, await reply.text()
            await asyncio.sleep(0.2)
        async with http.delete(location, headers=ticket) as gone:
            assert gone.status == 200


def test_a_front_end_whose_groups_are_not_the_markers_refuses_marked_viewers(
    relay: LocalRelay, tmp_path: Path
) -> None:
    """The marker makes 3 copies; a front-end started with ``--mark-groups 2`` sees it in the
    copies' names, logs it once, and refuses marked viewers 503 (fail closed: its schedule
    would not be the copies'); unmarked viewers still watch."""
    base = relay.start_frontend(
        "frontend-2-groups",
        "--mark-groups", "2",
        "--mark-period", str(PERIOD_S),
        "--mark-log", str(tmp_path / "marks.jsonl"),
    )  # fmt: skip
    asyncio.run(_groups_mismatch(relay, base))
    log = relay.logs["frontend-2-groups"].read_text()
    assert log.count("the marker makes its copies in 3 groups but --mark-groups is 2") == 1, log
    assert not (tmp_path / "marks.jsonl").read_text()  # no marked viewer was ever placed


async def _groups_mismatch(relay: LocalRelay, base: str) -> None:
    endpoint = f"{base}/whep/endpoint/{ROOM}"
    async with aiohttp.ClientSession() as http, camera(relay, base):
        # the marker's copies are up once it has seen this publication (3 groups: v1 in group 0)
        deadline = time.monotonic() + 30
        while "the marker makes its copies" not in relay.logs["frontend-2-groups"].read_text():
            assert time.monotonic() < deadline, relay.log_tail()
            status, text = await refused(http, relay, "viewer m1", endpoint, audience=base)
            assert status in (404, 503), (status, text)
            await asyncio.sleep(0.2)
        for mark in ("viewer m2", "viewer m3", "viewer m4"):
            status, text = await refused(http, relay, mark, endpoint, audience=base)
            assert (status, "another number of groups" in text) == (503, True), (status, text)
        plain = RelayViewer(http, relay, ROOM, relay.ticket(ROOM, audience=base), url=endpoint)
        try:
            await plain.open()
            assert code_of(await plain.frame()) is None
        finally:
            await plain.close()
