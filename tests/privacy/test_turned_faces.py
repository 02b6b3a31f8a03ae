"""A turned face is redacted as a head: detectors box the face, and on a face in profile the
ear, cheek and hair behind it lie outside that box. Detectors report how far the nose sits from
the box centre (``Detection.turn``); the stage widens the box over the back of the head.
"""

from __future__ import annotations

import json
import statistics

import av
import cv2
import numpy as np
import pytest
from skimage import data

from firmware.geometry import iou
from privacy.detect import BlazeFaceDetector, CenterFaceDetector
from privacy.detect.base import Detection
from privacy.models import verified_model
from testkit.paths import MODELS, SHARED
from testkit.stage import scene_frame, scripted_stage

FACES_DEV = SHARED / "data" / "faces-dev"


def test_a_frontal_face_keeps_its_box() -> None:
    box = (100.0, 50.0, 30.0, 40.0)
    assert Detection(box, 0.9, "x").head() == box
    assert Detection(box, 0.9, "x", turn=0.1).head() == box


@pytest.mark.parametrize("turn", [-0.4, -0.25, 0.25, 0.4, 0.6])
def test_a_turned_face_reaches_back_away_from_the_nose(turn: float) -> None:
    x, y, w, h = 100.0, 50.0, 30.0, 40.0
    hx, hy, hw, hh = Detection((x, y, w, h), 0.9, "x", turn=turn).head()
    assert (hy, hh) == (y, h)
    assert w < hw <= w * 1.8 + 1e-9
    if turn < 0:  # nose on the left: looking left, the back of the head is on the right
        assert hx == x and hx + hw > x + w
    else:
        assert hx < x and hx + hw == x + w
    full = Detection((x, y, w, h), 0.9, "x", turn=0.4 if turn > 0 else -0.4).head()
    assert hw <= full[2]  # the reach grows with the turn, up to a profile's


def test_the_stage_redacts_the_back_of_a_turned_head() -> None:
    face = (300.0, 150.0, 40.0, 60.0)
    behind = (345.0, 160.0, 25.0, 40.0)  # right of the box: the ear and hair of a face looking left
    for turn, covered in ((0.0, False), (-0.4, True)):
        found = [Detection(face, 0.9, "scripted", turn)]
        stage, _ = scripted_stage(lambda _n, found=found: found)
        out = stage.process(scene_frame(0))
        assert out.streamed
        x, y, w, h = behind
        reached = any(
            rx <= x and ry <= y and rx + rw >= x + w and ry + rh >= y + h
            for rx, ry, rw, rh in out.regions
        )
        assert reached == covered, (turn, out.regions)
        stage.close()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.mark.parametrize("model", ["centerface", "blazeface_short_range"])
def test_detectors_report_a_frontal_face_as_frontal_and_mirror_its_turn(
    model: str, astronaut: np.ndarray
) -> None:
    path = verified_model(model, MODELS).path
    detector = CenterFaceDetector(path) if model == "centerface" else BlazeFaceDetector(path)
    (face,) = [d for d in detector.detect(astronaut) if d.score >= 0.5]
    (mirrored,) = [d for d in detector.detect(astronaut[:, ::-1].copy()) if d.score >= 0.5]
    assert abs(face.turn) < 0.1 and abs(mirrored.turn) < 0.1
    assert face.turn * mirrored.turn < 0  # slightly turned one way, and the other way mirrored


@pytest.mark.shared_data
@pytest.mark.skipif(not FACES_DEV.is_dir(), reason="../shared/data/faces-dev is not present")
def test_centerface_tells_profiles_from_frontal_faces_on_real_footage() -> None:
    """Faces annotated as profiles in a real crowd clip measure as turned, the others do not."""
    meta = json.loads((FACES_DEV / "opera_arcade.json").read_text())
    detector = CenterFaceDetector(verified_model("centerface", MODELS).path)
    turns: dict[bool, list[float]] = {True: [], False: []}
    with av.open(str(FACES_DEV / "opera_arcade.mp4")) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % 5 or i > 200:
                continue
            dets = [d for d in detector.detect(frame.to_ndarray(format="bgr24")) if d.score >= 0.5]
            for face in meta["frames"].get(str(i), []):
                match = max(dets, key=lambda d: iou(d.box, face["box"]), default=None)
                if match is not None and iou(match.box, face["box"]) > 0.3:
                    turns["profile" in face["flags"]].append(abs(match.turn))
    assert len(turns[True]) >= 8 and len(turns[False]) >= 5, turns
    profile, frontal = statistics.median(turns[True]), statistics.median(turns[False])
    assert profile > 0.2 > frontal, turns


def test_turn_survives_moving_and_scaling_the_box() -> None:
    """Tiles and crops map boxes back to the frame: the turn is relative to the box."""
    det = Detection((10.0, 10.0, 20.0, 20.0), 0.7, "x", turn=-0.3)
    assert det.moved((50.0, 60.0, 40.0, 40.0)).turn == -0.3
    assert det.scaled(2.0).turn == -0.3
