"""The viewers of the live-view benchmark, in their own process: ``python -m bench.live_client``.

Each viewer is a real aiortc peer that subscribes to the device (a WHEP offer for video only) or,
with ``--relay-token-file``, to the relay's front-end (the relay offers). It decodes what it
receives and reads the frame counter back from the decoded pixels (``bench.live_stamp``), noting
``time.perf_counter()`` when each frame came out of the decoder, and when the last RTP packet of
that frame (the one with the marker bit) arrived. The second time matters because aiortc's
receiver completes a frame only when the first packet of the *next* frame arrives
(``aiortc.jitterbuffer``): it holds every frame for one frame interval, which a browser (that
completes frames on the marker bit) does not. Running the viewers in a separate process keeps
their decoding off the device's GIL; perf_counter is the system-wide CLOCK_MONOTONIC on Linux,
so the times compare with the device's.

Timeline: connect every viewer, wait until each has decoded a readable frame, let the encoder
settle for ``--settle`` seconds, then measure for ``--seconds`` (the window), keep receiving for
a short grace period so frames in flight at the end arrive, close. One JSON object goes to
stdout: the window, the client's CPU time in it, the frames aiortc failed to decode, and per
viewer every decoded counter with its two times (the second null if unknown) and the count of
frames whose counter did not read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import av
import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket
from yarl import URL

from bench import live_stamp

GRACE_S = 0.5
FIRST_FRAME_TIMEOUT_S = 30.0
RELAY_READY_TIMEOUT_S = 10.0


class DecodeFailures(logging.Handler):
    """Counts the frames aiortc's receivers could not decode (it logs each one and goes on; a
    viewer that joins between keyframes of a shared encode sees some) instead of printing them."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "failed to decode" in record.getMessage():
            self.count += 1


_MAX_PENDING_MARKS = 256


@dataclass
class Viewer:
    pc: RTCPeerConnection
    # (counter, decoded at, last packet at or None), times from perf_counter
    frames: list[tuple[int, float, float | None]] = field(default_factory=list)
    marks: dict[int, float] = field(default_factory=dict)  # RTP timestamp → last packet at
    unreadable: int = 0
    resource: str | None = None  # the relay's subscription, deleted on hang-up
    first: asyncio.Event = field(default_factory=asyncio.Event)
    pump: asyncio.Task[None] | None = None


def luma_strip(frame: av.VideoFrame) -> np.ndarray:
    """The rows of the luma plane the stamp covers, without converting the whole frame."""
    rows = live_stamp.rows_needed(frame.height)
    if frame.format.name in ("yuv420p", "yuvj420p", "nv12"):
        plane = frame.planes[0]
        data = np.frombuffer(plane, np.uint8)[: frame.height * plane.line_size]
        return data.reshape(frame.height, plane.line_size)[-rows:, : frame.width]
    return frame.to_ndarray(format="gray")[-rows:]


def note_last_packets(receiver: RTCRtpReceiver, marks: dict[int, float]) -> None:
    """Note when the marker-bit packet of each frame arrives, keyed like the decoded frame's
    ``pts`` (aiortc counts it from the first RTP timestamp received). This wraps the receiver's
    internal packet handler (aiortc has no public hook there); without it only decode times are
    kept."""
    handle = getattr(receiver, "_handle_rtp_packet", None)
    if handle is None:
        return
    origin: list[int] = []

    async def noted(packet: RtpPacket, arrival_time_ms: int) -> None:
        if not origin:
            origin.append(packet.timestamp)
        if packet.marker:
            marks[(packet.timestamp - origin[0]) % (1 << 32)] = time.perf_counter()
            if len(marks) > _MAX_PENDING_MARKS:  # frames that never decoded
                del marks[next(iter(marks))]
        await handle(packet, arrival_time_ms=arrival_time_ms)

    receiver._handle_rtp_packet = noted  # type: ignore[method-assign]


async def _pump(viewer: Viewer, track: MediaStreamTrack) -> None:
    try:
        while True:
            frame = await track.recv()
            at = time.perf_counter()
            last_packet = viewer.marks.pop(frame.pts, None) if frame.pts is not None else None
            counter = live_stamp.read(luma_strip(frame), frame.height)
            if counter is None:
                viewer.unreadable += 1
                continue
            viewer.frames.append((counter, at, last_packet))
            viewer.first.set()
    except MediaStreamError:
        return


def _peer(peers: list[Viewer]) -> Viewer:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # loopback: no STUN server
    viewer = Viewer(pc)

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        viewer.pump = asyncio.ensure_future(_pump(viewer, track))

    peers.append(viewer)
    return viewer


