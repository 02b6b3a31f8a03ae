"""Soak: the real ``camera-app run`` streaming to 4 viewers with API traffic for a long while.

Run with ``make bench`` (``python -m bench.soak --output docs/benchmarks.md``; ``--minutes``, 20
by default). The service and its footage are those of :mod:`bench.service_memory` (the installed
entry point in a subprocess, a file source looped in real time at 640×480, 15 fps); four real
aiortc WHEP viewers (the owner and three family members, one session each) decode the stream for
the whole run (one whose stream ends joins again, as a player reconnects, and is
reported), while clients poll the camera's live status and device health every 2 s, list
events every 5 s, log a family member in and out every 30 s, and type a wrong password every 4
minutes (the limiter allows 5 failures in 15 minutes, so the account never locks). The
:class:`~bench.service_memory.Sampler` reads VmRSS, RssAnon, threads and open descriptors of the
service every half second. Reported per minute, with a verdict on flatness: the least-squares
slope over the second half of the run, and the median of the last third against the first.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiortc

from bench.monitoring import cpu_name, write_section
from bench.service_memory import (
    CAMERA,
    VIEWER_PASSWORD,
    Sample,
    Sampler,
    Viewers,
    bench_service,
    family_viewer,
    service_clip,
)
from testkit.api import Client, Reply
from testkit.service import go_live, owner_of

HEADING = "## Soak: streaming and API traffic over time"
VIEWERS = 4
POLL_S = 2.0
EVENTS_S = 5.0
LOGIN_S = 30.0
FAILED_LOGIN_S = 240.0
REJOIN_CHECK_S = 5.0
# Flat: the second half grows by less than this per minute, and the last third's median is
# within this much of the first third's
RSS_SLOPE_MB_MIN = 0.5
RSS_DRIFT_MB = 10.0
COUNT_DRIFT = 2  # threads, descriptors


@dataclass(frozen=True)
class Minute:
    minute: int
    rss_mb: float  # medians over the minute
    anon_mb: float
    threads: int  # the most seen
    fds: int
    frames: int  # decoded by all viewers in this minute
    viewers: int  # still receiving at the minute's end
    requests: int  # API requests answered as expected


@dataclass(frozen=True)
class Trend:
    name: str
    slope_per_min: float  # least squares over the second half of the run
    first_third: float  # medians
    last_third: float
    flat: bool


@dataclass
class Traffic:
    """What the clients sent and what came back (status counts per kind of request)."""

    replies: Counter[tuple[str, int]] = field(default_factory=Counter)
    expected: int = 0
    unexpected: list[str] = field(default_factory=list)

    def ask(
        self, kind: str, wanted: set[int], send: Callable[..., Reply], *args: object
    ) -> Reply | None:
        """``send(*args)`` and count its status (0: no answer, the connection failed)."""
        try:
            reply: Reply | None = send(*args)
        except OSError as err:
            reply = None
            self.unexpected.append(f"{kind}: {err}")
        status = 0 if reply is None else reply.status
        self.replies[(kind, status)] += 1
        if status in wanted:
            self.expected += 1
        elif reply is not None:
            self.unexpected.append(f"{kind}: {status}")
        return reply


@dataclass
class SoakResult:
    source: str
    minutes: list[Minute]
    trends: list[Trend]
    traffic: Traffic
    viewers_at_end: int
    hwm_mb: float
    ended: list[str]  # viewer sessions that ended before the run did: "HH:MM:SS why" (audit)
    rejoined: list[int]  # the minutes in which a viewer whose stream ended joined again
    refused: Counter[str]  # why rejoining was refused, while it was
    load: list[float]  # the machine's 1-minute load average at each minute's end

    @property
    def flat(self) -> bool:
        return all(t.flat for t in self.trends)


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of ``(seconds, value)`` points, per minute."""
    if len(points) < 2:
        return 0.0
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in points) / var * 60


