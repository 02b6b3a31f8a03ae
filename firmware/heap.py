"""How the C heap treats frame-sized buffers in a long-running service on a small device."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD = 256 * 1024  # below a 320×240 frame (230 KB BGR) is left to the heap


def map_large_buffers() -> bool:
    """Give every buffer of at least :data:`MMAP_THRESHOLD` its own mapping, returned to the
    system when freed. Call once at start, before threads start.

    glibc's default raises its threshold to the size of the largest mapped buffer freed, so
    after the first freed frame, frames (900 KB at 640×480) come from the per-thread heaps,
    where small long-lived allocations between them keep the freed memory from ever going
    back: with the detectors, the encoder and the viewers' threads, `camera-app run` held
    40–60 MB more while streaming to four viewers, and did not shrink when a stream restarted
    (bench.service_memory). The cost is a few percent more system time from page faults.
    Returns whether the setting took (glibc only; elsewhere nothing changes)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        log.info("no glibc mallopt here; the C heap keeps its defaults")
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
