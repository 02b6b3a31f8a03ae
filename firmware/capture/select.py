"""Turning a source spec (auto, v4l2:/dev/video0, file:PATH, …) into a capture source."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Literal

from firmware.capture.base import CaptureError, CaptureSource, SourceSpecError
from firmware.capture.file import FileSource
from firmware.capture.opencv import OpenCVSource, redact_url
from firmware.capture.picamera2 import Picamera2Source, picamera2_unavailable_reason
from firmware.capture.synthetic import SyntheticSource

logger = logging.getLogger(__name__)

Pacing = Literal["realtime", "fast"]

SPEC_HELP = "auto, picamera2, v4l2:/dev/videoN, file:PATH, rtsp://HOST/PATH, rtsps://… or test:"


def open_source(
    spec: str,
    *,
    width: int,
    height: int,
    fps: float,
    pacing: Pacing = "realtime",
    loop: bool = True,
) -> CaptureSource:
    """Build (but do not open) the capture source that ``spec`` names.

    ``pacing`` and ``loop`` apply to ``file:`` sources; ``pacing`` also lets ``test:`` run as fast
    as it is read (benchmarks). ``auto`` tries the Raspberry Pi camera, then each V4L2 device in
    order, and otherwise falls back to the synthetic scene with a warning. Raises
    :class:`SourceSpecError` for a spec it does not understand.
    """
    spec = spec.strip()
    if spec == "auto":
        return choose_auto(width=width, height=height, fps=fps)
    if spec == "picamera2":
        return Picamera2Source(width, height, fps)
    if spec.startswith("v4l2:"):
        device = spec.removeprefix("v4l2:")
        if not device.startswith("/dev/"):
            raise SourceSpecError(
                f"bad source {spec!r}: v4l2 needs a device path, e.g. v4l2:/dev/video0"
            )
        return OpenCVSource(device, width=width, height=height, fps=fps)
    if spec.startswith("file:"):
        path = spec.removeprefix("file:")
        if not path:
            raise SourceSpecError("bad source 'file:': give a path, e.g. file:/videos/clip.mp4")
        return FileSource(Path(path).expanduser(), pacing=pacing, loop=loop, fps_hint=fps)
    if spec.startswith(("rtsp://", "rtsps://")):
        if not spec.split("://", 1)[1]:
            raise SourceSpecError(f"bad source {spec!r}: the URL has no host")
        return OpenCVSource(spec, width=width, height=height, fps=fps)
    if spec in ("test:", "test"):
        return SyntheticSource(width, height, fps, realtime=pacing == "realtime")
    raise SourceSpecError(f"unknown capture source {redact_url(spec)!r}; use {SPEC_HELP}")


def choose_auto(*, width: int, height: int, fps: float) -> CaptureSource:
    """The best camera present: picamera2, then the first working V4L2 device, else ``test:``."""
    picamera2_reason = probe_picamera2()
    if picamera2_reason is None:
        logger.info("capture source auto: picamera2 (libcamera reports a camera)")
        return Picamera2Source(width, height, fps)
    device, v4l2_reason = probe_v4l2(width=width, height=height, fps=fps)
    if device is not None:
        logger.info(
            "capture source auto: v4l2:%s (it delivered a frame; picamera2: %s)",
            device,
            picamera2_reason,
        )
        return OpenCVSource(device, width=width, height=height, fps=fps)
    logger.warning(
        "no camera found (picamera2: %s; v4l2: %s); running on the synthetic test scene (test:)",
        picamera2_reason,
        v4l2_reason,
    )
    logger.info("capture source auto: test: (no camera found)")
    return SyntheticSource(width, height, fps, realtime=True)


def probe_picamera2() -> str | None:
    """None when a picamera2 camera is usable, else the reason it is not."""
    return picamera2_unavailable_reason()


def video_devices(dev_dir: Path = Path("/dev")) -> list[str]:
    """The ``videoN`` device nodes in ``dev_dir``, in numeric order (video2 before video10)."""
    nodes = [p for p in dev_dir.glob("video*") if re.fullmatch(r"video\d+", p.name)]
    return [str(p) for p in sorted(nodes, key=lambda p: int(p.name.removeprefix("video")))]


def probe_v4l2(*, width: int, height: int, fps: float) -> tuple[str | None, str]:
    """The first V4L2 device that opens and delivers a frame, and a summary of what was tried.

    Many ``/dev/video*`` nodes are not cameras (codecs, ISP outputs on a Raspberry Pi), which is
    why a device only counts once it has produced a frame.
    """
    devices = video_devices()
    if not devices:
        return None, "no /dev/video* devices"
    failures: list[str] = []
    for device in devices:
        probe = OpenCVSource(device, width=width, height=height, fps=fps)
        try:
            probe.open()
        except CaptureError as exc:
            failures.append(str(exc))
            continue
        finally:
            probe.close()
        return device, "ok"
    return None, ", ".join(failures)
