"""Memory of the real ``camera-app run`` while it streams to WHEP viewers.

Used by :mod:`bench.privacy` (its section of ``docs/benchmarks.md``); ``python -m
bench.service_memory`` prints the figures alone. The service is the installed entry point in a
subprocess (``testkit.service``), with a file source: real footage (faces-dev's
``animated_restaurant``, a restaurant seen by a fixed camera) scaled to 640×480 at 15 fps,
looped in real time, or the synthetic home scene without faces-dev. The owner starts the stream
over the API; real aiortc peers (``testkit.webrtc.Receiver``, in this process, so their decoding
is not counted) subscribe over WHEP: one, then four. Then the stream is stopped and started
again with one viewer, which shows whether a new stream adds a copy of the models. A thread
samples ``/proc/<pid>/status`` (VmRSS, VmHWM, Threads) and ``/proc/<pid>/fd`` every half second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import yaml

from firmware.videofile import VideoFileWriter
from testkit.api import Client
from testkit.net import free_port
from testkit.service import go_live, owner_of, start_service, stop_service
from testkit.webrtc import Receiver

W, H, FPS = 640, 480, 15
SAMPLE_S = 0.5
CAMERA = "cam1"
VIEWER_PASSWORD = "a long viewer password"


@dataclass(frozen=True)
class Sample:
    at: float
    phase: str
    rss_mb: float
    anon_mb: float  # RssAnon: the process's own memory, without mapped files (libraries)
    hwm_mb: float
    threads: int
    fds: int


@dataclass(frozen=True)
class Phase:
    name: str
    steady_mb: float  # median RSS over the second half of the phase
    anon_mb: float  # median RssAnon, same samples
    max_mb: float
    threads: int  # the most seen
    fds: int
    frames: int  # decoded by all its viewers together


@dataclass
class ServiceMemory:
    source: str
    seconds: float
    phases: list[Phase] = field(default_factory=list)
    hwm_mb: float = 0.0  # VmHWM at the end: the peak over the service's whole life

    def lines(self, goal_mb: float) -> list[str]:
        """The section's lines: a sentence and a table."""
        streaming = [p for p in self.phases if p.name != "idle"]
        peak = max((p.max_mb for p in streaming), default=float("nan"))
        verdict = "met" if self.hwm_mb <= goal_mb else "not met"
        rows = [
            f"| {p.name} | {p.steady_mb:.0f} | {p.anon_mb:.0f} | {p.max_mb:.0f} | {p.threads} | "
            f"{p.fds} | {p.frames} |"
            for p in self.phases
        ]
        return [
            f"- `camera-app run` while streaming ({self.source}, 640×480 at {FPS} fps, real "
            f"aiortc WHEP viewers, {self.seconds:.0f} s per phase): peak RSS (VmHWM over the "
            f"service's life) **{self.hwm_mb:.0f} MB**, highest sampled VmRSS while streaming "
            f"{peak:.0f} MB; goal ≤ {goal_mb:.0f} MB: **{verdict}**. By phase (steady = median "
            "VmRSS over the second half of the phase):",
            "",
            "| phase | steady RSS MB | of which anonymous (not libraries) MB | max RSS MB | "
            "threads | open fds | frames decoded (all viewers) |",
            "|---|---:|---:|---:|---:|---:|---:|",
            *rows,
        ]


