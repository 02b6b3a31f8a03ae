"""One VP8 encode of a camera's redacted frames, shared by every viewer that sees the same picture.

aiortc encodes separately for each peer connection: each ``RTCRtpSender`` owns an encoder and
calls it on every frame its track returns, so N viewers cost N encodes (``MediaRelay`` only shares
the *source* track). A track may however return already-encoded ``av.Packet`` s, which the sender
only packetizes (``Vp8Encoder.pack``). :class:`SharedEncoder` encodes each hub frame once and
:class:`SharedPacketTrack` hands the packets to each viewer's sender.

What sharing costs, and how it is handled:

* a viewer that joins mid-stream needs a keyframe: joining asks the encoder for one, and each
  track skips packets until its first keyframe;
* a receiver's keyframe request (RTCP PLI/FIR, after loss or when a relay adds a viewer) goes to
  its sender, which would only flag its own, unused encoder: :meth:`SharedPacketTrack.attach`
  routes it to the shared encoder instead (at most one forced keyframe per
  ``KEYFRAME_MIN_GAP_S``, so one lossy viewer cannot flood the others with keyframes). The
  encoder also makes a keyframe every ``KEYFRAME_INTERVAL_S`` as a backstop;
* one bitrate for all (aiortc's per-receiver estimate adapts only a per-viewer encoder), sized to
  the picture.

Frames with a per-viewer overlay (the kindergarten watermark) differ per viewer and are encoded
per viewer by aiortc instead (``streaming.track.RedactedVideoTrack``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fractions
import logging
import os
import time
from dataclasses import dataclass

import av
from aiortc import MediaStreamTrack, RTCRtpSender
from aiortc.mediastreams import MediaStreamError
from av.video.codeccontext import VideoCodecContext
from av.video.frame import PictureType

from streaming.hub import FrameHub
from streaming.track import VIDEO_CLOCK, to_video_frame

log = logging.getLogger(__name__)

KEYFRAME_INTERVAL_S = 1.0
KEYFRAME_MIN_GAP_S = 0.25
_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)
_BITS_PER_PIXEL = 0.1  # per frame, at the nominal rate below; VP8 realtime looks clean there
_NOMINAL_FPS = 15
_MIN_BITRATE, _MAX_BITRATE = 300_000, 4_000_000


def target_bitrate(width: int, height: int) -> int:
    """The shared stream's bitrate for a picture size (≈ 0.46 Mbit/s at 640×480)."""
    wanted = int(width * height * _NOMINAL_FPS * _BITS_PER_PIXEL)
    return max(_MIN_BITRATE, min(_MAX_BITRATE, wanted))


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    sequence: int  # the hub frame's sequence number
    packet: av.Packet
    keyframe: bool
    streamed: bool  # false: the privacy-hold slate


class SharedEncoder:
    """Encodes the newest frame of one camera once, while at least one track subscribes."""

    def __init__(self, hub: FrameHub, camera_id: str) -> None:
        self._hub = hub
        self.camera_id = camera_id
        self._codec: VideoCodecContext | None = None
        self._latest: EncodedFrame | None = None
        self._changed = asyncio.Condition()
        self._subscribers = 0
        self._keyframe_wanted = True
        self._last_keyframe_pts: int | None = None
        self._last_keyframe_at: float | None = None  # monotonic time
        self._start: float | None = None
        self._task: asyncio.Task[None] | None = None
        # Encoding runs on a thread of its own rather than on the loop's default executor: the
        # encoder's buffers are then allocated and freed by one thread (one malloc arena), not
        # spread over every worker the API's password hashing or ICE's lookups also use.
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None
        self._failed = False
        self.frames_encoded = 0

    @property
    def subscribers(self) -> int:
        return self._subscribers

    def subscribe(self) -> None:
        """A new viewer: it needs a keyframe to start decoding."""
        self._subscribers += 1
        self._keyframe_wanted = True
        if self._task is None or self._task.done():
            self._failed = False
            if self._thread is None:
                self._thread = concurrent.futures.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix=f"vp8-{self.camera_id}"
                )
            self._task = asyncio.ensure_future(self._run(self._thread))

    def request_keyframe(self) -> None:
        """A receiver asked for a keyframe; honoured unless one was just made."""
        last = self._last_keyframe_at
        if last is None or time.monotonic() - last >= KEYFRAME_MIN_GAP_S:
            self._keyframe_wanted = True

    def unsubscribe(self) -> None:
        self._subscribers = max(0, self._subscribers - 1)
        if self._subscribers == 0:
            self.close()

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._thread is not None:
            self._thread.shutdown(wait=False)  # an encode in flight finishes on its own
            self._thread = None
        self._codec = None
        self._latest = None

    async def next(self, after: int) -> EncodedFrame:
        """The first encoded frame with a sequence number above ``after``; raises
        ``MediaStreamError`` (which ends the viewer's track) if the encoder failed."""
        async with self._changed:
            await self._changed.wait_for(
                lambda: self._failed or (self._latest is not None and self._latest.sequence > after)
            )
            if self._failed or self._latest is None:
                raise MediaStreamError("the shared encoder failed")
            return self._latest

    async def _run(self, thread: concurrent.futures.Executor) -> None:
        loop = asyncio.get_running_loop()
        sequence = -1
        try:
            while True:
                frame = await self._hub.next(self.camera_id, sequence)
                sequence = frame.sequence
                if self._start is None:
                    self._start = frame.timestamp
                video = to_video_frame(frame, self._start)
                packet = await loop.run_in_executor(thread, self._encode, video)
                if packet is None:
                    continue
                self.frames_encoded += 1
                async with self._changed:
                    self._latest = EncodedFrame(
                        sequence, packet, bool(packet.is_keyframe), frame.streamed
                    )
                    self._changed.notify_all()
        except Exception:  # the viewers' tracks would wait for ever: end them instead
            log.exception("shared encoder of %s failed", self.camera_id)
            async with self._changed:
                self._failed = True
                self._changed.notify_all()

    def _encode(self, video: av.VideoFrame) -> av.Packet | None:
        codec = self._codec
        if codec is None or (codec.width, codec.height) != (video.width, video.height):
            codec = self._codec = vp8_codec(video.width, video.height)
            self._keyframe_wanted = True
        last, pts = self._last_keyframe_pts, video.pts
        due = last is None or pts is None or pts - last >= KEYFRAME_INTERVAL_S * VIDEO_CLOCK
        yuv = video.reformat(format="yuv420p")
        yuv.pts, yuv.time_base = video.pts, video.time_base
        if self._keyframe_wanted or due:
            yuv.pict_type = PictureType.I
            self._keyframe_wanted = False
        packets = codec.encode(yuv)
        if not packets:
            return None
        # lag-in-frames 0: one packet per frame
        packet = packets[0] if len(packets) == 1 else av.Packet(b"".join(map(bytes, packets)))
        packet.pts = video.pts
        packet.time_base = _TIME_BASE
        if yuv.pict_type == PictureType.I or any(p.is_keyframe for p in packets):
            packet.is_keyframe = True
            self._last_keyframe_pts = video.pts
            self._last_keyframe_at = time.monotonic()
        return packet


