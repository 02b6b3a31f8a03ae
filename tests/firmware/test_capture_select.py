"""Source specs: parsing, errors, and what ``auto`` picks (with the hardware probes replaced)."""

from __future__ import annotations

import glob
import importlib.util
import logging
from pathlib import Path

import pytest

from firmware.capture import open_source
from firmware.capture import select as select_module
from firmware.capture.file import FileSource
from firmware.capture.opencv import OpenCVSource
from firmware.capture.picamera2 import Picamera2Source
from firmware.capture.synthetic import SyntheticSource

SIZE = {"width": 640, "height": 480, "fps": 15.0}


def test_picamera2() -> None:
    source = open_source("picamera2", **SIZE)
    assert isinstance(source, Picamera2Source)
    assert (source.width, source.height, source.fps) == (640, 480, 15.0)


def test_v4l2() -> None:
    source = open_source("v4l2:/dev/video2", width=320, height=240, fps=10)
    assert isinstance(source, OpenCVSource)
    assert source.location == "/dev/video2" and source.is_device
    assert (source.width, source.height, source.fps) == (320, 240, 10.0)


@pytest.mark.parametrize("url", ["rtsp://cam/stream", "rtsps://u:p@cam:322/live"])
def test_rtsp(url: str) -> None:
    source = open_source(url, **SIZE)
    assert isinstance(source, OpenCVSource)
    assert source.location == url and not source.is_device
    assert "u:p" not in source.name


def test_file(tmp_path: Path) -> None:
    source = open_source(f"file:{tmp_path}/clip.mp4", pacing="fast", loop=False, **SIZE)
    assert isinstance(source, FileSource)
    assert source.path == tmp_path / "clip.mp4"
    assert (source.pacing, source.loop, source.realtime, source.fps_hint) == (
        "fast",
        False,
        False,
        15.0,
    )
    assert open_source("file:clip.mp4", **SIZE).realtime  # realtime and looping by default


@pytest.mark.parametrize("spec", ["test:", "test", " test: "])
def test_synthetic(spec: str) -> None:
    source = open_source(spec, width=320, height=240, fps=12)
    assert isinstance(source, SyntheticSource)
    assert (source.width, source.height, source.fps, source.realtime) == (320, 240, 12.0, True)
    assert not open_source(spec, pacing="fast", **SIZE).realtime


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("webcam", "unknown capture source 'webcam'; use auto, picamera2, v4l2:"),
        ("", "unknown capture source"),
        ("test:bogus", "unknown capture source"),
        ("v4l2:", "v4l2 needs a device path"),
        ("v4l2:video0", "v4l2 needs a device path"),
        ("file:", "give a path"),
        ("rtsp://", "no host"),
    ],
)
def test_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_source(spec, **SIZE)


def test_unknown_spec_error_hides_credentials() -> None:
    with pytest.raises(ValueError) as info:
        open_source("http://admin:hunter2@cam/video", **SIZE)
    assert "hunter2" not in str(info.value)


def test_auto_falls_back_to_synthetic_with_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(select_module, "probe_picamera2", lambda: "picamera2 is not installed")
    monkeypatch.setattr(select_module, "probe_v4l2", lambda **_: (None, "no /dev/video* devices"))
    with caplog.at_level(logging.INFO, logger="firmware.capture.select"):
        source = open_source("auto", **SIZE)
    assert isinstance(source, SyntheticSource) and source.realtime
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "no camera found (picamera2: picamera2 is not installed; v4l2: no /dev/video* devices); "
        "running on the synthetic test scene (test:)"
    ]
    assert any(r.levelno == logging.INFO and "test:" in r.getMessage() for r in caplog.records)


def test_auto_prefers_picamera2(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(select_module, "probe_picamera2", lambda: None)
    monkeypatch.setattr(select_module, "probe_v4l2", lambda **_: pytest.fail("not needed"))
    with caplog.at_level(logging.INFO, logger="firmware.capture.select"):
        assert isinstance(open_source("auto", **SIZE), Picamera2Source)
    assert "capture source auto: picamera2" in caplog.text


def test_auto_then_v4l2(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(select_module, "probe_picamera2", lambda: "no camera attached")
    monkeypatch.setattr(select_module, "probe_v4l2", lambda **_: ("/dev/video1", "ok"))
    with caplog.at_level(logging.INFO, logger="firmware.capture.select"):
        source = open_source("auto", width=320, height=240, fps=10)
    assert isinstance(source, OpenCVSource) and source.location == "/dev/video1"
    assert source.width == 320
    assert "capture source auto: v4l2:/dev/video1" in caplog.text
    assert "no camera attached" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_video_devices_in_numeric_order(tmp_path: Path) -> None:
    for name in ["video10", "video2", "video0", "video-codec", "videoX", "media0"]:
        (tmp_path / name).touch()
    assert select_module.video_devices(tmp_path) == [
        str(tmp_path / "video0"),
        str(tmp_path / "video2"),
        str(tmp_path / "video10"),
    ]


def test_probe_v4l2_reports_each_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select_module, "video_devices", lambda: ["/dev/video90", "/dev/video91"])
    device, reason = select_module.probe_v4l2(**SIZE)
    assert device is None
    assert "/dev/video90" in reason and "/dev/video91" in reason


@pytest.mark.skipif(
    bool(glob.glob("/dev/video*")) or importlib.util.find_spec("picamera2") is not None,
    reason="this machine has a camera stack; auto would (rightly) pick it",
)
def test_auto_on_a_machine_without_cameras(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="firmware.capture.select"):
        source = open_source("auto", **SIZE)
    assert isinstance(source, SyntheticSource)
    assert "no camera found (picamera2: picamera2 is not installed" in caplog.text
    assert "v4l2: no /dev/video* devices" in caplog.text