def trends(samples: list[Sample], start: float) -> list[Trend]:
    """Slope of the second half and last-vs-first third of RSS, threads and descriptors."""
    out = []
    n = len(samples)
    for name, value, limit_slope, limit_drift in (
        ("RSS MB", lambda s: s.rss_mb, RSS_SLOPE_MB_MIN, RSS_DRIFT_MB),
        ("RssAnon MB", lambda s: s.anon_mb, RSS_SLOPE_MB_MIN, RSS_DRIFT_MB),
        ("threads", lambda s: float(s.threads), 0.1, COUNT_DRIFT),
        ("open fds", lambda s: float(s.fds), 0.1, COUNT_DRIFT),
    ):
        half = [(s.at - start, value(s)) for s in samples[n // 2 :]]
        slope = slope_per_minute(half)
        first = statistics.median(value(s) for s in samples[: n // 3])
        last = statistics.median(value(s) for s in samples[-(n // 3) :])
        flat = slope <= limit_slope and last - first <= limit_drift
        out.append(Trend(name, slope, first, last, flat))
    return out


def per_minute(
    samples: list[Sample],
    start: float,
    frames: list[int],
    viewers: list[int],
    requests: list[int],
) -> list[Minute]:
    """One row per minute; ``frames``/``requests``: the running totals at each minute's end,
    ``viewers``: how many were receiving then."""
    rows = []
    for m in range(len(frames)):
        mine = [s for s in samples if m * 60 <= s.at - start < (m + 1) * 60]
        if not mine:
            continue
        rows.append(
            Minute(
                m + 1,
                statistics.median(s.rss_mb for s in mine),
                statistics.median(s.anon_mb for s in mine),
                max(s.threads for s in mine),
                max(s.fds for s in mine),
                frames[m] - (frames[m - 1] if m else 0),
                viewers[m],
                requests[m] - (requests[m - 1] if m else 0),
            )
        )
    return rows


async def _every(period: float, until: float, action: Callable[[], None]) -> None:
    """Call ``action`` (a blocking function) on a thread every ``period`` s until ``until``."""
    while time.monotonic() < until:
        began = time.monotonic()
        await asyncio.to_thread(action)
        await asyncio.sleep(max(0.0, period - (time.monotonic() - began)))


async def _soak(
    owner: Client, family: list[Client], sampler: Sampler, minutes: float
) -> tuple[
    list[Minute], list[Trend], Traffic, int, tuple[list[str], list[int], Counter[str]], list[float]
]:
    traffic = Traffic()
    base = owner.base
    user = "family-1"

    def poll() -> None:
        traffic.ask("live status", {200}, owner.get, f"/api/cameras/{CAMERA}/live")
        traffic.ask("device health", {200}, owner.get, "/api/device/health")

    def events() -> None:
        traffic.ask("event list", {200}, owner.get, f"/api/cameras/{CAMERA}/events?limit=50")

    def login_logout() -> None:
        credentials = {"username": user, "password": VIEWER_PASSWORD}
        reply = traffic.ask("login", {200}, Client(base).post, "/api/login", credentials)
        if reply is None or reply.status != 200:
            return
        session = Client(base, reply.body["token"])
        traffic.ask("me", {200}, session.get, "/api/me")
        traffic.ask("logout", {200, 204}, session.post, "/api/logout")

    def failed_login() -> None:
        wrong = {"username": user, "password": "wrong password"}
        traffic.ask("failed login", {401}, Client(base).post, "/api/login", wrong)

    viewers = Viewers([owner, *family])
    await viewers.add(VIEWERS)
    sampler.phase = "soak"
    start = time.monotonic()
    until = start + minutes * 60
    frames: list[int] = []
    alive: list[int] = []
    requests: list[int] = []
    load: list[float] = []

    rejoined: list[int] = []
    refused: Counter[str] = Counter()

    async def keep_watching() -> None:
        """A viewer whose stream ended joins again, as a player would; each is reported."""
        while time.monotonic() < until:
            await asyncio.sleep(REJOIN_CHECK_S)
            for index, task in enumerate(viewers.drains):
                if task.done() and time.monotonic() < until:
                    minute = int((time.monotonic() - start) // 60) + 1
                    try:
                        await viewers.rejoin(index)
                        rejoined.append(minute)
                    except (RuntimeError, TimeoutError, AssertionError) as err:
                        refused[str(err) or type(err).__name__] += 1

    async def minute_marks() -> None:
        for m in range(1, int(minutes) + 1):
            await asyncio.sleep(max(0.0, start + m * 60 - time.monotonic()))
            frames.append(viewers.frames)
            alive.append(sum(1 for task in viewers.drains if not task.done()))
            requests.append(traffic.expected)
            load.append(os.getloadavg()[0])

    try:
        await asyncio.gather(
            _every(POLL_S, until, poll),
            _every(EVENTS_S, until, events),
            _every(LOGIN_S, until, login_logout),
            _every(FAILED_LOGIN_S, until, failed_login),
            minute_marks(),
            keep_watching(),
        )
        at_end = sum(1 for task in viewers.drains if not task.done())
        ended = await asyncio.to_thread(_ended_sessions, owner)
    finally:
        sampler.phase = "after"
        await viewers.close()
    samples = [s for s in sampler.samples if s.phase == "soak"]
    rows = per_minute(samples, start, frames, alive, requests)
    return rows, trends(samples, start), traffic, at_end, (ended, rejoined, refused), load


def _ended_sessions(owner: Client) -> list[str]:
    """Viewer sessions that have ended so far, from the audit log: when and why."""
    reply = owner.get("/api/audit/events?event=session_ended&limit=200")
    if reply.status != 200:
        return [f"(audit log unreadable: {reply.status})"]
    return [
        f"{time.strftime('%H:%M:%S', time.localtime(r['at']))} {r['details'].get('reason')}"
        for r in reversed(reply.body["records"])
    ]


def run_soak(work: Path, faces_dev: Path, minutes: float, log: Path) -> SoakResult:
    """Soak the service for ``minutes``; its own log goes to ``log``."""
    clip, source = service_clip(work / "service-clip.mp4", faces_dev)
    with bench_service(work, clip, log=log) as (proc, port, data_dir):
        owner = owner_of(port, data_dir)
        family = [family_viewer(owner, f"family-{i}") for i in range(1, VIEWERS)]
        go_live(owner)
        with Sampler(proc.pid) as sampler:
            rows, trend, traffic, alive, (ended, rejoined, refused), load = asyncio.run(
                _soak(owner, family, sampler, minutes)
            )
        hwm = sampler.samples[-1].hwm_mb if sampler.samples else float("nan")
        if proc.poll() is not None:
            raise RuntimeError(f"the service died during the soak: {proc.returncode}")
    return SoakResult(source, rows, trend, traffic, alive, hwm, ended, rejoined, refused, load)


def section(result: SoakResult, minutes: float) -> str:
    rows = [
        f"| {m.minute} | {m.rss_mb:.0f} | {m.anon_mb:.0f} | {m.threads} | {m.fds} | {m.frames} | "
        f"{m.viewers} | {m.requests} |"
        for m in result.minutes
    ]
    trend_rows = [
        f"| {t.name} | {t.first_third:.1f} | {t.last_third:.1f} | {t.slope_per_min:+.2f} | "
        f"{'flat' if t.flat else '**growing**'} |"
        for t in result.trends
    ]
    counts = sorted(result.traffic.replies.items())
    replies = ", ".join(f"{kind} {status}: {count}" for (kind, status), count in counts)
    unexpected = len(result.traffic.unexpected)
    verdict = "flat" if result.flat else "NOT flat"
    return "\n".join(
        [
            HEADING,
            "",
            f"Command: `make bench` (`python -m bench.soak --minutes {minutes:g}`), "
            f"{dt.date.today().isoformat()}.",
            f"Machine: {cpu_name()}, {platform.machine()}, Python {platform.python_version()}, "
            f"aiortc {aiortc.__version__}. `camera-app run` on {result.source} (640×480, 15 fps), "
            f"{VIEWERS} real aiortc WHEP viewers (owner and 3 family members) for the whole run "
            "(one whose stream ends joins again, as a player reconnects); "
            f"API clients poll live status and device health every {POLL_S:g} s, list events "
            f"every {EVENTS_S:g} s, log a family member in, read `/api/me` and log out every "
            f"{LOGIN_S:g} s, and send a wrong password every {FAILED_LOGIN_S / 60:g} min. "
            "Service sampled every 0.5 s. The machine is shared: its 1-minute load average "
            f"was {statistics.fmean(result.load or [0]):.1f} on average over the run "
            f"(max {max(result.load or [0]):.1f}, {os.cpu_count()} cores).",
            "",
            f"- Verdict: **{verdict}** (second-half slope ≤ {RSS_SLOPE_MB_MIN} MB/min and "
            f"last-third median ≤ first-third + {RSS_DRIFT_MB:g} MB for memory; ≤ 0.1/min and "
            f"+{COUNT_DRIFT} for threads and descriptors). Peak RSS (VmHWM) "
            f"{result.hwm_mb:.0f} MB; viewers still receiving at the end: "
            f"{result.viewers_at_end} of {VIEWERS}.",
            f"- API replies: {replies}; {unexpected} unexpected.",
            *_drops(result),
            "",
            "| measure | first third (median) | last third (median) | second-half slope /min | |",
            "|---|---:|---:|---:|---|",
            *trend_rows,
            "",
            "| minute | RSS MB | RssAnon MB | threads | open fds | frames decoded (all viewers) "
            "| viewers receiving | API requests |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
        ]
    )


def _drops(result: SoakResult) -> list[str]:
    """A line on viewer streams that ended during the run, and on their viewers joining again."""
    if not result.ended:
        return []
    reasons = Counter(entry.split(" ", 1)[1] for entry in result.ended)
    times = sorted(entry.split(" ", 1)[0] for entry in result.ended)
    refused = "; ".join(f"{count}× {why}" for why, count in result.refused.most_common())
    return [
        f"- Viewer streams that ended during the run (audit log): {len(result.ended)} "
        f"({', '.join(f'{n}× {why}' for why, n in reasons.items())}; {times[0]}–{times[-1]}). "
        f"Their viewers joined again {len(result.rejoined)} times (minutes "
        f"{', '.join(map(str, result.rejoined)) or '-'})"
        + (f"; attempts refused before that: {refused}." if refused else ".")
    ]


def main() -> None:
    from bench.privacy import FACES_DEV

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="length (default 20)")
    parser.add_argument("--output", type=Path, default=None, help="write the section here")
    parser.add_argument(
        "--log", type=Path, default=Path("var/soak-service.log"), help="the service's own log"
    )
    args = parser.parse_args()
    args.log.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        result = run_soak(Path(tmp), FACES_DEV, args.minutes, args.log)
    text = section(result, args.minutes)
    if args.output is not None:
        write_section(args.output, HEADING, text)
    print(text)


if __name__ == "__main__":
    main()
