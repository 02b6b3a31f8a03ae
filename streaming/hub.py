"""The latest redacted frame of each camera, handed from the privacy stage to every viewer.

The privacy stage runs on its own thread and calls :meth:`FrameHub.publish`; WebRTC tracks on the
server's event loop await :meth:`FrameHub.next`. Only the newest frame is kept: a viewer that falls
behind skips frames instead of adding latency. The hub accepts nothing but a sealed
``privacy.RedactedFrame`` (its image still the one the gate sealed), so a raw frame cannot reach a
viewer through it.
"""

from __future__ import annotations

import asyncio
import threading

from privacy import RedactedFrame


class FrameHub:
    """Newest ``RedactedFrame`` per camera, with an awaitable "next frame"."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._latest: dict[str, RedactedFrame] = {}
        self._changed: dict[str, asyncio.Condition] = {}
        self._tasks: set[asyncio.Future[None]] = set()

    def publish(self, camera_id: str, frame: RedactedFrame) -> None:
        """Offer a frame; callable from any thread."""
        if not isinstance(frame, RedactedFrame) or not frame.sealed:
            raise TypeError("the frame hub accepts only privacy.RedactedFrame, sealed by the gate")
        with self._lock:
            self._latest[camera_id] = frame
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake, camera_id)

    def _condition(self, camera_id: str) -> asyncio.Condition:
        return self._changed.setdefault(camera_id, asyncio.Condition())

    def _wake(self, camera_id: str) -> None:
        task = asyncio.ensure_future(self._notify(camera_id))
        self._tasks.add(task)  # keep a reference until it ran
        task.add_done_callback(self._tasks.discard)

    async def _notify(self, camera_id: str) -> None:
        condition = self._condition(camera_id)
        async with condition:
            condition.notify_all()

    def clear(self, camera_id: str) -> None:
        """Forget the camera's last frame (its stream stopped); callable from any thread."""
        with self._lock:
            self._latest.pop(camera_id, None)

    def latest(self, camera_id: str) -> RedactedFrame | None:
        with self._lock:
            return self._latest.get(camera_id)

    async def next(self, camera_id: str, after: int) -> RedactedFrame:
        """The first frame of ``camera_id`` with a sequence number above ``after``."""
        condition = self._condition(camera_id)
        async with condition:
            await condition.wait_for(lambda: self._newer(camera_id, after))
        frame = self.latest(camera_id)
        assert frame is not None
        return frame

    def _newer(self, camera_id: str, after: int) -> bool:
        frame = self.latest(camera_id)
        return frame is not None and frame.sequence > after
