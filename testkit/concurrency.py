"""Requests sent at the same moment, for the tests of races (two tabs redeeming one code, many
offers of one viewer): each call on its own thread, all released together by a barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def all_at_once(calls: Sequence[Callable[[], T]], timeout: float = 20.0) -> list[T]:
    """The results of ``calls``, in order, each run on a thread of its own once all are ready;
    every wait has ``timeout``."""
    barrier = threading.Barrier(len(calls), timeout=timeout)

    def run(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(run, call) for call in calls]
        return [f.result(timeout=timeout) for f in futures]
