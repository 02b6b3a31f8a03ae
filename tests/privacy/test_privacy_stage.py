"""The privacy stage with injected detectors: every withhold reason, frame memory, the slate.

The detectors here are scripted stand-ins (raise, sleep, return chosen scores; ``testkit.stage``)
so each gate decision can be provoked on purpose; the real models are tested in test_detectors.py.
"""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from privacy.config import DetectorSpec
from privacy.detect.base import Detection
from privacy.frame import FrameStatus, RedactedFrame, WithholdReason
from privacy.runner import FIRST_RUNS
from privacy.slate import privacy_hold_slate
from privacy.stage import PrivacyStage
from testkit.media import scene_background
from testkit.stage import (
    FACE,
    H,
    ScriptedDetector,
    W,
    always,
    face,
    scene_frame,
    scripted_stage,
    stage_config,
)


def _face_changed(out: RedactedFrame, original: np.ndarray) -> bool:
    x, y, w, h = (int(v) for v in FACE)
    return not np.array_equal(out.image[y : y + h, x : x + w], original[y : y + h, x : x + w])


def test_confident_face_is_redacted_and_the_rest_is_untouched() -> None:
    stage, _ = scripted_stage(always(face()))
    frame = scene_frame(0)
    out = stage.process(frame)
    assert out.status is FrameStatus.STREAMED and out.reason is None
    assert _face_changed(out, frame.image)
    (rx, ry, rw, rh) = out.regions[0]
    x, y, w, h = FACE
    assert rx <= x and ry <= y and rx + rw >= x + w and ry + rh >= y + h  # enlarged, covers all
    outside = np.ones((H, W), bool)
    outside[ry : ry + rh, rx : rx + rw] = False
    assert np.array_equal(out.image[outside], frame.image[outside])
    assert not out.image.flags.writeable
    assert out.models == {"scripted": "1"}


def test_detector_error_withholds_then_recovers() -> None:
    def script(n: int) -> list[Detection]:
        if n == 1:
            raise RuntimeError("model crashed")
        return [face()]

    stage, _ = scripted_stage(script, release_frames=2)
    statuses = [stage.process(scene_frame(i)) for i in range(5)]
    assert [s.reason for s in statuses] == [
        None,
        WithholdReason.DETECTOR_ERROR,
        WithholdReason.HYSTERESIS,
        WithholdReason.HYSTERESIS,
        None,
    ]
    assert stage.counts["withheld.detector_error"] == 1


def test_slow_detector_times_out_and_lags() -> None:
    slow = FIRST_RUNS + 1  # the first runs on a frame size plan the inference: not timed

    def script(n: int) -> list[Detection]:
        if n in (0, slow):
            time.sleep(0.3)
        return [face()]

    stage, detector = scripted_stage(script, deadline_ms=100)
    assert stage.process(scene_frame(0)).streamed  # a slow first run is start-up
    for i in range(1, slow):
        assert stage.process(scene_frame(i)).streamed
    assert stage.process(scene_frame(slow)).reason is WithholdReason.DETECTOR_TIMEOUT
    # the late run is still going: the next frame is not even submitted
    assert stage.process(scene_frame(slow + 1)).reason is WithholdReason.DETECTOR_LAG
    assert detector.calls == slow + 1
    time.sleep(0.4)
    assert stage.process(scene_frame(slow + 2)).streamed


def test_timeout_frame_never_shows_the_face() -> None:
    def script(n: int) -> list[Detection]:
        if n >= FIRST_RUNS:
            time.sleep(0.3)
        return [face()]

    stage, _ = scripted_stage(script, deadline_ms=50)
    for i in range(FIRST_RUNS):
        stage.process(scene_frame(i))
    out = stage.process(scene_frame(FIRST_RUNS))
    assert out.status is FrameStatus.WITHHELD
    assert np.array_equal(out.image, privacy_hold_slate(W, H))


def test_offline_stage_waits_for_a_slow_detector() -> None:
    """Offline (camera-app redact) a big photo takes what it takes: redacted, not withheld."""
    detector = ScriptedDetector(
        lambda n: time.sleep(0.2) or [face()]  # type: ignore[func-returns-value]
    )
    stage = PrivacyStage(
        stage_config(deadline_ms=50), [(detector, 1)], {"scripted": "1"}, offline=True
    )
    outs = [stage.process(scene_frame(i)) for i in range(FIRST_RUNS + 2)]
    assert all(o.streamed and o.regions for o in outs)


@pytest.mark.parametrize(
    ("action", "expected"), [("withhold", WithholdReason.UNCERTAIN_DETECTION), ("redact", None)]
)
def test_uncertain_detection(action: str, expected: WithholdReason | None) -> None:
    stage, _ = scripted_stage(always(face(score=0.4)), uncertain_action=action)
    frame = scene_frame(0)
    out = stage.process(frame)
    assert out.reason is expected
    if expected is None:
        assert _face_changed(out, frame.image)


