"""firmware.heap: freed frame-sized buffers go back to the system even when small long-lived
allocations sit between them (what the streaming service's threads do to the C heap). Runs in
a fresh interpreter, as the setting is process-wide and must come before the heap is used."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROGRAM = r"""
import ctypes, sys
import numpy as np
from firmware.heap import map_large_buffers

if sys.argv[1] == "set":
    assert map_large_buffers()

def rss_mb():
    with open("/proc/self/status") as f:
        return int(f.read().split("VmRSS:")[1].split()[0]) / 1024

big = np.ones(8_000_000, np.uint8)
del big  # glibc's default now leaves buffers below 8 MB to the heap
before = rss_mb()
frames, keep = [], []
for _ in range(60):
    frames.append(np.ones(900_000, np.uint8))  # a 640x480 frame
    keep.append(ctypes.create_string_buffer(4000))  # lives on, between the frames
del frames
print(rss_mb() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc only")
def test_freed_frames_go_back_to_the_system() -> None:
    def held_mb(mode: str) -> float:
        out = subprocess.run(
            [sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, check=True
        )
        return float(out.stdout)

    assert held_mb("default") > 40  # the 54 MB of frames stay in the heap
    assert held_mb("set") < 10
