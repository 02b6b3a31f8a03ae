"""The live privacy feed: idle unless the camera streams, a fresh stage per stream, and fail closed
(no stage → the stream stops; a stage that raises → the slate, then a rebuilt stage).

The stage is the real ``PrivacyStage``; its detector is scripted (``testkit.stage``, as in
test_privacy_stage) so that failures can be injected. The hub and the controller are replaced by
plain callables that record what the feed asks of them.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from camera_app.live.feed import ACTOR, LivePrivacyFeed
from privacy import RedactedFrame
from privacy.frame import WithholdReason
from privacy.models import ModelIntegrityError
from privacy.stage import PrivacyStage
from testkit.stage import FACE, always, face, scene_frame, scripted_stage, stage_config

CAM = "cam1"


class Harness:
    def __init__(self, build=None) -> None:
        self.live = False
        self.published: list[RedactedFrame] = []
        self.cleared = 0
        self.stops: list[tuple[str, str, str]] = []
        self.builds = 0
        self.closed = 0  # stages the feed closed
        self._build = build or (lambda: scripted_stage(always())[0])
        self.event = threading.Event()
        self.feed = LivePrivacyFeed(
            CAM,
            build_stage=self.build,
            publish=self.publish,
            clear=self.clear,
            is_live=lambda camera: camera == CAM and self.live,
            stop_stream=self.stop,
        )
        self.feed.start()

    def build(self) -> PrivacyStage:
        self.builds += 1
        stage = self._build()
        close = stage.close

        def counted_close() -> None:
            self.closed += 1
            close()

        stage.close = counted_close  # type: ignore[method-assign]
        return stage

    def wait(self, predicate, timeout: float = 5) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate() and time.monotonic() < deadline:
            time.sleep(0.01)
        return predicate()

    def publish(self, camera: str, frame: RedactedFrame) -> None:
        assert camera == CAM
        self.published.append(frame)
        self.event.set()

    def clear(self, camera: str) -> None:
        self.cleared += 1

    def stop(self, camera: str, actor: str, reason: str) -> bool:
        self.stops.append((camera, actor, reason))
        self.live = False
        self.feed.stream_stopped(camera, reason)
        self.event.set()
        return True

    def offer_until(self, count: int, start: int = 0, timeout: float = 10) -> int:
        """Offer frames at 30 fps until ``count`` were published (or the stream stopped)."""
        i = start
        deadline = time.monotonic() + timeout
        while len(self.published) < count and not self.stops and time.monotonic() < deadline:
            self.feed.offer(scene_frame(i))
            i += 1
            time.sleep(1 / 30)
        return i


@pytest.fixture
def harness():
    made: list[Harness] = []

    def make(**kw) -> Harness:
        made.append(Harness(**kw))
        return made[-1]

    yield make
    for h in made:
        h.feed.close()


def test_idle_while_the_camera_does_not_stream(harness) -> None:
    h = harness()
    for i in range(20):
        h.feed.offer(scene_frame(i))
    time.sleep(0.2)
    assert h.builds == 0 and h.published == [] and h.feed.stats.offered == 0


def test_streams_redacted_frames_with_a_fresh_stage_per_stream(harness) -> None:
    h = harness()
    h.live = True
    i = h.offer_until(5)
    assert len(h.published) >= 5 and h.builds == 1
    assert all(isinstance(f, RedactedFrame) for f in h.published)
    assert any(f.streamed for f in h.published)  # past warm-up: the scene is vouched for
    h.live = False
    h.feed.stream_stopped(CAM, "owner stopped")
    assert h.cleared == 1
    # the stage (models, detection thread) is freed when the stream stops, not at the next one
    assert h.wait(lambda: h.closed == 1)
    before = len(h.published)
    for j in range(i, i + 10):
        h.feed.offer(scene_frame(j))
    time.sleep(0.2)
    assert len(h.published) == before, "frames were published after the stream stopped"
    h.live = True
    h.offer_until(before + 3, start=i + 10)
    assert h.builds == 2, "the next stream reused the old stage (and its tracks)"
    # nothing offered while the camera was not streaming came out of the new stream
    assert h.published[before].sequence >= i + 10


def test_a_stage_that_cannot_be_built_stops_the_stream(harness) -> None:
    def broken() -> PrivacyStage:
        raise ModelIntegrityError("blazeface_full_range: sha256 mismatch")

    h = harness(build=broken)
    h.live = True
    h.offer_until(1)
    assert h.event.wait(5)
    assert h.stops and h.stops[0][:2] == (CAM, ACTOR)
    assert "privacy stage unavailable" in h.stops[0][2] and "sha256" in h.stops[0][2]
    assert h.published == []


def test_a_stage_that_raises_sends_the_slate_and_is_rebuilt(harness) -> None:
    calls = {"n": 0}

    def flaky() -> PrivacyStage:
        stage = scripted_stage(always())[0]
        push = stage.push

        def push_once_failing(frame):
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("bug in a tracker")
            return push(frame)

        stage.push = push_once_failing  # type: ignore[method-assign]
        return stage

    h = harness(build=flaky)
    h.live = True
    h.offer_until(6)
    failed = [f for f in h.published if f.reason == WithholdReason.DETECTOR_ERROR]
    assert len(failed) == 1 and not failed[0].streamed
    assert h.feed.stats.failures == 1
    assert h.builds == 2 and not h.stops
    assert h.closed == 1  # the failed stage was freed


def test_a_stage_rebuilt_after_a_failure_withholds_until_it_has_state(harness) -> None:
    """The rebuild case: the stage raises while a face is covered, and the rebuilt stage's
    detector misses that face on its first frames (no tracker memory, no hysteresis yet). No
    frame may stream with the face uncovered: the rebuilt stage withholds for
    max(release_frames, memory_frames) frames while it detects and tracks."""
    builds = {"n": 0}
    misses = 5  # the rebuilt stage's detector misses the face on its first calls

    def build() -> PrivacyStage:
        builds["n"] += 1
        if builds["n"] == 1:
            stage = scripted_stage(always(face()))[0]
            push = stage.push
            seen = {"n": 0}

            def failing_on_the_fourth(frame):
                seen["n"] += 1
                if seen["n"] == 4:
                    raise RuntimeError("bug in a tracker")
                return push(frame)

            stage.push = failing_on_the_fourth  # type: ignore[method-assign]
            return stage
        return scripted_stage(lambda n: [] if n < misses else [face()])[0]

    h = harness(build=build)
    h.live = True
    memory = stage_config().memory_frames
    h.offer_until(3 + 1 + memory + 3)
    assert h.builds == 2 and h.feed.stats.failures == 1
    recovering = [f for f in h.published if f.reason == WithholdReason.RECOVERY]
    assert len(recovering) == memory
    x, y, w, hh = (int(v) for v in FACE)
    original = scene_frame(0).image[y : y + hh, x : x + w]
    streamed = [f for f in h.published if f.streamed]
    assert len(streamed) >= 3 + 3
    for f in streamed:
        assert not np.array_equal(f.image[y : y + hh, x : x + w], original), f.sequence