def test_dark_and_covered_frames_are_withheld() -> None:
    stage, _ = scripted_stage(always())
    assert (
        stage.process(scene_frame(0, np.zeros((H, W, 3), np.uint8))).reason
        is WithholdReason.TOO_DARK
    )
    stage, _ = scripted_stage(always())
    grey = np.full((H, W, 3), 128, np.uint8)  # a hand or tape over the lens: no detail at all
    assert stage.process(scene_frame(0, grey)).reason is WithholdReason.TOO_BLURRED


def test_a_dim_room_is_searched_brightened_and_streamed() -> None:
    """A dim frame (mean grey 12) is not withheld: the detectors search a brightened copy, and
    the streamed picture keeps its own pixels outside the redaction."""
    seen: list[float] = []

    class Recording:
        name = "recording"

        def detect(self, image: np.ndarray) -> list[Detection]:
            seen.append(float(image.mean()))
            return [face()]

    dim = (scene_background(W, H).astype(np.float32) * 0.15).astype(np.uint8)
    stage = PrivacyStage(stage_config(), [(Recording(), 1)], {"recording": "1"})
    out = stage.process(scene_frame(0, dim))
    assert out.streamed and out.regions
    assert seen and seen[0] > 3 * dim.mean()
    assert np.array_equal(out.image[400:470, 10:200], dim[400:470, 10:200])


def test_scene_change_resets_tracks_and_searches_the_new_scene_with_every_detector() -> None:
    fast = ScriptedDetector(lambda n: [face()] if n == 0 else [], "fast")
    slow = ScriptedDetector(always(), "slow")
    config = stage_config(
        detectors=[
            DetectorSpec(model="blazeface_full_range"),
            DetectorSpec(model="centerface", every=3),
        ],
        memory_frames=3,
        sweep_frames=30,
    )
    stage = PrivacyStage(config, [(fast, 1), (slow, 3)], {})
    for i in range(4):  # a still picture: searched once, the face held by its unchanged pixels
        out = stage.process(scene_frame(i))
        assert out.streamed and out.regions
    assert fast.calls == 1  # the slow one searched the tiles of the rolling sweep
    slow_calls = slow.calls
    other = np.ascontiguousarray(255 - scene_background(W, H, seed=99))
    out = stage.process(scene_frame(4, other))
    # a cut: the old face is forgotten (its picture is gone), and although the slow detector
    # is not due (frame 4, every 3rd), it searches the new scene at once, which then streams
    assert out.streamed and out.regions == ()
    assert slow.calls == slow_calls + 1
    assert stage.counts["scene_change"] == 1


def test_frame_memory_keeps_a_missed_face_redacted() -> None:
    moving = [(300.0 + 6 * i, 150.0, 60.0, 80.0) for i in range(6)]

    def script(n: int) -> list[Detection]:
        return [] if n in (3, 4) else [face(box=moving[n])]

    stage, _ = scripted_stage(script)
    for i in range(6):
        frame = scene_frame(i)
        out = stage.process(frame)
        assert out.streamed
        x, y, w, h = (int(v) for v in moving[i])
        (rx, ry, rw, rh) = out.regions[0]
        # the predicted box still covers where the face now is, though it was not detected
        assert rx <= x and ry <= y and rx + rw >= x + w and ry + rh >= y + h, (i, out.regions)


