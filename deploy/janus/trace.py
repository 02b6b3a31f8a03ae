#!/usr/bin/env python3
"""Name the relay viewer a leaked recording came from: read the marker's group codes in it and
match them against the front-end's assignment log.

    python trace.py RECORDING --log /var/lib/camera-relay/marks.jsonl [--room ROOM] [--json]

Every frame of a marked viewer's stream carries a block code (``markcode.py``): the group of the
copy, the room's tag and the time. Per period of the schedule (its length is in the log) the
tool takes the group most of the frames show (leaving out those stamped before the log says the
viewers were moved into the period's groups), and then every viewer the log puts in that group
in that period, in every period read: with two periods or more that is one viewer
(``whip_frontend.mark_group``). It prints the periods read and the viewers that match all of
them (the device's ``mark`` label, the login session ``sub`` and the ticket ``jti`` s, which the
device's audit log ties to an account). Exit status 0 when two periods or more were read and
exactly one viewer matches them all, 1 otherwise (too short a recording, or one spliced from
several viewers'), 2 on bad input.

Limits (collusion): k viewers who splice their recordings period by period can make two periods
point at a third viewer. With G prime (or the periods consecutive) and k + 1 periods read or
more, they cannot: a viewer who matches every period agrees with one of them on two periods, so
is that one (two periods fix a viewer's place). Blending or averaging several viewers' frames,
or covering both corners, leaves no code to read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
from markcode import read, room_tag

MIN_FRAMES = 3  # a period's group needs at least this many frames that read


@dataclass(frozen=True)
class Viewer:
    room: str
    iss: str
    mark: str


def load_log(path: Path) -> list[dict[str, Any]]:
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            entry["room"], entry["period"], entry["group"], entry["period_s"]
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{path}:{number}: not an assignment record") from None
        entries.append(entry)
    return entries


def read_codes(recording: Path) -> list[tuple[int, int, int]]:
    """(room tag, group, time) of every frame whose code reads."""
    out = []
    with av.open(str(recording)) as container:
        for frame in container.decode(video=0):
            code = read(frame.to_ndarray(format="gray"))
            if code is not None:
                out.append((code.room_tag, code.group, code.time))
    return out


def trace(
    codes: list[tuple[int, int, int]], log: list[dict[str, Any]], room: str | None = None
) -> dict[str, Any]:
    """The periods the codes show and the viewers the log puts in those groups then."""
    rooms = {e["room"]: float(e["period_s"]) for e in log if room in (None, e["room"])}
    moved = _moved(log)
    votes: dict[tuple[str, int], Counter[int]] = defaultdict(Counter)
    for tag, group, when in codes:
        for name, period_s in rooms.items():
            key = (name, int(when // period_s))
            if room_tag(name) == tag and when >= moved.get(key, 0.0):
                votes[key][group] += 1
    periods: list[dict[str, Any]] = []
    for (name, period), counter in sorted(votes.items()):
        group, count = counter.most_common(1)[0]
        if count >= MIN_FRAMES:
            periods.append({"room": name, "period": period, "group": group, "frames": count})
    holders: dict[tuple[str, int, int], set[Viewer]] = defaultdict(set)
    tickets: dict[Viewer, set[tuple[str, str]]] = defaultdict(set)
    for e in log:
        viewer = Viewer(e["room"], str(e.get("iss")), str(e.get("mark")))
        holders[(e["room"], e["period"], e["group"])].add(viewer)
        tickets[viewer].add((str(e.get("sub")), str(e.get("jti"))))
    matched: Counter[Viewer] = Counter()
    for p in periods:
        matched.update(holders[(p["room"], p["period"], p["group"])])
    ranked = [
        {
            "room": v.room,
            "iss": v.iss,
            "mark": v.mark,
            "periods_matched": n,
            "subs": sorted({sub for sub, _ in tickets[v]}),
            "jtis": sorted({jti for _, jti in tickets[v]}),
        }
        for v, n in matched.most_common()
    ]
    # one period names a group, shared by up to G viewers: it takes two to name one
    named = [v for v in ranked if v["periods_matched"] == len(periods)] if len(periods) > 1 else []
    return {"periods": periods, "named": named, "candidates": ranked[:5]}


def _moved(log: list[dict[str, Any]]) -> dict[tuple[str, int], float]:
    """Per room and period, when the front-end had moved every marked viewer to their group of
    the period (its last ``rotate`` record). It moves them at its next check after the period
    starts, so a frame stamped before that may still be the previous period's group's copy:
    such frames are not counted (a recording that ends a few frames into a period would
    otherwise show a group its viewer was not in yet)."""
    moved: dict[tuple[str, int], float] = {}
    for e in log:
        if e.get("event") == "rotate" and isinstance(e.get("t"), int | float):
            key = (e["room"], e["period"])
            moved[key] = max(moved.get(key, 0.0), float(e["t"]))
    return moved


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recording", type=Path, help="a video file (anything FFmpeg reads)")
    parser.add_argument("--log", type=Path, required=True, help="the front-end's --mark-log")
    parser.add_argument("--room", help="only this room (camera)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    try:
        log = load_log(args.log)
        codes = read_codes(args.recording)
    except (OSError, ValueError, av.FFmpegError) as err:
        sys.stderr.write(f"trace: {err}\n")
        return 2
    result = trace(codes, log, args.room)
    if args.json:
        _say(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        _say(f"{len(codes)} frames with a code, {len(result['periods'])} periods read:")
        for p in result["periods"]:
            _say(f"  room {p['room']} period {p['period']}: group {p['group']} ({p['frames']})")
        if len(result["named"]) == 1:
            v = result["named"][0]
            _say(f"one viewer: {v['mark']} of {v['iss']} (login sessions {', '.join(v['subs'])})")
        else:
            _say(f"{len(result['named'])} viewers named (two periods or more needed); candidates:")
            for v in result["candidates"]:
                _say(f"  {v['mark']} of {v['iss']}: {v['periods_matched']} periods")
    return 0 if len(result["named"]) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