async def connect_whep(http: aiohttp.ClientSession, url: str, viewer: Viewer) -> None:
    """The device's way: offer to receive video, POST the offer, apply the answer."""
    pc = viewer.pc
    transceiver = pc.addTransceiver("video", direction="recvonly")
    note_last_packets(transceiver.receiver, viewer.marks)
    await pc.setLocalDescription(await pc.createOffer())
    async with http.post(
        url, data=pc.localDescription.sdp, headers={"Content-Type": "application/sdp"}
    ) as reply:
        answer = await reply.text()
        if reply.status != 201:
            raise RuntimeError(f"the device refused the offer: {reply.status} {answer}")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))


async def connect_relay(http: aiohttp.ClientSession, url: str, token: str, viewer: Viewer) -> None:
    """The relay's way (deploy/janus front-end): POST for the relay's offer, PATCH the answer.
    A 404 means nothing is published yet: retried for a while."""
    auth = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + RELAY_READY_TIMEOUT_S
    while True:
        async with http.post(url, headers=auth) as reply:
            offer = await reply.text()
            if reply.status == 201:
                viewer.resource = str(URL(url).join(URL(reply.headers["Location"])))
                break
            if reply.status != 404 or time.monotonic() > deadline:
                raise RuntimeError(f"the relay refused the viewer: {reply.status} {offer}")
        await asyncio.sleep(0.2)
    pc = viewer.pc
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
    for transceiver in pc.getTransceivers():
        note_last_packets(transceiver.receiver, viewer.marks)
    await pc.setLocalDescription(await pc.createAnswer())
    headers = {**auth, "Content-Type": "application/sdp"}
    async with http.patch(viewer.resource, data=pc.localDescription.sdp, headers=headers) as reply:
        if reply.status != 204:
            raise RuntimeError(f"the relay refused the answer: {reply.status} {await reply.text()}")


async def watch(
    url: str, viewers: int, settle: float, seconds: float, token: str | None = None
) -> dict[str, object]:
    failures = DecodeFailures()
    receiver_log = logging.getLogger("aiortc.rtcrtpreceiver")
    receiver_log.addHandler(failures)
    receiver_log.propagate = False
    peers: list[Viewer] = []
    async with aiohttp.ClientSession() as http:
        try:
            if token is None:
                jobs = [connect_whep(http, url, _peer(peers)) for _ in range(viewers)]
            else:
                jobs = [connect_relay(http, url, token, _peer(peers)) for _ in range(viewers)]
            await asyncio.gather(*jobs)
            await _first_frames(peers)
            await asyncio.sleep(settle)
            start, cpu_start = time.perf_counter(), time.process_time()
            await asyncio.sleep(seconds)
            end, cpu_end = time.perf_counter(), time.process_time()
            await asyncio.sleep(GRACE_S)
        finally:
            await asyncio.gather(*(_hang_up(http, v, token) for v in peers))
    return {
        "window": [start, end],
        "cpu_s": cpu_end - cpu_start,
        "decode_failures": failures.count,
        "viewers": [{"frames": v.frames, "unreadable": v.unreadable} for v in peers],
    }


async def _first_frames(peers: list[Viewer]) -> None:
    """Wait until every viewer has decoded a frame whose counter reads; say what they got if
    one has not in time (frames with an unreadable counter are the slate, or a picture redacted
    over the counter)."""
    waits = (asyncio.wait_for(v.first.wait(), FIRST_FRAME_TIMEOUT_S) for v in peers)
    try:
        await asyncio.gather(*waits)
    except TimeoutError:
        got = ", ".join(f"{len(v.frames)} readable / {v.unreadable} not" for v in peers)
        raise TimeoutError(
            f"not every viewer decoded a frame with a readable counter in "
            f"{FIRST_FRAME_TIMEOUT_S:.0f} s (per viewer: {got})"
        ) from None


async def _hang_up(http: aiohttp.ClientSession, viewer: Viewer, token: str | None) -> None:
    if viewer.resource is not None and token is not None:
        auth = {"Authorization": f"Bearer {token}"}
        with contextlib.suppress(aiohttp.ClientError):
            async with http.delete(viewer.resource, headers=auth):
                pass
    await viewer.pc.close()
    if viewer.pump is not None:
        await asyncio.gather(viewer.pump, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the device's or the relay's endpoint")
    parser.add_argument(
        "--relay-token-file",
        type=Path,
        help="subscribe at a relay front-end (it offers) with the ticket in this file, not WHEP",
    )
    parser.add_argument("--viewers", type=int, default=1)
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    token = args.relay_token_file.read_text().strip() if args.relay_token_file else None
    result = asyncio.run(watch(args.url, args.viewers, args.settle, args.seconds, token))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
