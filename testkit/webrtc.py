"""Both ends of a live view, for the tests that drive real peers on this host.

- :class:`GatedCamera` stands in for the camera and its privacy stage: a thread that publishes
  frames made by the real ``privacy.framegate.FrameGate`` into a ``streaming.hub.FrameHub``.
- :class:`Receiver` is the far end: a real aiortc peer connection that queues the decoded frames
  of the video it receives, whether it offers (a WHEP viewer) or answers (a relay subscriber).

Everything stays on this host: the peer connections have no STUN or TURN server, so ICE pairs
the host's own addresses.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from firmware.frames import Frame
from privacy.frame import WithholdReason
from privacy.framegate import FrameGate
from streaming.hub import FrameHub

if TYPE_CHECKING:  # only a type here: the owner-API harness is not needed to run peers
    from testkit.api import RunningApi

Picture = Callable[[int], np.ndarray]
"""Makes the BGR picture of frame number ``sequence``."""


def solid(width: int, height: int, bgr: tuple[int, ...]) -> Picture:
    """A picture of one colour (``bgr``), the same for every frame."""

    def picture(_sequence: int) -> np.ndarray:
        image = np.empty((height, width, 3), np.uint8)
        image[:] = bgr
        return image

    return picture


def server_hub(api: RunningApi) -> FrameHub:
    """The frame hub of a running owner-API server, where a device's privacy stage publishes."""
    assert api.server.context is not None
    return api.server.context.live.hub


class GatedCamera:
    """Feeds ``hub`` at ``fps`` from a thread with the frames the real privacy gate makes of
    ``picture``: redacted copies (no faces are reported), or the privacy-hold slate while
    :attr:`withhold` names a reason. The frames are published under ``camera``."""

    def __init__(
        self, hub: FrameHub, picture: Picture, camera: str = "cam1", fps: float = 15
    ) -> None:
        self.withhold: WithholdReason | None = None
        self._hub = hub
        self._picture = picture
        self._camera = camera
        self._period = 1 / fps
        self._gate = FrameGate(release_frames=0, models={"test": "1"})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sequence = 0
        while not self._stop.is_set():
            image = self._picture(sequence)
            image.flags.writeable = False  # as capture hands it over: shared, never drawn on
            frame = Frame(image=image, timestamp=time.monotonic(), sequence=sequence)
            reason = self.withhold
            if reason is None:
                out = self._gate.stream(frame, image.copy(), [])
            else:
                out = self._gate.withhold(frame, reason)
            self._hub.publish(self._camera, out)
            sequence += 1
            self._stop.wait(self._period)

    def stop(self) -> None:
        """Stop publishing (the hub keeps the last frame); safe to call more than once."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


class Receiver:
    """An aiortc peer connection that receives video and queues the decoded frames of every
    track as BGR arrays in :attr:`frames` (``None`` once a track ended).

    As the offerer (a WHEP viewer): :meth:`offer`, send it, then :meth:`accept` the answer. As
    the answerer (a relay subscriber), subclasses use :attr:`pc` directly."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # loopback: no STUN
        self.frames: asyncio.Queue[np.ndarray | None] = asyncio.Queue()
        self._pumps: list[asyncio.Future[None]] = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._pumps.append(asyncio.ensure_future(self._pump(track)))

    async def _pump(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                self.frames.put_nowait(frame.to_ndarray(format="bgr24"))
        except MediaStreamError:
            self.frames.put_nowait(None)

    async def offer(self, codecs: Sequence[str] | None = None, *, audio: bool = False) -> str:
        """Offer to receive video (in ``codecs`` only, e.g. ``("video/VP8",)``, when given) and,
        with ``audio``, a two-way audio section; returns the offer's SDP."""
        transceiver = self.pc.addTransceiver("video", direction="recvonly")
        if codecs is not None:
            wanted = [
                c
                for c in RTCRtpSender.getCapabilities("video").codecs
                if c.mimeType in codecs or c.mimeType == "video/rtx"
            ]
            transceiver.setCodecPreferences(wanted)
        if audio:
            self.pc.addTransceiver("audio", direction="sendrecv")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept(self, answer: str) -> None:
        """Take the far end's answer to :meth:`offer`."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def frame(self, timeout: float = 15) -> np.ndarray:
        """The next decoded frame; fails if none comes within ``timeout`` s or the track ended."""
        image = await asyncio.wait_for(self.frames.get(), timeout)
        assert image is not None, "the stream ended early"
        return image

    async def close(self) -> None:
        await self.pc.close()
        for pump in self._pumps:
            pump.cancel()
