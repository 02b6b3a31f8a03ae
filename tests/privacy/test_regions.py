"""Crop planning for region detection between full-frame sweeps."""

from __future__ import annotations

from privacy.regions import plan_crops


def test_no_boxes_no_crops() -> None:
    assert plan_crops([], 640, 480) == []


def test_small_box_gets_a_minimum_crop_with_context() -> None:
    (crop,) = plan_crops([(300, 200, 10, 12)], 640, 480)
    x, y, w, h = crop
    assert w >= 160 and h >= 160
    assert x <= 300 and y <= 200 and x + w >= 310 and y + h >= 212


def test_overlapping_crops_merge_and_clip_to_the_frame() -> None:
    crops = plan_crops([(0, 0, 20, 20), (60, 10, 20, 20), (600, 440, 40, 40)], 640, 480)
    assert len(crops) == 2
    for x, y, w, h in crops:
        assert x >= 0 and y >= 0 and x + w <= 640 and y + h <= 480
    first = min(crops)
    assert first[0] == 0 and first[1] == 0 and first[2] >= 80  # both left boxes in one crop


def test_too_much_to_crop_means_full_frame() -> None:
    boxes = [(x, y, 100, 100) for x in range(0, 640, 120) for y in range(0, 480, 120)]
    assert plan_crops(boxes, 640, 480) is None
