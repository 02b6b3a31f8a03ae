"""Live view: glass-to-glass latency on loopback and fps per number of viewers, against bare aiortc.

Run with ``make bench`` (``python -m bench.live --output docs/benchmarks.md``); ``--quick`` is a
short smoke run of the same cases.

A camera stand-in (``bench.live_device.StampedSource``, 15 fps, a finely textured empty wall)
writes a frame counter into the pixels of every frame and notes ``time.perf_counter()`` then.
The frames take the device's real path: capture feed → privacy stage (default config, the real
models) → ``FrameHub`` → ``ViewerSessions`` (the owner API's class, with its shared encode), behind
a WHEP-style endpoint on loopback. The viewers are real aiortc peers in another process
(``bench.live_client``); they decode, read the counter back from the decoded pixels and note the
time. Latency is the difference, per frame, matched by counter; perf_counter is CLOCK_MONOTONIC,
one clock for every process on the machine (checked at start).

Cases:

* latency at 640×480 and 1280×720, one viewer, with the split: capture → stage (the capture
  feed's queue), the stage (``PrivacyStage.latencies_s``), hand-over to the hub → the frame's
  last RTP packet at the viewer (hub, encode, send), last packet → decoded (aiortc's receiver
  and decoder);
* the in-run peer: the same source and capture feed into a bare aiortc track (raw frames, no
  stage, no hub, aiortc's own per-peer encoder); our path and the peer alternate, in rounds;
* 1, 4 and 8 viewers of one camera at 640×480, and 8 with the kindergarten watermark (an encode
  of their own each): fps per viewer and the device process's CPU;
* the relay path, when Janus is installed: the camera's shared encode published once over WHIP
  to Janus VideoRoom behind ``deploy/janus``'s front-end on this host (``testkit.relay``),
  1, 4 and 8 viewers subscribing there; the relay's CPU is measured too.

The device (stage, hub, sessions, encoders) is this process; the viewers' decoding runs in the
client process, off the device's GIL. The machine has few cores, so both compete for them (a
real device does not decode its viewers' video); the client's CPU is reported too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import aiortc
import av
import numpy as np
from tqdm import tqdm

from bench.live_device import LiveDevice, PrivacyStages
from bench.monitoring import cpu_name, write_section
from privacy.config import PrivacyConfig
from privacy.stage import PrivacyStage
from testkit.relay import LocalRelay, RelayUnavailable, janus_binary, start_relay

REPO = Path(__file__).resolve().parent.parent
HEADING = "## Live view"
FPS = 15
SIZES = ((640, 480), (1280, 720))
BUDGET_SIZE = (640, 480)
BUDGET_P95_MS = 150.0
VIEWER_COUNTS = (1, 4, 8)
_RECEIVER = "the viewer's receiver and decoder"
CLIENT_SLACK_S = 60.0  # on top of the measured time: start-up, connecting, first keyframe


@dataclass(frozen=True)
class Case:
    """One measured configuration; runs of equal cases are pooled."""

    path: str  # "privacy" (the device's path), "bare" (the aiortc peer) or "relay"
    width: int
    height: int
    viewers: int = 1
    watermark: bool = False

    @property
    def size(self) -> str:
        return f"{self.width}×{self.height}"

    @property
    def label(self) -> str:
        mark = " watermarked" if self.watermark else ""
        return f"{self.path}{mark} {self.size} ×{self.viewers}"


@dataclass
class Tally:
    """What the runs of one case measured; lists hold one value per frame (or per viewer)."""

    latency_ms: list[float] = field(default_factory=list)  # capture → decoded, per frame/viewer
    arrival_ms: list[float] = field(default_factory=list)  # capture → last RTP packet, same
    wire_ms: list[float] = field(default_factory=list)  # hand-over → last RTP packet, same
    hold_ms: list[float] = field(default_factory=list)  # last RTP packet → decoded, same
    queue_ms: list[float] = field(default_factory=list)  # capture → stage, per frame sent
    stage_ms: list[float] = field(default_factory=list)  # in the stage, per frame sent
    fps: list[float] = field(default_factory=list)  # per viewer and run
    captured: int = 0  # frames the source made in the window
    source_dropped: int = 0  # frame slots the source missed (the whole run)
    feed_dropped: int = 0  # captured in the window, never handed on (the stage was busy)
    withheld: Counter[str] = field(default_factory=Counter)  # in the window, by reason
    sent: int = 0  # streamed frames captured in the window
    slots: int = 0  # sent × viewers: the frames the viewers could have received
    received: int = 0
    unreadable: int = 0  # decoded frames whose counter did not read (the slate, or a misread)
    decode_failures: int = 0  # frames the viewers' decoders refused (e.g. no keyframe yet)
    device_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    relay_cpu_s: float = 0.0  # Janus and its front-end, relay path only
    wall_s: float = 0.0

    def merge(self, other: Tally) -> None:
        for name, value in vars(other).items():
            mine = getattr(self, name)
            if isinstance(value, list):
                mine.extend(value)
            elif isinstance(value, Counter):
                mine.update(value)
            else:
                setattr(self, name, mine + value)

    @property
    def device_cpu_pct(self) -> float:
        return 100 * self.device_cpu_s / self.wall_s

    @property
    def client_cpu_pct(self) -> float:
        return 100 * self.client_cpu_s / self.wall_s

    @property
    def relay_cpu_pct(self) -> float:
        return 100 * self.relay_cpu_s / self.wall_s


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _cpu_between(samples: list[tuple[float, float]], start: float, end: float) -> float:
    """Process CPU seconds between the first sample at or after ``start`` and the last at or
    before ``end``, scaled to the window."""
    inside = [s for s in samples if start <= s[0] <= end]
    if len(inside) < 2:
        return float("nan")
    (t0, c0), (t1, c1) = inside[0], inside[-1]
    return (c1 - c0) / (t1 - t0) * (end - start)


def tally(device: LiveDevice, client: dict) -> Tally:
    """Match what the viewers decoded with what the device captured and handed on."""
    start, end = client["window"]
    stamped = device.source.stamped
    in_window = [seq for seq, at in stamped.items() if start <= at <= end]
    out = Tally(captured=len(in_window), source_dropped=device.source_dropped)
    sent: list[int] = []
    for seq in in_window:
        handed = device.handed.get(seq)
        if handed is None:
            out.feed_dropped += 1
        elif not handed.streamed:
            out.withheld[handed.reason or "?"] += 1
        else:
            sent.append(seq)
            stage_s = handed.stage_s or 0.0
            out.queue_ms.append(1000 * (handed.at - stamped[seq] - stage_s))
            if handed.stage_s is not None:
                out.stage_ms.append(1000 * stage_s)
    out.sent = len(sent)
    out.slots = len(sent) * len(client["viewers"])
    for viewer in client["viewers"]:
        decoded: dict[int, tuple[float, float | None]] = {}
        for counter, at, last_packet in viewer["frames"]:
            decoded.setdefault(counter, (at, last_packet))  # the first time it was decoded
        out.unreadable += viewer["unreadable"]
        out.fps.append(sum(start <= at <= end for at, _ in decoded.values()) / (end - start))
        for seq in sent:
            got = decoded.get(seq % 65536)
            if got is None:
                continue
            at, last_packet = got
            handed = device.handed[seq].at
            out.received += 1
            out.latency_ms.append(1000 * (at - stamped[seq]))
            if last_packet is not None:
                out.arrival_ms.append(1000 * (last_packet - stamped[seq]))
                out.wire_ms.append(1000 * (last_packet - handed))
                out.hold_ms.append(1000 * (at - last_packet))
    out.wall_s = end - start
    out.device_cpu_s = _cpu_between(device.cpu_samples, start, end)
    if device.relay_cpu_samples:
        out.relay_cpu_s = _cpu_between(device.relay_cpu_samples, start, end)
    out.client_cpu_s = client["cpu_s"]
    out.decode_failures = client["decode_failures"]
    return out


async def _watch(device: LiveDevice, viewers: int, settle: float, seconds: float) -> dict:
    """Run the viewers in their own process and return what they saw."""
    args = ["--url", device.url, "--viewers", str(viewers)]
    args += ["--settle", str(settle), "--seconds", str(seconds)]
    if device.token_file is not None:
        args += ["--relay-token-file", str(device.token_file)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.live_client", *args, stdout=asyncio.subprocess.PIPE, cwd=REPO
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), settle + seconds + CLIENT_SLACK_S)
    finally:
        if proc.returncode is None:  # timed out or interrupted: do not leave it behind
            proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"the viewers' process failed (exit {proc.returncode})")
    return json.loads(out)


async def run_case(
    case: Case,
    stage: PrivacyStage | None,
    relay: LocalRelay | None,
    settle: float,
    seconds: float,
) -> Tally:
    device = LiveDevice(
        case.path,
        case.width,
        case.height,
        FPS,
        case.viewers,
        stage=stage,
        watermark=case.watermark,
        relay=relay,
    )
    try:
        await device.start()
        client = await _watch(device, case.viewers, settle, seconds)
    finally:
        await device.stop()
    if device.refused:
        raise RuntimeError(f"{case.label}: offers refused: {device.refused}")
    return tally(device, client)


def check_clock() -> str:
    """perf_counter must be one clock for every process: CLOCK_MONOTONIC on Linux. Checked by
    its implementation and by a child process's reading falling between two of ours."""
    info = time.get_clock_info("perf_counter")
    before = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", "import time; print(time.perf_counter())"],
        capture_output=True,
        text=True,
        check=True,
    )
    after = time.perf_counter()
    if "CLOCK_MONOTONIC" not in info.implementation or not (before <= float(child.stdout) <= after):
        sys.exit(f"perf_counter is not comparable across processes here ({info.implementation})")
    return info.implementation


