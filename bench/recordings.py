"""Recordings over the owner API: event pages with 10,000 events in the database, and how soon a
clip starts to arrive (whole and from the middle, as a browser seeks) next to a static server.

Run with ``make bench`` (``python -m bench.recordings --output docs/benchmarks.md``). The server is
the production ``OwnerServices`` on loopback with the real clock; the 10,000 events are written
straight into its SQLite database through ``EventStore`` (one transaction), as a busy camera
would have left them over 100 days. Event pages are fetched with a new connection per request
(urllib, as ``bench.api``); each page is also timed on the store alone (SQLite, no HTTP) to show
where the time goes.

Clips: a 20 s 640×480 H.264 clip, fetched with ``http.client`` (a new connection per request),
timing the first byte of the body and the last. The peer is aiohttp's own static-file handler
(``web.static``) serving the same file from its own event-loop thread in the same process:
the same HTTP stack and ``sendfile`` path, so the difference is what the API adds (session,
grant check, event lookup, audit). ``python -m http.server`` would be no fair peer: it answers no
Range requests. Peer and API requests alternate, so drift in the machine hits both alike. Two
API cases: a *repeat* viewing (one viewing is audited once per 10 minutes, so a player's
further range requests are not) and a *first look*, where every request opens another event on
the same file, so every one appends a hash-chained audit record (SQLite, synchronous=FULL).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import platform
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from bench.api import owner_client, percentiles, start_server
from bench.monitoring import cpu_name, write_section
from camera_app.eventloop import LoopThread
from camera_app.monitor.recordings import encode_cursor
from camera_app.monitor.store import EventStore
from firmware.db import open_database
from firmware.paths import StoragePaths
from testkit.api import Client
from testkit.media import write_motion_video

HEADING = "## Recordings over the owner API"
EVENTS = 10_000
SPACING_S = 864.0  # 100 events a day: 10,000 span 100 days
DEEP = 9_000  # the deep page starts after this many events
PAGE = 50
REQUESTS = 400
CLIP_REQUESTS = 300
WARMUP = 20
CAMERA = "cam1"
FAMILY_PASSWORD = "bench-family-pass"  # a throwaway viewer on a temporary server


@dataclass(frozen=True)
class Stats:
    p50: float
    p95: float

    @classmethod
    def of(cls, samples: list[float]) -> Stats:
        return cls(*percentiles(samples))


def _fill(data: Path) -> float:
    """Write EVENTS finished events of CAMERA, newest now; returns the newest start time."""
    newest = time.time()
    conn = open_database(data / "camera.db")
    try:
        store = EventStore(conn)
        conn.execute("BEGIN")
        for i in range(EVENTS):
            event_id = uuid.uuid4().hex
            started = newest - i * SPACING_S
            clip = f"clips/{CAMERA}/{event_id}.mp4"
            store.open_event(event_id, CAMERA, started, clip)
            store.set_snapshot(event_id, f"snapshots/{CAMERA}/{event_id}.jpg", 41_000)
            store.close_event(
                event_id,
                ended_at=started + 20,
                status="complete",
                end_reason="quiet",
                peak_motion=0.2,
                clip_path=clip,
                clip_frames=300,
                clip_duration_s=20.0,
                clip_bytes=4_900_000,
            )
        conn.execute("COMMIT")
    finally:
        conn.close()
    return newest


def _timed(call: Callable[[], object], n: int) -> list[float]:
    for _ in range(WARMUP):
        call()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _get_json(client: Client, path: str, expect: int) -> Callable[[], object]:
    def call() -> object:
        reply = client.get(path)
        assert reply.status == 200, reply.body
        assert len(reply.body["events"]) == expect, path
        return reply

    return call


def _family(owner: Client, server_url: str) -> Client:
    """A family viewer invited to the camera and granted its recordings, logged in."""
    invited = owner.post(
        "/api/viewers", {"username": "grandma", "role": "family", "cameras": [CAMERA]}
    )
    assert invited.status == 201, invited.body
    guest = Client(server_url)
    accepted = guest.post(
        "/api/invites/accept",
        {"code": invited.body["code"], "password": FAMILY_PASSWORD, "consent": True},
    )
    assert accepted.status == 201, accepted.body
    granted = owner.post(f"/api/viewers/{invited.body['id']}/recordings", {"cameras": [CAMERA]})
    assert granted.status == 200, granted.body
    return guest.login("grandma", FAMILY_PASSWORD)


def measure_pages(
    data: Path, owner: Client, family: Client, newest: float
) -> dict[str, tuple[Stats, Stats]]:
    """(over HTTP, store only) per kind of page."""
    conn = open_database(data / "camera.db")
    try:
        store = EventStore(conn)
        deep = store.page(CAMERA, limit=DEEP)[-1]
        cursor = encode_cursor(deep)
        since = newest - 50 * 86400  # one day, 50 days back: about 100 events
        until = since + 86400
        queries: dict[str, tuple[str, Callable[[], object]]] = {
            "first": (
                f"limit={PAGE}",
                lambda: store.page(CAMERA, limit=PAGE + 1),
            ),
            "deep": (
                f"limit={PAGE}&cursor={cursor}",
                lambda: store.page(CAMERA, limit=PAGE + 1, before=(deep.started_at, deep.id)),
            ),
            "day": (
                f"limit={PAGE}&since={since}&until={until}",
                lambda: store.page(CAMERA, limit=PAGE + 1, since=since, until=until),
            ),
        }
        out: dict[str, tuple[Stats, Stats]] = {}
        for name, (query, local) in queries.items():
            path = f"/api/cameras/{CAMERA}/events?{query}"
            out[name] = (
                Stats.of(_timed(_get_json(owner, path, PAGE), REQUESTS)),
                Stats.of(_timed(local, REQUESTS)),
            )
        first = f"/api/cameras/{CAMERA}/events?limit={PAGE}"
        out["family"] = (
            Stats.of(_timed(_get_json(family, first, PAGE), REQUESTS)),
            out["first"][1],
        )
        health = Client(owner.base)

        def bare() -> object:
            reply = health.get("/api/health")
            assert reply.status == 200
            return reply

        out["health"] = (Stats.of(_timed(bare, REQUESTS)), Stats(0.0, 0.0))
    finally:
        conn.close()
    return out


class StaticPeer:
    """aiohttp's static-file handler for one directory, on its own event-loop thread."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._loop = LoopThread("static-peer")
        self._runner: web.AppRunner | None = None
        self.port = 0

    def __enter__(self) -> StaticPeer:
        self._loop.start()
        self.port = self._loop.run(self._start(), 10)
        return self

    async def _start(self) -> int:
        app = web.Application()
        app.router.add_static("/clips", self._directory)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return int(self._runner.addresses[0][1])

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            self._loop.run(self._runner.cleanup(), 10)
        self._loop.stop()


