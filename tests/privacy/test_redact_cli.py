"""``camera-app redact`` end to end with the real models, on footage made by the test from
scikit-image's astronaut (a public-domain portrait shipped in the wheel)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from skimage import data

from firmware.videofile import write_video
from privacy.leakcheck import crop, leak_score
from privacy.models import default_models_dir
from privacy.slate import privacy_hold_slate
from testkit.media import scene_background
from testkit.service import camera_app_cmd

pytestmark = pytest.mark.slow

FACE = (176, 70, 97, 106)  # the astronaut's face in the 512x512 image (faces-dev annotation)
W, H, FPS = 640, 480, 15


def _astronaut() -> np.ndarray:
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def _moving_face_frames(n: int = 30) -> tuple[list[np.ndarray], list[tuple[int, int, int, int]]]:
    """The astronaut's head and shoulders walking across a textured room; returns the face box
    of every frame."""
    head = _astronaut()[20:300, 120:330]  # 280x210 crop around the face
    bg = scene_background(W, H)
    frames, boxes = [], []
    for i in range(n):
        img = bg.copy()
        x, y = 40 + 12 * i, 120
        img[y : y + head.shape[0], x : x + head.shape[1]] = head
        frames.append(img)
        boxes.append((x + FACE[0] - 120, y + FACE[1] - 20, FACE[2], FACE[3]))
    return frames, boxes


def _decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def _redact(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*camera_app_cmd(), "redact", "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_video_faces_are_redacted_frame_by_frame(tmp_path: Path) -> None:
    frames, boxes = _moving_face_frames()
    source, output, report_path = tmp_path / "in.mp4", tmp_path / "out.mp4", tmp_path / "r.json"
    write_video(source, frames, FPS)
    result = _redact("--input", str(source), "--output", str(output), "--report", str(report_path))
    assert result.returncode == 0, result.stderr

    frames = _decode(source)  # compare with the input as decoded, codec noise included
    report = json.loads(report_path.read_text())
    assert set(report) >= {"frames", "fps", "models"}
    assert report["fps"] > 0
    assert set(report["models"]) == {"blazeface_full_range", "centerface", "blazepose_detector"}
    out = _decode(output)
    assert len(out) == len(frames) == len(report["frames"])
    streamed = 0
    for i, (original, redacted, box, rec) in enumerate(
        zip(frames, out, boxes, report["frames"], strict=True)
    ):
        assert rec["index"] == i and rec["status"] in ("streamed", "withheld")
        if rec["status"] == "withheld":
            assert rec["reason"]
            # the slate, not the picture (allowing for the video codec)
            assert np.abs(redacted.astype(int) - privacy_hold_slate(W, H)).mean() < 4
            continue
        streamed += 1
        assert rec["reason"] is None and rec["regions"]
        score = leak_score(crop(original, box), crop(redacted, box))
        assert not score.leaked, (i, score)
        # away from the face the scene is intact (watchable, not blurred as a whole)
        assert np.abs(redacted[400:470, 10:200].astype(int) - original[400:470, 10:200]).mean() < 4
    assert streamed >= len(frames) * 0.8


def test_image_and_image_folder(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    astronaut = _astronaut()
    for name in ("a.png", "b.png", "c.jpg"):
        cv2.imwrite(str(folder / name), astronaut)
    (folder / "notes.txt").write_text("not an image")
    result = _redact("--input", str(folder), "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png", "c.jpg"]

    single = tmp_path / "one.png"
    report = tmp_path / "one.json"
    result = _redact(
        "--input", str(folder / "a.png"), "--output", str(single), "--report", str(report)
    )
    assert result.returncode == 0, result.stderr
    (frame,) = json.loads(report.read_text())["frames"]
    assert frame["status"] == "streamed"
    redacted = cv2.imread(str(single))
    assert not leak_score(crop(astronaut, FACE), crop(redacted, FACE)).leaked


@pytest.mark.parametrize(("width", "height"), [(641, 361), (650, 370), (333, 250)])
def test_output_has_the_size_of_the_input(tmp_path: Path, width: int, height: int) -> None:
    """Odd sizes and sizes that are no multiple of 16 come out as they went in."""
    frames = [cv2.resize(f, (width, height)) for f in _moving_face_frames(6)[0]]
    source, output = tmp_path / "in.mp4", tmp_path / "out.mp4"
    write_video(source, frames, FPS)
    assert _decode(source)[0].shape == (height, width, 3)
    result = _redact("--input", str(source), "--output", str(output))
    assert result.returncode == 0, result.stderr
    out = _decode(output)
    assert len(out) == len(frames) and {f.shape for f in out} == {(height, width, 3)}


def test_a_large_photo_is_redacted_not_withheld(tmp_path: Path) -> None:
    """Offline there is no live deadline: a 2000x1500 photo takes what it takes."""
    photo = cv2.resize(scene_background(W, H), (2000, 1500))
    face = cv2.resize(_astronaut(), (1024, 1024))
    photo[200:1224, 500:1524] = face
    box = (500 + 2 * FACE[0], 200 + 2 * FACE[1], 2 * FACE[2], 2 * FACE[3])
    source, output, report = tmp_path / "big.png", tmp_path / "out.png", tmp_path / "r.json"
    cv2.imwrite(str(source), photo)
    result = _redact("--input", str(source), "--output", str(output), "--report", str(report))
    assert result.returncode == 0, result.stderr
    (frame,) = json.loads(report.read_text())["frames"]
    assert frame["status"] == "streamed", frame
    redacted = cv2.imread(str(output))
    assert redacted.shape == photo.shape
    assert not leak_score(crop(photo, box), crop(redacted, box)).leaked


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), (b"not a video at all" * 50, "not a readable video")],
)
def test_bad_input_is_a_clear_error(tmp_path: Path, content: bytes | None, message: str) -> None:
    source = tmp_path / "in.mp4"
    if content is not None:
        source.write_bytes(content)
    output = tmp_path / "out.mp4"
    result = _redact("--input", str(source), "--output", str(output))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not output.exists() or output.stat().st_size == 0


def test_altered_model_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(default_models_dir(), models)
    with open(models / "centerface.onnx", "r+b") as f:  # flip one byte
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    image = tmp_path / "in.png"
    cv2.imwrite(str(image), _astronaut())
    env = {**os.environ, "CAMERA_APP_MODELS": str(models)}
    result = _redact("--input", str(image), "--output", str(tmp_path / "out.png"), env=env)
    assert result.returncode == 4
    assert "centerface" in result.stderr and "integrity" in result.stderr
    assert not (tmp_path / "out.png").exists()
