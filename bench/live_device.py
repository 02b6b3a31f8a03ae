"""The device side of the live-view benchmark: a stamped camera, the real path, a WHEP endpoint.

``StampedSource`` is a camera stand-in that writes its frame counter into every frame
(``bench.live_stamp``) and notes when it did. ``LiveDevice`` runs one measured path; the direct
ones behind a small aiohttp endpoint on loopback (``POST /whep`` with an SDP offer, answered with
``201`` and the SDP answer), so viewers in another process connect as a browser would:

* ``privacy``: capture feed → privacy stage (default config, real models) → ``FrameHub`` →
  ``ViewerSessions`` (the classes the owner API uses);
  with ``watermark``, each viewer gets the kindergarten watermark and so its own encode;
* ``bare``: the same capture feed → a plain aiortc ``MediaStreamTrack`` that sends the raw frames
  (no stage, no hub, no sessions), the in-run peer;
* ``relay``: the privacy path up to the hub, then the camera's shared encode published once over
  WHIP (``streaming.whip.WhipPublisher``) to a relay (``testkit.relay``) that the viewers
  subscribe to instead of the device.

Every frame the device hands on is recorded (when, streamed or withheld, the stage's time) so the
benchmark can match it with what the viewers decoded.
"""

from __future__ import annotations

import asyncio
import fractions
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import av
import cv2
import numpy as np
import psutil
from aiohttp import web
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)

from bench import live_stamp
from firmware.capture.base import CaptureSource
from firmware.capture.feed import CaptureFeed
from firmware.frames import Frame
from firmware.geometry import PixelBox
from privacy.build import build_stage
from privacy.config import PrivacyConfig
from privacy.frame import RedactedFrame
from privacy.stage import PrivacyStage
from streaming.hub import FrameHub
from streaming.limits import ViewerLimits
from streaming.watermark import Watermark
from streaming.whep import SessionRefused, ViewerSessions
from streaming.whip import WhipPublisher
from testkit.relay import LocalRelay

CAMERA_ID = "bench"
PATHS = ("privacy", "bare", "relay")
_PUBLISH_TIMEOUT_S = 15.0
_NOISE_BANK = 8
_VIDEO_CLOCK = 90_000
_TIME_BASE = fractions.Fraction(1, _VIDEO_CLOCK)
_CPU_SAMPLE_S = 0.25


def room(width: int, height: int) -> np.ndarray:
    """A finely textured, evenly lit wall with nobody in front of it: a scene the privacy gate
    streams and leaves alone.

    The texture is fine on purpose: a coarser one (periods of 230 × 145 px, until 2026-12-07)
    makes a grid of dark blobs that the head detector takes for a crowd at 1280×720 (person
    scores 0.33-0.51), and the stage then redacted up to the whole frame."""
    y, x = np.mgrid[0:height, 0:width]
    base = (100 + 30 * np.sin(x / 7.0) + 20 * np.cos(y / 5.0)).astype(np.float32)
    image = np.stack([base, base * 0.85 + 20, base * 0.7 + 35], axis=-1)
    return np.clip(image, 0, 255).astype(np.uint8)


def noisy_rooms(width: int, height: int) -> list[np.ndarray]:
    """:func:`room` with light sensor noise, as a real camera has; a small bank of them keeps
    the source cheap."""
    background = room(width, height).astype(np.int16)
    rng = np.random.default_rng(1)
    return [
        np.clip(background + rng.integers(-3, 4, background.shape), 0, 255).astype(np.uint8)
        for _ in range(_NOISE_BANK)
    ]


