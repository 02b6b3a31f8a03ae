"""Motion detector: blobs found, masks respected, light changes suppressed."""

from __future__ import annotations

import numpy as np

from firmware.configbase import NamedPolygon
from firmware.motion.config import MotionConfig
from firmware.motion.detector import MotionDetector
from testkit.media import scene_background

W, H = 640, 480


def _noisy(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(img.astype(np.int16) + rng.integers(-4, 5, img.shape), 0, 255).astype(np.uint8)


def _with_box(img: np.ndarray, x: int, y: int, w: int = 60, h: int = 100) -> np.ndarray:
    out = img.copy()
    out[y : y + h, x : x + w] = (240, 240, 240)
    return out


def _warm(detector: MotionDetector, bg: np.ndarray, rng: np.random.Generator, n: int = 10) -> None:
    for _ in range(n):
        assert not detector.process(_noisy(bg, rng)).motion


def test_static_noisy_scene_has_no_motion() -> None:
    rng = np.random.default_rng(1)
    bg = scene_background(W, H)
    detector = MotionDetector(MotionConfig(), [])
    first = detector.process(bg)
    assert first.warming_up and not first.motion
    for _ in range(50):
        assert not detector.process(_noisy(bg, rng)).motion


def test_moving_box_is_found_where_it_is() -> None:
    rng = np.random.default_rng(2)
    bg = scene_background(W, H)
    detector = MotionDetector(MotionConfig(), [])
    _warm(detector, bg, rng)
    result = detector.process(_noisy(_with_box(bg, 300, 200), rng))
    assert result.motion
    assert 0 < result.area < 0.2
    x, y, w, h = max(result.boxes, key=lambda b: b[2] * b[3])
    # the box found overlaps the drawn box (300..360, 200..300), in full-frame pixels
    assert x < 360 and x + w > 300 and y < 300 and y + h > 200


def test_blob_below_min_area_is_ignored() -> None:
    rng = np.random.default_rng(3)
    bg = scene_background(W, H)
    detector = MotionDetector(MotionConfig(min_area=0.05), [])
    _warm(detector, bg, rng)
    assert not detector.process(_noisy(_with_box(bg, 300, 200, 30, 30), rng)).motion


def test_motion_mask_hides_motion_but_not_outside_it() -> None:
    rng = np.random.default_rng(4)
    bg = scene_background(W, H)
    mask = NamedPolygon(name="tree", points=[(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)])
    detector = MotionDetector(MotionConfig(masks=[mask]), [mask.points])
    _warm(detector, bg, rng)
    assert not detector.process(_noisy(_with_box(bg, 100, 200), rng)).motion  # in the left half
    assert detector.process(_noisy(_with_box(bg, 450, 200), rng)).motion  # in the right half


def test_global_light_change_is_not_motion_and_background_relearns() -> None:
    rng = np.random.default_rng(5)
    bg = scene_background(W, H)
    detector = MotionDetector(MotionConfig(), [])
    _warm(detector, bg, rng)
    # the lights go off in a non-uniform way (an IR switch), most of the frame changes
    dark = (bg.astype(np.float32) * np.linspace(0.2, 0.6, W)[None, :, None]).astype(np.uint8)
    result = detector.process(_noisy(dark, rng))
    assert result.light_change and not result.motion
    for _ in range(5):
        assert not detector.process(_noisy(dark, rng)).motion


def test_uniform_brightness_shift_is_compensated() -> None:
    rng = np.random.default_rng(6)
    bg = scene_background(W, H)
    detector = MotionDetector(MotionConfig(), [])
    _warm(detector, bg, rng)
    brighter = np.clip(bg.astype(np.int16) + 40, 0, 255).astype(np.uint8)
    result = detector.process(_noisy(brighter, rng))
    assert not result.motion and not result.light_change


def test_resolution_change_restarts_the_model() -> None:
    rng = np.random.default_rng(7)
    detector = MotionDetector(MotionConfig(), [])
    _warm(detector, scene_background(W, H), rng)
    assert detector.process(scene_background(1280, 720)).warming_up


def test_ghost_of_something_present_at_start_is_absorbed() -> None:
    """A box in the first frame that then leaves must not leave motion behind for good."""
    rng = np.random.default_rng(8)
    bg = scene_background(W, H)
    detector = MotionDetector(MotionConfig(), [])
    detector.process(_noisy(_with_box(bg, 300, 200), rng))  # the background learns the box
    results = [detector.process(_noisy(bg, rng)) for _ in range(60)]
    assert results[0].motion  # where the box was now differs: a ghost
    assert not any(r.motion for r in results[-10:])  # … absorbed after a few seconds


def test_motion_masks_change_while_running_without_a_warm_up() -> None:
    rng = np.random.default_rng(6)
    bg = scene_background(W, H)
    detector = MotionDetector(MotionConfig(), [])
    _warm(detector, bg, rng)
    assert detector.process(_noisy(_with_box(bg, 100, 200), rng)).motion
    detector.process(_noisy(bg, rng))
    detector.set_masks([[(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]])
    hidden = detector.process(_noisy(_with_box(bg, 100, 200), rng))
    assert not hidden.motion and not hidden.warming_up
    assert detector.process(_noisy(_with_box(bg, 450, 200), rng)).motion
    detector.relearn()
    assert detector.process(_noisy(bg, rng)).warming_up
