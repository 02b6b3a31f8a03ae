"""The threads that run argon2 for the owner API: few, and with a bounded queue.

An argon2 hash or check takes tens of milliseconds (hundreds on a Pi) and 64 MiB. On the event
loop's default executor a burst of logins would queue behind, and crowd out, everything else
that runs there; so password work has a pool of its own (``api.password_workers`` threads) and a
bounded queue (``api.password_queue``): a job beyond it is refused at once
(:class:`PasswordWorkersBusy`, HTTP 503) instead of waiting and holding memory. The shared VP8
encoder already encodes on a thread of its own (``streaming.encoder``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class PasswordWorkersBusy(RuntimeError):
    """Every password worker is busy and the queue is full: try again in a moment."""


class PasswordWorkers:
    """A pool of ``workers`` threads with room for ``queue`` more jobs waiting."""

    def __init__(self, workers: int, queue: int) -> None:
        if workers < 1 or queue < 0:
            raise ValueError("password workers need at least 1 thread and a queue of 0 or more")
        self._capacity = workers + queue
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="argon2")
        self._lock = threading.Lock()
        self._taken = 0  # jobs running or waiting

    def submit(
        self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[T]:
        """Queue ``fn(*args)``; safe from any thread. Raises :class:`PasswordWorkersBusy` when
        the pool and its queue are full."""
        with self._lock:
            if self._taken >= self._capacity:
                raise PasswordWorkersBusy("the device is busy checking other passwords")
            self._taken += 1

        def job() -> T:
            try:
                return fn(*args, **kwargs)
            finally:
                self._release()  # before the result is handed over: a waiter finds room again

        try:
            return self._pool.submit(job)
        except BaseException:
            self._release()
            raise

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args)`` on a password worker, awaited from the event loop."""
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def _release(self) -> None:
        with self._lock:
            self._taken -= 1

    def close(self) -> None:
        """Stop taking jobs; a job in flight finishes on its own."""
        self._pool.shutdown(wait=False, cancel_futures=True)
