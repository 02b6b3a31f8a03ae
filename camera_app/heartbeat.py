"""The service's signs of life: systemd notifications and the run status file.

- ``READY=1`` once the capture feed delivered its first frame (the owner API has been started,
  or is disabled, before the loop begins), so ``systemctl start`` returns when the camera works;
- ``WATCHDOG=1`` only while frames arrive (see :mod:`firmware.watchdog`): a stalled capture
  gets the service restarted;
- ``STATUS=`` with frames and events, and ``<data_dir>/run/status.json``, about once a second;
- ``STOPPING=1`` when shutdown begins; the status file is removed once the service stopped.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from firmware.clock import Clock
from firmware.runstatus import RunStatus, app_version, write_run_status
from firmware.watchdog import ServiceNotifier

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 1.0


class ServiceHeartbeat:
    """Feeds systemd and the status file from the capture loop.

    Call ``starting()`` before the loop, ``frame()`` for every frame the loop receives (or,
    with several capture loops, ``frames_seen(total)`` from the thread that watches them),
    ``tick(events)`` on every loop iteration, ``stopping()`` when the loop ends and
    ``stopped()`` after the teardown. One thread calls them all. ``camera`` names what is
    monitored (a camera id, or the cameras of the device).
    """

    def __init__(
        self,
        status_path: Path,
        clock: Clock,
        *,
        camera: str,
        source: str,
        api_url: str | None,
        notifier: ServiceNotifier | None = None,
    ) -> None:
        self._path = status_path
        self._clock = clock
        self._camera = camera
        self._source = source
        self._notifier = notifier or ServiceNotifier(monotonic=clock.monotonic)
        self._started_at = clock.wall()
        self._api_url = api_url or None
        self._version = app_version()
        self._frames = 0
        self._last_frame_at: float | None = None
        self._events = 0
        self._detail: str | None = None
        self._next_status = clock.monotonic()
        self._file_failing = False

    @property
    def frames(self) -> int:
        return self._frames

    def starting(self) -> None:
        self._notifier.status(f"{self._camera}: starting, waiting for the first frame")
        self._write_file()

    def frame(self) -> None:
        self.frames_seen(self._frames + 1)

    def frames_seen(self, total: int) -> None:
        """The frames received so far by every capture loop: a sign of life when it grew."""
        if total <= self._frames:
            return
        self._frames = total
        self._last_frame_at = self._clock.wall()
        self._notifier.frame_seen()
        if not self._notifier.is_ready:
            log.info("first frame from %s: the service is ready", self._source)
            self._notifier.ready(self._status_text())
            self._next_status = self._clock.monotonic() + STATUS_INTERVAL_S
            self._write_file()

    def tick(self, events: int, detail: str | None = None) -> None:
        """``detail``: each camera's state in a few words, for the status line (several)."""
        self._events = events
        self._detail = detail
        self._notifier.tick()
        if self._clock.monotonic() >= self._next_status:
            self._publish()

    def stopping(self) -> None:
        self._notifier.stopping(f"{self._camera}: stopping after {self._frames} frames")

    def stopped(self) -> None:
        """The process is about to exit: the status file no longer describes a live service."""
        try:
            self._path.unlink(missing_ok=True)
        except OSError as exc:
            log.debug("cannot remove %s: %s", self._path, exc)

    def _publish(self) -> None:
        self._next_status = self._clock.monotonic() + STATUS_INTERVAL_S
        self._notifier.status(self._status_text())
        self._write_file()

    def _status_text(self) -> str:
        text = f"{self._camera}: {self._frames} frames, {self._events} events"
        if self._last_frame_at is not None:
            age = self._clock.wall() - self._last_frame_at
            if age >= 2 * STATUS_INTERVAL_S:
                text += f", no frame for {age:.0f} s"
        elif not self._notifier.is_ready:
            text += ", waiting for the first frame"
        if self._detail:
            text += f" ({self._detail})"
        if self._api_url:
            text += f"; API {self._api_url}"
        return text

    def _write_file(self) -> None:
        status = RunStatus(
            pid=os.getpid(),
            started_at=self._started_at,
            frames=self._frames,
            last_frame_at=self._last_frame_at,
            api_url=self._api_url,
            version=self._version,
        )
        try:
            write_run_status(self._path, status)
        except OSError as exc:
            # Monitoring is the camera's first job: a status file it cannot write is reported
            # (once, not every second) and retried.
            if not self._file_failing:
                log.warning("cannot write the run status file %s: %s", self._path, exc)
            self._file_failing = True
            return
        if self._file_failing:
            log.info("run status file %s written again", self._path)
            self._file_failing = False
