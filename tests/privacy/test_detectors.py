"""Face detectors (privacy.detect) on real images: the astronaut portrait, blanks, noise, tiles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from privacy.detect import (
    BlazeFaceDetector,
    CenterFaceDetector,
    Detection,
    DetectorError,
    EnsembleDetector,
    FaceDetector,
    TiledDetector,
    nms,
)
from privacy.detect.tiled import tile_grid
from privacy.models import ModelIntegrityError, verified_model
from testkit.paths import MODELS

# The face in skimage.data.astronaut() (512x512), brow to chin and cheek to cheek: the box of
# ../shared/data/faces-dev/astronaut_portrait.json, checked by eye on an enlarged crop.
ASTRONAUT_FACE = (176.0, 70.0, 97.0, 106.0)


def model_path(name: str) -> Path:
    try:
        return verified_model(name, MODELS).path
    except ModelIntegrityError as exc:
        pytest.fail(
            f"{exc}\nthe detector tests need the provisioned models: run `make setup` or "
            "`.venv/bin/python -m privacy.models.provision --dest models`"
        )


@pytest.fixture(scope="module")
def short_range() -> Iterator[BlazeFaceDetector]:
    with BlazeFaceDetector(model_path("blazeface_short_range"), name="short") as det:
        yield det


@pytest.fixture(scope="module")
def full_range() -> Iterator[BlazeFaceDetector]:
    with BlazeFaceDetector(model_path("blazeface_full_range"), name="full") as det:
        yield det


@pytest.fixture(scope="module")
def centerface() -> CenterFaceDetector:
    return CenterFaceDetector(model_path("centerface"))


@pytest.fixture(scope="module")
def centerface_small() -> CenterFaceDetector:
    return CenterFaceDetector(model_path("centerface"), input_width=256)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def centre_inside(box: tuple[float, ...], outer: tuple[float, ...]) -> bool:
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return outer[0] <= cx <= outer[0] + outer[2] and outer[1] <= cy <= outer[1] + outer[3]


DETECTORS = ["short_range", "full_range", "centerface", "centerface_small"]


@pytest.mark.parametrize("fixture", DETECTORS)
def test_finds_the_astronaut_face(
    fixture: str, request: pytest.FixtureRequest, astronaut: np.ndarray
) -> None:
    detector: FaceDetector = request.getfixturevalue(fixture)
    assert isinstance(detector, FaceDetector)
    dets = detector.detect(astronaut)
    confident = [d for d in dets if d.score > 0.5]
    assert len(confident) == 1, confident
    face = confident[0]
    assert face.source == detector.name
    # the box fits the face: large overlap, centred on it, about the same size
    assert iou(face.box, ASTRONAUT_FACE) > 0.65, face
    assert centre_inside(face.box, ASTRONAUT_FACE)
    assert 0.75 < face.box[2] * face.box[3] / (97 * 106) < 1.35
    assert all(d.score >= detector.min_score for d in dets)  # type: ignore[attr-defined]


@pytest.mark.parametrize("fixture", DETECTORS)
def test_nothing_confident_on_blank_or_sensor_noise(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    detector: FaceDetector = request.getfixturevalue(fixture)
    frames = [np.full((480, 640, 3), v, np.uint8) for v in (0, 128, 255)]
    rng = np.random.default_rng(3)
    for sigma in (10, 20, 40):
        noise = rng.normal(128, sigma, (480, 640, 3))
        frames.append(np.clip(noise, 0, 255).astype(np.uint8))
    for frame in frames:
        assert [d for d in detector.detect(frame) if d.score > 0.5] == []


def test_centerface_boxes_follow_the_face_in_odd_sized_crops(
    centerface: CenterFaceDetector, astronaut: np.ndarray
) -> None:
    # a crop whose sides are not multiples of 32, face off-centre: boxes must move with it
    crop = astronaut[37:400, 101:450]
    (face,) = [d for d in centerface.detect(crop) if d.score > 0.5]
    shifted = (176.0 - 101, 70.0 - 37, 97.0, 106.0)
    assert iou(face.box, shifted) > 0.65


def test_downscaled_centerface_reports_frame_pixels(
    model_path_centerface: Path, astronaut: np.ndarray
) -> None:
    big = cv2.resize(astronaut, (1024, 1024), interpolation=cv2.INTER_LINEAR)
    det = CenterFaceDetector(model_path_centerface, input_width=320)
    (face,) = [d for d in det.detect(big) if d.score > 0.5]
    assert iou(face.box, tuple(2 * v for v in ASTRONAUT_FACE)) > 0.65


@pytest.fixture(scope="module")
def model_path_centerface() -> Path:
    return model_path("centerface")


def small_face_scene(astronaut: np.ndarray) -> tuple[np.ndarray, tuple[float, ...]]:
    """The astronaut at 1/4 size (a face about 24 px tall) on a 1024x768 grey canvas."""
    small = cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)
    canvas = np.full((768, 1024, 3), 128, np.uint8)
    x0, y0 = 600, 400
    canvas[y0 : y0 + 128, x0 : x0 + 128] = small
    fx, fy, fw, fh = (v / 4 for v in ASTRONAUT_FACE)
    return canvas, (x0 + fx, y0 + fy, fw, fh)


def test_tiles_find_a_small_face_the_whole_frame_misses(
    full_range: BlazeFaceDetector, astronaut: np.ndarray
) -> None:
    canvas, truth = small_face_scene(astronaut)
    assert [d for d in full_range.detect(canvas) if d.score > 0.5 and iou(d.box, truth) > 0] == []
    tiled = TiledDetector(full_range, grid=(4, 3), overlap=0.25)
    hits = [d for d in tiled.detect(canvas) if d.score > 0.5 and iou(d.box, truth) > 0.4]
    assert len(hits) == 1, tiled.detect(canvas)
    assert centre_inside(hits[0].box, truth)


def test_tiled_centerface_with_upscale(
    centerface: CenterFaceDetector, astronaut: np.ndarray
) -> None:
    canvas, truth = small_face_scene(astronaut)
    tiled = TiledDetector(centerface, grid=(2, 2), upscale=1.5, full_frame=False)
    hits = [d for d in tiled.detect(canvas) if d.score > 0.5]
    assert len(hits) == 1 and iou(hits[0].box, truth) > 0.5, hits


class FixedDetector:
    """Reports one box at a fixed place in whatever image it is given, and records the sizes."""

    name = "fixed"
    min_score = 0.1

    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []

    def detect(self, image: np.ndarray) -> list[Detection]:
        h, w = image.shape[:2]
        self.sizes.append((w, h))
        return [Detection((w * 0.5, h * 0.25, w * 0.1, h * 0.2), 0.9, self.name)]


def test_tile_boxes_map_back_to_frame_pixels() -> None:
    inner = FixedDetector()
    tiled = TiledDetector(inner, grid=(3, 2), overlap=0.2, upscale=2.0, full_frame=True)
    frame = np.zeros((480, 640, 3), np.uint8)
    dets = tiled.detect(frame)
    tiles = tile_grid(640, 480, 3, 2, 0.2)
    assert len(tiles) == 6
    assert inner.sizes[0] == (640, 480)
    # each tile was enlarged 2x before detection
    for (_, _, tw, th), size in zip(tiles, inner.sizes[1:], strict=True):
        assert size == (round(tw * 2), round(th * 2))
    expected = [(640 * 0.5, 480 * 0.25, 64.0, 96.0)]
    expected += [(x + w * 0.5, y + h * 0.25, w * 0.1, h * 0.2) for x, y, w, h in tiles]
    got = sorted(d.box for d in dets)
    want = sorted(expected)
    # the full-frame box and the tile boxes do not overlap much, so all survive
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert np.allclose(g, w, atol=1.0)


def test_tile_grid_covers_the_frame_with_overlap() -> None:
    for cols, rows in [(1, 1), (2, 2), (3, 2), (4, 3)]:
        tiles = tile_grid(1280, 720, cols, rows, 0.2)
        cover = np.zeros((720, 1280), bool)
        for x, y, w, h in tiles:
            cover[y : y + h, x : x + w] = True
        assert cover.all()
        if cols > 1:
            (x0, _, w0, _), (x1, _, _, _) = tiles[0], tiles[1]
            assert x0 + w0 - x1 == pytest.approx(0.2 * w0, abs=1)


def test_nms_keeps_the_best_and_drops_fragments() -> None:
    a = Detection((10, 10, 100, 100), 0.9, "a")
    b = Detection((15, 12, 100, 100), 0.6, "b")  # same face, weaker
    c = Detection((300, 300, 50, 50), 0.3, "c")  # another face
    frag = Detection((20, 20, 40, 40), 0.5, "frag")  # inside a
    outer = Detection((0, 0, 200, 200), 0.4, "outer")  # around a: never dropped by containment
    assert nms([b, c, a], iou=0.4) == [a, c]
    assert frag in nms([a, frag], iou=0.4)
    assert nms([a, frag], iou=0.4, contain=0.8) == [a]
    assert nms([a, outer], iou=0.4, contain=0.8) == [a, outer]
    assert nms([]) == []


def test_ensemble_merges_to_the_max_score(
    short_range: BlazeFaceDetector, centerface: CenterFaceDetector, astronaut: np.ndarray
) -> None:
    ensemble = EnsembleDetector([short_range, centerface])
    assert ensemble.name == "short+centerface"
    best = max(d.score for d in [*short_range.detect(astronaut), *centerface.detect(astronaut)])
    confident = [d for d in ensemble.detect(astronaut) if d.score > 0.5]
    assert len(confident) == 1
    assert confident[0].score == pytest.approx(best)


def test_bad_inputs_and_models_raise_detector_error(
    tmp_path: Path, short_range: BlazeFaceDetector, centerface: CenterFaceDetector
) -> None:
    for detector in (short_range, centerface):
        with pytest.raises(DetectorError):
            detector.detect(np.zeros((10, 10), np.uint8))
        with pytest.raises(DetectorError):
            detector.detect(np.zeros((10, 10, 3), np.float32))
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(DetectorError):
        BlazeFaceDetector(junk)
    with pytest.raises(DetectorError):
        CenterFaceDetector(junk)
    with pytest.raises(DetectorError):
        CenterFaceDetector(tmp_path / "absent.onnx")


def test_closed_blazeface_refuses_frames(astronaut: np.ndarray) -> None:
    det = BlazeFaceDetector(model_path("blazeface_short_range"))
    assert det.detect(astronaut)
    det.close()
    det.close()
    with pytest.raises(DetectorError, match="closed"):
        det.detect(astronaut)