def vp8_codec(width: int, height: int) -> VideoCodecContext:
    """The VP8 encoder of a live stream (also what a relay-side per-viewer mark would cost:
    ``bench.relay_marks``)."""
    codec = av.CodecContext.create("libvpx", "w")
    assert isinstance(codec, VideoCodecContext)
    bitrate = target_bitrate(width, height)
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuv420p"
    codec.bit_rate = bitrate
    codec.time_base = _TIME_BASE
    codec.gop_size = 3000  # keyframes are forced: on joining, and every KEYFRAME_INTERVAL_S
    codec.qmin, codec.qmax = 2, 56
    codec.options = {
        "deadline": "realtime",
        "cpu-used": "-6",
        "lag-in-frames": "0",  # one packet out per frame in: no added latency
        "bufsize": str(bitrate),
        "minrate": str(bitrate),
        "maxrate": str(bitrate),
        "undershoot-pct": "100",
        "overshoot-pct": "15",
        "static-thresh": "1",
        "partitions": "0",
    }
    codec.thread_count = min(4, os.cpu_count() or 1) if width * height > 640 * 480 else 1
    return codec


class SharedPacketTrack(MediaStreamTrack):
    """One viewer's view of a :class:`SharedEncoder`: returns its packets, from a keyframe on."""

    kind = "video"

    def __init__(self, encoder: SharedEncoder) -> None:
        super().__init__()
        self._encoder = encoder
        self._sequence = -1
        self._started = False  # a keyframe was sent
        self._subscribed = False
        self.frames_sent = 0
        self.withheld_sent = 0

    def attach(self, sender: RTCRtpSender) -> None:
        """Send ``sender``'s keyframe requests to the shared encoder.

        aiortc has no public hook for this: its sender handles PLI/FIR by calling its own
        ``_send_keyframe``, which is replaced on this one instance. Should a later aiortc not
        have it, nothing is replaced and the periodic keyframes remain."""
        if callable(getattr(sender, "_send_keyframe", None)):
            sender._send_keyframe = self._encoder.request_keyframe  # type: ignore[method-assign]
        else:
            log.warning("aiortc sender has no keyframe hook; relying on periodic keyframes")

    async def recv(self) -> av.Packet:
        if not self._subscribed:
            self._subscribed = True
            self._encoder.subscribe()
        while True:
            encoded = await self._encoder.next(self._sequence)
            self._sequence = encoded.sequence
            if self._started or encoded.keyframe:
                break
        self._started = True
        self.frames_sent += 1
        if not encoded.streamed:
            self.withheld_sent += 1
        return encoded.packet

    def stop(self) -> None:
        if self._subscribed:
            self._subscribed = False
            with contextlib.suppress(RuntimeError):  # the loop is already gone
                self._encoder.unsubscribe()
        super().stop()
