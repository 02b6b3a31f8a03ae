"""``camera-app redact``: the privacy stage run offline on an image, an image folder or a video,
exactly as it would run on the live stream (temporal state carries from frame to frame)."""

from __future__ import annotations

import json
import logging
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from tqdm import tqdm

from firmware.errors import AppError, ExitCode
from firmware.frames import Frame
from firmware.videofile import VideoFileWriter
from privacy.frame import RedactedFrame
from privacy.stage import PrivacyStage

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


class MediaError(AppError, ValueError):
    """The input cannot be read or the output cannot be written; the message says which."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True, slots=True)
class RedactionResult:
    report: dict[str, Any]
    frames: int
    withheld: int


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise MediaError(f"{path}: not a readable image")
    return image


def video_frames(path: Path) -> tuple[Iterator[np.ndarray], float, int]:
    try:
        container = av.open(str(path))
        stream = container.streams.video[0]
    except (av.error.FFmpegError, IndexError, OSError) as err:
        raise MediaError(f"{path}: not a readable video ({err})") from None
    fps = float(stream.average_rate or stream.guessed_rate or 25)
    total = stream.frames or 0

    def frames() -> Iterator[np.ndarray]:
        try:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="bgr24")
        except av.error.FFmpegError as err:
            raise MediaError(f"{path}: decoding failed ({err})") from None
        finally:
            container.close()

    return frames(), fps, total


def redact_media(
    stage: PrivacyStage, source: Path, output: Path, *, progress: bool = True
) -> RedactionResult:
    """Redact ``source`` into ``output`` (same kind, same frame count) and return the report."""
    if not source.exists():
        raise MediaError(f"{source}: no such file or directory")
    records: list[dict[str, Any]] = []
    latencies: list[float] = []
    started = time.perf_counter()

    def run(images: Iterator[np.ndarray], fps: float, total: int, sink) -> None:
        bar = tqdm(total=total or None, unit="frame", disable=not progress, leave=False)

        def out(result: RedactedFrame) -> None:  # frames leave in order, after the lookahead
            records.append(_record(len(records), result))
            sink(len(records) - 1, result)

        for index, image in enumerate(images):
            image.flags.writeable = False
            frame_start = time.perf_counter()
            result = stage.push(Frame(image, index / fps, index))
            latencies.append(time.perf_counter() - frame_start)
            if result is not None:
                out(result)
            bar.update()
        for result in stage.flush():
            out(result)
        bar.close()

    if source.is_dir():
        files = sorted(p for p in source.iterdir() if is_image(p))
        if not files:
            raise MediaError(f"{source}: no images in this folder")
        output.mkdir(parents=True, exist_ok=True)
        run(
            (read_image(p) for p in files),
            1.0,
            len(files),
            lambda i, r: _write_image(output / files[i].name, r),
        )
    elif is_image(source):
        run(iter([read_image(source)]), 1.0, 1, lambda _i, r: _write_image(output, r))
    else:
        images, fps, total = video_frames(source)
        writer: VideoFileWriter | None = None

        def sink(_index: int, result: RedactedFrame) -> None:
            nonlocal writer
            if writer is None:
                writer = VideoFileWriter(output, fps, result.image.shape[1], result.image.shape[0])
            writer.write(result.image)

        try:
            run(images, fps, total, sink)
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise MediaError(f"{source}: the video has no frames")

    elapsed = time.perf_counter() - started
    latencies.sort()
    report = {
        "frames": records,
        "fps": len(records) / elapsed if elapsed > 0 else 0.0,
        "models": dict(stage.gate_models),
        "counts": stage.counts,
        "latency_ms": {
            "p50": 1000 * statistics.median(latencies),
            "p95": 1000 * latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
        },
    }
    withheld = sum(1 for r in records if r["status"] == "withheld")
    return RedactionResult(report=report, frames=len(records), withheld=withheld)


def _record(index: int, result: RedactedFrame) -> dict[str, Any]:
    return {
        "index": index,
        "status": result.status.value,
        "reason": result.reason.value if result.reason else None,
        "regions": [list(r) for r in result.regions],
    }


def _write_image(path: Path, result: RedactedFrame) -> None:
    if not cv2.imwrite(str(path), result.image):
        raise MediaError(f"{path}: cannot write the output image (check the extension)")


def write_report(path: Path, report: dict[str, Any]) -> None:
    path.write_text(json.dumps(report, indent=1))
