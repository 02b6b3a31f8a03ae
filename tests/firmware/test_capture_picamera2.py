"""The picamera2 backend, driven through a FAKE Picamera2.

There is no Raspberry Pi camera (nor libcamera) on the test machine, so ``FakePicamera2`` below
stands in for ``picamera2.Picamera2``. It honours only the part of the real API the backend uses:
``global_camera_info()``, ``create_video_configuration()``, ``configure()``, ``start()``,
``capture_request()`` returning a request with ``make_array()``, ``get_metadata()`` and
``release()``, ``stop()`` and ``close()``. Like the real camera it hands out the same buffer again
after a request is released, which is why the backend must copy.
"""

from __future__ import annotations

import sys
import types
from typing import Any, ClassVar

import numpy as np
import pytest

from firmware.capture.base import CaptureError
from firmware.capture.picamera2 import Picamera2Source, picamera2_unavailable_reason

FRAME_US = 66_666  # 15 fps


class FakeRequest:
    def __init__(self, camera: FakePicamera2, buffer: np.ndarray, metadata: dict[str, Any]):
        self.camera = camera
        self.buffer = buffer
        self.metadata = metadata
        self.released = False

    def make_array(self, name: str) -> np.ndarray:
        assert name == "main"
        if self.camera.fail_make_array:
            raise RuntimeError("buffer mapping failed")
        return self.buffer  # deliberately not a copy: it is the camera's buffer

    def get_metadata(self) -> dict[str, Any]:
        return dict(self.metadata)

    def release(self) -> None:
        assert not self.released, "released twice"
        self.released = True
        self.buffer[:] = 0  # the camera reuses the buffer for the next frame


class FakePicamera2:
    """A fake Picamera2 (hardware absent): see the module docstring."""

    cameras: ClassVar[list[dict[str, Any]]] = [{"Model": "imx708", "Num": 0}]
    instances: ClassVar[list[FakePicamera2]] = []

    def __init__(self, camera_num: int = 0) -> None:
        self.camera_num = camera_num
        self.config: dict[str, Any] | None = None
        self.configured: dict[str, Any] | None = None
        self.started = self.stopped = self.closed = False
        self.fail_make_array = False
        self.fail_start = False
        self.sensor_timestamps: list[int] = []
        self.requests: list[FakeRequest] = []
        self._buffer = np.zeros((1, 1, 3), np.uint8)
        self._count = 0
        FakePicamera2.instances.append(self)

    @staticmethod
    def global_camera_info() -> list[dict[str, Any]]:
        return list(FakePicamera2.cameras)

    def create_video_configuration(
        self, main: dict[str, Any], controls: dict[str, Any], buffer_count: int
    ) -> dict[str, Any]:
        self.config = {"main": main, "controls": controls, "buffer_count": buffer_count}
        return self.config

    def configure(self, config: dict[str, Any]) -> None:
        self.configured = config
        width, height = config["main"]["size"]
        self._buffer = np.zeros((height, width, 3), np.uint8)

    def start(self) -> None:
        if self.fail_start:
            raise RuntimeError("Camera __init__ sequence did not complete")
        self.started = True

    def capture_request(self) -> FakeRequest:
        assert self.started and not self.stopped
        index = self._count
        self._count += 1
        self._buffer[:] = (10 + index, 20, 30)  # B, G, R as RGB888 is laid out in memory
        if self.sensor_timestamps:
            sensor_ns = self.sensor_timestamps[index]
        else:
            sensor_ns = 1_000_000_000 + index * FRAME_US * 1000
        request = FakeRequest(
            self, self._buffer, {"SensorTimestamp": sensor_ns, "FrameDuration": FRAME_US}
        )
        self.requests.append(request)
        return request

    def stop(self) -> None:
        self.stopped = True

    def close(self) -> None:
        self.closed = True


@pytest.fixture(autouse=True)
def _reset_fake() -> None:
    FakePicamera2.instances = []
    FakePicamera2.cameras = [{"Model": "imx708", "Num": 0}]


def test_configures_bgr_video_and_copies_each_frame() -> None:
    source = Picamera2Source(320, 240, 15.0, picamera2_factory=FakePicamera2)
    source.open()
    camera = FakePicamera2.instances[0]
    assert camera.config == {
        "main": {"size": (320, 240), "format": "RGB888"},
        "controls": {"FrameRate": 15.0},
        "buffer_count": 4,
    }
    assert camera.configured is camera.config and camera.started

    frames = [source.read() for _ in range(3)]
    for index, frame in enumerate(frames):
        assert frame.image.shape == (240, 320, 3)
        # The camera zeroed its buffer on release(); our copy still holds the picture.
        assert tuple(frame.image[0, 0]) == (10 + index, 20, 30)
        assert frame.image.flags.owndata
    assert [f.sequence for f in frames] == [0, 1, 2]
    assert all(r.released for r in camera.requests)
    assert source.stats.dropped == 0

    source.close()
    assert camera.stopped and camera.closed
    source.close()


def test_sensor_timestamp_gaps_count_as_drops() -> None:
    source = Picamera2Source(320, 240, 15.0, picamera2_factory=FakePicamera2)
    source.open()
    camera = FakePicamera2.instances[0]
    period_ns = FRAME_US * 1000
    # Frames 3 and 4 never arrived (gap of 3 periods), then a little jitter that is not a drop.
    camera.sensor_timestamps = [0, period_ns, 2 * period_ns, 5 * period_ns, 6 * period_ns + 9_000]
    frames = [source.read() for _ in range(5)]
    assert source.stats.dropped == 2
    assert [f.sequence for f in frames] == [0, 1, 2, 5, 6]
    stamps = [f.timestamp for f in frames]
    assert stamps == sorted(stamps)


def test_request_released_even_when_the_frame_is_bad() -> None:
    source = Picamera2Source(320, 240, 15.0, picamera2_factory=FakePicamera2)
    source.open()
    camera = FakePicamera2.instances[0]
    camera.fail_make_array = True
    with pytest.raises(CaptureError, match="bad frame"):
        source.read()
    assert len(camera.requests) == 1 and camera.requests[0].released


def test_start_failure_is_a_capture_error_and_releases_the_camera() -> None:
    def broken(num: int) -> FakePicamera2:
        camera = FakePicamera2(num)
        camera.fail_start = True
        return camera

    source = Picamera2Source(picamera2_factory=broken)
    with pytest.raises(CaptureError, match="cannot start camera 0"):
        source.open()
    assert FakePicamera2.instances[0].closed


def test_not_installed_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # makes the import fail
    with pytest.raises(CaptureError, match="apt install python3-picamera2"):
        Picamera2Source().open()
    assert not Picamera2Source.available()
    assert "not installed" in (picamera2_unavailable_reason() or "")


def test_lazy_import_and_availability(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "picamera2", module)
    assert Picamera2Source.available()
    with Picamera2Source(160, 120, 10.0) as source:
        assert source.read().image.shape == (120, 160, 3)

    FakePicamera2.cameras = []
    assert not Picamera2Source.available()
    assert picamera2_unavailable_reason() == "no camera attached to libcamera"
