"""A ring buffer of the most recent frames, so a clip can begin before its trigger."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import av
import numpy as np

from firmware.frames import Frame
from firmware.masks import PrivacyMasker


@dataclass(frozen=True, slots=True)
class KeptFrame:
    """A frame as the pre-roll keeps it: planar YUV 4:2:0 (I420), half the bytes of BGR.

    Clips are H.264 in yuv420p and the planes are made as the clip encoder would make them
    from the BGR frame (swscale), so it takes them as they are
    (:class:`~camera_app.monitor.clipwriter.ClipWriter`): the clip is the same as if the BGR
    frame had been kept. A frame with an odd width or height (no I420 layout) is kept as it came.
    """

    pixels: np.ndarray  # (H * 3/2, W) I420, or the (H, W, 3) BGR image itself
    timestamp: float
    sequence: int

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the picture."""
        if self.pixels.ndim == 3:
            return int(self.pixels.shape[1]), int(self.pixels.shape[0])
        return int(self.pixels.shape[1]), int(self.pixels.shape[0]) * 2 // 3

    @classmethod
    def of(cls, frame: Frame) -> KeptFrame:
        height, width = frame.image.shape[:2]
        if height % 2 or width % 2:
            return cls(frame.image, frame.timestamp, frame.sequence)
        # swscale, as the clip encoder would convert the BGR frame itself: the same planes
        yuv = av.VideoFrame.from_ndarray(frame.image, format="bgr24").reformat(format="yuv420p")
        return cls(yuv.to_ndarray(), frame.timestamp, frame.sequence)

    def frame(self) -> Frame:
        """The frame again, BGR and read-only like a captured one."""
        if self.pixels.ndim == 3:
            return Frame(self.pixels, self.timestamp, self.sequence)
        image = av.VideoFrame.from_ndarray(self.pixels, format="yuv420p").to_ndarray(format="bgr24")
        image.flags.writeable = False
        return Frame(image, self.timestamp, self.sequence)


class PreRollBuffer:
    """Keeps the frames of the last ``seconds`` (by frame timestamp), at most ``max_frames``.

    Frames are kept as I420 copies (:class:`KeptFrame`): holding the shared BGR arrays would
    cost twice the memory (about 46 MB for 3.2 s of 640x480 at 15 fps, 23 MB as I420).
    """

    def __init__(self, seconds: float, max_frames: int) -> None:
        self._seconds = seconds
        self._frames: deque[KeptFrame] = deque(maxlen=max(1, max_frames))

    def push(self, frame: Frame) -> None:
        self._frames.append(KeptFrame.of(frame))
        horizon = frame.timestamp - self._seconds
        while self._frames and self._frames[0].timestamp < horizon:
            self._frames.popleft()

    def remask(self, masker: PrivacyMasker) -> None:
        """Burn ``masker`` into the frames kept, so that a privacy mask saved now also hides
        what the next clip's pre-roll reaches back to."""
        self._frames = deque(
            (KeptFrame.of(masker.applied_to(f.frame())) for f in self._frames), self._frames.maxlen
        )

    def since(self, timestamp: float) -> list[KeptFrame]:
        """Frames with a timestamp at or after ``timestamp``, oldest first."""
        return [f for f in self._frames if f.timestamp >= timestamp]

    def __len__(self) -> int:
        return len(self._frames)
