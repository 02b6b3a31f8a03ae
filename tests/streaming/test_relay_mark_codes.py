"""The pure parts of the relay's rotating group marks: the schedule (``whip_frontend.mark_group``
and ``MarkSchedule``), the block code (``markcode``) and the trace (``trace.trace``). The real
Janus, marker and front-end are in ``test_relay_marks.py``."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from types import SimpleNamespace

import av
import cv2
import numpy as np
import pytest

from testkit.relay import deploy_module

markcode = deploy_module("markcode")
frontend = deploy_module("whip_frontend")
janusapi = deploy_module("janusapi")
tracer = deploy_module("trace")
NOW = 1_796_655_150


# -- the schedule ------------------------------------------------------------------------------


@pytest.mark.parametrize("groups", [2, 3, 5, 6, 7])
def test_two_consecutive_periods_name_exactly_one_place(groups: int) -> None:
    for period in (0, 1, 17, 898_327_836):
        pairs = [
            (frontend.mark_group(i, period, groups), frontend.mark_group(i, period + 1, groups))
            for i in range(groups**2)
        ]
        assert len(set(pairs)) == groups**2


@pytest.mark.parametrize("groups", [5, 7])
def test_with_a_prime_number_of_groups_any_two_periods_do(groups: int) -> None:
    for p, q in itertools.combinations(range(2 * groups), 2):
        if (q - p) % groups == 0:
            continue
        pairs = {
            (frontend.mark_group(i, p, groups), frontend.mark_group(i, q, groups))
            for i in range(groups**2)
        }
        assert len(pairs) == groups**2, (p, q)


def test_with_six_groups_periods_two_apart_do_not() -> None:
    """The documented limit: G = 6 is not prime, so periods p and p + 2 leave pairs shared."""
    pairs = {(frontend.mark_group(i, 0, 6), frontend.mark_group(i, 2, 6)) for i in range(36)}
    assert len(pairs) < 36


def test_the_first_places_are_in_different_groups_and_move_every_period() -> None:
    for period in range(10):
        groups = [frontend.mark_group(i, period, 7) for i in range(7)]
        assert sorted(groups) == list(range(7))
        assert all(g != frontend.mark_group(i, period + 1, 7) for i, g in enumerate(groups))


def test_the_schedule_gives_the_lowest_free_place_and_appends_its_record(tmp_path: Path) -> None:
    log = tmp_path / "marks.jsonl"
    schedule = frontend.MarkSchedule(3, 60, log)
    assert schedule.place(set()) == 0
    assert schedule.place({0, 2}) == 1
    assert schedule.place(set(range(9))) is None  # all G² places taken: refused
    ticket = SimpleNamespace(jti="j1", sub="s1", mark="viewer v1", iss="dev")
    group = schedule.record("join", "kg-a", 10, 4, ticket)
    schedule.record("rotate", "kg-a", 11, 4, ticket)
    schedule.close()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["event"], e["period"], e["place"]) for e in lines] == [
        ("join", 10, 4),
        ("rotate", 11, 4),
    ]
    assert lines[0]["group"] == group == frontend.mark_group(4, 10, 3)
    assert lines[0]["mark"] == "viewer v1" and lines[0]["period_s"] == 60


@pytest.mark.parametrize(("groups", "period"), [(0, 60), (8, 60), (6, 0.5)])
def test_a_bad_schedule_is_refused(tmp_path: Path, groups: int, period: float) -> None:
    with pytest.raises(ValueError, match="--mark"):
        frontend.MarkSchedule(groups, period, tmp_path / "marks.jsonl")
    assert not (tmp_path / "marks.jsonl").exists()


def test_a_copys_name_says_its_group_the_markers_groups_and_its_source() -> None:
    name = janusapi.mark_display(4, 7, "1234567")
    copy = janusapi.read_mark_display(name)
    assert (copy.group, copy.groups, copy.source) == (4, 7, "1234567")
    # the camera and copies named before the marker said its groups are no copies of this kind
    for other in ("camera", "mark-4 of 1234567", "mark-x/7 of 1", "mark-1/7 of ", ""):
        assert janusapi.read_mark_display(other) is None, other


# -- the block code ----------------------------------------------------------------------------


def marked(group: int, when: int, width: int = 640, height: int = 480) -> np.ndarray:
    """A marked I420 frame of a textured picture (a gradient and noise)."""
    rng = np.random.default_rng(group)
    bgr = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    i420 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    return markcode.GroupMark(group, "kg-a")(i420, when)


def luma(i420: np.ndarray) -> np.ndarray:
    return i420[: i420.shape[0] * 2 // 3]


def test_a_code_reads_back_what_was_drawn() -> None:
    code = markcode.read(luma(marked(5, NOW)))
    assert code == markcode.Code(5, markcode.room_tag("kg-a"), NOW)


def test_an_unmarked_picture_reads_nothing() -> None:
    rng = np.random.default_rng(0)
    assert markcode.read(rng.integers(0, 255, (480, 640), dtype=np.uint8)) is None
    assert markcode.read(np.full((480, 640), 128, np.uint8)) is None


def test_either_corner_is_enough_and_a_flipped_cell_is_caught() -> None:
    frame = luma(marked(3, NOW))
    (x, y), (bx, by) = markcode.block_origins(640, 480)
    covered = frame.copy()
    covered[: int(by) - 1] = 0  # everything above the bottom-right block, top-left block too
    assert markcode.read(covered) == markcode.Code(3, markcode.room_tag("kg-a"), NOW)
    cell = 640 / 64
    for origin in ((x, y), (bx, by)):  # one cell of the time flipped in both blocks
        cx, cy = round(origin[0] + 10 * cell + cell / 2), round(origin[1] + 3 * cell + cell / 2)
        frame[cy - 3 : cy + 3, cx - 3 : cx + 3] = 255 - frame[cy, cx]
    assert markcode.read(frame) is None


def test_a_code_survives_a_re_encode_and_a_rescale() -> None:
    frame = av.VideoFrame.from_ndarray(marked(6, NOW), format="yuv420p")
    for width, height in ((320, 240), (1280, 720)):
        scaled = frame.reformat(width=width, height=height, format="gray").to_ndarray()
        assert markcode.read(scaled) == markcode.Code(6, markcode.room_tag("kg-a"), NOW)


def test_the_mark_says_the_group_and_time_in_words() -> None:
    assert markcode.label(2, NOW) == "group 2 2026-12-07 14:52:30 UTC"


# -- the trace ---------------------------------------------------------------------------------


def schedule_log(groups: int, viewers: int, periods: range, period_s: float = 60) -> list[dict]:
    return [
        {
            "room": "kg-a",
            "period": p,
            "period_s": period_s,
            "group": frontend.mark_group(i, p, groups),
            "mark": f"viewer v{i}",
            "iss": "dev",
            "sub": f"s{i}",
            "jti": f"j{i}",
        }
        for p in periods
        for i in range(viewers)
    ]


def codes_of(groups: int, place: int, periods: list[int]) -> list[tuple[int, int, int]]:
    tag = markcode.room_tag("kg-a")
    return [
        (tag, frontend.mark_group(place, p, groups), p * 60 + s)
        for p in periods
        for s in range(0, 60, 5)
    ]


def test_the_trace_names_one_viewer_from_two_periods() -> None:
    log = schedule_log(7, 30, range(100, 110))
    result = tracer.trace(codes_of(7, 17, [103, 104]), log)
    assert [v["mark"] for v in result["named"]] == ["viewer v17"]
    assert result["named"][0]["subs"] == ["s17"]
    # one period: a group, not a viewer
    assert tracer.trace(codes_of(7, 17, [103]), log)["named"] == []
    # another room's codes name nobody here
    other = [(markcode.room_tag("kg-b"), g, t) for _, g, t in codes_of(7, 17, [103, 104])]
    assert tracer.trace(other, log)["periods"] == []


def test_frames_from_before_the_viewers_were_moved_do_not_count() -> None:
    """The front-end moves its marked viewers into a period's groups at its next check after
    the period starts; a recording that ends a few frames into a period shows, for those
    frames, the group of the period before (seen in a CI run: 3 such frames made a fifth
    period no viewer matched, and no one was named)."""
    groups, place = 3, 0
    log = schedule_log(groups, 4, range(100, 104))
    for p in range(101, 104):  # every viewer moved 0.4 s into the period
        log += [{**e, "event": "rotate", "t": p * 60 + 0.4} for e in log if e["period"] == p]
    tag = markcode.room_tag("kg-a")
    before = frontend.mark_group(place, 102, groups)
    late = [(tag, before, 103 * 60 + s) for s in (0, 0.1, 0.2, 0.3)]
    result = tracer.trace(codes_of(groups, place, [101, 102]) + late, log)
    assert [p["period"] for p in result["periods"]] == [101, 102]
    assert [v["mark"] for v in result["named"]] == [f"viewer v{place}"]
    # frames after the move count: the period is read, and still names the same viewer
    moved = [(tag, frontend.mark_group(place, 103, groups), 103 * 60 + s) for s in (1, 2, 3)]
    result = tracer.trace(codes_of(groups, place, [101, 102]) + late + moved, log)
    assert [p["period"] for p in result["periods"]] == [101, 102, 103]
    assert [v["mark"] for v in result["named"]] == [f"viewer v{place}"]


def test_a_splice_of_two_viewers_over_three_periods_never_names_a_third() -> None:
    groups, viewers = 7, 30
    log = schedule_log(groups, viewers, range(0, 8))
    for a, b in itertools.permutations(range(viewers), 2):
        spliced = codes_of(groups, a, [0, 2]) + codes_of(groups, b, [1])
        named = {v["mark"] for v in tracer.trace(spliced, log)["named"]}
        assert named <= {f"viewer v{a}", f"viewer v{b}"}, (a, b, named)
