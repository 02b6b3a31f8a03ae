"""The contract of a capture backend."""

from __future__ import annotations

import abc
from dataclasses import dataclass

from firmware.errors import AppError, ExitCode
from firmware.frames import Frame


class CaptureError(AppError, RuntimeError):
    """The source cannot be opened or has failed for good (bad device, unreadable file)."""


class SourceSpecError(AppError, ValueError):
    """A capture source spec (``capture.source``, ``--source``) names no source this app has."""

    exit_code = ExitCode.USAGE


class EndOfStream(Exception):
    """A finite source (a file that does not loop) has no more frames."""


@dataclass(frozen=True, slots=True)
class CaptureStats:
    """Counters of one source since it was opened."""

    frames: int
    dropped: int


class CaptureSource(abc.ABC):
    """A camera or a stand-in for one.

    ``read()`` blocks until the next frame and returns it with a fresh sequence number. Backends
    count frames they know were lost (sensor timestamp gaps, decode errors) in ``dropped``.
    ``realtime`` tells the consumer whether frames arrive at the camera's pace (a slow consumer
    must then drop frames) or only when asked for (a file read as fast as possible).
    """

    #: short human-readable name, e.g. ``"picamera2"`` or ``"file:/path/clip.mp4"``
    name: str = "source"
    realtime: bool = True

    def __init__(self) -> None:
        self._sequence = 0
        self._dropped = 0

    @abc.abstractmethod
    def open(self) -> None:
        """Acquire the device or file; raise :class:`CaptureError` with a clear reason."""

    @abc.abstractmethod
    def read(self) -> Frame:
        """Return the next frame; raise :class:`EndOfStream` or :class:`CaptureError`."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the device or file. Safe to call twice."""

    @property
    def stats(self) -> CaptureStats:
        return CaptureStats(frames=self._sequence, dropped=self._dropped)

    def _next_sequence(self) -> int:
        seq = self._sequence
        self._sequence += 1
        return seq

    def _count_dropped(self, n: int = 1) -> None:
        self._dropped += n

    def __enter__(self) -> CaptureSource:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
