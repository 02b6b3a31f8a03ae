"""Cameras per device: how many 640×480 @ 15 fps cameras one core sustains, monitoring only and
with one camera streaming through the privacy stage to a viewer.

Run with ``make bench`` (``python -m bench.cameras --output docs/benchmarks.md``); ``--quick``
is a short smoke run of the same cases.

The device is the real ``camera-app run`` process with a ``cameras:`` list of N ``file:``
cameras, pinned to one core (``taskset -c 1``) as the other benchmarks pin theirs. The cameras
read real footage (the videos of ``../shared/data/faces-dev``: people walking, a restaurant, a
crowd), each converted once to 640×480 at 15 fps and played in real time, looping, so every
camera sees motion, records events (H.264 clips) and, when it streams, runs the privacy stage
on faces. Camera k reads clip k mod 3.

Per case, after a warm-up: each camera's achieved frame rate and frames dropped (lost at the
source plus dropped because the loop was late), read from the owner API's device health
(``cameras``), and the device process's CPU (``/proc/<pid>/stat``, all its threads) over the
measured window. "One streaming": the owner opts camera 0 in and starts its stream, and one
aiortc viewer (in this process, pinned to another core) watches it; the viewer's frame rate is
reported too. N grows until a camera falls below 95 % of 15 fps or drops more than 2 % of its
frames: the last N before that is what one core sustains.

Decoding the file is part of the device's CPU here (a USB camera's MJPEG decode is about as
costly; a Pi camera's frames come decoded).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
import yaml

from bench.monitoring import cpu_name, write_section
from firmware.videofile import write_video
from testkit.api import Client
from testkit.net import free_port
from testkit.service import camera_app_cmd, go_live, owner_of
from testkit.webrtc import Receiver

REPO = Path(__file__).resolve().parent.parent
FACES_DEV = REPO.parent / "shared" / "data" / "faces-dev"
FOOTAGE = ("opera_arcade.mp4", "animated_restaurant.mp4", "selfie_wall.mp4")
HEADING = "## Cameras per device"
W, H, FPS = 640, 480, 15
CORE = "1"  # the device's core; this process (and the viewer) keeps to the others
SUSTAINED_FPS = 0.95 * FPS
SUSTAINED_DROPS = 0.02
MAX_CAMERAS = 8
MIN_CASES = 3  # always measure 1..3 cameras (the CPU cost per camera is a slope)
PI4_SLOWER = (4, 6)  # a Pi 4 core against one core here (DESIGN.md)


@dataclass(frozen=True)
class CaseResult:
    cameras: int
    streaming: bool
    fps: list[float]  # per camera
    drop_rate: list[float]  # per camera: dropped / (shown + dropped)
    cpu_percent: float  # of one core
    viewer_fps: float | None
    cpu_ms_per_frame: float  # device CPU over every camera's frames
    load: float  # the machine's 1-minute load average at the end of the window

    @property
    def cameras_by_cpu(self) -> float:
        """How many such cameras one core's CPU time would carry at 15 fps (independent of
        other load on the machine, which steals the core's time but not this cost)."""
        return 1000 / (self.cpu_ms_per_frame * FPS)

    @property
    def sustained(self) -> bool:
        return min(self.fps) >= SUSTAINED_FPS and max(self.drop_rate) <= SUSTAINED_DROPS


def prepare_clips(work: Path, seconds: float) -> list[Path]:
    """The footage as 640×480, 15 fps H.264 clips (resampled by time, looped to ``seconds``)."""
    out = []
    for name in FOOTAGE:
        source = FACES_DEV / name
        if not source.exists():
            continue
        with av.open(str(source)) as container:
            stream = container.streams.video[0]
            frames = [
                (float(f.pts * f.time_base), f.to_ndarray(format="bgr24"))
                for f in container.decode(stream)
            ]
        start, end = frames[0][0], frames[-1][0]
        length = end - start
        picked = []
        for i in range(round(seconds * FPS)):
            at = start + (i / FPS) % length
            index = min(range(len(frames)), key=lambda k, at=at: abs(frames[k][0] - at))
            picked.append(cv2.resize(frames[index][1], (W, H), interpolation=cv2.INTER_AREA))
        out.append(write_video(work / f"{Path(name).stem}-640.mp4", picked, FPS, crf=20))
    if not out:
        raise SystemExit(f"no footage in {FACES_DEV}: the benchmark needs real video")
    return out


def _config(clips: list[Path], n: int, data_dir: Path, port: int) -> dict:
    return {
        "cameras": [
            {
                "id": f"cam{k}",
                "name": f"Camera {k}",
                "capture": {
                    "source": f"file:{clips[k % len(clips)]}",
                    "width": W,
                    "height": H,
                    "fps": FPS,
                    "pacing": "realtime",
                    "loop": True,
                },
            }
            for k in range(n)
        ],
        "storage": {"data_dir": str(data_dir), "min_free_mb": 0},
        "api": {"host": "127.0.0.1", "port": port, "tls": False},
        "logging": {"level": "WARNING"},
    }


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _camera_counts(owner: Client) -> dict[str, tuple[int, int]]:
    cameras = owner.get("/api/device/health").body["cameras"]
    return {cid: (c["frames"], c["dropped_frames"]) for cid, c in cameras.items()}


