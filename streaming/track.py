"""A WebRTC video track that plays one camera's redacted frames (or its privacy-hold slate)."""

from __future__ import annotations

import fractions
from collections.abc import Callable

import av
import numpy as np
from aiortc import MediaStreamTrack

from privacy import RedactedFrame
from streaming.hub import FrameHub

VIDEO_CLOCK = 90_000  # RTP video clock rate
_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)

Overlay = Callable[[np.ndarray], np.ndarray]  # returns a new image; never edits its argument


def to_video_frame(
    frame: RedactedFrame, start: float, overlay: Overlay | None = None
) -> av.VideoFrame:
    """The frame as an ``av.VideoFrame`` stamped on the capture clock (90 kHz since ``start``)."""
    image = frame.image if overlay is None else overlay(frame.image)
    video = av.VideoFrame.from_ndarray(image, format="bgr24")
    video.pts = int((frame.timestamp - start) * VIDEO_CLOCK)
    video.time_base = _TIME_BASE
    return video


class RedactedVideoTrack(MediaStreamTrack):
    """Pulls the newest frame of a camera from the hub each time its encoder asks for one.

    Timestamps come from the capture clock, so pacing follows the camera, and a viewer that is
    slower than the camera skips frames rather than falling behind. ``overlay`` (the per-viewer
    watermark) is drawn on a copy of each frame; a track with an overlay is encoded for its
    viewer alone, by aiortc.
    """

    kind = "video"

    def __init__(self, hub: FrameHub, camera_id: str, overlay: Overlay | None = None) -> None:
        super().__init__()
        self._hub = hub
        self._camera_id = camera_id
        self._overlay = overlay
        self._sequence = -1
        self._start: float | None = None
        self.frames_sent = 0
        self.withheld_sent = 0

    async def recv(self) -> av.VideoFrame:
        frame = await self._hub.next(self._camera_id, self._sequence)
        self._sequence = frame.sequence
        if self._start is None:
            self._start = frame.timestamp
        self.frames_sent += 1
        if not frame.streamed:
            self.withheld_sent += 1
        return to_video_frame(frame, self._start, self._overlay)
