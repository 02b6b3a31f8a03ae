#!/usr/bin/env python3
"""Rotating group marks for relay viewers: the relay-side marker beside Janus.

Janus forwards a camera's one stream without decoding it, so it cannot mark each parent's copy.
Marking every viewer's copy costs one encode per viewer (``bench/relay_marks.py``: ~5 cores for
a class of 30). This process marks **G copies per camera** instead, whatever the audience: for
each room it is given, while the camera publishes there it

1. subscribes once to the camera's feed (Janus's VideoRoom API on loopback, with the room pin)
   and decodes it,
2. publishes G copies back into the same room, as publishers ``mark-<g>/<G> of <feed>``, each
   frame marked with its group and the time (``markcode.py``: a machine-readable block code and
   the same in words, twice),

and the WHIP front-end (``whip_frontend.py --mark-groups G``) subscribes each viewer whose ticket
carries a ``mark`` to one group's feed, moving them to another group every period by a schedule
it logs, so that the codes of two periods of a leaked recording name one viewer
(``trace.py``). When the camera stops publishing, the copies are unpublished; when this process
stops, so are they, and the front-end ends the marked viewers (it never hands them the unmarked
feed).

Usage::

    python marker.py --janus http://127.0.0.1:8088/janus --room kg-a --room kg-b --groups 6 \\
        [--janus-secret-file F] [--room-pin-file F]

Runs in a venv of its own on the relay host (``requirements-marker.txt``: aiortc, PyAV, numpy,
OpenCV); see deploy/janus/README.md and docs/relay.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from janusapi import (
    CAMERA_DISPLAY,
    MAX_MARK_GROUPS,
    JanusError,
    JanusSession,
    mark_display,
    read_secret,
)
from markcode import GroupMark

log = logging.getLogger("marker")

POLL_S = 1.0  # how often the rooms' publishers are looked up
STATS_S = 60.0  # how often the frame rates are logged
PLUGIN = "janus.plugin.videoroom"


class LatestFrame:
    """The camera's newest decoded frame, for the group tracks to mark (each takes every frame
    once; a slow encoder skips frames rather than queueing them)."""

    def __init__(self) -> None:
        self.frame: av.VideoFrame | None = None
        self.sequence = 0
        self.ended = False
        self._changed = asyncio.Condition()

    async def put(self, frame: av.VideoFrame | None) -> None:
        async with self._changed:
            if frame is None:
                self.ended = True
            else:
                self.frame, self.sequence = frame, self.sequence + 1
            self._changed.notify_all()

    async def after(self, sequence: int) -> tuple[av.VideoFrame, int]:
        async with self._changed:
            await self._changed.wait_for(lambda: self.ended or self.sequence > sequence)
            if self.ended or self.frame is None:
                raise MediaStreamError
            return self.frame, self.sequence


class GroupTrack(MediaStreamTrack):
    """One group's copy of the camera's stream: every frame marked with the group's code."""

    kind = "video"

    def __init__(self, source: LatestFrame, mark: GroupMark) -> None:
        super().__init__()
        self._source = source
        self._mark = mark
        self._seen = 0
        self.marked = 0  # frames marked (and handed to the encoder)

    async def recv(self) -> av.VideoFrame:
        frame, self._seen = await self._source.after(self._seen)
        i420 = frame.to_ndarray(format="yuv420p")  # a copy: each group marks its own
        marked = av.VideoFrame.from_ndarray(self._mark(i420, int(time.time())), format="yuv420p")
        marked.pts, marked.time_base = frame.pts, frame.time_base
        self.marked += 1
        return marked