def _status(pid: int) -> dict[str, float]:
    """VmRSS, RssAnon, VmHWM (MB) and Threads of a process."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    out = {k: int(fields[k][0]) / 1024 for k in ("VmRSS", "RssAnon", "VmHWM")}
    out["Threads"] = int(fields["Threads"][0])
    return out


class Sampler:
    """Samples a process's memory, threads and fds on a thread, tagged with the current phase."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.phase = "start"
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            with contextlib.suppress(OSError):
                st = _status(self.pid)
                fds = len(list(Path(f"/proc/{self.pid}/fd").iterdir()))
                self.samples.append(
                    Sample(
                        time.monotonic(),
                        self.phase,
                        st["VmRSS"],
                        st["RssAnon"],
                        st["VmHWM"],
                        int(st["Threads"]),
                        fds,
                    )
                )

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self, name: str, frames: int) -> Phase:
        mine = [s for s in self.samples if s.phase == name]
        if not mine:
            raise RuntimeError(f"no memory samples in phase {name!r}")
        second_half = mine[len(mine) // 2 :]
        return Phase(
            name,
            statistics.median(s.rss_mb for s in second_half),
            statistics.median(s.anon_mb for s in second_half),
            max(s.rss_mb for s in mine),
            max(s.threads for s in mine),
            max(s.fds for s in mine),
            frames,
        )


def service_clip(path: Path, faces_dev: Path) -> tuple[Path, str]:
    """Real footage at 640×480, 15 fps (or the synthetic home scene) and what it is."""
    source = faces_dev / "animated_restaurant.mp4"
    if source.exists():
        with (
            av.open(str(source)) as container,
            VideoFileWriter(path, FPS, W, H, crf=18, preset="ultrafast") as writer,
        ):
            for frame in container.decode(video=0):
                image = frame.to_ndarray(format="bgr24")
                writer.write(cv2.resize(image, (W, H), interpolation=cv2.INTER_AREA))
        return path, "faces-dev animated_restaurant scaled to 640×480, looped"
    from bench.privacy import home_clip

    home_clip(path, W, H)
    return path, "the synthetic home scene, looped (faces-dev absent)"


@dataclass
class Viewers:
    """WHEP viewers of the owner's camera that decode and drop what they receive."""

    accounts: list[Client]  # the API allows two sessions per account: viewers take turns
    peers: list[Receiver] = field(default_factory=list)
    drains: list[asyncio.Task[None]] = field(default_factory=list)
    frames: int = 0

    async def add(self, count: int) -> None:
        for _ in range(count):
            viewer = await self._join(self.accounts[len(self.peers) % len(self.accounts)])
            self.peers.append(viewer)
            self.drains.append(asyncio.create_task(self._drain(viewer)))

    async def rejoin(self, index: int) -> None:
        """Replace viewer ``index``, whose stream ended, with a new one of the same account
        (as a player reconnects)."""
        await self.peers[index].close()
        viewer = await self._join(self.accounts[index % len(self.accounts)])
        self.peers[index] = viewer
        self.drains[index] = asyncio.create_task(self._drain(viewer))

    async def _join(self, account: Client) -> Receiver:
        viewer = Receiver()
        try:
            offer = (await viewer.offer()).encode()
            reply = await asyncio.to_thread(
                account.call,
                "POST",
                f"/api/cameras/{CAMERA}/whep",
                raw=offer,
                content_type="application/sdp",
            )
            if reply.status != 201:
                raise RuntimeError(
                    f"WHEP offer refused: {reply.status} {reply.error or reply.body}"
                )
            await viewer.accept(reply.raw.decode())
            await viewer.frame(timeout=60)  # a picture before the phase starts
        except BaseException:
            await viewer.close()
            raise
        return viewer

    async def _drain(self, viewer: Receiver) -> None:
        while await viewer.frames.get() is not None:
            self.frames += 1

    async def close(self) -> None:
        for task in self.drains:
            task.cancel()
        for viewer in self.peers:
            await viewer.close()
        self.peers.clear()
        self.drains.clear()


def family_viewer(owner: Client, username: str) -> Client:
    """A family member the owner invites to the camera, logged in after accepting."""
    invited = owner.post(
        "/api/viewers", {"username": username, "role": "family", "cameras": [CAMERA]}
    )
    if invited.status != 201:
        raise RuntimeError(f"inviting a viewer failed: {invited.status} {invited.body}")
    guest = Client(owner.base)
    accepted = guest.post(
        "/api/invites/accept",
        {"code": invited.body["code"], "password": VIEWER_PASSWORD, "consent": True},
    )
    if accepted.status != 201:
        raise RuntimeError(f"accepting the invitation failed: {accepted.status} {accepted.body}")
    return guest.login(username, VIEWER_PASSWORD)


async def _phases(owner: Client, sampler: Sampler, seconds: float) -> list[Phase]:
    phases = []
    accounts = [owner, *[family_viewer(owner, f"family-{i}") for i in range(1, 4)]]

    async def hold(name: str, viewers: Viewers | None) -> None:
        before = viewers.frames if viewers else 0
        sampler.phase = name
        await asyncio.sleep(seconds)
        sampler.phase = "between"
        phases.append(sampler.summary(name, (viewers.frames if viewers else 0) - before))

    await hold("idle", None)
    await asyncio.to_thread(go_live, owner)
    viewers = Viewers(accounts)
    try:
        await viewers.add(1)
        await hold("streaming, 1 viewer", viewers)
        await viewers.add(3)
        await hold("streaming, 4 viewers", viewers)
    finally:
        await viewers.close()
    stopped = await asyncio.to_thread(owner.post, f"/api/cameras/{CAMERA}/streaming/stop")
    if stopped.status != 200:
        raise RuntimeError(f"stopping the stream failed: {stopped.status}")
    started = await asyncio.to_thread(owner.post, f"/api/cameras/{CAMERA}/streaming/start")
    if started.status != 200:
        raise RuntimeError(f"restarting the stream failed: {started.status}")
    viewers = Viewers(accounts)
    try:
        await viewers.add(1)
        await hold("stream restarted, 1 viewer", viewers)
    finally:
        await viewers.close()
    return phases


@contextlib.contextmanager
def bench_service(
    work: Path, clip: Path, log: Path | None = None
) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    """``camera-app run`` on ``clip`` (looped in real time) with its data under ``work`` and its
    output in ``log`` if given: yields the process, its API port and its data directory;
    stopped (SIGTERM) afterwards."""
    port = free_port()
    data_dir = work / "service-data"
    config = work / "service.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "camera": {"id": CAMERA, "name": "Bench"},
                "storage": {"data_dir": str(data_dir)},
                "capture": {"pacing": "realtime", "loop": True},
                "api": {"host": "127.0.0.1", "port": port, "tls": False},
                "logging": {"level": "WARNING"},
            }
        )
    )
    proc = start_service(config, f"file:{clip}", log)
    try:
        yield proc, port, data_dir
    finally:
        stop_service(proc)


def measure_service_memory(work: Path, faces_dev: Path, seconds: float = 30.0) -> ServiceMemory:
    """Start the service, stream to 1 then 4 viewers, restart the stream; the memory figures."""
    clip, source = service_clip(work / "service-clip.mp4", faces_dev)
    result = ServiceMemory(source, seconds)
    with bench_service(work, clip) as (proc, port, data_dir):
        pid = proc.pid
        owner = owner_of(port, data_dir)
        with Sampler(pid) as sampler:
            result.phases = asyncio.run(_phases(owner, sampler, seconds))
        result.hwm_mb = _status(pid)["VmHWM"]
    return result


def main() -> None:
    import tempfile

    from bench.privacy import FACES_DEV, GOAL_SERVICE_MB

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="per phase (default 30)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        result = measure_service_memory(Path(tmp), FACES_DEV, args.seconds)
    print("\n".join(result.lines(GOAL_SERVICE_MB)))


if __name__ == "__main__":
    main()
