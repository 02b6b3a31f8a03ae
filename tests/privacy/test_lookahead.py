"""The stage's lookahead: a frame leaves only after the frames after it were processed, and a
face found on those is redacted on it too (someone coming into view is often found a frame or
two after their face first shows). Scripted detectors (``testkit.stage``) decide what is found
on which frame; the real models are tested on real footage in test_faces_dev.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from firmware.geometry import PixelBox
from privacy.config import DetectorSpec
from privacy.detect.base import Detection
from privacy.frame import RedactedFrame, WithholdReason
from privacy.stage import PrivacyStage
from testkit.media import scene_background
from testkit.stage import FACE, H, ScriptedDetector, W, always, face, scene_frame, stage_config


def _covers(regions: tuple[PixelBox, ...], box: tuple[float, float, float, float]) -> bool:
    x, y, w, h = box
    return any(
        rx <= x and ry <= y and rx + rw >= x + w and ry + rh >= y + h for rx, ry, rw, rh in regions
    )


def _run(stage: PrivacyStage, frames: int) -> list[RedactedFrame]:
    outs = []
    for i in range(frames):
        out = stage.push(scene_frame(i))
        if out is not None:
            outs.append(out)
    return outs + stage.flush()


@pytest.mark.parametrize("lookahead", [1, 2])
def test_a_face_found_later_is_redacted_on_the_frames_before(lookahead: int) -> None:
    found_from = 5  # the detector first finds the face on frame 5 (it showed before)
    detector = ScriptedDetector(lambda n: [face()] if n >= found_from else [])
    stage = PrivacyStage(stage_config(), [(detector, 1)], {"scripted": "1"}, lookahead=lookahead)
    outs = _run(stage, 10)
    assert [o.sequence for o in outs] == list(range(10))  # every frame, in order
    covered = [o.streamed and _covers(o.regions, FACE) for o in outs]
    first = found_from - lookahead
    assert covered == [i >= first for i in range(10)], covered
    stage.close()


def test_frames_leave_after_the_lookahead_and_process_refuses_to_skip_it() -> None:
    stage = PrivacyStage(stage_config(), [(ScriptedDetector(always()), 1)], {}, lookahead=2)
    assert stage.push(scene_frame(0)) is None
    assert stage.push(scene_frame(1)) is None
    out = stage.push(scene_frame(2))
    assert out is not None and out.sequence == 0
    assert [o.sequence for o in stage.flush()] == [1, 2]
    assert stage.flush() == []
    with pytest.raises(RuntimeError, match="push"):
        stage.process(scene_frame(3))
    with pytest.raises(ValueError, match="lookahead"):
        PrivacyStage(stage_config(), [(ScriptedDetector(always()), 1)], {}, lookahead=-1)
    stage.close()


def test_faces_of_a_new_scene_do_not_reach_back_across_the_cut() -> None:
    other = np.ascontiguousarray(255 - scene_background(W, H, seed=99))
    detector = ScriptedDetector(always())
    stage = PrivacyStage(stage_config(), [(detector, 1)], {}, lookahead=2)
    outs = [stage.push(scene_frame(i)) for i in range(3)]
    detector._script = always(face())  # the new scene has a face; the old one had none
    outs += [stage.push(scene_frame(i, other)) for i in range(3, 6)]
    outs += stage.flush()
    before_cut = [o for o in outs if o is not None and o.sequence < 3]
    assert [o.sequence for o in before_cut] == [0, 1, 2]
    assert all(o.streamed and o.regions == () for o in before_cut)
    after_cut = [o for o in outs if o is not None and o.sequence >= 3]
    assert all(o.streamed and _covers(o.regions, FACE) for o in after_cut)
    stage.close()


def _walker(i: int) -> np.ndarray:
    """A big textured figure crossing the room: a third of the picture changes on every frame,
    so the stage searches in two steps (fast whole frame, then the thorough detector)."""
    image = scene_background(W, H).copy()
    rng = np.random.default_rng(7)
    figure = rng.integers(0, 255, (300, 200, 3), dtype=np.uint8)
    x = 20 + 30 * i
    image[100:400, x : x + 200] = figure
    return image


@pytest.mark.parametrize("shows_from", [6, 7])
def test_thorough_detector_rests_on_every_other_busy_frame_and_misses_nothing(
    shows_from: int,
) -> None:
    """Only the thorough detector can see the face (a small one); it searches a busy scene on
    every other frame, and the frame it skipped is covered by what it finds on the next."""
    frame_no = [0]
    box = (400.0, 40.0, 24.0, 30.0)

    def thorough(_n: int) -> list[Detection]:
        if frame_no[0] < shows_from:
            return []
        return [Detection(box, 0.9, "scripted")]

    fast = ScriptedDetector(always(), "fast")
    slow = ScriptedDetector(thorough, "slow")
    config = stage_config(
        detectors=[DetectorSpec(model="blazeface_full_range"), DetectorSpec(model="centerface")],
        sweep_frames=30,
    )
    stage = PrivacyStage(config, [(fast, 1), (slow, 1)], {}, lookahead=1)
    outs: list[RedactedFrame] = []
    for i in range(12):
        frame_no[0] = i
        out = stage.push(scene_frame(i, _walker(i)))
        if out is not None:
            outs.append(out)
    outs += stage.flush()
    assert stage.counts["thorough_rested"] >= 3
    assert [o.sequence for o in outs] == list(range(12))
    for o in outs[shows_from:]:
        assert o.streamed and _covers(o.regions, box), (o.sequence, o.regions)
    stage.close()


def test_a_near_person_whose_face_is_found_next_is_not_withheld() -> None:
    """A person walking in whose face the detectors find a frame late: without lookahead the
    frame before is withheld (a person with no face); with it, the face found next covers it."""
    bg = scene_background(W, H)
    clothes = np.random.default_rng(5).integers(0, 255, (H, W, 3), dtype=np.uint8)
    frame_no = [0]

    def person(i: int) -> np.ndarray:
        img = bg.copy()
        if i >= 4:
            x = 60 + 25 * i
            img[100:400, x : x + 100] = clothes[:300, :100]
        return img

    def head(_n: int) -> list[Detection]:
        i = frame_no[0]
        return [face(box=(60 + 25 * i + 20, 105.0, 60.0, 70.0))] if i >= 6 else []

    results = {}
    for lookahead in (0, 2):
        stage = PrivacyStage(
            stage_config(person_check=True),
            [(ScriptedDetector(head), 1)],
            {},
            lookahead=lookahead,
        )
        outs = []
        for i in range(9):
            frame_no[0] = i
            out = stage.push(scene_frame(i, person(i)))
            if out is not None:
                outs.append(out)
        outs += stage.flush()
        results[lookahead] = [o.reason for o in outs]
        stage.close()
    assert WithholdReason.PERSON_WITHOUT_FACE in results[0], results
    assert results[2] == [None] * 9, results
