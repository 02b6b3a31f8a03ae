"""The public path of a live camera: capture frames → privacy stage → frame hub, while it streams.

The capture loop offers every frame; nothing happens to it unless the camera is streaming. Then
a worker thread runs the privacy stage on the newest frame (older ones are dropped, so a slow
stage adds no latency) and publishes the ``RedactedFrame`` into the hub the viewers read. The
stage holds each frame back for its lookahead (``privacy.lookahead_frames``, 2 by default: a face
found on the next frames is redacted on it too), so the hub gets a frame that many frames later.

The stage is built when a stream starts and thrown away when it stops, so every stream starts
with a fresh warm-up (nothing is vouched for before the detectors have seen the scene) and no
tracker state leaks from one stream to the next. When the stream stops, the hub forgets the
camera's last frame, and a frame that was still in the stage is not published.

Fail closed: if the stage cannot be built (a model missing or altered) the stream is stopped
with the reason; if processing a frame raises, that frame goes out as the privacy-hold slate and
the stage is rebuilt for the next one. The rebuilt stage knows nothing of the faces the failed
one was covering, so it withholds until it has state again (``hold_after_failure``); the frames
that were waiting in the failed stage's lookahead are never published.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from firmware.frames import Frame
from privacy import RedactedFrame
from privacy.frame import WithholdReason
from privacy.stage import PrivacyStage

log = logging.getLogger(__name__)

ACTOR = "privacy"  # who stops a stream the stage cannot serve, in the audit log


@dataclass(slots=True)
class LiveFeedStats:
    offered: int = 0  # frames offered while streaming
    processed: int = 0  # frames that went through the stage
    dropped: int = 0  # replaced by a newer frame before the stage took them
    withheld: int = 0  # published as the slate
    failures: int = 0  # frames whose processing raised


class LivePrivacyFeed:
    """Runs the privacy stage for one camera while its stream is live, on its own thread."""

    def __init__(
        self,
        camera_id: str,
        *,
        build_stage: Callable[[], PrivacyStage],
        publish: Callable[[str, RedactedFrame], None],
        clear: Callable[[str], None],
        is_live: Callable[[str], bool],
        stop_stream: Callable[[str, str, str], object],
    ) -> None:
        """``is_live(camera)`` says whether the camera streams; ``stop_stream(camera, actor,
        reason)`` ends its stream; ``publish``/``clear`` feed and empty the frame hub."""
        self.camera_id = camera_id
        self._build = build_stage
        self._publish = publish
        self._clear = clear
        self._is_live = is_live
        self._stop_stream = stop_stream
        self._cond = threading.Condition()
        self._pending: Frame | None = None
        self._generation = 0  # bumped at every stop: frames of an older stream are dropped
        self._closed = False
        self._stage: PrivacyStage | None = None
        self._failed = False  # the last stage failed: the next one starts withholding
        self.stats = LiveFeedStats()
        self._thread = threading.Thread(target=self._run, name="privacy-stage", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._pending = None
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def offer(self, frame: Frame) -> None:
        """Called by the capture loop for every frame; cheap when the camera does not stream."""
        with self._cond:  # checked under the lock, so a stop cannot slip in between
            if not self._is_live(self.camera_id):
                return
            self.stats.offered += 1
            if self._pending is not None:
                self.stats.dropped += 1
            self._pending = frame
            self._cond.notify_all()

    def stream_stopped(self, camera_id: str, reason: str) -> None:
        """Stop listener of the stream controller: drop the stage, its queue and the last frame."""
        if camera_id != self.camera_id:
            return
        with self._cond:
            self._generation += 1
            self._pending = None
            self._clear(camera_id)
            self._cond.notify_all()  # the worker frees the stage now
        log.info(
            "live privacy stage for %s stopped (%s): %d frames processed, %d dropped, "
            "%d withheld, %d failures",
            camera_id,
            reason,
            self.stats.processed,
            self.stats.dropped,
            self.stats.withheld,
            self.stats.failures,
        )

    def _take(self, built_for: int) -> tuple[Frame | None, int] | None:
        """The next frame, or ``(None, generation)`` when the stream stopped (so the stage is
        freed at once, not at the next stream); ``None`` when the feed closes."""
        with self._cond:
            while self._pending is None and not self._closed and self._generation == built_for:
                self._cond.wait()
            if self._closed:
                return None
            frame, self._pending = self._pending, None
            return frame, self._generation

    def _run(self) -> None:
        built_for = self._generation
        while (taken := self._take(built_for)) is not None:
            frame, generation = taken
            if built_for != generation:
                self._discard_stage()
                self._failed = False  # a new stream starts from a fresh warm-up anyway
                built_for = generation
            if frame is None:
                continue
            if self._stage is None:
                self._stage = self._build_or_stop()
                if self._stage is None:
                    continue
                if self._failed:
                    self._stage.hold_after_failure()
                    self._failed = False
            redacted = self._process(self._stage, frame)
            with self._cond:
                if generation != self._generation or not self._is_live(self.camera_id):
                    continue  # the stream stopped while the frame was in the stage
                self.stats.processed += 1
                if redacted is None:
                    continue  # in the stage's lookahead: it leaves after the next frames
                if not redacted.streamed:
                    self.stats.withheld += 1
                self._publish(self.camera_id, redacted)
        self._discard_stage()

    def _discard_stage(self) -> None:
        if self._stage is not None:
            self._stage.close()  # frees its detectors and their thread
            self._stage = None

    def _build_or_stop(self) -> PrivacyStage | None:
        try:
            stage = self._build()
        except Exception as err:  # a missing or altered model: nothing can be vouched for
            log.error("privacy stage unavailable for %s: %s", self.camera_id, err)
            self._stop_stream(self.camera_id, ACTOR, f"privacy stage unavailable: {err}")
            return None
        log.info("live privacy stage for %s started (models %s)", self.camera_id, stage.gate_models)
        return stage

    def _process(self, stage: PrivacyStage, frame: Frame) -> RedactedFrame | None:
        try:
            return stage.push(frame)
        except Exception:
            # A bug, not a detector failure (the stage handles those): the frame goes out as
            # the slate, and the stage, whose state may be half-updated, is rebuilt.
            log.exception("privacy stage failed on a %s frame; sending the slate", self.camera_id)
            self.stats.failures += 1
            self._failed = True
            self._discard_stage()
            return stage.gate.withhold(frame, WithholdReason.DETECTOR_ERROR)
