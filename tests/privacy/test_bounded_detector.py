"""A photo is searched in tiles of bounded size (memory follows the tile, not the photo), at full
resolution for its small faces and once shrunk as a whole for its big ones; camera frames go to
the detector unchanged. The inner detector here records what it is given and finds a "face"
wherever a marker colour is, so the mapping of boxes back to the photo is checked exactly."""

from __future__ import annotations

import numpy as np
import pytest

from privacy.detect.base import Detection, DetectorError
from privacy.detect.tiled import BoundedDetector


class MarkerFinder:
    """Finds the pure-red square in an image (its bounding box), like a face detector would."""

    name = "marker"

    def __init__(self) -> None:
        self.shapes: list[tuple[int, int]] = []

    def detect(self, image: np.ndarray) -> list[Detection]:
        self.shapes.append(image.shape[:2])
        ys, xs = np.nonzero((image[:, :, 2] > 200) & (image[:, :, 0] < 50))
        if ys.size == 0:
            return []
        box = (float(xs.min()), float(ys.min()), float(np.ptp(xs) + 1), float(np.ptp(ys) + 1))
        return [Detection(box, 0.9, self.name)]


def _photo(width: int, height: int, marker: tuple[int, int, int]) -> np.ndarray:
    image = np.full((height, width, 3), 90, np.uint8)
    x, y, size = marker
    image[y : y + size, x : x + size] = (0, 0, 255)
    return image


def test_a_camera_frame_goes_through_whole() -> None:
    inner = MarkerFinder()
    found = BoundedDetector(inner).detect(_photo(1280, 720, (600, 300, 20)))
    assert inner.shapes == [(720, 1280)]
    assert [d.box for d in found] == [(600.0, 300.0, 20.0, 20.0)]


@pytest.mark.parametrize("marker", [(1700, 1200, 16), (300, 200, 600)])
def test_a_photo_is_searched_in_bounded_tiles_and_boxes_map_back(
    marker: tuple[int, int, int],
) -> None:
    """A small face (16 px) is found at full resolution in a tile; a big one (600 px, wider
    than the tiles overlap) in the shrunk whole. Either way its box is where it is."""
    inner = MarkerFinder()
    detector = BoundedDetector(inner, tile_pixels=800 * 600)
    found = detector.detect(_photo(2000, 1500, marker))
    assert len(inner.shapes) > 1 and all(h * w <= 800 * 600 for h, w in inner.shapes)
    x, y, size = marker
    best = max(found, key=lambda d: d.box[2])
    bx, by, bw, bh = best.box
    assert abs(bx - x) <= 3 and abs(by - y) <= 3
    assert abs(bw - size) <= 4 and abs(bh - size) <= 4


def test_bad_input_and_settings_are_refused() -> None:
    with pytest.raises(DetectorError):
        BoundedDetector(MarkerFinder()).detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="tile_pixels"):
        BoundedDetector(MarkerFinder(), max_pixels=1000, tile_pixels=5000)
