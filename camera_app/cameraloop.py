"""One camera's capture loop: capture → static privacy masks → monitoring, and the privacy
feed of its live stream, on a thread of its own.

``camera-app run`` starts one per camera of the config (:meth:`AppConfig.views`). Each has its
own source, capture feed, masks, monitoring pipeline, preview picture and privacy feed; they
share the event store (thread-safe), the arm/disarm control (applied by each loop to its own
pipeline before its next frame), the device health and the face models (loaded once per
process: :class:`privacy.build.SharedModels` serialises detection over all stages, since a
LiteRT/TFLite interpreter must not be called from two threads at once).

A camera whose source fails for good ends its own loop only: the others go on, and the health
report and the service status say which camera failed and why.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from camera_app.config.app import AppConfig
from camera_app.health import DeviceHealth
from camera_app.live.feed import LivePrivacyFeed
from camera_app.masks import MaskSettings
from camera_app.monitor.control import MonitoringControl
from camera_app.monitor.pipeline import MonitoringPipeline
from camera_app.monitor.store import EventStore
from camera_app.preview import LatestPicture
from firmware.capture import CaptureFeed, open_source
from firmware.capture.feed import FeedStats
from firmware.clock import Clock
from firmware.paths import StoragePaths
from privacy.stage import PrivacyStage

log = logging.getLogger(__name__)

STATS_INTERVAL_S = 60.0
GET_TIMEOUT_S = 0.5
JOIN_TIMEOUT_S = 30.0

#: Opens a camera's privacy feed: ``(camera_id, build_stage)`` → the started feed.
OpenPrivacyFeed = Callable[[str, Callable[[], PrivacyStage]], LivePrivacyFeed]


@dataclass(frozen=True, slots=True)
class CameraProgress:
    """What the heartbeat reads of a camera loop (any thread)."""

    camera_id: str
    frames: int
    events: int
    running: bool
    error: str | None


class CameraLoop:
    """One camera, from its source to its events and its privacy feed.

    Built (the source is not opened yet) by the service's thread; :meth:`start` opens the
    source on the feed's thread and runs the loop on its own; :meth:`stop` asks it to end and
    waits; :meth:`close` then ends the open event, the recorder and the feeds.
    """

    def __init__(
        self,
        view: AppConfig,
        *,
        source: str | None,
        store: EventStore,
        paths: StoragePaths,
        clock: Clock,
        control: MonitoringControl,
        masks: MaskSettings,
        health: DeviceHealth,
        picture: LatestPicture,
        open_privacy_feed: OpenPrivacyFeed | None,
        build_stage: Callable[[], PrivacyStage],
    ) -> None:
        self.camera_id = view.camera.id
        self._clock = clock
        self._control = control
        self._masks = masks
        self._health = health
        self.picture = picture
        cap = view.capture
        self.capture = open_source(
            source or cap.source,
            width=cap.width,
            height=cap.height,
            fps=cap.fps,
            pacing=cap.pacing,
            loop=cap.loop,
        )
        self.feed = CaptureFeed(self.capture, None)
        masks.attach_feed(self.feed)  # the masks in force, also one saved while it opened
        masker = masks.current.masker()
        if masker:
            log.info("%s: burning %d static privacy mask(s)", self.camera_id, len(masker))
        self.pipeline = MonitoringPipeline(
            view, store, paths, clock, blocking=not self.capture.realtime
        )
        control.apply(self.pipeline)  # armed or not as the owner left it, before the first frame
        self.privacy_feed = (
            open_privacy_feed(self.camera_id, build_stage) if open_privacy_feed else None
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"camera {self.camera_id}", daemon=True
        )
        self._frames = 0
        self.error: str | None = None
        #: the loop ended (stopped, source ended, or source failed)
        self.done = threading.Event()

    def start(self) -> None:
        log.info("monitoring camera %s from %s", self.camera_id, self.capture.name)
        self.feed.start()
        self._thread.start()

    def progress(self) -> CameraProgress:
        return CameraProgress(
            self.camera_id,
            self._frames,
            self.pipeline.events_started,
            not self.done.is_set(),
            self.error,
        )

    def feed_stats(self) -> FeedStats:
        """The capture counters (any thread)."""
        return self.feed.stats

    def _run(self) -> None:
        next_stats = self._clock.monotonic() + STATS_INTERVAL_S
        try:
            while not self._stop.is_set():
                # before taking a frame: masks saved after this are in the frame the feed
                # gives (it masks queued frames again), and a frame taken before a save is in
                # the pre-roll by the time the next turn burns the new masks into it
                self._control.apply(self.pipeline)
                self._masks.apply(self.pipeline)
                frame = self.feed.get(timeout=GET_TIMEOUT_S)
                self._health.record(self.camera_id, self.feed.stats)
                if frame is None:
                    if self.feed.error is not None:
                        self.error = str(self.feed.error)
                        self._health.failed(self.camera_id, self.error)
                        log.error("camera %s: capture failed: %s", self.camera_id, self.error)
                        return
                    if self.feed.finished:
                        log.info("camera %s: source ended", self.camera_id)
                        return
                    continue
                self._frames += 1  # only this thread writes it
                self.picture.put(frame)
                if self.privacy_feed is not None:
                    self.privacy_feed.offer(frame)
                self.pipeline.process(frame)
                now = self._clock.monotonic()
                if now >= next_stats:
                    next_stats = now + STATS_INTERVAL_S
                    self._log_stats()
        except Exception as err:  # one camera's bug must not take the others down
            self.error = f"monitoring failed: {err}"
            self._health.failed(self.camera_id, self.error)
            log.exception("camera %s: the capture loop failed", self.camera_id)
        finally:
            self.done.set()

    def _log_stats(self) -> None:
        stats = self.feed.stats
        log.info(
            "camera %s: %d frames, %d lost at the source, %d dropped (slow consumer), "
            "%d reconnects; events started: %d",
            self.camera_id,
            stats.published,
            stats.source_dropped,
            stats.consumer_dropped,
            stats.reconnects,
            self.pipeline.events_started,
        )

    def stop(self) -> None:
        """Ask the loop to end and wait for it (the frame in hand is finished first)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(JOIN_TIMEOUT_S)
            if self._thread.is_alive():
                log.error("camera %s: the capture loop did not end", self.camera_id)

    def close(self) -> None:
        """After :meth:`stop`: end the privacy feed, the capture and the open event."""
        if self.privacy_feed is not None:
            self.privacy_feed.close()
        self.feed.stop()
        self.pipeline.close()
