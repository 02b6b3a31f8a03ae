"""The fake clock every test uses (``testkit.clock``): what each way of moving it does."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from firmware.clock import Clock
from testkit.clock import DEFAULT_MONOTONIC, DEFAULT_WALL, FakeClock, RunningClock


def test_time_stands_still_until_the_test_moves_it(clock: FakeClock) -> None:
    assert isinstance(clock, FakeClock)
    app_clock: Clock = clock  # the app's protocol
    assert (app_clock.wall(), app_clock.monotonic()) == (DEFAULT_WALL, DEFAULT_MONOTONIC)
    assert (clock.wall(), clock.monotonic()) == (DEFAULT_WALL, DEFAULT_MONOTONIC)
    clock.advance(90)
    assert (clock.wall(), clock.monotonic()) == (DEFAULT_WALL + 90, DEFAULT_MONOTONIC + 90)
    clock.advance_to(DEFAULT_WALL + 100)
    assert (clock.wall(), clock.monotonic()) == (DEFAULT_WALL + 100, DEFAULT_MONOTONIC + 100)
    clock.set_wall(5.0)  # the wall clock is turned back; monotonic time does not jump
    assert (clock.wall(), clock.monotonic()) == (5.0, DEFAULT_MONOTONIC + 100)
    assert clock.now() == datetime(1970, 1, 1, 0, 0, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance_to(4.0)


def test_a_ticking_clock_moves_on_at_every_wall_reading() -> None:
    clock = FakeClock(100, monotonic=7, tick=1.0)
    assert [clock.wall() for _ in range(3)] == [101.0, 102.0, 103.0]
    assert clock.monotonic() == 10.0 and clock.monotonic() == 10.0  # monotonic reads do not tick
    readings: list[float] = []

    def read() -> None:
        readings.extend(clock.wall() for _ in range(200))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(readings) == [104.0 + i for i in range(800)]  # no reading twice


def test_a_running_clock_runs_at_the_real_rate_from_where_it_is_set() -> None:
    clock = RunningClock()
    assert clock.wall() == pytest.approx(time.time(), abs=1)
    assert clock.monotonic() == pytest.approx(time.monotonic(), abs=1)
    started = RunningClock(1000.0, 5.0)
    first = started.wall(), started.monotonic()
    time.sleep(0.05)
    assert started.wall() - first[0] >= 0.05 and started.monotonic() - first[1] >= 0.05
    started.set_wall(2000.0)
    assert started.wall() == pytest.approx(2000.0, abs=1)
    assert started.monotonic() == pytest.approx(5.0, abs=1)
    started.advance(3600)
    assert started.wall() == pytest.approx(5600.0, abs=1)
    assert started.monotonic() == pytest.approx(3605.0, abs=1)
