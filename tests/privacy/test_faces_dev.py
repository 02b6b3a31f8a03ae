"""The privacy stage on the annotated development footage in ../shared/data/faces-dev.

Skipped when ../shared is absent (the suite must pass without it). The numbers asserted are the
issue's acceptance bar: no leaked face in a streamed frame, as judged on pixels by our
privacy-bench and by the reference judge ../shared/tools/score_redaction.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.paths import SHARED
from testkit.service import camera_app_cmd

FACES_DEV = SHARED / "data" / "faces-dev"
JUDGE = SHARED / "tools" / "score_redaction.py"

pytestmark = [
    pytest.mark.shared_data,
    pytest.mark.slow,
    pytest.mark.skipif(not FACES_DEV.is_dir(), reason="../shared/data/faces-dev is not present"),
]


@pytest.fixture(scope="module")
def bench() -> dict:
    result = subprocess.run(
        [*camera_app_cmd(), "privacy-bench", "--data", str(FACES_DEV), "--json"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_no_face_leaks_in_streamed_frames(bench: dict) -> None:
    total = bench["total"]
    leaks = {c["clip"]: c["leaks"] for c in bench["clips"] if c["leaks"]}
    assert total["leaked"] == 0, leaks
    assert total["faces"] == 1234  # every annotated face was judged or withheld


def test_withheld_ratio_within_aim(bench: dict) -> None:
    assert bench["total"]["withheld_ratio"] <= 0.10
    close_frontal = {"selfie_wall", "astronaut_portrait", "friends_steps", "friends_poker"}
    for clip in bench["clips"]:
        if clip["clip"] in close_frontal:
            assert clip["withheld_ratio"] <= 0.05, clip["clip"]


def _judge(annotation: Path, original: Path, redacted: Path, report: Path | None) -> dict:
    cmd = [sys.executable, str(JUDGE), str(annotation), str(original), str(redacted)]
    if report is not None:
        cmd += ["--report", str(report)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


@pytest.mark.skipif(not JUDGE.exists(), reason="reference judge not present")
@pytest.mark.parametrize("clip", ["selfie_wall", "friends_steps"])
def test_reference_judge_agrees(tmp_path: Path, clip: str) -> None:
    meta = json.loads((FACES_DEV / f"{clip}.json").read_text())
    media = FACES_DEV / meta["media"]
    out = tmp_path / (f"{clip}.mp4" if media.suffix == ".mp4" else f"{clip}.png")
    report = tmp_path / "report.json"
    result = subprocess.run(
        [
            *camera_app_cmd(),
            "redact",
            "--quiet",
            "--input",
            str(media),
            "--output",
            str(out),
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    verdict = _judge(FACES_DEV / f"{clip}.json", media, out, report)
    assert verdict["leaked_faces"] == 0
    # and both judges call the untouched footage leaked: the comparison can fail
    untouched = _judge(FACES_DEV / f"{clip}.json", media, media, None)
    assert untouched["leaked_faces"] >= 0.9 * untouched["faces_in_streamed_frames"]