class RoomMarker:
    """The marking of one room: a subscription to the camera's feed and G marked publishers."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        janus_url: str,
        room: str,
        groups: int,
        *,
        janus_secret: str | None,
        room_pin: str | None,
    ) -> None:
        self.room = room
        self.groups = groups
        self.source_feed: str | None = None  # the camera's feed being marked
        self.broken = False  # a Janus session or peer connection went: start again
        self._http = http
        self._janus_url = janus_url
        self._secret = janus_secret
        self._pin = room_pin
        self._sessions: list[JanusSession] = []
        self._pcs: list[RTCPeerConnection] = []
        self._pump: asyncio.Task[None] | None = None
        self._source: LatestFrame | None = None
        self._tracks: list[GroupTrack] = []

    def counts(self) -> tuple[int, int]:
        """Frames decoded, and marked summed over the copies, since the marking started."""
        decoded = self._source.sequence if self._source is not None else 0
        return decoded, sum(t.marked for t in self._tracks)

    def _session(self) -> JanusSession:
        session = JanusSession(self._http, self._janus_url, self._secret, on_event=self._event)
        self._sessions.append(session)
        return session

    def _event(self, event: dict[str, Any]) -> None:
        if event.get("janus") in ("hangup", "detached", "session_gone"):
            self.broken = True

    def _join(self, body: dict[str, Any]) -> dict[str, Any]:
        body = {"room": self.room, **body}
        if self._pin is not None:
            body["pin"] = self._pin
        return body

    async def start(self, feed: str) -> None:
        """Subscribe to the camera's ``feed``, then publish the G marked copies."""
        self.source_feed, self.broken = feed, False
        source = self._source = LatestFrame()
        janus = self._session()
        await janus.open(PLUGIN)
        _data, offer = await janus.message(
            self._join({"request": "join", "ptype": "subscriber", "streams": [{"feed": feed}]})
        )
        if not offer or offer.get("type") != "offer":
            raise JanusError(0, "no SDP offer for the camera's feed")
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # loopback: no STUN
        self._pcs.append(pc)

        @pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            self._pump = asyncio.create_task(self._decode(track, source))

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        answer = {"type": "answer", "sdp": pc.localDescription.sdp}
        await janus.message({"request": "start"}, answer)
        await asyncio.gather(*(self._publish(g, source) for g in range(self.groups)))
        log.info("room %r: marking feed %s in %d groups", self.room, feed, self.groups)

    async def _decode(self, track: MediaStreamTrack, source: LatestFrame) -> None:
        try:
            while True:
                await source.put(await track.recv())  # type: ignore[arg-type]
        except MediaStreamError:
            self.broken = True
            await source.put(None)

    async def _publish(self, group: int, source: LatestFrame) -> None:
        janus = self._session()
        await janus.open(PLUGIN)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._pcs.append(pc)
        track = GroupTrack(source, GroupMark(group, self.room))
        self._tracks.append(track)
        transceiver = pc.addTransceiver(track, direction="sendonly")
        transceiver.setCodecPreferences(
            [
                codec
                for codec in RTCRtpSender.getCapabilities("video").codecs
                if codec.mimeType.lower() in ("video/vp8", "video/rtx")
            ]
        )
        await pc.setLocalDescription(await pc.createOffer())
        assert self.source_feed is not None
        display = mark_display(group, self.groups, self.source_feed)
        _data, answer = await janus.message(
            self._join(
                {
                    "request": "joinandconfigure",
                    "ptype": "publisher",
                    # a new id at every start: a viewer left on an earlier copy is seen as such
                    "id": f"mark-{group}-{secrets.token_hex(6)}",
                    "display": display,
                }
            ),
            {"type": "offer", "sdp": pc.localDescription.sdp},
        )
        if not answer or answer.get("type") != "answer":
            raise JanusError(0, f"no SDP answer for {display}")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))

    async def stop(self, reason: str) -> None:
        """Unpublish the copies and leave the camera's feed."""
        if self.source_feed is not None:
            log.info("room %r: marking stopped: %s", self.room, reason)
        self.source_feed = None
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump
            self._pump = None
        for janus in self._sessions:
            with contextlib.suppress(JanusError, aiohttp.ClientError, TimeoutError):
                await janus.message({"request": "leave"})
        await asyncio.gather(*(janus.destroy() for janus in self._sessions))
        await asyncio.gather(*(pc.close() for pc in self._pcs))
        self._sessions, self._pcs, self._tracks, self._source = [], [], [], None


