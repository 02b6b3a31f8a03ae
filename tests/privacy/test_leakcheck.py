"""Our pixel leak judge gives the verdicts the reference judge documents for the same edits."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from privacy.leakcheck import crop, leak_score

FACE = (176, 70, 97, 106)


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    image = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    patch = crop(image, FACE)
    assert patch is not None
    return patch


def _pixelate(img: np.ndarray, blocks: int) -> np.ndarray:
    h, w = img.shape[:2]
    small = cv2.resize(img, (blocks, blocks), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


@pytest.mark.parametrize(
    ("edit", "leaked"),
    [
        (lambda f: f.copy(), True),
        (lambda f: np.clip(f.astype(int) + 20, 0, 255).astype(np.uint8), True),  # brighter
        (lambda f: cv2.GaussianBlur(f, (0, 0), max(f.shape) / 40), True),  # mild blur
        (lambda f: cv2.GaussianBlur(f, (0, 0), max(f.shape) / 8), False),  # strong blur
        (lambda f: np.full_like(f, 128), False),  # flat fill
        (lambda f: _pixelate(f, 4), False),  # our pixelate: 4 blocks across
    ],
)
def test_verdicts(face: np.ndarray, edit, leaked: bool) -> None:
    assert leak_score(face, edit(face)).leaked is leaked


def test_crop_clips_to_the_image() -> None:
    image = np.zeros((10, 10, 3), np.uint8)
    assert crop(image, (8, 8, 5, 5)).shape == (2, 2, 3)
    assert crop(image, (20, 20, 5, 5)) is None
