"""The import contracts: the layers (camera_app › streaming › privacy › firmware) and the streaming
side never reaching an unredacted frame; plus the type checks of the frame seal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import numpy as np
import pytest

from privacy import FrameStatus, RedactedFrame
from testkit.paths import REPO

FORBIDDEN = (
    "firmware.capture",
    "firmware.motion",
    "camera_app.monitor",
    "privacy.stage",
    "privacy.offline",
)
LAYERS = ("camera_app", "streaming", "privacy", "firmware")  # highest first


def test_import_linter_contract_is_kept() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_no_import_chain_from_streaming_to_raw_frames() -> None:
    graph = grimp.build_graph("firmware", "camera_app", "privacy", "streaming")
    streaming = graph.find_descendants("streaming") | {"streaming"}
    for target in FORBIDDEN:
        for module in streaming:
            assert graph.find_shortest_chain(importer=module, imported=target) is None
    # the check can fail: the stage itself does handle raw frames
    assert graph.find_shortest_chain(importer="privacy.stage", imported="firmware.motion.detector")


def test_no_layer_imports_a_higher_one() -> None:
    graph = grimp.build_graph(*LAYERS)
    for i, higher in enumerate(LAYERS):
        for lower in LAYERS[i + 1 :]:
            assert not graph.find_illegal_dependencies_for_layers(layers=(higher, lower))
    # the check can fail: a higher layer does import a lower one
    assert graph.find_shortest_chain(importer="camera_app.service", imported="firmware.clock")


def test_streaming_can_only_get_frames_the_gate_made() -> None:
    image = np.zeros((2, 2, 3), np.uint8)
    image.flags.writeable = False
    with pytest.raises(TypeError):
        RedactedFrame(image, 0.0, 0, FrameStatus.STREAMED, None, ())
