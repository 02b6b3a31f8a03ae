"""``privacy.bench`` sums faces, leaks and withheld frames per scene type, on a tiny annotated
set made by the test from scikit-image's astronaut (no network, no ../shared)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from skimage import data

from firmware.videofile import write_video
from privacy.bench import UNLABELLED, format_table, run_bench
from privacy.build import build_stage
from privacy.config import PrivacyConfig
from testkit.media import scene_background

pytestmark = pytest.mark.slow

FACE = (176, 70, 97, 106)  # the astronaut's face in the 512x512 image (faces-dev annotation)


def _annotated_set(root: Path) -> None:
    portrait = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(root / "portrait.png"), portrait)
    (root / "portrait.json").write_text(
        json.dumps(
            {
                "media": "portrait.png",
                "width": 512,
                "height": 512,
                "fps": None,
                "scene": "home",
                "frames": {"0": [{"box": list(FACE), "flags": []}]},
            }
        )
    )
    # a clip without "scene" (like faces-dev): an empty room, then the head walks in
    head = portrait[20:300, 120:330]
    frames, boxes = [], {}
    for i in range(6):
        img = scene_background(320, 320)
        if i >= 2:
            img[20:300, 40:250] = head
            boxes[str(i)] = [{"box": [FACE[0] - 80, FACE[1], FACE[2], FACE[3]], "flags": []}]
        frames.append(img)
    write_video(root / "room.mp4", frames, 15)
    annotation = {"media": "room.mp4", "width": 320, "height": 320, "fps": 15.0}
    annotation["frames"] = {str(i): boxes.get(str(i), []) for i in range(6)}
    (root / "room.json").write_text(json.dumps(annotation))


def test_per_scene_figures(tmp_path: Path) -> None:
    _annotated_set(tmp_path)
    result = run_bench(tmp_path, lambda: build_stage(PrivacyConfig()))

    scenes = result["per_scene"]
    assert set(scenes) == {"home", UNLABELLED}
    by_clip = {c["clip"]: c for c in result["clips"]}
    assert by_clip["portrait"]["scene"] == "home"
    assert by_clip["room"]["scene"] == UNLABELLED
    for scene, clip in (("home", "portrait"), (UNLABELLED, "room")):
        c, s = by_clip[clip], scenes[scene]
        assert s["clips"] == 1
        assert (s["frames"], s["withheld_frames"]) == (c["frames"], c["withheld_frames"])
        assert s["faces"] == c["faces"]["all"] and s["leaked"] == c["leaked"].get("all", 0)
        assert s["withheld_ratio"] == pytest.approx(c["withheld_frames"] / c["frames"])
    assert (scenes["home"]["faces"], scenes[UNLABELLED]["faces"]) == (1, 4)
    # the existing keys stay, and the totals still add up over the scenes
    assert set(result) >= {"clips", "per_flag", "total"}
    assert result["total"]["faces"] == sum(s["faces"] for s in scenes.values())
    assert result["total"]["withheld_frames"] == sum(s["withheld_frames"] for s in scenes.values())

    table = format_table(result)
    assert "| scene | clips | frames | withheld frames | withheld | faces | leaked |" in table
    home = scenes["home"]
    assert (
        f"| home | 1 | 1 | {home['withheld_frames']} | {home['withheld_ratio']:.0%} | 1 | "
        f"{home['leaked']} |" in table
    )
    assert f"| {UNLABELLED} | 1 | 6 |" in table
