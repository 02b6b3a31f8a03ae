"""The owner's privacy masks and motion masks, edited in the owner app: saved into the data
directory (``owner-masks.yaml``, laid over the config file's masks at every start; see
:mod:`camera_app.config.owner_masks`), audited ``config_changed`` and put in force at once,
without a restart.

The masks in force are one immutable :class:`Masks` object. Saving builds a new one and swaps
the reference: the capture feed's masker (under the feed's lock, from the API's thread), and the
motion detector's masks on the capture loop's own thread (:meth:`MaskSettings.apply`, before its
next frame), so no thread ever changes state another thread is reading.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from camera_app.config.app import AppConfig
from camera_app.config.changes import record_config_changes
from camera_app.config.loader import ConfigError
from camera_app.config.owner_masks import (
    OwnerMasks,
    SavedMotionMasks,
    SavedPrivacyMasks,
    owner_masks_path,
    write_owner_masks,
)
from camera_app.monitor.pipeline import MonitoringPipeline
from firmware.capture import CaptureFeed
from firmware.clock import Clock
from firmware.configbase import NamedPolygon
from firmware.db import open_database
from firmware.masks import PrivacyMasker, pixel_polygon

log = logging.getLogger(__name__)

#: Most polygons of each kind, and most corners of one polygon, the owner app may save.
MAX_MASKS = 16
MAX_POINTS = 64
#: Smallest area of a saved polygon, as a fraction of the frame (0.01 %: a slip of the finger
#: is refused rather than saved as a mask that hides nothing).
MIN_AREA = 0.0001
#: How the preview outlines motion masks (BGR yellow): they are not hidden, only not watched.
MOTION_OUTLINE = (0, 255, 255)

Color = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Masks:
    """One set of masks: ``privacy`` areas filled with ``color`` (BGR) at capture, and
    ``motion`` areas where motion starts no event. Coordinates are 0..1 of the frame."""

    privacy: tuple[NamedPolygon, ...]
    motion: tuple[NamedPolygon, ...]
    color: Color

    @classmethod
    def of(cls, config: AppConfig) -> Masks:
        return cls(
            tuple(config.privacy_masks.areas),
            tuple(config.motion.masks),
            config.privacy_masks.color,
        )

    def masker(self) -> PrivacyMasker:
        return PrivacyMasker([a.points for a in self.privacy], self.color)

    def motion_polygons(self) -> list[list[tuple[float, float]]]:
        return [list(m.points) for m in self.motion]

    def saved(self) -> OwnerMasks:
        """These masks as the owner's masks file holds them."""
        return OwnerMasks(
            privacy_masks=SavedPrivacyMasks(color=self.color, areas=list(self.privacy)),
            motion=SavedMotionMasks(masks=list(self.motion)),
        )


class MaskError(Exception):
    """A save that was refused; nothing was written or changed. ``code`` is stable."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def render_preview(image: np.ndarray, masks: Masks) -> np.ndarray:
    """A copy of ``image`` as recordings would show it with ``masks``: the privacy masks burned
    in exactly as at capture, the motion masks outlined."""
    out = image.copy()
    masks.masker().apply(out)
    height, width = out.shape[:2]
    outlines = [pixel_polygon(m.points, width, height) for m in masks.motion]
    if outlines:
        thickness = max(2, width // 320)
        cv2.polylines(out, outlines, True, MOTION_OUTLINE, thickness, cv2.LINE_AA)
    return out


class ConfigInForce:
    """The whole config in force, shared by the mask settings of every camera of a device: a
    save audits it with only that camera's masks changed (and the others' saved so far), so a
    config file edited by hand since the start is recorded at the next start, by the file."""

    def __init__(self, config: AppConfig) -> None:
        self.lock = threading.Lock()
        self.config = config


class MaskSettings:
    """The masks in force on one camera: what the owner API shows, saves and previews, and what
    the camera's capture loop applies. Thread-safe (the API calls it from its thread, the
    capture loop from its own).

    ``config`` is the config in force, as :func:`camera_app.config.load_service_config` gives it
    (the owner's saved masks already over the config file's); ``camera_id`` the camera (None:
    the one-camera form's). A save writes the owner's masks file of that camera in the data
    directory, never the config file, so it works where the config file is read-only to the
    service. ``feed`` is the capture feed whose masker a save swaps (None where nothing
    captures, as in API tests). The database connection (for the audit record) is this object's
    own. The settings of a device's cameras share one ``in_force``.
    """

    def __init__(
        self,
        config: AppConfig,
        database: Path,
        clock: Clock,
        *,
        camera_id: str | None = None,
        feed: CaptureFeed | None = None,
        in_force: ConfigInForce | None = None,
    ) -> None:
        self.camera_id = camera_id or config.first_camera().id
        self.path = owner_masks_path(config, self.camera_id)
        if config.multi_camera and self.path.parent.parent.is_dir():
            self.path.parent.mkdir(exist_ok=True)  # owner-masks/ in the data directory
        self._clock = clock
        self._feed = feed
        self._conn = open_database(database)
        self._lock = threading.Lock()
        self._in_force = in_force or ConfigInForce(config)
        self._current = Masks.of(config.view(self.camera_id))
        self._applied = self._current  # what the capture loop's pipeline has (its thread only)

    @property
    def current(self) -> Masks:
        with self._lock:
            return self._current

    def attach_feed(self, feed: CaptureFeed) -> None:
        """Let saves swap ``feed``'s masker from now on, and give it the masks in force now.

        The service opens the camera after the owner API listens (a taken port then ends the
        start before the camera opens), so a save may come before the feed exists: under the
        lock, nothing saved in between is lost."""
        with self._lock:
            self._feed = feed
            feed.swap_masker_threadsafe(self._current.masker())

    @property
    def editable(self) -> bool:
        """Whether there is a data directory to save into."""
        return self.path.parent.is_dir()

    def save(self, masks: Masks, *, actor: str) -> list[str]:
        """Write ``masks`` into the owner's masks file, put them in force and audit the change.

        Returns the config sections that changed (``[]`` when ``masks`` are those in force:
        nothing is written). Raises :class:`MaskError` and changes nothing when the file would
        not read back as ``masks`` or cannot be written.
        """
        with self._lock, self._in_force.lock:
            if masks == self._current:
                return []
            saved = masks.saved()
            try:
                write_owner_masks(self.path, saved)
            except ConfigError as err:
                raise MaskError(
                    "invalid_config", f"the masks do not make a valid masks file: {err}"
                ) from None
            except OSError as err:
                raise MaskError(
                    "masks_not_writable",
                    f"cannot write the masks file {self.path}: {err.strerror or err}",
                ) from None
            config = self._in_force.config = saved.over(self._in_force.config, self.camera_id)
            self._current = Masks.of(config.view(self.camera_id))
            if self._feed is not None:
                self._feed.swap_masker_threadsafe(self._current.masker())
            changed = record_config_changes(self._conn, config, self._clock, actor=actor)
        log.info(
            "masks saved by %s into %s: %d privacy, %d motion",
            actor,
            self.path,
            len(masks.privacy),
            len(masks.motion),
        )
        return changed

    def apply(self, pipeline: MonitoringPipeline) -> None:
        """On the capture loop, before each frame: the pipeline follows the masks saved."""
        current = self.current
        if current is self._applied:
            return
        pipeline.use_masks(current.motion_polygons(), current.masker())
        self._applied = current

    def close(self) -> None:
        with self._lock:
            self._conn.close()
