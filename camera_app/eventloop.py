"""An asyncio event loop on its own thread, for the parts of the app that are async (the owner
API, WebRTC, relay publishing) beside the synchronous capture loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
JOIN_TIMEOUT_S = 15.0


class LoopThread:
    """Runs one event loop on a daemon thread until :meth:`stop`.

    :meth:`run` submits a coroutine from any other thread and waits for its result with a
    timeout; :meth:`spawn` starts one as a task without waiting.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[concurrent.futures.Future[Any]] = set()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError(f"event loop {self._name} is not running")
        return self._loop

    def start(self) -> None:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            ready.set()
            try:
                loop.run_forever()
            finally:
                _cancel_remaining(loop)
                loop.close()

        self._thread = threading.Thread(target=serve, name=self._name, daemon=True)
        self._thread.start()
        ready.wait()

    def run(self, work: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``work`` on the loop and return its result; raises TimeoutError after
        ``timeout`` seconds (the work is cancelled)."""
        future = asyncio.run_coroutine_threadsafe(work, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"{self._name}: no result within {timeout:g} s") from None

    @property
    def running(self) -> bool:
        return self._loop is not None and self._loop.is_running()

    def spawn(self, work: Coroutine[Any, Any, None]) -> concurrent.futures.Future[None]:
        """Start ``work`` on the loop; it is cancelled by :meth:`stop` (or by cancelling the
        returned future). A failure is logged."""
        future = asyncio.run_coroutine_threadsafe(work, self.loop)
        self._tasks.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: concurrent.futures.Future[Any]) -> None:
        self._tasks.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("%s: background task failed", self._name, exc_info=future.exception())

    def stop(self) -> None:
        """Cancel spawned work, stop the loop and wait for its thread. Idempotent."""
        for future in list(self._tasks):
            future.cancel()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed in between
                loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT_S)


def _cancel_remaining(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
