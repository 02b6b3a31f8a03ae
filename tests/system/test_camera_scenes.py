"""The two cameras' clips (``testkit.cameras``) are what the multi-camera tests assume, under
the real privacy stage (``camera-app redact``, the real models): those tests tell the door
from the yard by the mark corner of the streamed picture, so the stage must never cover that
corner, and the yard must stay a picture with nothing to redact. A cat photo once failed a
CI run this way (the stage covered the corner in about half its frames)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from testkit.cameras import MARK, door_and_yard
from testkit.service import camera_app_cmd

pytestmark = pytest.mark.slow


def _regions(clip: Path, tmp_path: Path) -> list[list[list[int]]]:
    report = tmp_path / f"{clip.stem}.json"
    result = subprocess.run(
        [*camera_app_cmd(), "redact", "--quiet", "--input", str(clip),
         "--output", str(tmp_path / f"{clip.stem}-redacted.mp4"), "--report", str(report)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    frames = json.loads(report.read_text())["frames"]
    assert {f["status"] for f in frames} == {"streamed"}
    return [f["regions"] for f in frames]


def _covers_mark(region: list[int]) -> bool:
    x, y, w, h = region
    rows, cols = MARK
    return x < cols.stop and x + w > cols.start and y < rows.stop and y + h > rows.start


def test_the_stage_never_covers_the_mark_corner_and_leaves_the_yard_alone(
    tmp_path: Path,
) -> None:
    door, yard = door_and_yard(tmp_path)
    door_regions = _regions(door.path, tmp_path)
    assert any(door_regions), "the door's person is redacted (the stage ran)"
    assert not any(_covers_mark(r) for regions in door_regions for r in regions)
    assert not any(_regions(yard.path, tmp_path))
