"""Footage made on the fly: a textured static scene, H.264 clips of it with a moving box (real
files written with PyAV), and decoding a clip as a player would."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from firmware.videofile import VideoFileWriter


def scene_background(width: int, height: int, seed: int = 7) -> np.ndarray:
    """A textured, static backdrop (flat frames would make motion detection trivially easy)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = (60 + 60 * np.sin(x / 37.0) + 40 * np.cos(y / 23.0)).astype(np.float32)
    image = np.stack([base, base * 0.8 + 30, base * 0.6 + 50], axis=-1)
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_motion_video(
    path: Path,
    *,
    frames: int,
    fps: int = 15,
    size: tuple[int, int] = (640, 480),
    moving: tuple[int, int] | None = None,
    seed: int = 7,
) -> Path:
    """Encode an H.264 MP4: a static scene, and a bright box crossing it for frame indices in
    ``moving`` = (first, last) inclusive."""
    width, height = size
    background = scene_background(width, height, seed)
    rng = np.random.default_rng(seed + 1)
    with VideoFileWriter(path, fps, width, height, crf=20, preset="ultrafast") as writer:
        for i in range(frames):
            img = background.copy()
            # light sensor noise, as a real camera has
            img = np.clip(img.astype(np.int16) + rng.integers(-3, 4, img.shape), 0, 255).astype(
                np.uint8
            )
            if moving and moving[0] <= i <= moving[1]:
                t = (i - moving[0]) / max(1, moving[1] - moving[0])
                bw, bh = width // 8, height // 4
                x = int(t * (width - bw))
                y = height // 2 - bh // 2
                img[y : y + bh, x : x + bw] = (230, 240, 250)
            writer.write(img)
    return path


def decode_frames(path: Path) -> tuple[int, float]:
    """Decode a clip as a player would: (frames shown, duration in seconds from the timestamps).

    Like a player, stop at the first undecodable packet (the cut-off end of a fragment)."""
    times: list[float] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or 15)
        try:
            for frame in container.decode(stream):
                times.append(float(frame.pts * frame.time_base))
        except av.error.InvalidDataError:
            pass
    if not times:
        return 0, 0.0
    return len(times), max(times) - min(times) + 1 / rate
