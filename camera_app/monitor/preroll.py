"""A ring buffer of the most recent frames, so a clip can begin before its trigger."""

from __future__ import annotations

from collections import deque

from firmware.frames import Frame
from firmware.masks import PrivacyMasker


class PreRollBuffer:
    """Keeps the frames of the last ``seconds`` (by frame timestamp), at most ``max_frames``.

    Frames are read-only arrays shared with the rest of the pipeline, so keeping them costs no
    copy; the memory bound is ``max_frames`` times one frame.
    """

    def __init__(self, seconds: float, max_frames: int) -> None:
        self._seconds = seconds
        self._frames: deque[Frame] = deque(maxlen=max(1, max_frames))

    def push(self, frame: Frame) -> None:
        self._frames.append(frame)
        horizon = frame.timestamp - self._seconds
        while self._frames and self._frames[0].timestamp < horizon:
            self._frames.popleft()

    def remask(self, masker: PrivacyMasker) -> None:
        """Burn ``masker`` into the frames kept (as copies), so that a privacy mask saved now also
        hides what the next clip's pre-roll reaches back to."""
        self._frames = deque((masker.applied_to(f) for f in self._frames), self._frames.maxlen)

    def since(self, timestamp: float) -> list[Frame]:
        """Frames with a timestamp at or after ``timestamp``, oldest first."""
        return [f for f in self._frames if f.timestamp >= timestamp]

    def __len__(self) -> int:
        return len(self._frames)
