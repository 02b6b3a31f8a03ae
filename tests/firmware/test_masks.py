"""Static privacy masks: exact coverage, borders, caching, validation."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.frames import Frame
from firmware.masks import PrivacyMasker


def _image(width: int = 100, height: int = 80, value: int = 200) -> np.ndarray:
    return np.full((height, width, 3), value, dtype=np.uint8)


def test_rectangle_covers_exactly_its_pixels() -> None:
    image = _image()
    masker = PrivacyMasker([[(0.2, 0.25), (0.6, 0.25), (0.6, 0.5), (0.2, 0.5)]], color=(1, 2, 3))
    masker.apply(image)

    # Corners map to round(x * (w - 1)), round(y * (h - 1)), inclusive.
    x0, x1 = round(0.2 * 99), round(0.6 * 99)
    y0, y1 = round(0.25 * 79), round(0.5 * 79)
    expected = np.zeros((80, 100), dtype=bool)
    expected[y0 : y1 + 1, x0 : x1 + 1] = True

    painted = np.all(image == (1, 2, 3), axis=2)
    untouched = np.all(image == 200, axis=2)
    assert np.array_equal(painted, expected)
    assert np.array_equal(untouched, ~expected)
    assert tuple(image[5, 95]) == (200, 200, 200)


def test_triangle_inside_painted_far_outside_untouched() -> None:
    image = _image(200, 200)
    PrivacyMasker([[(0.1, 0.1), (0.9, 0.1), (0.1, 0.9)]], color=(0, 0, 255)).apply(image)
    assert tuple(image[40, 40]) == (0, 0, 255)
    assert tuple(image[180, 180]) == (200, 200, 200)


def test_full_frame_polygon_covers_every_pixel() -> None:
    for width, height in [(640, 480), (33, 17), (1, 1)]:
        image = _image(width, height)
        PrivacyMasker([[(0, 0), (1, 0), (1, 1), (0, 1)]]).apply(image)
        assert not image.any(), (width, height)


def test_strip_along_right_and_bottom_edges_reaches_last_pixel() -> None:
    image = _image(64, 48)
    masker = PrivacyMasker(
        [
            [(0.9, 0.0), (1.0, 0.0), (1.0, 1.0), (0.9, 1.0)],
            [(0.0, 0.95), (1.0, 0.95), (1.0, 1.0), (0.0, 1.0)],
        ],
        color=(9, 9, 9),
    )
    masker.apply(image)
    assert np.all(image[:, -1] == 9)
    assert np.all(image[-1, :] == 9)
    assert tuple(image[10, 10]) == (200, 200, 200)


def test_empty_masker_is_falsy_and_does_nothing() -> None:
    masker = PrivacyMasker([])
    image = _image()
    masker.apply(image)
    assert not masker
    assert len(masker) == 0
    assert np.all(image == 200)
    assert PrivacyMasker([[(0, 0), (1, 0), (0, 1)]])


def test_pixel_polygons_cached_per_frame_size() -> None:
    masker = PrivacyMasker([[(0, 0), (1, 0), (1, 1)]])
    first = masker.pixel_polygons(640, 480)
    assert masker.pixel_polygons(640, 480) is first
    other = masker.pixel_polygons(320, 240)
    assert other is not first
    assert other[0].reshape(-1, 2).max(axis=0).tolist() == [319, 239]


@pytest.mark.parametrize(
    "polygons",
    [
        [[(0, 0), (1, 1)]],
        [[(0, 0), (1.5, 0), (1, 1)]],
        [[(0, 0), (-0.1, 0), (1, 1)]],
        [[(0, 0), (float("nan"), 0), (1, 1)]],
    ],
)
def test_invalid_polygons_rejected(polygons: list[list[tuple[float, float]]]) -> None:
    with pytest.raises(ValueError, match="privacy mask 0"):
        PrivacyMasker(polygons)


def test_invalid_colour_rejected() -> None:
    with pytest.raises(ValueError, match="colour"):
        PrivacyMasker([[(0, 0), (1, 0), (1, 1)]], color=(0, 0, 300))


def test_applied_to_adds_masks_to_a_copy_and_keeps_the_old_ones() -> None:
    image = _image()
    PrivacyMasker([[(0, 0), (0.3, 0), (0.3, 1), (0, 1)]], color=(9, 9, 9)).apply(image)
    image.flags.writeable = False
    frame = Frame(image, 1.5, 7)
    right = PrivacyMasker([[(0.7, 0), (1, 0), (1, 1), (0.7, 1)]], color=(1, 2, 3))
    masked = right.applied_to(frame)
    assert (masked.timestamp, masked.sequence) == (1.5, 7)
    assert tuple(masked.image[40, 5]) == (9, 9, 9) and tuple(masked.image[40, 95]) == (1, 2, 3)
    assert tuple(masked.image[40, 50]) == (200, 200, 200)
    assert tuple(frame.image[40, 95]) == (200, 200, 200)  # the frame given is not changed
    assert not masked.image.flags.writeable
