"""``picamera2`` — the Raspberry Pi camera (CSI) through libcamera's picamera2 library."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from firmware.capture.base import CaptureError, CaptureSource
from firmware.frames import Frame

logger = logging.getLogger(__name__)

_NOT_INSTALLED = "picamera2 is not installed (apt install python3-picamera2 on Raspberry Pi OS)"
# Enough buffers that a slow reader does not stall the camera, few enough to keep latency low.
_BUFFER_COUNT = 4


def _import_picamera2() -> Any:
    try:
        from picamera2 import Picamera2  # optional: Raspberry Pi OS only
    except ImportError as exc:
        raise CaptureError(_NOT_INSTALLED) from exc
    return Picamera2


def picamera2_unavailable_reason(picamera2_class: Any = None) -> str | None:
    """Why no picamera2 camera can be used, or None when at least one camera is attached."""
    try:
        cls = picamera2_class if picamera2_class is not None else _import_picamera2()
    except CaptureError as exc:
        return str(exc)
    try:
        cameras = cls.global_camera_info()
    except Exception as exc:  # libcamera raises plain RuntimeErrors and worse
        return f"libcamera failed to list cameras: {exc}"
    if not cameras:
        return "no camera attached to libcamera"
    return None


class Picamera2Source(CaptureSource):
    """A Raspberry Pi camera module, via ``picamera2.Picamera2``.

    The library is imported on ``open()`` (it exists only on Raspberry Pi OS); tests inject a
    stand-in with ``picamera2_factory``, called as ``factory(camera_num)``. Frames are stamped with
    ``time.monotonic()`` on delivery. The sensor's own timestamps are used to spot frames the
    camera dropped because we read too slowly: a gap of more than 1.5 frame durations counts the
    missing frames as dropped (they also use up sequence numbers, so consumers see the gap).
    """

    live = True

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        fps: float = 15.0,
        camera_num: int = 0,
        picamera2_factory: Callable[[int], Any] | None = None,
    ) -> None:
        super().__init__()
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.width = width
        self.height = height
        self.fps = float(fps)
        self.camera_num = camera_num
        self.name = "picamera2" if camera_num == 0 else f"picamera2:{camera_num}"
        self._factory = picamera2_factory
        self._camera: Any = None
        self._last_sensor_ns: int | None = None

    @staticmethod
    def available() -> bool:
        """True when picamera2 is installed and libcamera sees at least one camera."""
        return picamera2_unavailable_reason() is None

    def open(self) -> None:
        self.close()
        factory = self._factory if self._factory is not None else _import_picamera2()
        camera: Any = None
        try:
            camera = factory(self.camera_num)
            # picamera2's "RGB888" is stored B, G, R in memory (libcamera names formats by
            # their 32-bit word order), which is exactly OpenCV's BGR: no conversion needed.
            config = camera.create_video_configuration(
                main={"size": (self.width, self.height), "format": "RGB888"},
                controls={"FrameRate": self.fps},
                buffer_count=_BUFFER_COUNT,
            )
            camera.configure(config)
            camera.start()
        except CaptureError:
            raise
        except Exception as exc:  # libcamera errors are plain RuntimeErrors
            if camera is not None:
                self._shutdown(camera)
            raise CaptureError(f"cannot start camera {self.camera_num}: {exc}") from exc
        self._camera = camera
        self._last_sensor_ns = None
        logger.info("opened %s: %dx%d at %.3g fps", self.name, self.width, self.height, self.fps)

    def read(self) -> Frame:
        camera = self._camera
        if camera is None:
            raise CaptureError(f"{self.name} is not open")
        try:
            request = camera.capture_request()
        except Exception as exc:  # camera gone, libcamera timeout
            raise CaptureError(f"{self.name}: capture failed: {exc}") from exc
        try:
            array = request.make_array("main")
            metadata = request.get_metadata()
            # The request's buffer goes back to the camera on release(); keep our own pixels.
            # (Current picamera2 already copies in make_array, but that is not a promise.)
            image = np.array(array[:, :, :3], dtype=np.uint8, copy=True, order="C")
        except Exception as exc:  # a broken buffer or metadata
            raise CaptureError(f"{self.name}: bad frame: {exc}") from exc
        finally:
            request.release()
        timestamp = time.monotonic()
        self._count_sensor_gap(metadata)
        return Frame(image=image, timestamp=timestamp, sequence=self._next_sequence())

    def _count_sensor_gap(self, metadata: dict[str, Any]) -> None:
        sensor_ns = metadata.get("SensorTimestamp")
        if sensor_ns is None:
            return
        duration_us = metadata.get("FrameDuration") or 1e6 / self.fps
        duration_ns = float(duration_us) * 1000.0
        last, self._last_sensor_ns = self._last_sensor_ns, int(sensor_ns)
        if last is None:
            return
        gap = int(sensor_ns) - last
        if gap > 1.5 * duration_ns:
            missed = round(gap / duration_ns) - 1
            for _ in range(missed):
                self._next_sequence()
            self._count_dropped(missed)

    def close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            self._shutdown(camera)

    def _shutdown(self, camera: Any) -> None:
        for step in (camera.stop, camera.close):
            try:
                step()
            except Exception as exc:  # best effort while tearing down
                logger.debug("%s: %s failed: %s", self.name, step.__name__, exc)
