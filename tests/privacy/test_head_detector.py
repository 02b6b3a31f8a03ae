"""The head detector (privacy.detect.head) on real images: a frontal portrait, a man seen from the
side, blanks and textures, bad input, and its pinned model."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from privacy.detect import Detection, DetectorError, FaceDetector, TiledDetector
from privacy.detect.head import NUM_ANCHORS, HeadDetector, anchor_centres
from privacy.models import ModelIntegrityError, get_model, verified_model
from testkit.paths import MODELS

# skimage.data.astronaut() (512x512): the face, brow to chin (faces-dev astronaut_portrait.json)
ASTRONAUT_FACE = (176.0, 70.0, 97.0, 106.0)
# skimage.data.camera() (512x512, scikit-image >= 0.19): a man in profile looking into a video
# camera; his head, hair to chin and back of the head to nose, read off the image by eye
CAMERAMAN_HEAD = (155.0, 62.0, 105.0, 140.0)


def model_path() -> Path:
    try:
        return verified_model("blazepose_detector", MODELS).path
    except ModelIntegrityError as exc:
        pytest.fail(
            f"{exc}\nthe detector tests need the provisioned models: run `make setup` or "
            "`.venv/bin/python -m privacy.models.provision --dest models`"
        )


@pytest.fixture(scope="module")
def heads() -> Iterator[HeadDetector]:
    with HeadDetector(model_path()) as detector:
        yield detector


def bgr(rgb_or_gray: np.ndarray) -> np.ndarray:
    if rgb_or_gray.ndim == 2:
        return cv2.cvtColor(rgb_or_gray, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(rgb_or_gray, cv2.COLOR_RGB2BGR)


def covered(inner: tuple[float, ...], outer: tuple[float, ...]) -> float:
    """The fraction of ``inner``'s area that lies inside ``outer``."""
    ix = max(0.0, min(inner[0] + inner[2], outer[0] + outer[2]) - max(inner[0], outer[0]))
    iy = max(0.0, min(inner[1] + inner[3], outer[1] + outer[3]) - max(inner[1], outer[1]))
    return ix * iy / (inner[2] * inner[3])


def confident(dets: list[Detection]) -> list[Detection]:
    return [d for d in dets if d.score >= 0.5]


def test_manifest_entry_verifies() -> None:
    info = verified_model("blazepose_detector", MODELS)
    assert hashlib.sha256(info.path.read_bytes()).hexdigest() == info.sha256
    assert info.license == "Apache-2.0"
    assert {(s.package, s.version) for s in info.sources} == {
        ("mediapipe", "0.10.21"),
        ("mediapipe", "0.10.18"),
    }
    assert get_model("blazepose_detector").file == "pose_detection.tflite"


def test_anchor_layout_matches_the_model() -> None:
    centres = anchor_centres()
    assert centres.shape == (NUM_ANCHORS, 2)
    assert centres.min() > 0 and centres.max() < 1
    # the first 28x28 grid (stride 8) comes first, two anchors per cell
    assert np.allclose(centres[0], centres[1]) and np.allclose(centres[0], (0.5 / 28, 0.5 / 28))


def test_finds_the_astronaut_head(heads: HeadDetector) -> None:
    assert isinstance(heads, FaceDetector)
    (head,) = confident(heads.detect(bgr(data.astronaut())))
    assert head.source == heads.name == "head:pose_detection"
    # the head box holds most of the face and is larger than it, but not the whole portrait
    assert covered(ASTRONAUT_FACE, head.box) > 0.7, head
    assert 1.2 < head.area / (97 * 106) < 4.5, head


def test_finds_the_head_of_a_man_seen_from_the_side(heads: HeadDetector) -> None:
    image = bgr(data.camera())
    found = heads.detect(image)  # a side view scores lower than a frontal one (0.57 here)
    assert len(found) == 1, found
    assert found[0].score > 0.4, found
    head = found[0]
    assert covered(CAMERAMAN_HEAD, head.scaled(1.6).box) > 0.5, head
    cx, cy = head.box[0] + head.box[2] / 2, head.box[1] + head.box[3] / 2
    x, y, w, h = CAMERAMAN_HEAD
    assert x - w / 2 < cx < x + 1.5 * w and y - h / 2 < cy < y + 1.5 * h, head


def test_boxes_are_in_frame_pixels_of_a_larger_frame(heads: HeadDetector) -> None:
    # the portrait pasted into the right half of a 1280x720 frame, scaled by 1.2
    portrait = cv2.resize(bgr(data.astronaut()), (614, 614), interpolation=cv2.INTER_LINEAR)
    frame = np.full((720, 1280, 3), 90, np.uint8)
    frame[50:664, 600:1214] = portrait
    (head,) = confident(heads.detect(frame))
    face = (600 + 1.2 * 176, 50 + 1.2 * 70, 1.2 * 97, 1.2 * 106)
    assert covered(face, head.box) > 0.7, head


def test_a_small_far_person_is_found_on_tiles(heads: HeadDetector) -> None:
    # the portrait shrunk so the face is about 30 px tall in a 640x480 frame
    small = cv2.resize(bgr(data.astronaut()), (150, 150), interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 120, np.uint8)
    frame[300:450, 420:570] = small
    scale = 150 / 512
    face = (420 + scale * 176, 300 + scale * 70, scale * 97, scale * 106)
    tiled = TiledDetector(heads, grid=(2, 2), overlap=0.3)
    found = [d for d in confident(tiled.detect(frame)) if covered(face, d.scaled(1.6).box) > 0.5]
    assert found, tiled.detect(frame)


def test_nothing_confident_on_blank_noise_or_texture(heads: HeadDetector) -> None:
    frames = [np.full((480, 640, 3), v, np.uint8) for v in (0, 128, 255)]
    rng = np.random.default_rng(5)
    frames.append(np.clip(rng.normal(128, 30, (480, 640, 3)), 0, 255).astype(np.uint8))
    for texture in (data.brick(), data.grass(), data.gravel()):
        frames.append(bgr(texture))
    for frame in frames:
        assert confident(heads.detect(frame)) == []
    assert heads.detect(np.zeros((480, 640, 3), np.uint8)) == []


def test_is_deterministic(heads: HeadDetector) -> None:
    image = bgr(data.camera())
    assert heads.detect(image) == heads.detect(image)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((480, 640, 3), np.float32),
        np.zeros((480, 640), np.uint8),
        np.zeros((480, 640, 4), np.uint8),
        np.zeros((0, 640, 3), np.uint8),
        [[0, 0, 0]],
    ],
)
def test_rejects_bad_input(heads: HeadDetector, bad: np.ndarray) -> None:
    with pytest.raises(DetectorError):
        heads.detect(bad)


def test_refuses_a_model_that_is_not_the_person_detector(tmp_path: Path) -> None:
    with pytest.raises(DetectorError, match="not the BlazePose person detector"):
        HeadDetector(verified_model("blazeface_short_range", MODELS).path)
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model")
    with pytest.raises(DetectorError):
        HeadDetector(junk)
    with pytest.raises(DetectorError):
        HeadDetector(tmp_path / "missing.tflite")


def test_closed_detector_refuses_frames() -> None:
    detector = HeadDetector(model_path())
    detector.close()
    detector.close()
    with pytest.raises(DetectorError, match="closed"):
        detector.detect(np.zeros((64, 64, 3), np.uint8))
