"""The capture thread: reads a source, burns in the privacy masks, hands frames to one consumer."""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass

from firmware.capture.base import CaptureError, CaptureSource, EndOfStream
from firmware.frames import Frame
from firmware.masks import PrivacyMasker

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FeedStats:
    """Counters of a feed since it started."""

    #: frames handed to the queue
    published: int
    #: sequence numbers the source used (frames delivered plus frames it knows it lost)
    source_frames: int
    #: frames the source lost (sensor gaps, corrupt packets)
    source_dropped: int
    #: frames discarded because the consumer did not keep up (realtime sources only)
    consumer_dropped: int
    #: successful re-opens after a live source failed
    reconnects: int


class CaptureFeed:
    """Runs a capture source on a daemon thread and queues its frames, masked and read-only.

    This is the single place where static privacy masks are burned in: every published frame has
    a fresh, owned image with the masks applied and ``writeable`` cleared, so no consumer ever sees
    (or can restore) the masked pixels.

    Queue policy: a realtime source (a camera, or a file played at its own pace) never waits for
    the consumer; when the queue is full the oldest frame is discarded and counted in
    ``dropped_by_consumer``, so a slow consumer gets fresh frames rather than growing latency. A
    non-realtime source (a file read as fast as possible) waits for room instead and loses nothing.

    Failures: if the source cannot be opened at all, the :class:`CaptureError` is final (kept in
    ``error``; the feed finishes), for every kind of source. Once open, a live source
    (``source.live`` true: V4L2, RTSP, picamera2) that fails is closed and reopened with
    exponential backoff, for ever, until ``stop()``; for any other source a read error is final.
    The end of a file that does not loop also finishes the feed (``end_of_stream``).
    """

    def __init__(
        self,
        source: CaptureSource,
        masker: PrivacyMasker | None = None,
        queue_size: int = 2,
        reconnect_backoff: tuple[float, float] = (0.5, 10.0),
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        initial, maximum = reconnect_backoff
        if not 0 < initial <= maximum:
            raise ValueError("reconnect_backoff must be (initial, max) with 0 < initial <= max")
        self.source = source
        self.masker = masker if masker else None
        self.queue_size = queue_size
        self.reconnect_backoff = (float(initial), float(maximum))
        #: why the feed stopped for good, if it did (a final CaptureError, or a bug)
        self.error: BaseException | None = None
        #: frames discarded because the consumer was too slow (realtime sources only)
        self.dropped_by_consumer = 0
        #: the source reached its end (a file that does not loop)
        self.end_of_stream = False
        self.reconnects = 0
        self._published = 0
        self._live = bool(getattr(source, "live", False))
        self._queue: collections.deque[Frame] = collections.deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._finished = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Open the source and start reading, on the feed's own thread."""
        if self._thread is not None:
            raise RuntimeError("capture feed already started")
        self._thread = threading.Thread(
            target=self._run, name=f"capture {self.source.name}", daemon=True
        )
        self._thread.start()

    def get(self, timeout: float | None = None) -> Frame | None:
        """The oldest queued frame; None after ``timeout`` seconds or once the feed is finished.

        ``timeout=None`` waits until a frame arrives or the feed finishes.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._queue:
                if self._finished:
                    return None
                if deadline is None:
                    self._cond.wait()
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            frame = self._queue.popleft()
            self._cond.notify_all()
            return frame

    def swap_masker_threadsafe(self, masker: PrivacyMasker | None) -> None:
        """Burn ``masker``'s polygons into every frame from now on; safe from any thread.

        The masker is swapped whole (never changed in place) under the queue's lock, and frames
        already queued are masked again, so every frame :meth:`get` returns after this call has
        the new masks. A frame masked before keeps its old masks too: swapping never reveals
        what was hidden in a frame already taken.
        """
        new = masker if masker else None
        with self._cond:
            self.masker = new
            if new is not None:
                self._queue = collections.deque(new.applied_to(f) for f in self._queue)

    @property
    def finished(self) -> bool:
        """True once the reader thread is done (end of stream, final error, or ``stop()``)."""
        return self._finished

    @property
    def stats(self) -> FeedStats:
        source_stats = self.source.stats
        return FeedStats(
            published=self._published,
            source_frames=source_stats.frames,
            source_dropped=source_stats.dropped,
            consumer_dropped=self.dropped_by_consumer,
            reconnects=self.reconnects,
        )

    def stop(self, timeout: float = 5.0) -> None:
        """Stop reading, close the source and wait for the thread (up to ``timeout`` s)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        thread = self._thread
        if thread is None:
            with self._cond:
                self._finished = True
                self._cond.notify_all()
        elif thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                logger.warning(
                    "%s: capture thread still blocked in read after %.1f s",
                    self.source.name,
                    timeout,
                )

    def __enter__(self) -> CaptureFeed:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        source = self.source
        initial, maximum = self.reconnect_backoff
        backoff = initial
        is_open = False
        ever_opened = False
        try:
            while not self._stop.is_set():
                if not is_open:
                    try:
                        source.open()
                    except CaptureError as exc:
                        # A source that never opened is misconfigured (wrong device, bad URL,
                        # missing file): retrying for ever would hide that. Only a source that
                        # worked before is worth waiting for.
                        if not (self._live and ever_opened):
                            self._fail(exc)
                            return
                        logger.warning(
                            "%s: cannot open (%s); retrying in %.1f s", source.name, exc, backoff
                        )
                        if self._stop.wait(backoff):
                            return
                        backoff = min(backoff * 2, maximum)
                        continue
                    is_open = True
                    if ever_opened:
                        self.reconnects += 1
                        logger.info("%s: reconnected", source.name)
                    ever_opened = True
                try:
                    frame = source.read()
                except EndOfStream:
                    logger.info("%s: end of stream", source.name)
                    self.end_of_stream = True
                    return
                except CaptureError as exc:
                    if not self._live:
                        self._fail(exc)
                        return
                    logger.warning(
                        "%s: capture failed (%s); reconnecting in %.1f s",
                        source.name,
                        exc,
                        backoff,
                    )
                    source.close()
                    is_open = False
                    if self._stop.wait(backoff):
                        return
                    backoff = min(backoff * 2, maximum)
                    continue
                backoff = initial
                masker = self.masker  # read once: another thread may swap it meanwhile
                self._publish(self._seal(frame, masker), masker)
        except Exception as exc:
            logger.exception("%s: capture thread crashed", source.name)
            self.error = exc
        finally:
            try:
                source.close()
            finally:
                with self._cond:
                    self._finished = True
                    self._cond.notify_all()

    def _fail(self, exc: CaptureError) -> None:
        logger.error("%s: %s", self.source.name, exc)
        self.error = exc

    def _seal(self, frame: Frame, masker: PrivacyMasker | None) -> Frame:
        image = frame.image
        flags = image.flags
        # An array the backend handed over (owned, writable, contiguous) is masked and frozen in
        # place; a backend that tried to reuse it would then fail loudly instead of changing a
        # published frame. Anything else (a view into a decoder buffer, a read-only array) is
        # copied first.
        if not (flags.owndata and flags.writeable and flags.c_contiguous):
            image = image.copy()
        if masker is not None:
            masker.apply(image)
        image.flags.writeable = False
        return Frame(image=image, timestamp=frame.timestamp, sequence=frame.sequence)

    def _publish(self, frame: Frame, sealed_with: PrivacyMasker | None) -> None:
        with self._cond:
            if self.source.realtime:
                if len(self._queue) >= self.queue_size:
                    self._queue.popleft()
                    self.dropped_by_consumer += 1
            else:
                while len(self._queue) >= self.queue_size and not self._stop.is_set():
                    self._cond.wait()
                if self._stop.is_set():
                    return
            if self.masker is not sealed_with and self.masker is not None:
                frame = self.masker.applied_to(frame)  # swapped since this frame was sealed
            self._queue.append(frame)
            self._published += 1
            self._cond.notify_all()
