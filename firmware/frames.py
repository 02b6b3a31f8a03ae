"""The frame type every capture backend produces."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured picture.

    ``image`` is an ``H x W x 3`` BGR ``uint8`` array. Once a frame leaves the capture thread the
    static privacy masks are burned in and the array is read-only, so no consumer can undo the
    masks or change what another consumer sees.

    ``timestamp`` is in seconds on a monotonic clock: ``time.monotonic()`` for live sources, and for
    a file read as fast as possible a virtual clock that advances by media time, so that event
    timing is the same whatever the decode speed. ``sequence`` counts frames produced by the
    source (starting at 0); a gap in it means frames were dropped.
    """

    image: np.ndarray
    timestamp: float
    sequence: int

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])