class StampedSource(CaptureSource):
    """A realtime camera stand-in at ``fps``; frame ``n`` carries ``n`` in its top strip.

    ``stamped[n]`` is ``time.perf_counter()`` when frame ``n`` was made (the "glass" moment).
    Like a sensor, it does not wait for a slow reader: missed frame slots are skipped and
    counted as dropped.
    """

    name = "bench:stamped"
    realtime = True
    live = False

    def __init__(self, width: int, height: int, fps: float) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self.stamped: dict[int, float] = {}
        self._bank: list[np.ndarray] = []
        self._next_due = 0.0

    def open(self) -> None:
        if not self._bank:
            self._bank = noisy_rooms(self.width, self.height)
        self._next_due = time.monotonic()

    def read(self) -> Frame:
        now = time.monotonic()
        if now < self._next_due:
            time.sleep(self._next_due - now)
        else:
            missed = int((now - self._next_due) * self.fps)
            if missed:
                self._count_dropped(missed)
                self._sequence += missed
                self._next_due += missed / self.fps
        self._next_due += 1 / self.fps
        sequence = self._next_sequence()
        image = self._bank[sequence % _NOISE_BANK].copy()
        live_stamp.stamp(image, sequence)
        self.stamped[sequence] = time.perf_counter()
        return Frame(image, time.monotonic(), sequence)

    def close(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Handed:
    """One frame as the device handed it to the streaming side."""

    at: float  # perf_counter() right after the hand-over
    streamed: bool
    reason: str | None
    stage_s: float | None  # time in the privacy stage (stage.latencies_s), privacy path only


class PrivacyStages:
    """One privacy stage per frame size, built and primed once and kept, as a device keeps its
    stage while it runs; :meth:`close` frees them."""

    def __init__(self) -> None:
        self._stages: dict[tuple[int, int], PrivacyStage] = {}

    def get(self, width: int, height: int) -> PrivacyStage:
        stage = self._stages.get((width, height))
        if stage is None:
            config = PrivacyConfig()
            stage = self._stages[width, height] = build_stage(config)
            prime_stage(stage, width, height, config.sweep_frames + stage.lookahead)
        return stage

    def close(self) -> None:
        for stage in self._stages.values():
            stage.close()  # its detectors are closed on its detection thread
        self._stages.clear()


def prime_stage(stage: PrivacyStage, width: int, height: int, frames: int) -> int:
    """Run the stamped scene through a new stage for ``frames`` frames (a whole rolling sweep
    searches every part of the picture once), as a device meets its first, slow inferences once
    at start; and check that the stage leaves the counter readable on the frames it streams.
    If it redacts over it (a detector sees someone in the scene), no viewer could read a frame:
    this says so now rather than after the viewers' first-frame timeout. Returns how many
    streamed frames were read."""
    bank = noisy_rooms(width, height)
    unread: list[tuple[int, tuple[PixelBox, ...]]] = []
    outs: list[RedactedFrame] = []
    read = 0
    for i in range(frames):
        image = bank[i % len(bank)].copy()
        live_stamp.stamp(image, i)
        image.flags.writeable = False
        out = stage.push(Frame(image, time.monotonic(), i - frames))
        outs += [] if out is None else [out]
    outs += stage.flush()
    for out in outs:
        counter = out.sequence + frames
        grey = cv2.cvtColor(np.ascontiguousarray(out.image), cv2.COLOR_BGR2GRAY)
        if out.streamed and live_stamp.read(grey) != counter:
            unread.append((counter, out.regions))
        read += out.streamed
    if unread:
        raise RuntimeError(
            f"the privacy stage redacts over the frame counter of the bench's empty scene at "
            f"{width}×{height} on {len(unread)} of {len(outs)} frames (first: frame "
            f"{unread[0][0]}, regions {list(unread[0][1])}): viewers could not read it; "
            "the scene (bench.live_device.room) or the counter (bench.live_stamp) must change"
        )
    return read


class BareVideoTrack(MediaStreamTrack):
    """The peer: raw frames straight into aiortc, newest first, as a plain aiortc app would."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._frame: Frame | None = None
        self._sent = -1
        self._ready = asyncio.Event()
        self._start: float | None = None

    def offer(self, frame: Frame) -> None:
        """Hand over the newest frame; call on the event loop."""
        self._frame = frame
        self._ready.set()

    async def recv(self) -> av.VideoFrame:
        while self._frame is None or self._frame.sequence <= self._sent:
            self._ready.clear()
            await self._ready.wait()
        frame = self._frame
        self._sent = frame.sequence
        if self._start is None:
            self._start = frame.timestamp
        video = av.VideoFrame.from_ndarray(frame.image, format="bgr24")
        video.pts = int((frame.timestamp - self._start) * _VIDEO_CLOCK)
        video.time_base = _TIME_BASE
        return video


class LiveDevice:
    """One measured path and its capture feed, on the running event loop.

    ``url`` is where viewers subscribe and ``signal`` how: ``whep`` (the viewer offers, this
    device answers, for the ``privacy`` and ``bare`` paths) or ``relay`` (the relay's front-end
    offers and the viewer answers with a PATCH, a ticket in ``token_file``).
    """

    def __init__(
        self,
        path: str,
        width: int,
        height: int,
        fps: float,
        max_viewers: int,
        *,
        stage: PrivacyStage | None = None,
        watermark: bool = False,
        relay: LocalRelay | None = None,
        class_mark: str | None = None,
    ) -> None:
        if path not in PATHS:
            raise ValueError(f"unknown path {path!r}")
        if (path != "bare") != (stage is not None):
            raise ValueError(f"path {path!r}: the privacy and relay paths, and only they, stage")
        if (path == "relay") != (relay is not None):
            raise ValueError("the relay path, and only it, needs a relay")
        if watermark and path != "privacy":
            raise ValueError("only the privacy path has a watermark")
        if class_mark is not None and path != "relay":
            raise ValueError("only the relay path has a class mark")
        self.class_mark = class_mark
        self.path = path
        self.watermark = watermark
        self.source = StampedSource(width, height, fps)
        self.handed: dict[int, Handed] = {}
        self.cpu_samples: list[tuple[float, float]] = []  # (perf_counter, process CPU seconds)
        self.relay_cpu_samples: list[tuple[float, float]] = []  # the same for the relay host
        self.refused: list[str] = []
        self.url = ""
        self.signal = "relay" if relay is not None else "whep"
        self.token_file = relay.ticket_file() if relay is not None else None
        self._relay = relay
        self._max_viewers = max_viewers
        self._loop = asyncio.get_running_loop()
        self._stop = threading.Event()
        self._feed = CaptureFeed(self.source)
        self._stage = stage
        self._hub: FrameHub | None = None
        self._sessions: ViewerSessions | None = None
        self._publisher: WhipPublisher | None = None
        self._bare: list[tuple[RTCPeerConnection, BareVideoTrack]] = []
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._sampler: asyncio.Task[None] | None = None

    async def start(self) -> None:
        deliver = self._bare_offer
        if self.path != "bare":
            self._hub = FrameHub(self._loop)
            limits = ViewerLimits(
                per_camera=self._max_viewers, per_account=self._max_viewers, owner_reserve=0
            )
            self._sessions = ViewerSessions(self._hub, limits)
            deliver = self._through_privacy
        self._sampler = asyncio.ensure_future(self._sample_cpu())
        self._feed.start()
        self._thread = threading.Thread(target=self._run, args=(deliver,), name="bench-device")
        self._thread.start()
        if self._relay is not None:
            await self._publish(self._relay)
            self.url = self._relay.viewer_endpoint()
            return
        app = web.Application()
        app.router.add_post("/whep", self._whep)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/whep"

    async def _publish(self, relay: LocalRelay) -> None:
        """Publish the camera's shared encode to the relay once, as a device does for many (with
        ``class_mark``: a kindergarten's encode of its own, the class's mark burned in)."""
        assert self._sessions is not None
        track = (
            self._sessions.shared_track(CAMERA_ID)
            if self.class_mark is None
            else self._sessions.marked_track(CAMERA_ID, Watermark(self.class_mark, datetime.now))
        )
        self._publisher = WhipPublisher(track, relay.endpoint(), relay.token)
        await self._publisher.start()
        deadline = time.monotonic() + _PUBLISH_TIMEOUT_S
        while self._publisher.connection_state != "connected":
            if time.monotonic() > deadline:
                raise RuntimeError(f"WHIP publication {self._publisher.connection_state}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        if self._stage is not None:
            # The stage outlives this run (PrivacyStages); the frames its lookahead still holds
            # are this run's. Left in, they would come out first in the next run, their sequence
            # numbers above the new source's, and the hub hands on only newer frames: no viewer
            # of the next run would get a frame until its source counted past them.
            self._stage.flush()
        self._feed.stop()
        if self._publisher is not None:
            await self._publisher.close()
        if self._sessions is not None:
            await self._sessions.close_all("benchmark over")
        for pc, track in self._bare:
            track.stop()
            await pc.close()
        if self._sampler is not None:
            self._sampler.cancel()
            await asyncio.gather(self._sampler, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def source_dropped(self) -> int:
        return self.source.stats.dropped

    # --- the device thread: the consumer of the capture feed -----------------------------------

    def _run(self, deliver: Callable[[Frame], tuple[int, Handed] | None]) -> None:
        while not self._stop.is_set():
            frame = self._feed.get(timeout=0.2)
            if frame is not None and (handed := deliver(frame)) is not None:
                sequence, at = handed
                self.handed[sequence] = at

    def _through_privacy(self, frame: Frame) -> tuple[int, Handed] | None:
        """The frame into the stage; out comes the one its lookahead held back, if any."""
        assert self._stage is not None and self._hub is not None
        out = self._stage.push(frame)
        if out is None:
            return None
        stage_s = self._stage.latencies_s[-1]
        self._hub.publish(CAMERA_ID, out)
        reason = None if out.reason is None else str(out.reason)
        return out.sequence, Handed(time.perf_counter(), out.streamed, reason, stage_s)

    def _bare_offer(self, frame: Frame) -> tuple[int, Handed]:
        self._loop.call_soon_threadsafe(self._offer_all, frame)
        return frame.sequence, Handed(time.perf_counter(), True, None, None)

    def _offer_all(self, frame: Frame) -> None:
        for _, track in self._bare:
            track.offer(frame)

    # --- the event loop ------------------------------------------------------------------------

    async def _whep(self, request: web.Request) -> web.Response:
        offer = await request.text()
        if self._sessions is not None:
            account = f"viewer{len(self._sessions)}"
            extra = {"overlay": Watermark(account, datetime.now)} if self.watermark else {}
            try:
                _, answer = await self._sessions.open(CAMERA_ID, account, offer, **extra)
            except SessionRefused as err:
                self.refused.append(f"{err.code}: {err.reason}")
                return web.Response(status=err.status, text=err.reason)
        else:
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # loopback: no STUN
            track = BareVideoTrack()
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            pc.addTrack(track)
            await pc.setLocalDescription(await pc.createAnswer())
            self._bare.append((pc, track))
            answer = pc.localDescription.sdp
        return web.Response(status=201, text=answer, content_type="application/sdp")

    async def _sample_cpu(self) -> None:
        device = psutil.Process()
        relay = [psutil.Process(pid) for pid in self._relay.pids] if self._relay else []
        while True:
            now = time.perf_counter()
            times = device.cpu_times()
            self.cpu_samples.append((now, times.user + times.system))
            if relay:
                used = sum(t.user + t.system for t in (p.cpu_times() for p in relay))
                self.relay_cpu_samples.append((now, used))
            await asyncio.sleep(_CPU_SAMPLE_S)