def schedule(quick: bool, relay: bool) -> tuple[list[Case], float, float, float]:
    """(runs in order, settle s, seconds per latency run, seconds per viewers run).

    The device's path and the peer alternate, so drift on a shared machine hits both alike."""
    rounds, settle, latency_s, viewers_s = (1, 0.5, 3.0, 3.0) if quick else (2, 1.0, 10.0, 10.0)
    runs = [
        Case(path, w, h) for _ in range(rounds) for w, h in SIZES for path in ("privacy", "bare")
    ]
    w, h = BUDGET_SIZE
    runs += [Case("privacy", w, h, n) for n in VIEWER_COUNTS if n > 1]
    runs.append(Case("privacy", w, h, max(VIEWER_COUNTS), watermark=True))
    if relay:
        counts = (min(VIEWER_COUNTS), max(VIEWER_COUNTS)) if quick else VIEWER_COUNTS
        runs += [Case("relay", w, h, n) for n in counts]
    return runs, settle, latency_s, viewers_s


def measure(quick: bool) -> tuple[dict[Case, Tally], str, str | None]:
    """Every case's tally, the plan in words, and why the relay path was not measured (None if
    it was)."""
    results: dict[Case, Tally] = {}
    no_relay = None if janus_binary() else "Janus is not installed (`deploy/sysdeps.sh --test`)"
    with contextlib.ExitStack() as stack:
        relay = None
        if no_relay is None:
            try:
                root = Path(stack.enter_context(_tmpdir()))
                relay = stack.enter_context(start_relay(root, "--log-level", "WARNING"))
            except RelayUnavailable as err:
                no_relay = str(err)
        runs, settle, latency_s, viewers_s = schedule(quick, relay is not None)
        rounds = runs.count(Case("privacy", *BUDGET_SIZE))
        plan = (
            f"{rounds} run{'s' if rounds > 1 else ''} of {latency_s:.0f} s per latency case "
            f"(ours and the peer alternating), one of {viewers_s:.0f} s per other case, each "
            f"measured after {settle:g} s of settling once every viewer has a picture"
        )
        stages = PrivacyStages()
        stack.callback(stages.close)
        progress = tqdm(runs, desc="live view", unit="run")
        for case in progress:
            progress.set_postfix_str(case.label)
            stage = None if case.path == "bare" else stages.get(case.width, case.height)
            seconds = latency_s if case.viewers == 1 and case.path != "relay" else viewers_s
            where = relay if case.path == "relay" else None
            result = asyncio.run(run_case(case, stage, where, settle, seconds))
            results.setdefault(case, Tally()).merge(result)
    return results, plan, no_relay


