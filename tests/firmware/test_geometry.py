"""The box type and its helpers (firmware.geometry)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware.geometry import (
    Box,
    PixelBox,
    area,
    bounding,
    centre,
    centres_near,
    clip,
    covered_fraction,
    expand,
    grow,
    intersection,
    intersection_area,
    iou,
    nms,
    overlaps,
    polygon_area,
    polygon_is_simple,
    scale,
)

W, H = 640, 480

# Boxes in pixels, sub-pixel precise, at least 0.01 px large: smaller boxes far from the origin
# lose their size to rounding (x + w - x != w), which no pixel box ever does.
coordinate = st.floats(-1000, 3000, allow_nan=False)
size = st.floats(0.01, 2000, allow_nan=False)
boxes = st.tuples(coordinate, coordinate, size, size)
pixel_boxes = st.tuples(
    st.integers(-1000, 3000), st.integers(-1000, 3000), st.integers(0, 2000), st.integers(0, 2000)
)
frames = st.tuples(st.integers(1, 4000), st.integers(1, 4000))


def test_area() -> None:
    assert area((5.0, 5.0, 4.0, 2.5)) == 10.0
    assert area((5, 5, 0, 10)) == 0
    assert area((5, 5, -3, -4)) == 0  # a box with negative size has none


def test_centre() -> None:
    assert centre((10, 20, 30, 40)) == (25, 40)
    assert centre((0.0, 0.0, 1.0, 3.0)) == (0.5, 1.5)


def test_intersection() -> None:
    assert intersection((0, 0, 10, 10), (5, 5, 10, 10)) == (5, 5, 5, 5)
    assert intersection((0, 0, 10, 10), (2, 3, 4, 5)) == (2, 3, 4, 5)  # one inside the other
    assert intersection((0, 0, 10, 10), (20, 0, 5, 5)) is None  # apart
    assert intersection((0, 0, 10, 10), (10, 0, 5, 5)) is None  # touching edges
    assert intersection((0, 0, 10, 10), (5, 5, 0, 0)) is None  # zero area
    assert type(intersection((0, 0, 10, 10), (5, 5, 10, 10))[0]) is int  # type: ignore[index]


def test_intersection_area() -> None:
    assert intersection_area((0, 0, 10, 10), (5, 5, 10, 10)) == 25
    assert intersection_area((0, 0, 10, 10), (10, 0, 5, 5)) == 0
    assert intersection_area((0, 0, 10, 10), (50, 50, 5, 5)) == 0
    assert intersection_area((0, 0, 10, 10), (5, 5, 0, 3)) == 0
    assert intersection_area((0.0, 0.0, 1.0, 1.0), (0.5, 0.5, 1.0, 1.0)) == 0.25


def test_overlaps() -> None:
    assert overlaps((0, 0, 10, 10), (9, 9, 5, 5))
    assert not overlaps((0, 0, 10, 10), (10, 0, 5, 5))  # touching is not overlapping
    assert not overlaps((0, 0, 10, 10), (0, 20, 5, 5))


def test_bounding() -> None:
    assert bounding((0, 0, 10, 10), (20, 5, 5, 20)) == (0, 0, 25, 25)
    assert bounding((0, 0, 10, 10), (2, 2, 3, 3)) == (0, 0, 10, 10)


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (10, 0, 10, 10)) == 0.0  # touching
    assert iou((0, 0, 10, 10), (30, 30, 10, 10)) == 0.0  # apart
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0  # zero area, no division by zero


def test_covered_fraction() -> None:
    region = (0, 0, 10, 10)
    assert covered_fraction(region, []) == 0.0
    assert covered_fraction(region, [(0, 0, 10, 5)]) == 0.5
    # the largest single overlap counts, not the sum of them
    assert covered_fraction(region, [(0, 0, 10, 5), (0, 5, 10, 4)]) == 0.5
    assert covered_fraction(region, [(-5, -5, 30, 30)]) == 1.0
    assert covered_fraction((3, 3, 0, 0), [(0, 0, 10, 10)]) == 0.0  # no area: nothing to cover


def test_centres_near() -> None:
    assert centres_near((0, 0, 10, 10), (9, 9, 10, 10))
    assert not centres_near((0, 0, 10, 10), (10, 0, 10, 10))  # exactly one size apart
    assert centres_near((0, 0, 10, 10), (10, 0, 20, 20))  # the larger box's size counts


def test_clip() -> None:
    assert clip((10.0, 20.0, 30.0, 40.0), W, H) == (10.0, 20.0, 30.0, 40.0)
    assert clip((-10.0, -5.0, 30.0, 40.0), W, H) == (0.0, 0.0, 20.0, 35.0)
    assert clip((620.0, 470.0, 30.0, 40.0), W, H) == (620.0, 470.0, 20.0, 10.0)
    assert clip((0.0, 0.0, float(W), float(H)), W, H) == (0.0, 0.0, W, H)  # the whole frame
    assert clip((float(W), 10.0, 5.0, 5.0), W, H) is None  # touching the right edge from outside
    assert clip((-5.0, 10.0, 5.0, 5.0), W, H) is None  # touching the left edge from outside
    assert clip((10.0, 10.0, 0.0, 5.0), W, H) is None  # zero width


def test_scale() -> None:
    assert scale((10.0, 10.0, 20.0, 40.0), 1.5) == (5.0, 0.0, 30.0, 60.0)
    assert scale((10.0, 10.0, 20.0, 40.0), 0.5) == (15.0, 20.0, 10.0, 20.0)
    assert centre(scale((3.0, 7.0, 2.0, 6.0), 3.0)) == centre((3.0, 7.0, 2.0, 6.0))


def test_expand() -> None:
    assert expand((100, 100, 20, 20), 10, 0) == (90, 90, 40, 40)
    assert expand((100, 100, 20, 20), 10, 160) == (30, 30, 160, 160)  # at least min_size
    assert expand((-50.5, 0, 10, 10), 0, 0) == (-50, 0, 10, 10)  # truncated, not clipped


def test_grow() -> None:
    assert grow((100, 100, 20, 20), 2.0, W, H) == (90, 90, 40, 40)
    assert grow((100, 100, 20, 20), 1.0, W, H, min_margin=8) == (92, 92, 36, 36)
    # reaching further up than down
    assert grow((100, 100, 20, 20), 2.0, W, H, up=0.6, down=0.5) == (90, 86, 40, 44)
    # sub-pixel edges round outwards
    assert grow((10.5, 10.5, 9.0, 9.0), 1.0, W, H) == (10, 10, 10, 10)
    # clipped at the frame's edges
    assert grow((0, 0, 20, 20), 2.0, W, H) == (0, 0, 30, 30)
    assert grow((630, 470, 10, 10), 2.0, W, H) == (625, 465, 15, 15)
    # a box outside the frame keeps no area
    assert grow((700, 10, 10, 10), 1.0, W, H)[2] == 0


def test_nms() -> None:
    a, b, c = (0, 0, 10, 10), (1, 1, 10, 10), (50, 50, 10, 10)
    assert nms([], [], 0.4) == []
    assert nms([a], [0.3], 0.4) == [0]
    assert nms([b, c, a], [0.8, 0.5, 0.9], 0.4) == [2, 1]  # highest score first
    assert nms([a, b], [0.5, 0.5], 0.4) == [0]  # equal scores: the first given wins
    frag, outer = (0, 0, 3, 10), (-10, -10, 30, 30)
    assert nms([a, frag], [0.9, 0.8], 0.4) == [0, 1]
    assert nms([a, frag], [0.9, 0.8], 0.4, contain=0.8) == [0]
    assert nms([a, outer], [0.9, 0.8], 0.4, contain=0.8) == [0, 1]  # never drops the larger box


@given(boxes, boxes)
def test_iou_is_symmetric_and_within_0_1(a: Box, b: Box) -> None:
    assert iou(a, b) == iou(b, a)
    # on sub-pixel boxes the corners are rounded: a box's IoU with itself may exceed 1 slightly
    assert 0.0 <= iou(a, b) <= 1.0 + 1e-6


@given(pixel_boxes, pixel_boxes)
def test_iou_of_pixel_boxes_is_exact(a: PixelBox, b: PixelBox) -> None:
    assert 0.0 <= iou(a, b) <= 1.0
    assert iou(a, b) == iou(b, a)
    assert iou(a, a) == (1.0 if area(a) > 0 else 0.0)


# Sub-pixel right and bottom edges are recomputed as x + w: they may land one rounding step
# beyond the edge they came from.
EDGE = 1e-9


@given(boxes, boxes)
def test_intersection_is_inside_both_and_agrees_with_its_area(a: Box, b: Box) -> None:
    common = intersection(a, b)
    assert (common is not None) == overlaps(a, b) == (intersection(b, a) is not None)
    if common is None:
        assert intersection_area(a, b) == 0
        return
    x, y, w, h = common
    assert w > 0 and h > 0
    assert area(common) == intersection_area(a, b)
    for bx, by, bw, bh in (a, b):
        assert bx <= x and by <= y
        assert x + w <= bx + bw + EDGE and y + h <= by + bh + EDGE


@given(boxes, frames)
def test_clip_stays_inside_the_frame(box: Box, frame: tuple[int, int]) -> None:
    width, height = frame
    clipped = clip(box, width, height)
    if clipped is None:
        assert intersection_area(box, (0, 0, width, height)) == 0
        return
    x, y, w, h = clipped
    assert x >= 0 and y >= 0 and w > 0 and h > 0
    assert x + w <= width + EDGE and y + h <= height + EDGE
    assert clip(clipped, width, height) == pytest.approx(clipped)


@given(boxes, st.floats(0.5, 3.0), frames)
def test_grow_stays_inside_the_frame(box: Box, factor: float, frame: tuple[int, int]) -> None:
    width, height = frame
    x, y, w, h = grow(box, factor, width, height, min_margin=8, up=0.6, down=0.5)
    assert all(isinstance(v, int) for v in (x, y, w, h))
    assert x >= 0 and y >= 0 and w >= 0 and h >= 0
    if w > 0 and h > 0:  # a box outside the frame comes back without area, its corner anywhere
        assert x + w <= width and y + h <= height


@given(st.lists(st.tuples(boxes, st.floats(0, 1)), max_size=12), st.floats(0.1, 0.9))
def test_nms_keeps_the_best_and_no_two_kept_boxes_overlap_much(
    scored: list[tuple[Box, float]], threshold: float
) -> None:
    found = [b for b, _ in scored]
    scores = [s for _, s in scored]
    kept = nms(found, scores, threshold)
    assert len(set(kept)) == len(kept) and all(0 <= i < len(found) for i in kept)
    assert [scores[i] for i in kept] == sorted((scores[i] for i in kept), reverse=True)
    if found:
        assert scores[kept[0]] == max(scores)
    for n, i in enumerate(kept):
        for j in kept[n + 1 :]:
            assert iou(found[i], found[j]) < threshold + 1e-6


def test_polygon_area_and_simplicity() -> None:
    square = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    assert polygon_area(square) == 1.0
    assert polygon_area(list(reversed(square))) == 1.0  # either winding
    assert polygon_area([(0, 0), (0.5, 0.5), (1, 1)]) == 0.0  # on one line
    assert polygon_is_simple(square)
    assert polygon_is_simple([(0, 0), (1, 0), (0.5, 1)])
    assert not polygon_is_simple([(0, 0), (1, 1), (1, 0), (0, 1)])  # a figure eight
    # a corner touching a non-neighbouring edge
    assert not polygon_is_simple([(0, 0), (2, 0), (2, 2), (1, 0), (0, 2)])
