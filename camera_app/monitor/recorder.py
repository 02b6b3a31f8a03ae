"""Records event clips and snapshots on a worker thread, and keeps the event index in step."""

from __future__ import annotations

import logging
import queue
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2

from camera_app.config.recording import RecordingConfig
from camera_app.monitor.clipwriter import ClipInfo, ClipWriter, probe_clip
from camera_app.monitor.preroll import KeptFrame
from camera_app.monitor.store import EventStore
from firmware.atomicfile import write_atomically
from firmware.frames import Frame
from firmware.paths import StoragePaths

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Start:
    event_id: str
    day: str
    frames: list[KeptFrame]  # the pre-roll
    snapshot: Frame
    record: bool
    note: str | None
    budget_bytes: int | None


@dataclass(slots=True)
class _End:
    ended_at: float
    reason: str
    peak_motion: float
    done: threading.Event = field(default_factory=threading.Event)


@dataclass(slots=True)
class _Clip:
    event_id: str
    path: Path | None
    writer: ClipWriter | None
    note: str | None = None
    cut_info: ClipInfo | None = None
    budget_bytes: int | None = None


class ClipRecorder:
    """Encodes the active event's frames to its clip without holding up the capture loop.

    The caller opens the event row first (so the index knows about a clip before a byte of it is
    written; after a crash the start-up recovery finds it), then feeds frames. Encoding happens on
    one worker thread in order. A clip that outgrows its ``budget_bytes`` (what the storage quota
    leaves) or hits a write error (disk full) is closed early, playable, while the event itself
    stays open until motion ends. The worker checks the budget itself after every frame, against
    the bytes really encoded, so the cut does not depend on how far encoding lags behind capture.
    """

    def __init__(
        self,
        store: EventStore,
        paths: StoragePaths,
        config: RecordingConfig,
        camera_id: str,
        fps: float,
        queue_frames: int = 64,
    ) -> None:
        self._store = store
        self._paths = paths
        self._cfg = config
        self._camera_id = camera_id
        self._fps = fps
        self._queue: queue.Queue[_Start | KeptFrame | _End | None] = queue.Queue(queue_frames)
        self._clip: _Clip | None = None
        self.dropped_frames = 0
        self.active_bytes = 0
        self._thread = threading.Thread(target=self._work, name="clip-recorder", daemon=True)
        self._thread.start()

    # -- called from the pipeline thread -------------------------------------------------------

    def start(
        self,
        event_id: str,
        day: str,
        frames: list[KeptFrame],
        snapshot: Frame,
        *,
        record: bool,
        note: str | None = None,
        budget_bytes: int | None = None,
    ) -> None:
        self._queue.put(_Start(event_id, day, frames, snapshot, record, note, budget_bytes))

    def add(self, frame: Frame, *, block: bool) -> None:
        """Queue a frame for the open clip. A live camera must not stall on a slow disk, so with
        ``block=False`` a full queue drops the frame (counted); files are never dropped.

        Queued as the pre-roll keeps frames (I420, half the bytes): a recorder that lags under
        load holds at most ``queue_frames`` of them (29 MB at 640×480 rather than 59 MB), and
        the conversion is the one the clip encoder would make anyway."""
        try:
            self._queue.put(KeptFrame.of(frame), block=block)
        except queue.Full:
            self.dropped_frames += 1
            if self.dropped_frames in (1, 100, 1000):
                log.warning("recorder cannot keep up: %d frames dropped", self.dropped_frames)

    def end(self, ended_at: float, reason: str, peak_motion: float, *, wait: bool = False) -> None:
        command = _End(ended_at, reason, peak_motion)
        self._queue.put(command)
        if wait:
            command.done.wait()

    def stop(self) -> None:
        """Finish queued work and stop the worker."""
        self._queue.put(None)
        self._thread.join()

    # -- worker thread -----------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                if isinstance(item, KeptFrame):
                    self._write(item)
                elif isinstance(item, _Start):
                    self._begin(item)
                else:
                    self._finish(item)
            except Exception:  # keep recording later events whatever one clip did
                log.exception("recorder failed on %s", type(item).__name__)
                if isinstance(item, _End):
                    item.done.set()

    def _begin(self, start: _Start) -> None:
        if self._clip is not None:  # should not happen: close the stray clip before a new one
            self._cut("superseded")
        snapshot_bytes = self._write_snapshot(start)
        budget = start.budget_bytes
        clip = _Clip(
            start.event_id,
            None,
            None,
            start.note,
            budget_bytes=None if budget is None else budget - snapshot_bytes,
        )
        self._clip = clip
        self.active_bytes = 0
        if not start.record:
            return
        path = self._paths.clip_for(self._camera_id, start.day, start.event_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        height, width = start.snapshot.image.shape[:2]
        try:
            clip.writer = ClipWriter(
                path,
                width,
                height,
                self._fps,
                crf=self._cfg.crf,
                preset=self._cfg.preset,
                fragment_s=self._cfg.fragment_s,
            )
        except (av.error.FFmpegError, OSError) as err:
            log.error("cannot create clip %s: %s", path, err)
            clip.note = f"recording failed: {err}"
            return
        clip.path = path
        for frame in start.frames:
            self._write(frame)

    def _write(self, frame: KeptFrame) -> None:
        clip = self._clip
        if clip is None or clip.writer is None:
            return
        try:
            clip.writer.write(frame)
        except (av.error.FFmpegError, OSError) as err:
            log.error("writing clip %s failed (%s); recording stops for this event", clip.path, err)
            clip.writer.abort()
            clip.writer = None
            clip.note = f"recording stopped: {err}"
            return
        self.active_bytes = clip.writer.encoded_bytes
        if clip.budget_bytes is not None and self.active_bytes > clip.budget_bytes:
            self._cut("storage quota reached")

    def _cut(self, reason: str) -> None:
        clip = self._clip
        if clip is None or clip.writer is None:
            return
        log.warning("clip %s cut short: %s", clip.path, reason)
        info = clip.writer.close()
        clip.writer = None
        clip.note = f"recording stopped: {reason}"
        clip.cut_info = info
        self._store.update_clip_bytes(clip.event_id, info.bytes)

    def _finish(self, end: _End) -> None:
        clip = self._clip
        self._clip = None
        self.active_bytes = 0
        try:
            if clip is None:
                return
            info: ClipInfo | None = None
            if clip.writer is not None:
                info = clip.writer.close()
            elif clip.cut_info is not None:
                info = clip.cut_info
            elif clip.path is not None:  # the writer failed: keep whatever reached the disk
                info = probe_clip(clip.path)
            if info is not None and info.frames == 0:
                info = None
            self._store.close_event(
                clip.event_id,
                ended_at=end.ended_at,
                status="complete",
                end_reason=end.reason,
                peak_motion=end.peak_motion,
                clip_path=self._paths.relative(clip.path) if info and clip.path else None,
                clip_frames=info.frames if info else None,
                clip_duration_s=info.duration_s if info else None,
                clip_bytes=info.bytes if info else 0,
                note=clip.note,
            )
            if info is None and clip.path is not None:
                clip.path.unlink(missing_ok=True)
            log.info(
                "event %s ended (%s): %s",
                clip.event_id,
                end.reason,
                f"{info.frames} frames, {info.duration_s:.1f} s" if info else "no clip",
            )
        finally:
            end.done.set()

    def _write_snapshot(self, start: _Start) -> int:
        """Write the event's JPEG; return its size (0 if it could not be written)."""
        path = self._paths.snapshot_for(self._camera_id, start.day, start.event_id)
        ok, data = cv2.imencode(
            ".jpg", start.snapshot.image, [cv2.IMWRITE_JPEG_QUALITY, self._cfg.snapshot_quality]
        )
        if not ok:
            log.error("JPEG encoding of snapshot for %s failed", start.event_id)
            return 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, data.tobytes())
        except OSError as err:
            log.error("cannot write snapshot %s: %s", path, err)
            return 0
        self._store.set_snapshot(start.event_id, self._paths.relative(path), len(data))
        return len(data)


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free