def _fetch(
    port: int, path: str, headers: dict[str, str], status: int, size: int
) -> tuple[float, float]:
    """(ms to the body's first byte, ms to its last) with a new connection."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        first = response.read(1)
        first_at = time.perf_counter()
        rest = response.read()
        done = time.perf_counter()
    finally:
        conn.close()
    assert response.status == status, (path, response.status)
    assert len(first) + len(rest) == size, (path, len(first) + len(rest), size)
    return (first_at - start) * 1000, (done - start) * 1000


@dataclass(frozen=True)
class ClipStats:
    first: Stats
    whole: Stats


def measure_clips(
    data: Path, server_url: str, owner: Client, family: Client, clip: Path
) -> dict[tuple[str, str], ClipStats]:
    """Per (who, request): time to the first and the last byte of the body."""
    paths = StoragePaths(data)
    target = paths.clips / CAMERA / "bench.mp4"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(clip.read_bytes())
    size = target.stat().st_size
    relative = paths.relative(target)
    conn = open_database(data / "camera.db")
    try:
        store = EventStore(conn)
        # one event to view again and again; one more per request for the first looks, all on
        # the same file (older than every other event, so the pages above are not changed)
        ids = ["bench"] + [f"look{i}" for i in range(WARMUP + CLIP_REQUESTS)]
        conn.execute("BEGIN")
        for i, event_id in enumerate(ids):
            store.open_event(event_id, CAMERA, 1_000_000.0 + i, relative)
            store.close_event(
                event_id,
                ended_at=1_000_020.0 + i,
                status="complete",
                end_reason="quiet",
                peak_motion=0.2,
                clip_path=relative,
                clip_frames=300,
                clip_duration_s=20.0,
                clip_bytes=size,
            )
        conn.execute("COMMIT")
    finally:
        conn.close()

    port = int(urlsplit(server_url).port or 0)
    middle = size // 2
    requests = {
        "full": ({}, 200, size),
        "range": ({"Range": f"bytes={middle}-"}, 206, size - middle),
    }
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    looks = iter(ids[1:])
    with StaticPeer(target.parent) as peer:
        for kind, (extra, status, length) in requests.items():
            owner_headers = {**extra, **_auth(owner)}
            cases: dict[str, Callable[[], tuple[float, float]]] = {
                "peer": partial(_fetch, peer.port, "/clips/bench.mp4", extra, status, length),
                "repeat": partial(
                    _fetch, port, "/api/events/bench/clip.mp4", owner_headers, status, length
                ),
                "family": partial(
                    _fetch,
                    port,
                    "/api/events/bench/clip.mp4",
                    {**extra, **_auth(family)},
                    status,
                    length,
                ),
            }
            if kind == "full":

                def first_look(
                    headers: dict[str, str] = owner_headers, status: int = status
                ) -> tuple[float, float]:
                    path = f"/api/events/{next(looks)}/clip.mp4"
                    return _fetch(port, path, headers, status, size)

                cases["first look"] = first_look
            for _ in range(WARMUP):
                for call in cases.values():
                    call()
            for _ in range(CLIP_REQUESTS):
                for who, call in cases.items():  # alternating, so drift hits every case alike
                    samples.setdefault((who, kind), []).append(call())
    return {
        key: ClipStats(Stats.of([f for f, _ in got]), Stats.of([w for _, w in got]))
        for key, got in samples.items()
    }


def _auth(client: Client) -> dict[str, str]:
    assert client.token is not None
    return {"Authorization": f"Bearer {client.token}"}


def measure() -> tuple[dict[str, tuple[Stats, Stats]], dict[tuple[str, str], ClipStats], int]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        clip = write_motion_video(data / "source.mp4", frames=300, moving=(30, 270))
        server, led = start_server(data / "device", tls=False)
        try:
            # 127.0.0.1, not localhost: no IPv6 attempt first in each new connection
            owner = Client(server.url, owner_client(server, data / "device", None).token)
            family = _family(owner, server.url)
            newest = _fill(data / "device")
            pages = measure_pages(data / "device", owner, family, newest)
            clips = measure_clips(data / "device", server.url, owner, family, clip)
            return pages, clips, clip.stat().st_size
        finally:
            server.stop()
            led.close()


def render(
    pages: dict[str, tuple[Stats, Stats]], clips: dict[tuple[str, str], ClipStats], size: int
) -> str:
    page_rows = [
        "| request (owner unless said) | p50 ms | p95 ms | SQLite alone p50 ms | p95 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, label in (
        ("health", "peer: `/api/health` (no session, no database)"),
        ("first", f"first page, `?limit={PAGE}`"),
        ("deep", f"deep page: `?limit={PAGE}&cursor=` after {DEEP:,} events"),
        ("day", f"one day of events, `?since=&until=&limit={PAGE}` (about 100 in the day)"),
        ("family", "first page, a family viewer with a recordings grant"),
    ):
        http_stats, local = pages[key]
        alone = "–" if key == "health" else f"{local.p50:.2f}"
        alone95 = "–" if key == "health" else f"{local.p95:.2f}"
        page_rows.append(
            f"| {label} | {http_stats.p50:.2f} | {http_stats.p95:.2f} | {alone} | {alone95} |"
        )

    clip_rows = [
        "| server | request | first byte p50 ms | p95 ms | last byte p50 ms |",
        "|---|---|---:|---:|---:|",
    ]
    labels = {
        "peer": "peer: aiohttp `web.static` (no session, no audit)",
        "repeat": "**API** `clip.mp4`, owner, repeat viewing",
        "family": "**API** `clip.mp4`, family viewer with a grant, repeat viewing",
        "first look": "**API** `clip.mp4`, owner, first look (one audit record each)",
    }
    requests = {"full": "whole clip", "range": "`Range: bytes=<middle>-` (206)"}
    for kind, request in requests.items():
        for who, label in labels.items():
            if (who, kind) not in clips:
                continue
            got = clips[(who, kind)]
            clip_rows.append(
                f"| {label} | {request} | {got.first.p50:.2f} | {got.first.p95:.2f} | "
                f"{got.whole.p50:.2f} |"
            )

    def ratio(who: str, kind: str) -> float:
        return clips[(who, kind)].first.p50 / clips[("peer", kind)].first.p50

    first, deep, day = pages["first"][0], pages["deep"][0], pages["day"][0]
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return "\n".join(
        [
            HEADING,
            "",
            f"Command: `make bench` (`python -m bench.recordings`), {dt.date.today().isoformat()}.",
            f"Machine: {cpu_name()}, {os.cpu_count()} cores, {platform.machine()}, Python "
            f"{platform.python_version()}, aiohttp {aiohttp.__version__}, SQLite "
            f"{sqlite3.sqlite_version}; load average {load} (1 / 5 / 15 min) at the end of the "
            "run. The production owner API on loopback (HTTP), a new connection per request.",
            "",
            f"**Event pages** with {EVENTS:,} events of one camera in the database (100 a day "
            f"over 100 days), {REQUESTS} requests each (urllib client, JSON decoded); the "
            "SQLite columns time the same page on `EventStore` alone.",
            "",
            *page_rows,
            "",
            f"**Clips**: one {size / 1e6:.1f} MB, 20 s 640×480 H.264 clip, {CLIP_REQUESTS} "
            "requests per case with the cases alternating (http.client); *first byte* is the "
            "first byte of the body. The peer serves the same file from the same process with "
            "the same HTTP stack (`sendfile`), so the difference is the API's own work: the "
            "session, the grant check, the event lookup and the audit.",
            "",
            *clip_rows,
            "",
            f"- With {EVENTS:,} events, p95 of a page is {first.p95:.2f} ms (first), "
            f"{deep.p95:.2f} ms (deep cursor) and {day.p95:.2f} ms (one day); SQLite's share "
            f"is {pages['first'][1].p50:.2f} / {pages['deep'][1].p50:.2f} / "
            f"{pages['day'][1].p50:.2f} ms (p50): the index on `(camera_id, started_at, id)` "
            "seeks straight to the cursor, and the rest is HTTP, the session and JSON.",
            f"- First byte of the whole clip: the API takes {ratio('repeat', 'full'):.2f}× the "
            f"static peer on a repeat viewing and {ratio('first look', 'full'):.2f}× on a first "
            "look (its audit record is written, hash-chained and synced, before the first byte).",
            f"- Seeking (a Range request into the middle): {ratio('repeat', 'range'):.2f}× the "
            f"peer for the owner, {ratio('family', 'range'):.2f}× for a family viewer (their "
            "grant is looked up on every request).",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args()
    pages, clips, size = measure()
    section = render(pages, clips, size)
    write_section(args.output, HEADING, section)
    print(section)


if __name__ == "__main__":
    main()