class Marker:
    """Keeps every room's marking in step with its camera: started while the camera publishes,
    restarted when the camera's publication is replaced or a connection breaks."""

    def __init__(
        self,
        janus_url: str,
        rooms: list[str],
        groups: int,
        *,
        janus_secret: str | None = None,
        room_pin: str | None = None,
        stats_interval: float = STATS_S,
    ) -> None:
        if not 1 <= groups <= MAX_MARK_GROUPS:
            raise ValueError(f"--groups must be 1 to {MAX_MARK_GROUPS}")
        self._janus_url = janus_url
        self._rooms = rooms
        self._groups = groups
        self._secret = janus_secret
        self._pin = room_pin
        self._stats_interval = stats_interval

    async def run(self, stopping: asyncio.Event) -> None:
        async with aiohttp.ClientSession() as http:
            control = JanusSession(http, self._janus_url, self._secret)
            markers = {
                room: RoomMarker(
                    http,
                    self._janus_url,
                    room,
                    self._groups,
                    janus_secret=self._secret,
                    room_pin=self._pin,
                )
                for room in self._rooms
            }
            try:
                await control.open(PLUGIN)
                last = {room: (time.monotonic(), 0, 0) for room in markers}
                while not stopping.is_set():
                    for marker in markers.values():
                        await self._sync(control, marker)
                        last[marker.room] = self._stats(marker, *last[marker.room])
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stopping.wait(), POLL_S)
            finally:
                await asyncio.gather(*(m.stop("the marker is stopping") for m in markers.values()))
                await control.destroy()

    def _stats(
        self, marker: RoomMarker, since: float, decoded: int, marked: int
    ) -> tuple[float, int, int]:
        """Log how many frames a second the room's marking keeps up with (15 decoded and
        15 × G marked, for a 15 fps camera, when the relay's CPU suffices; fewer means frames
        are skipped) every stats interval."""
        now = time.monotonic()
        if now - since < self._stats_interval:
            return since, decoded, marked
        decoded_now, marked_now = marker.counts()
        if marker.source_feed is not None and decoded_now >= decoded:
            log.info(
                "room %r: %.1f frames/s decoded, %.1f marked per copy",
                marker.room,
                (decoded_now - decoded) / (now - since),
                (marked_now - marked) / (now - since) / marker.groups,
            )
        return now, decoded_now, marked_now

    async def _sync(self, control: JanusSession, marker: RoomMarker) -> None:
        try:
            data, _jsep = await control.message(
                {"request": "listparticipants", "room": marker.room}
            )
            feeds = [
                str(p["id"])
                for p in data.get("participants", [])
                if p.get("publisher") and p.get("display") == CAMERA_DISPLAY
            ]
            feed = feeds[0] if feeds else None
            if marker.source_feed is not None and (feed != marker.source_feed or marker.broken):
                await marker.stop("the camera's publication ended or changed")
            if feed is not None and marker.source_feed is None:
                await marker.start(feed)
        except (JanusError, aiohttp.ClientError, TimeoutError, OSError) as err:
            log.warning("room %r: %s", marker.room, err)
            await marker.stop(f"failed: {err}")


async def _main(marker: Marker) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await marker.run(stopping)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--janus", required=True, help="Janus HTTP API (loopback)")
    parser.add_argument(
        "--room", action="append", required=True, help="a camera room to mark; repeat"
    )
    parser.add_argument(
        "--groups",
        type=int,
        default=7,
        help="marked copies per room (G); the front-end's --mark-groups must match (it refuses"
        " marked viewers otherwise)",
    )
    parser.add_argument("--janus-secret-file", type=Path, help="Janus api_secret, if set")
    parser.add_argument("--room-pin-file", type=Path, help="the rooms' pin, if set")
    parser.add_argument(
        "--stats-interval", type=float, default=STATS_S, help="seconds between rate lines"
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aioice").setLevel(logging.WARNING)  # a line per candidate pair otherwise
    try:
        marker = Marker(
            args.janus,
            args.room,
            args.groups,
            janus_secret=read_secret(args.janus_secret_file, "Janus secret")
            if args.janus_secret_file
            else None,
            room_pin=read_secret(args.room_pin_file, "room pin") if args.room_pin_file else None,
            stats_interval=args.stats_interval,
        )
    except ValueError as err:
        parser.error(str(err))
    asyncio.run(_main(marker))
    return 0


if __name__ == "__main__":
    sys.exit(main())