def _tmpdir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="bench-live-relay-")


def _ms(values: list[float]) -> str:
    return f"{pct(values, 50):.0f} / {pct(values, 95):.0f}" if values else "–"


def report(
    results: dict[Case, Tally],
    command: str,
    clock: str,
    plan: str,
    no_relay: str | None,
    load_start: str,
) -> str:
    latency = [
        "| resolution | path | frames received / sent | **p50 ms** | **p95 ms** | max ms | "
        "to last packet p50 / p95 ms | capture → stage | stage | hand-over → last packet | "
        "last packet → decoded | device CPU % of one core |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines: list[str] = []
    for w, h in SIZES:
        ours, peer = results.get(Case("privacy", w, h)), results.get(Case("bare", w, h))
        for name, t in (("**privacy stage → hub → sessions**", ours), ("peer: bare aiortc", peer)):
            if t is None:
                continue
            latency.append(
                f"| {w}×{h} | {name} | {t.received} / {t.slots} | {pct(t.latency_ms, 50):.0f} | "
                f"{pct(t.latency_ms, 95):.0f} | {max(t.latency_ms, default=float('nan')):.0f} | "
                f"{_ms(t.arrival_ms)} | {_ms(t.queue_ms)} | {_ms(t.stage_ms)} | "
                f"{_ms(t.wire_ms)} | {_ms(t.hold_ms)} | {t.device_cpu_pct:.0f} |"
            )
        if ours and peer and ours.latency_ms and peer.latency_ms:
            d50 = pct(ours.latency_ms, 50) - pct(peer.latency_ms, 50)
            d95 = pct(ours.latency_ms, 95) - pct(peer.latency_ms, 95)
            lines.append(
                f"- {w}×{h}: the device's path adds {d50:.0f} ms at p50 "
                f"({pct(ours.latency_ms, 50) / pct(peer.latency_ms, 50):.1f}× bare aiortc) and "
                f"{d95:.0f} ms at p95 ({pct(ours.latency_ms, 95) / pct(peer.latency_ms, 95):.1f}×)."
            )
        if ours and ours.latency_ms:
            lines.append(f"- {w}×{h}: {_dominant(ours)}")
    lines += _hold_lines(results)
    budget = results.get(Case("privacy", *BUDGET_SIZE))
    if budget is not None and budget.latency_ms:
        p95 = pct(budget.latency_ms, 95)
        verdict = "**met**" if p95 < BUDGET_P95_MS else "**not met**"
        budget_line = (
            f"Budget (DESIGN.md): glass-to-glass p95 < {BUDGET_P95_MS:.0f} ms at "
            f"{BUDGET_SIZE[0]}×{BUDGET_SIZE[1]} on loopback — measured {p95:.0f} ms to the "
            f"decoded picture at an aiortc viewer: {verdict}"
        )
        if budget.arrival_ms:
            to_packet = pct(budget.arrival_ms, 95)
            verdict = "met" if to_packet < BUDGET_P95_MS else "not met"
            budget_line += f" ({to_packet:.0f} ms to the frame's last packet: {verdict})"
        held = PrivacyConfig().lookahead_frames
        budget_line += (
            f". The privacy stage's lookahead (`privacy.lookahead_frames`, {held}) holds each "
            f"frame until {held} more have been processed ({held * 1000 / FPS:.0f} ms at {FPS} "
            "fps), counted in *waiting for the stage* below: the price of redacting a face on the "
            "frames before the one it is first found on (docs/live-view.md); 0 gives the "
            "latency back and loses that."
        )
    else:
        budget_line = "Budget: not measured in this run."

    viewers = [
        "| viewers | encode | fps per viewer, median (min) | frames received / sent | "
        "p50 / p95 ms | device CPU % of one core | viewers' process CPU % |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    w, h = BUDGET_SIZE
    rows = [(Case("privacy", w, h, n), "shared") for n in VIEWER_COUNTS]
    rows.append((Case("privacy", w, h, max(VIEWER_COUNTS), True), "own per viewer (watermark)"))
    for case, encode in rows:
        t = results.get(case)
        if t is None:
            continue
        viewers.append(
            f"| {case.viewers} | {encode} | {np.median(t.fps):.1f} ({min(t.fps):.1f}) | "
            f"{t.received} / {t.slots} | {_ms(t.latency_ms)} | {t.device_cpu_pct:.0f} | "
            f"{t.client_cpu_pct:.0f} |"
        )
    lines += _viewer_lines(results)
    relay_table, relay_lines = _relay(results, no_relay)
    lines += relay_lines

    losses = [
        "| run | captured | missed by the source | dropped by the feed (stage busy) | "
        "withheld by the gate | streamed, never decoded (all viewers) | decoded, counter "
        "unreadable | not decodable (all viewers) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case, t in results.items():
        withheld = ", ".join(f"{n} {r}" for r, n in t.withheld.most_common()) or "0"
        losses.append(
            f"| {case.label} | {t.captured} | {t.source_dropped} | {t.feed_dropped} | "
            f"{withheld} | {t.slots - t.received} | {t.unreadable} | {t.decode_failures} |"
        )

    return "\n".join(
        [
            HEADING,
            "",
            f"Command: {command}, {dt.date.today().isoformat()}.",
            f"Machine: {cpu_name()}, {os.cpu_count()} cores, {platform.machine()}, Python "
            f"{platform.python_version()}, aiortc {aiortc.__version__}, PyAV {av.__version__}, "
            f"aiohttp {aiohttp.__version__}; load average {load_start} at the start and "
            f"{_load()} at the end of the run (1 / 5 / 15 min; the machine is shared).",
            f"Source: a finely textured empty wall at {FPS} fps with a frame counter stamped into "
            "the pixels (bottom edge); through the capture feed, the privacy stage (default "
            "config, real models), the frame hub and `ViewerSessions` to aiortc viewers in "
            "another process that decode and read the counter back. Latency is decode time "
            "minus stamp time per frame "
            f"(`perf_counter`, {clock}, one clock for both processes); *to last packet* is when "
            "the frame's last RTP packet reached the viewer. The peer is the same source and "
            "feed into a bare aiortc track (raw frames, aiortc's own encoder), alternating with "
            f"our path in the same run. {plan[0].upper()}{plan[1:]}. Percentiles (ms) over all "
            "frames of all runs of a case; frames the gate withheld (the slate) carry no counter "
            "and are not counted as sent.",
            "",
            "Glass-to-glass latency, one viewer:",
            "",
            *latency,
            "",
            budget_line,
            "",
            f"Viewers of one camera at {w}×{h}, {FPS} fps source:",
            "",
            *viewers,
            "",
            *relay_table,
            *lines,
            "",
            "Where frames went (all runs of each case). A frame streamed but never decoded was "
            "skipped on the way (the hub and the shared encoder hand on only the newest frame, "
            "so a burst after a slow stage frame loses all but its last) or lost:",
            "",
            *losses,
            "",
        ]
    )


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def _dominant(ours: Tally) -> str:
    """Which part of the median glass-to-glass time is the largest, in words."""
    parts = {
        "waiting for the stage": pct(ours.queue_ms, 50),
        "the privacy stage": pct(ours.stage_ms, 50),
        "hub, VP8 encode and RTP to the viewer": pct(ours.wire_ms, 50),
        _RECEIVER: pct(ours.hold_ms, 50),
    }
    known = {k: v for k, v in parts.items() if not np.isnan(v)}
    name, value = max(known.items(), key=lambda kv: kv[1])
    others = "; ".join(f"{k} {v:.0f} ms" for k, v in known.items() if k != name)
    text = (
        f"of the {pct(ours.latency_ms, 50):.0f} ms median, {name} takes the most "
        f"({value:.0f} ms; {others})."
    )
    if name == _RECEIVER:
        device = {k: v for k, v in known.items() if k != _RECEIVER}
        if device:
            part = max(device, key=lambda k: device[k])
            text += f" On the device, {part} takes the most."
    if ours.queue_ms and ours.stage_ms:
        tail = pct(ours.stage_ms, 95) + pct(ours.queue_ms, 95)
        text += f" At p95, waiting for and running the stage take {tail:.0f} ms together."
    return text


def _hold_lines(results: dict[Case, Tally]) -> list[str]:
    """How long aiortc's receiver holds a complete frame, from the peer runs."""
    holds = [v for case, t in results.items() if case.path == "bare" for v in t.hold_ms]
    if not holds:
        return []
    return [
        f"- aiortc's receiver hands a frame to its decoder only when the next frame's first "
        f"packet arrives (`aiortc/jitterbuffer.py`): last packet → decoded is "
        f"{pct(holds, 50):.0f} ms at p50 for the peer, about one frame interval at {FPS} fps "
        f"({1000 / FPS:.0f} ms). A browser completes a frame on the RTP marker bit, so *to last "
        "packet* plus a few ms of decoding is closer to what a browser viewer sees."
    ]


def _viewer_lines(results: dict[Case, Tally]) -> list[str]:
    w, h = BUDGET_SIZE
    few, most = min(VIEWER_COUNTS), max(VIEWER_COUNTS)
    one, many = results.get(Case("privacy", w, h, few)), results.get(Case("privacy", w, h, most))
    own = results.get(Case("privacy", w, h, most, True))
    if one is None or many is None:
        return []
    shared = (many.device_cpu_pct - one.device_cpu_pct) / (most - few)
    text = (
        f"- Each viewer beyond the first adds {shared:.1f} % of a core with the shared encode "
        f"({one.device_cpu_pct:.0f} % → {many.device_cpu_pct:.0f} % from {few} to {most}); "
        f"fps per viewer {np.median(one.fps):.1f} → {np.median(many.fps):.1f}."
    )
    if own is not None:
        per_own = (own.device_cpu_pct - one.device_cpu_pct) / (most - few)
        text += (
            f" With the watermark (an encode per viewer) each adds {per_own:.1f} % "
            f"({own.device_cpu_pct:.0f} % for {most}), fps per viewer "
            f"{np.median(own.fps):.1f}."
        )
    return [text]


def _relay(results: dict[Case, Tally], no_relay: str | None) -> tuple[list[str], list[str]]:
    """The relay table (with its heading) and the comparison lines."""
    w, h = BUDGET_SIZE
    relayed = [(n, results.get(Case("relay", w, h, n))) for n in VIEWER_COUNTS]
    measured = [(n, t) for n, t in relayed if t is not None]
    if not measured:
        reason = no_relay or "not scheduled"
        return [], [f"- The relay path (WHIP to an SFU) was not measured: {reason}."]
    table = [
        f"Through the relay (the device publishes its shared encode once over WHIP to Janus "
        f"VideoRoom on this host, `deploy/janus`; viewers subscribe at the front-end) at "
        f"{w}×{h}:",
        "",
        "| viewers | fps per viewer, median (min) | frames received / sent | p50 / p95 ms | "
        "to last packet p50 / p95 ms | device CPU % of one core | relay CPU % (Janus + "
        "front-end) | viewers' process CPU % |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, t in measured:
        table.append(
            f"| {n} | {np.median(t.fps):.1f} ({min(t.fps):.1f}) | {t.received} / {t.slots} | "
            f"{_ms(t.latency_ms)} | {_ms(t.arrival_ms)} | {t.device_cpu_pct:.0f} | "
            f"{t.relay_cpu_pct:.0f} | {t.client_cpu_pct:.0f} |"
        )
    table.append("")
    lines = []
    for n, t in measured:
        direct = results.get(Case("privacy", w, h, n))
        if direct is None or not direct.latency_ms or not t.latency_ms:
            continue
        d50 = pct(t.latency_ms, 50) - pct(direct.latency_ms, 50)
        d95 = pct(t.latency_ms, 95) - pct(direct.latency_ms, 95)
        lines.append(
            f"- {n} viewer{'s' if n > 1 else ''} through the relay: {d50:+.0f} ms at p50 "
            f"({pct(t.latency_ms, 50) / pct(direct.latency_ms, 50):.2f}× direct sessions) and "
            f"{d95:+.0f} ms at p95; device CPU {t.device_cpu_pct:.0f} % (direct: "
            f"{direct.device_cpu_pct:.0f} %)."
        )
    (few, first), (most, last) = measured[0], measured[-1]
    if most > few:
        lines.append(
            f"- Relay viewers {few} → {most}: device CPU {first.device_cpu_pct:.0f} % → "
            f"{last.device_cpu_pct:.0f} % (it publishes once), relay CPU "
            f"{first.relay_cpu_pct:.0f} % → {last.relay_cpu_pct:.0f} %."
        )
    return table, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--quick", action="store_true", help="a short smoke run (under a minute)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    clock = check_clock()
    load_start = _load()
    results, plan, no_relay = measure(args.quick)
    command = "`make bench` (`python -m bench.live`)"
    if args.quick:
        command = "`python -m bench.live --quick`"
    section = report(results, command, clock, plan, no_relay, load_start)
    write_section(args.output, HEADING, section)
    print(section)


if __name__ == "__main__":
    main()
