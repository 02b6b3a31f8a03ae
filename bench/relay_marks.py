"""Per-viewer watermarks on the relay host: what marking each relay viewer would cost.

Run with ``make bench`` (``python -m bench.relay_marks --output docs/benchmarks.md``).

A relay forwards the device's one VP8 stream without decoding it: a viewer costs the relay a
copy of the packets. To mark each viewer's picture with their own id (as the device does for its
own kindergarten viewers), the relay would decode the stream once and, per viewer, draw the mark
and encode VP8 again. This measures both on real footage at 640×480 (faces-dev's restaurant
clip, or the synthetic home scene without it), pinned to one core, with the device's own encoder
settings (:func:`streaming.encoder.vp8_codec`) and watermark (:class:`streaming.watermark.
Watermark`): the decode once per frame, and the mark + encode per viewer-frame. The peer in the
same run is the device's own single encode of the stream (what a per-class mark costs: nothing
beyond it). CPU time (``time.process_time``), medians of rounds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fractions
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np

from bench.monitoring import cpu_name, write_section
from bench.service_memory import FPS, H, W, service_clip
from streaming.encoder import vp8_codec
from streaming.watermark import Watermark

HEADING = "## Relay: per-viewer watermarks"
FRAMES = 120  # 8 s of video
VIEWERS = (1, 4, 8)
ROUNDS = 3
CLASS_SIZE = 30  # families watching one classroom at once (issue 16)
_TIME_BASE = fractions.Fraction(1, 90_000)


def _frames(clip: Path) -> list[np.ndarray]:
    with av.open(str(clip)) as container:
        out = []
        for frame in container.decode(video=0):
            out.append(frame.to_ndarray(format="bgr24"))
            if len(out) == FRAMES:
                break
    return out


def _encode(images: list[np.ndarray], mark: Watermark | None = None) -> Iterator[av.Packet]:
    codec = vp8_codec(W, H)
    for i, image in enumerate(images):
        picture = mark(image) if mark is not None else image
        video = av.VideoFrame.from_ndarray(picture, format="bgr24").reformat(format="yuv420p")
        video.pts, video.time_base = i * (90_000 // FPS), _TIME_BASE
        yield from codec.encode(video)


def _device_stream(images: list[np.ndarray]) -> list[bytes]:
    """The device's published stream: its VP8 packets."""
    return [bytes(p) for p in _encode(images)]


def _cpu_ms(work: Iterator[object]) -> float:
    start = time.process_time()
    for _ in work:
        pass
    return (time.process_time() - start) * 1000


def _decode(packets: list[bytes]) -> Iterator[np.ndarray]:
    codec = av.CodecContext.create("libvpx", "r")
    for data in packets:
        for frame in codec.decode(av.Packet(data)):
            yield frame.to_ndarray(format="bgr24")


def _marked(images: list[np.ndarray], viewers: int) -> Iterator[object]:
    """Each viewer's mark and encode of every frame (one encoder per viewer, as a relay would
    keep)."""
    now = dt.datetime(2026, 12, 7, 9, 30)
    streams = [_encode(images, Watermark(f"viewer-{n:04d}", lambda: now)) for n in range(viewers)]
    yield from zip(*streams, strict=False)


def measure(images: list[np.ndarray]) -> dict[str, float]:
    """Milliseconds of CPU per frame: the device's encode, the relay's decode, and the relay's
    mark + encode per viewer (medians over rounds and viewer counts)."""
    packets = _device_stream(images)
    n = len(images)
    device = [_cpu_ms(_encode(images)) / n for _ in range(ROUNDS)]
    decode = [_cpu_ms(_decode(packets)) / n for _ in range(ROUNDS)]
    per_viewer: dict[int, float] = {}
    for viewers in VIEWERS:
        rounds = [_cpu_ms(_marked(images, viewers)) / n / viewers for _ in range(ROUNDS)]
        per_viewer[viewers] = statistics.median(rounds)
    return {
        "device_encode": statistics.median(device),
        "decode": statistics.median(decode),
        **{f"viewer_{v}": ms for v, ms in per_viewer.items()},
        "per_viewer": statistics.median(per_viewer.values()),
    }


def report(figures: dict[str, float], source: str, cpu: int) -> str:
    frame_ms = 1000 / FPS
    per_viewer = figures["per_viewer"]
    per_core = (frame_ms - figures["decode"]) / per_viewer
    cores_for_class = (figures["decode"] + CLASS_SIZE * per_viewer) / frame_ms
    rows = "\n".join(
        f"| mark + encode per viewer, {v} viewer{'s' if v > 1 else ''} | "
        f"{figures[f'viewer_{v}']:.1f} |"
        for v in VIEWERS
    )
    return "\n".join(
        [
            HEADING,
            "",
            f"Command: `make bench` (`python -m bench.relay_marks`), "
            f"{dt.date.today().isoformat()}, {cpu_name()} ({platform.machine()}), pinned to "
            f"core {cpu}. Footage: {source}, {W}×{H} at {FPS} fps, {FRAMES} frames; the "
            "device's VP8 settings; CPU ms per frame, median of "
            f"{ROUNDS} rounds.",
            "",
            "| work | CPU ms per frame |",
            "|---|---:|",
            f"| the device's one encode (peer: what a per-class mark adds: nothing) | "
            f"{figures['device_encode']:.1f} |",
            f"| relay: decode the device's stream once | {figures['decode']:.1f} |",
            rows,
            "",
            f"One core at {FPS} fps has {frame_ms:.1f} ms per frame: after the decode it marks "
            f"**{per_core:.1f} viewers** (per-viewer encode ≈ "
            f"{per_viewer / figures['device_encode']:.2f}× the device's encode). A class of "
            f"{CLASS_SIZE} families watching at once needs **{cores_for_class:.1f} cores** of "
            "this machine for per-viewer marks (a Pi-class core is 4–6× slower), against a "
            "forwarded stream's cost per viewer in the relay-viewers figures. Hence rotating "
            "group marks instead: G encodes per camera whatever the audience (docs/relay.md, "
            "and [the real marker's figures](#relay-rotating-group-marks)).",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--cpu", type=int, default=None, help="the core to pin to (default: last)")
    args = parser.parse_args()
    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    cv2.setNumThreads(1)
    from bench.privacy import FACES_DEV

    with tempfile.TemporaryDirectory(prefix="bench-marks-") as tmp:
        clip, source = service_clip(Path(tmp) / "clip.mp4", FACES_DEV)
        images = _frames(clip)
    section = report(measure(images), source, cpu)
    write_section(args.output, HEADING, section)
    print(section)


if __name__ == "__main__":
    main()