class _Viewer:
    """One aiortc viewer of a camera, on its own thread and event loop; counts frames."""

    def __init__(self, owner: Client, camera: str) -> None:
        self.frames = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._owner, self._camera = owner, camera
        self._thread = threading.Thread(target=lambda: asyncio.run(self._watch()), daemon=True)
        self._thread.start()
        if not self._ready.wait(60):
            raise RuntimeError("the viewer got no picture")

    async def _watch(self) -> None:
        viewer = Receiver()
        try:
            reply = await asyncio.to_thread(
                self._owner.call,
                "POST",
                f"/api/cameras/{self._camera}/whep",
                raw=(await viewer.offer()).encode(),
                content_type="application/sdp",
            )
            assert reply.status == 201, reply.body
            await viewer.accept(reply.raw.decode())
            while not self._stop.is_set():
                await viewer.frame(timeout=30)
                self.frames += 1
                self._ready.set()
        finally:
            await viewer.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)


def run_case(
    clips: list[Path], n: int, *, streaming: bool, work: Path, warmup: float, measure: float
) -> CaseResult:
    port = free_port()
    data_dir = work / f"data-{n}-{int(streaming)}"
    config = work / f"config-{n}-{int(streaming)}.yaml"
    config.write_text(yaml.safe_dump(_config(clips, n, data_dir, port)))
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock"}
    log = (work / f"service-{n}-{int(streaming)}.log").open("w")
    proc = subprocess.Popen(
        ["taskset", "-c", CORE, *camera_app_cmd(), "run", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    viewer: _Viewer | None = None
    try:
        owner = owner_of(port, data_dir)
        if streaming:
            go_live(owner, "cam0")
            viewer = _Viewer(owner, "cam0")
        time.sleep(warmup)
        counts0, cpu0, t0 = _camera_counts(owner), _cpu_seconds(proc.pid), time.monotonic()
        seen0 = viewer.frames if viewer else 0
        time.sleep(measure)
        counts1, cpu1, t1 = _camera_counts(owner), _cpu_seconds(proc.pid), time.monotonic()
        seen1 = viewer.frames if viewer else 0
    finally:
        if viewer is not None:
            viewer.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        log.close()
    span = t1 - t0
    fps, drops, total = [], [], 0
    for cid in sorted(counts1):
        frames = counts1[cid][0] - counts0[cid][0]
        dropped = counts1[cid][1] - counts0[cid][1]
        total += frames
        fps.append(frames / span)
        drops.append(dropped / max(1, frames + dropped))
    return CaseResult(
        n,
        streaming,
        fps,
        drops,
        100 * (cpu1 - cpu0) / span,
        (seen1 - seen0) / span if viewer is not None else None,
        1000 * (cpu1 - cpu0) / max(1, total),
        os.getloadavg()[0],
    )


def sweep(
    clips: list[Path], *, streaming: bool, work: Path, warmup: float, measure: float
) -> list[CaseResult]:
    """N = 1, 2, … until a case is not sustained (that case included), and at least
    :data:`MIN_CASES` cases."""
    results = []
    for n in range(1, MAX_CAMERAS + 1):
        result = run_case(clips, n, streaming=streaming, work=work, warmup=warmup, measure=measure)
        results.append(result)
        print(
            f"{n} camera(s){' + stream' if streaming else ''}: fps {min(result.fps):.1f}–"
            f"{max(result.fps):.1f}, drops {max(result.drop_rate):.1%}, "
            f"CPU {result.cpu_percent:.0f} %, viewer {result.viewer_fps}",
            flush=True,
        )
        if not result.sustained and n >= MIN_CASES:
            break
    return results


def _most(results: list[CaseResult]) -> int:
    """The most cameras of a run of sustained cases from one camera up."""
    most = 0
    for r in results:
        if not r.sustained:
            break
        most = r.cameras
    return most


def _cpu_per_camera_ms(results: list[CaseResult]) -> float:
    """CPU time per added camera, in ms per 15 fps frame: the slope of the device's CPU time
    per frame period over the number of cameras (the process's fixed cost, the API and its
    threads, falls out)."""
    xs = np.array([r.cameras for r in results], float)
    ys = np.array([r.cpu_ms_per_frame * r.cameras for r in results])
    if len(results) >= 2:
        return float(np.polyfit(xs, ys, 1)[0])
    return float(ys[0])


def section(
    monitoring: list[CaseResult], streaming: list[CaseResult], clips: list[Path], measure: float
) -> str:
    rows = [
        "| cameras | mode | fps per camera (min–max) | frames dropped (worst camera) | "
        "device CPU (% of one core) | CPU ms per camera frame | viewer fps | machine load "
        "| sustained |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in [*monitoring, *streaming]:
        mode = "monitoring + camera 0 streaming" if r.streaming else "monitoring only"
        viewer = f"{r.viewer_fps:.1f}" if r.viewer_fps is not None else "—"
        rows.append(
            f"| {r.cameras} | {mode} | {min(r.fps):.1f}–{max(r.fps):.1f} | "
            f"{max(r.drop_rate):.1%} | {r.cpu_percent:.0f} | {r.cpu_ms_per_frame:.1f} | "
            f"{viewer} | {r.load:.1f} | "
            f"{'yes' if r.sustained else '**no**'} |"
        )
    most_mon, most_stream = _most(monitoring), _most(streaming)
    everything = [*monitoring, *streaming]
    # by CPU time, which other load on the machine steals from but does not change
    camera_ms = _cpu_per_camera_ms(monitoring)
    fixed_ms = max(0.0, monitoring[0].cpu_ms_per_frame - camera_ms)
    stream_ms = (
        streaming[0].cpu_ms_per_frame * streaming[0].cameras
        - monitoring[0].cpu_ms_per_frame * monitoring[0].cameras
        if streaming and monitoring
        else 0.0
    )
    period_ms = 1000 / FPS
    by_cpu_mon = (period_ms - fixed_ms) / camera_ms
    by_cpu_stream = max(0.0, (period_ms - fixed_ms - stream_ms) / camera_ms)
    slow, slower = PI4_SLOWER
    return "\n".join(
        [
            HEADING,
            "",
            f"Command: `make bench` (`python -m bench.cameras`), {dt.date.today().isoformat()}.",
            f"Machine: {cpu_name()}, {platform.machine()}, Python {platform.python_version()}; "
            f"the device (`camera-app run`, a `cameras:` list of N `file:` cameras) pinned to "
            f"one core (`taskset -c {CORE}`), default config (privacy stage, recording on).",
            f"Input: real footage ({', '.join(c.name for c in clips)}: faces-dev videos "
            f"converted to {W}×{H} at {FPS} fps), played in real time and looping, camera k "
            f"reads clip k mod {len(clips)}; every camera sees motion and records events. "
            f"Measured over {measure:g} s after a warm-up, from the owner API's per-camera "
            "health and the process's CPU time (all threads, file decoding included). A case is "
            f"sustained when every camera keeps ≥ {SUSTAINED_FPS:g} fps and drops ≤ "
            f"{SUSTAINED_DROPS:.0%} of its frames.",
            "",
            *rows,
            "",
            f"- **By CPU time, one core here carries {by_cpu_mon:.1f} cameras at {W}×{H}, "
            f"{FPS} fps monitoring only, and {by_cpu_stream:.1f} with one of them streaming** "
            f"through the privacy stage to a viewer: each camera costs {camera_ms:.1f} ms of "
            f"CPU per frame (decode, masks, motion, pre-roll, clips: "
            f"{camera_ms * FPS / 10:.0f} % of a core at {FPS} fps), the process "
            f"{fixed_ms:.1f} ms per frame period, and one live stream {stream_ms:.1f} ms more "
            "(privacy stage, VP8 encode, the viewer's session). CPU time is what other load "
            "on the machine does not change.",
            f"- Measured frame rates: {most_mon} camera(s) kept ≥ {SUSTAINED_FPS:g} fps monitoring "
            f"only, {most_stream} with one streaming, with the machine's load average at "
            f"{min(r.load for r in everything):.0f}–{max(r.load for r in everything):.0f} on "
            f"{os.cpu_count()} cores: other programs took the pinned core's time, so these are "
            "lower bounds; on a quiet core they follow the CPU figures above.",
            f"- On a Raspberry Pi 4 (a core {slow}–{slower}× slower, DESIGN.md), one core would "
            f"carry about {by_cpu_mon / slower:.1f}–{by_cpu_mon / slow:.1f} camera(s) "
            f"monitoring only; its four cores about {4 * by_cpu_mon / slower:.0f}–"
            f"{4 * by_cpu_mon / slow:.0f} in all, fewer with a stream. A Pi 5 core is 2–3× a "
            "Pi 4's. See docs/multi-camera.md.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--quick", action="store_true", help="short windows (smoke run)")
    args = parser.parse_args()
    os.sched_setaffinity(0, {c for c in os.sched_getaffinity(0) if str(c) != CORE} or {0})
    warmup, measure = (4.0, 6.0) if args.quick else (10.0, 20.0)
    with tempfile.TemporaryDirectory(prefix="bench-cameras-") as tmp:
        work = Path(tmp)
        clips = prepare_clips(work, seconds=10)
        monitoring = sweep(clips, streaming=False, work=work, warmup=warmup, measure=measure)
        streaming = sweep(clips, streaming=True, work=work, warmup=warmup, measure=measure)
    text = section(monitoring, streaming, clips, measure)
    write_section(args.output, HEADING, text)
    print(text)


if __name__ == "__main__":
    main()
