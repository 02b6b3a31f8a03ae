"""A WebRTC video track that plays one camera's redacted frames (or its privacy-hold slate)."""

from __future__ import annotations

import fractions

import av
from aiortc import MediaStreamTrack

from streaming.hub import FrameHub

VIDEO_CLOCK = 90_000  # RTP video clock rate
_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)


class RedactedVideoTrack(MediaStreamTrack):
    """Pulls the newest frame of a camera from the hub each time the encoder asks for one.

    Timestamps come from the capture clock, so pacing follows the camera, and a viewer that is
    slower than the camera skips frames rather than falling behind.
    """

    kind = "video"

    def __init__(self, hub: FrameHub, camera_id: str) -> None:
        super().__init__()
        self._hub = hub
        self._camera_id = camera_id
        self._sequence = -1
        self._start: float | None = None
        self.frames_sent = 0
        self.withheld_sent = 0

    async def recv(self) -> av.VideoFrame:
        frame = await self._hub.next(self._camera_id, self._sequence)
        self._sequence = frame.sequence
        if self._start is None:
            self._start = frame.timestamp
        video = av.VideoFrame.from_ndarray(frame.image, format="bgr24")
        video.pts = int((frame.timestamp - self._start) * VIDEO_CLOCK)
        video.time_base = _TIME_BASE
        self.frames_sent += 1
        if not frame.streamed:
            self.withheld_sent += 1
        return video