def _restless(i: int) -> np.ndarray:
    """The scene, with the face's area different on every frame (someone there, moving)."""
    image = scene_background(W, H).copy()
    x, y, w, h = (int(v) for v in FACE)
    blocks = np.random.default_rng(100 + i).integers(0, 255, (h // 10, w // 10, 3), np.uint8)
    image[y : y + h, x : x + w] = cv2.resize(blocks, (w, h), interpolation=cv2.INTER_NEAREST)
    return image


def test_memory_ends_once_the_face_area_changes() -> None:
    stage, _ = scripted_stage(lambda n: [face()] if n == 0 else [], memory_frames=2)
    regions = [stage.process(scene_frame(i, _restless(i))).regions for i in range(5)]
    assert [bool(r) for r in regions] == [True, True, True, False, False]


def test_a_face_whose_pixels_do_not_change_stays_redacted() -> None:
    """A missed face whose picture is what it was when it was found is still there: it stays
    redacted past memory_frames, for as long as its pixels stay the same, and no longer."""
    stage, _ = scripted_stage(lambda n: [face()] if n == 0 else [], memory_frames=2)
    still = [stage.process(scene_frame(i)) for i in range(12)]
    assert all(o.streamed and o.regions for o in still)
    moved = [stage.process(scene_frame(i, _restless(i))).regions for i in range(12, 16)]
    assert [bool(r) for r in moved] == [True, True, False, False]


def test_faceless_person_near_is_withheld_far_is_redacted() -> None:
    bg = scene_background(W, H)
    rng = np.random.default_rng(5)
    clothes = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)

    def person(i: int, height: int) -> np.ndarray:
        """Empty scene for 4 frames, then a textured upright figure walks in."""
        img = bg.copy()
        if i >= 4:
            x, width = 60 + 25 * i, height // 3
            img[400 - height : 400, x : x + width] = clothes[:height, :width]
        return img

    for height, expected in ((300, WithholdReason.PERSON_WITHOUT_FACE), (100, None)):
        stage, _ = scripted_stage(always(), person_check=True)
        outs = [stage.process(scene_frame(i, person(i, height))) for i in range(8)]
        assert all(o.streamed for o in outs[:4])
        assert outs[-1].reason is expected, (height, [o.reason for o in outs])
        if expected is None:
            assert outs[-1].regions  # the head area was redacted


def test_redacted_frame_cannot_be_made_outside_the_gate() -> None:
    image = np.zeros((4, 4, 3), np.uint8)
    image.flags.writeable = False
    with pytest.raises(TypeError, match=r"only by privacy\.framegate\.FrameGate"):
        RedactedFrame(image, 0.0, 0, FrameStatus.STREAMED, None, ())
    out = scripted_stage(always())[0].process(scene_frame(0))
    with pytest.raises(AttributeError):
        out.status = FrameStatus.STREAMED  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        out.image[0, 0] = 0


def test_gate_refuses_to_stream_the_captured_array() -> None:
    stage, _ = scripted_stage(always())
    frame = scene_frame(0)
    with pytest.raises(ValueError, match="never the captured image"):
        stage.gate.stream(frame, frame.image, ())


def test_config_rejects_inconsistent_settings() -> None:
    with pytest.raises(ValueError, match=r"min_score 0\.6 must be lower than confident_score"):
        stage_config(
            detectors=[DetectorSpec(model="centerface", min_score=0.6)], confident_score=0.5
        )
    with pytest.raises(ValueError, match="memory_frames"):
        stage_config(detectors=[DetectorSpec(model="centerface", every=5)], memory_frames=2)


def test_latency_history_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("privacy.stage.LATENCY_WINDOW", 3)
    stage, _ = scripted_stage(always())
    for i in range(6):
        stage.process(scene_frame(i))
    assert len(stage.latencies_s) == 3


def test_close_frees_the_detectors_at_once_and_never_waits_for_a_hung_one() -> None:
    """Closing must free the native detectors explicitly (not leave them to the garbage
    collector, which can close them on an event loop thread and hang it), and must not wait
    for a detector that hangs: that one is closed on its own thread when it returns."""
    detector = ScriptedDetector(always())
    closed_on: list[str] = []
    record = lambda: closed_on.append(threading.current_thread().name)  # noqa: E731
    detector.close = record  # type: ignore[attr-defined]
    stage = PrivacyStage(stage_config(), [(detector, 1)], {"scripted": "1"})
    stage.process(scene_frame(0))
    stage.close()
    assert closed_on == [threading.current_thread().name]

    release = threading.Event()
    hung = ScriptedDetector(lambda n: release.wait(5) and [] if n == FIRST_RUNS else [])
    hung_closed: list[str] = []
    hung.close = lambda: hung_closed.append(threading.current_thread().name)  # type: ignore[attr-defined]
    stage = PrivacyStage(stage_config(deadline_ms=50), [(hung, 1)], {"scripted": "1"})
    for i in range(FIRST_RUNS + 1):
        stage.process(scene_frame(i))  # the last one times out: the run is still in flight
    started = time.monotonic()
    stage.close()
    assert time.monotonic() - started < 1 and hung_closed == []
    release.set()
    deadline = time.monotonic() + 5
    while not hung_closed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert hung_closed and hung_closed[0].startswith("face-detect")


def test_a_jump_of_half_the_picture_is_not_a_camera_shift() -> None:
    """A proposed shift wider than the thumbnail's margins is a cut, not a pan (it used to leave
    nothing to compare and warn "Mean of empty slice")."""
    import warnings

    import cv2

    from privacy.quality import SceneMonitor

    noise = np.random.default_rng(1).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    image = cv2.GaussianBlur(noise, (0, 0), 6)
    monitor = SceneMonitor()
    monitor.measure(image)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quality = monitor.measure(np.roll(image, 280, axis=1))
    assert quality.camera_shift == 0.0
