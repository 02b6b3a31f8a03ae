"""Bulk onboarding: checking a class list, importing it, drawing the invite sheet.

Run with ``make bench`` (``python -m bench.onboarding --output docs/benchmarks.md``). In process,
on a real SQLite database (WAL, ``synchronous=FULL``, as on the device) in a temporary
directory. The in-run peer of the import is the same families invited one by one through
``ViewerStore.invite`` (each invitation and its audit record a commit of its own, as
``POST /api/viewers`` does): the ratio is what one transaction saves.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.monitoring import cpu_name, write_section
from camera_app.onboarding import MAX_ROWS, ClassList, import_class_list, read_class_list
from camera_app.onboarding.importer import end_of_day
from camera_app.onboarding.sheet import InviteCard, invite_link, render_invite_sheet
from firmware.clock import SystemClock
from firmware.db import open_database
from privacy.audit import AuditLog
from privacy.gates.roles import Role
from privacy.gates.viewers import ViewerStore

HEADING = "## Bulk onboarding"
TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 16)
REPEATS = 5


def class_list_bytes(rows: int) -> bytes:
    """A GB18030 class list of ``rows`` families with Chinese labels, as Excel saves it."""
    lines = ["家庭,用户名,教室,观看时段,截止日期,语言"]
    lines += [
        f"王小明{i}家,family.{i},向日葵,周一至周五 08:00-17:00,2027/7/15,中文" for i in range(rows)
    ]
    return ("\r\n".join(lines) + "\r\n").encode("gb18030")


def checked(data: bytes) -> ClassList:
    return read_class_list(
        data, rooms={"向日葵"}, schedules={}, taken=lambda _: False, today=TODAY, default_lang="zh"
    )


def median_time(run: Callable[[], object], repeats: int = REPEATS) -> float:
    """Median wall seconds of ``run``."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def fresh_store(workdir: Path, n: int) -> ViewerStore:
    conn = open_database(workdir / f"camera-{n}.db")
    clock = SystemClock()
    return ViewerStore(conn, clock, AuditLog(conn, clock))


def cards(n: int) -> list[InviteCard]:
    return [
        InviteCard(
            label=f"王小明{i}家",
            username=f"family.{i}",
            rooms=("向日葵",),
            hours="周一至周五 08:00–17:00",
            access_until=date(2027, 7, 15),
            join_by=date(2026, 11, 23),
            link=invite_link("https://kg-cam.example.com", f"{i:04d}AbCdEfGhIjKlMnOpQr"),
            code=f"{i:04d}AbCdEfGhIjKlMnOpQr",
            lang="zh" if i % 2 else "en",
        )
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args()

    data = class_list_bytes(MAX_ROWS)
    class_list = checked(data)
    assert class_list.ok, class_list.problems[:3]
    check_s = median_time(lambda: checked(data))

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        counter = iter(range(10_000))

        def batch() -> None:
            import_class_list(class_list, fresh_store(workdir, next(counter)), TZ, actor="bench")

        def one_by_one() -> None:
            store = fresh_store(workdir, next(counter))
            for f in class_list.families:
                store.invite(
                    f.username,
                    Role.PARENT,
                    cameras=[],
                    rooms=list(f.rooms),
                    schedule=f.schedule,
                    watermark=True,
                    expires_at=end_of_day(f.expires_on, TZ),
                    actor="bench",
                )

        import_s = median_time(batch)
        single_s = median_time(one_by_one)

    render_invite_sheet(cards(1), title="warm-up")  # font loading, once per process
    sheets = {
        n: median_time(lambda n=n: render_invite_sheet(cards(n), title="b"), 3)
        for n in (4, 40, MAX_ROWS)
    }
    size_kb = len(render_invite_sheet(cards(40), title="b")) / 1024

    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    rows = "\n".join(
        f"| invite sheet, {n} cards | {s:.2f} s | {1000 * s / n:.0f} ms per card |"
        for n, s in sheets.items()
    )
    table = "\n".join(
        [
            f"| check the list ({MAX_ROWS} rows: decode, parse, every cell) "
            f"| {1000 * check_s:.1f} ms | |",
            f"| import it: {MAX_ROWS} invitations + {MAX_ROWS + 1} audit records, one transaction "
            f"| {1000 * import_s:.0f} ms | |",
            f"| peer: the same {MAX_ROWS} invited one by one (`ViewerStore.invite`) "
            f"| {1000 * single_s:.0f} ms | {single_s / import_s:.1f}× the import |",
            rows,
        ]
    )
    section = f"""{HEADING}

`python -m bench.onboarding` ({stamp}; {cpu_name()}, Python {platform.python_version()}; one
process, a real SQLite database in a temporary directory). A class list of {MAX_ROWS} families
(the most one file may hold), GB18030 with Chinese labels; medians of {REPEATS} runs (sheets: 3).

| step | median | note |
|---|---|---|
{table}

A 40-card sheet is {size_kb:.0f} KB. Most of a sheet's time is the QR codes (segno picks the best
of eight masks per code), writing their squares (reportlab's pure-Python number formatting) and
laying out the CJK text. A Pi 4 core is roughly 4–6× slower: a class of 40 families takes about
10–15 s there (the API renders it on a worker thread; the event loop goes on serving).
"""
    write_section(args.output, HEADING, section)
    print(section)


if __name__ == "__main__":
    main()
