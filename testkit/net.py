"""Servers the tests start on loopback: a free port to start one on, and waiting for it."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


def free_port() -> int:
    """A TCP port on loopback that nothing listens on (at the time of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float = 60, every: float = 0.2) -> bool:
    """Poll ``predicate`` every ``every`` s until it is true (``True``) or ``timeout`` s passed
    (``False``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False
