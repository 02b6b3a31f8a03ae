"""Camera capture: backends behind one interface, and the feed that masks and queues frames."""

from firmware.capture.base import (
    CaptureError,
    CaptureSource,
    CaptureStats,
    EndOfStream,
    SourceSpecError,
)
from firmware.capture.feed import CaptureFeed
from firmware.capture.select import open_source

__all__ = [
    "CaptureError",
    "CaptureFeed",
    "CaptureSource",
    "CaptureStats",
    "EndOfStream",
    "SourceSpecError",
    "open_source",
]
