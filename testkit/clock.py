"""The one fake of the app's clock (``firmware.clock.Clock``: ``wall()`` and ``monotonic()``).

- :class:`FakeClock`: time stands still until the test moves it (:meth:`~FakeClock.advance`,
  :meth:`~FakeClock.advance_to`, :meth:`~FakeClock.set_wall`), or, with ``tick``, moves on by
  ``tick`` seconds at every ``wall()`` reading (each record then gets its own, later time). Code
  that takes a bare monotonic callable instead of a clock gets ``clock.monotonic``.
- :class:`RunningClock`: time runs at the real rate, starting from the real time unless told
  otherwise; a test still sets the wall clock (a device whose clock says a day later) without
  monotonic time jumping, for code that waits for real (a health check polling a service).

Both are thread-safe: servers under test read them on their own threads.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

DEFAULT_WALL = 1_700_000_000.0
"""Where a :class:`FakeClock`'s wall time starts: Tuesday 14 November 2023, 22:13:20 UTC."""
DEFAULT_MONOTONIC = 1000.0
"""Where a :class:`FakeClock`'s monotonic time starts (any value: only differences count)."""


class FakeClock:
    """Wall time starting at ``wall`` and monotonic time at ``monotonic``, both standing still
    until the test moves them; with ``tick``, every :meth:`wall` reading first moves both on by
    ``tick`` seconds (so the first reading is ``wall + tick``)."""

    def __init__(
        self,
        wall: float = DEFAULT_WALL,
        monotonic: float = DEFAULT_MONOTONIC,
        *,
        tick: float = 0.0,
    ) -> None:
        self._lock = threading.Lock()
        self._wall = wall
        self._mono = monotonic
        self._tick = tick

    def _elapsed(self) -> float:
        """Seconds the clock ran by itself since it was made: none, here."""
        return 0.0

    def wall(self) -> float:
        """Unix time in seconds."""
        with self._lock:
            self._wall += self._tick
            self._mono += self._tick
            return self._wall + self._elapsed()

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        with self._lock:
            return self._mono + self._elapsed()

    def now(self) -> datetime:
        """:meth:`wall` as an aware UTC datetime (a reading: it ticks like :meth:`wall`)."""
        return datetime.fromtimestamp(self.wall(), UTC)

    def advance(self, seconds: float) -> None:
        """Time passes: wall and monotonic time both move on by ``seconds`` (not negative: to
        turn the wall clock back, :meth:`set_wall`)."""
        with self._lock:
            self._move(seconds)

    def advance_to(self, wall: float) -> None:
        """Time passes until the wall clock reads ``wall`` (monotonic time moves on as much)."""
        with self._lock:
            self._move(wall - (self._wall + self._elapsed()))

    def _move(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"time does not go back ({seconds} s); set_wall() turns the clock")
        self._wall += seconds
        self._mono += seconds

    def set_wall(self, wall: float) -> None:
        """The wall clock is set to ``wall`` (as by NTP or a person); monotonic time does not
        jump."""
        with self._lock:
            self._wall = wall - self._elapsed()


class RunningClock(FakeClock):
    """A :class:`FakeClock` whose time also runs at the real rate: it starts at ``wall`` (default:
    the real time) and ``monotonic`` (default: the real monotonic time), and the test can still
    move it. ``RunningClock()`` reads as the system clock until the test sets it."""

    def __init__(
        self,
        wall: float | None = None,
        monotonic: float | None = None,
        *,
        tick: float = 0.0,
    ) -> None:
        self._origin = time.monotonic()
        super().__init__(
            time.time() if wall is None else wall,
            self._origin if monotonic is None else monotonic,
            tick=tick,
        )

    def _elapsed(self) -> float:
        return time.monotonic() - self._origin
