"""The owner's privacy masks and motion masks, edited in the owner app: saved into the config
file (audited ``config_changed``) and put in force at once, without a restart.

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
from typing import Any

import cv2
import numpy as np

from camera_app.config.app import AppConfig
from camera_app.config.changes import record_config_changes, section_digests
from camera_app.config.file import ConfigFile
from camera_app.config.loader import ConfigError
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

    def into(self, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` (a config file's YAML document) with these masks in place of its own; every
        other key is kept as it was."""
        out = dict(data)
        privacy = dict(out.get("privacy_masks") or {})
        privacy["color"] = list(self.color)
        privacy["areas"] = [a.model_dump(mode="json") for a in self.privacy]
        motion = dict(out.get("motion") or {})
        motion["masks"] = [m.model_dump(mode="json") for m in self.motion]
        out["privacy_masks"] = privacy
        out["motion"] = motion
        return out


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


class MaskSettings:
    """The masks in force: what the owner API shows, saves and previews, and what the capture
    loop applies. Thread-safe (the API calls it from its thread, the capture loop from its own).

    ``config_file`` is the file the service was started with; None when the config was not read
    from a file (``camera-app run`` without ``--config``), and then :meth:`save` refuses, since
    masks that vanish at the next start would give a false sense of privacy. ``feed`` is the
    capture feed whose masker a save swaps (None where nothing captures, as in API tests).
    The database connection (for the audit record) is this object's own.
    """

    def __init__(
        self,
        config: AppConfig,
        config_file: ConfigFile | None,
        database: Path,
        clock: Clock,
        *,
        feed: CaptureFeed | None = None,
    ) -> None:
        self.camera_id = config.camera.id
        self._file = config_file
        self._clock = clock
        self._feed = feed
        self._conn = open_database(database)
        self._lock = threading.Lock()
        self._current = Masks.of(config)
        # The file's sections as this process last read or wrote them: a file edited by hand
        # since then is not silently taken over (or attributed to the owner) by a save.
        self._known_sections = section_digests(config)
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
    def file_backed(self) -> bool:
        return self._file is not None

    def save(self, masks: Masks, *, actor: str) -> list[str]:
        """Write ``masks`` into the config file, put them in force and audit the change.

        Returns the config sections that changed (``[]`` when ``masks`` are those in force:
        nothing is written). Raises :class:`MaskError` and changes nothing when the config is
        not file-backed, the file changed or broke since this process read it, the result would
        not be a valid config, or the file cannot be written.
        """
        if self._file is None:
            raise MaskError(
                "config_not_file_backed",
                "the service was started without a config file (--config), so saved masks "
                "would be lost at the next start; start it with one",
            )
        with self._lock:
            if masks == self._current:
                return []
            try:
                snapshot = self._file.read()
            except ConfigError as err:
                raise MaskError(
                    "config_file_invalid", f"the config file is broken now: {err}"
                ) from None
            edited = sorted(
                name
                for name, digest in section_digests(snapshot.config).items()
                if self._known_sections.get(name) != digest
            )
            if edited:
                raise MaskError(
                    "config_file_changed",
                    "the config file was edited since the service started (sections: "
                    f"{', '.join(edited)}); restart the service so it runs what the file says, "
                    "then save the masks again",
                )
            try:
                saved = self._file.rewrite(masks.into(snapshot.data), snapshot)
            except ConfigError as err:
                raise MaskError(
                    "invalid_config", f"the masks do not make a valid config: {err}"
                ) from None
            except OSError as err:
                raise MaskError(
                    "config_not_writable",
                    f"cannot write the config file {self._file.path}: {err.strerror or err}",
                ) from None
            self._known_sections = section_digests(saved)
            self._current = Masks.of(saved)
            if self._feed is not None:
                self._feed.swap_masker_threadsafe(self._current.masker())
            changed = record_config_changes(self._conn, saved, self._clock, actor=actor)
        log.info(
            "masks saved by %s: %d privacy, %d motion",
            actor,
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
