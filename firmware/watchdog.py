"""Talking to systemd (``Type=notify``): readiness, status text, stopping, and a watchdog that is
fed only while the camera delivers frames.

The service manager restarts the service when the pings stop, so a ping must mean "capture is
working", not merely "the process runs": :meth:`ServiceNotifier.tick` pings only if
:meth:`ServiceNotifier.frame_seen` was called since the previous ping. A capture that stalls (the
loop keeps spinning on empty ``feed.get`` timeouts) therefore stops the pings, and systemd
restarts the service after ``WatchdogSec``.

Everything is a no-op when ``NOTIFY_SOCKET`` is unset (a terminal, the tests, another init).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping

from sdnotify import SystemdNotifier

log = logging.getLogger(__name__)

__all__ = ["ServiceNotifier", "watchdog_interval_s", "watchdog_usec"]


def watchdog_usec(environ: Mapping[str, str] | None = None, pid: int | None = None) -> int | None:
    """The watchdog timeout systemd asked for, in microseconds, or None when it is off.

    The same rules as ``sd_watchdog_enabled(3)``: ``WATCHDOG_USEC`` must be a positive integer,
    and if ``WATCHDOG_PID`` is set it must be this process (a child that inherited the
    environment must not ping on its parent's behalf).
    """
    env = os.environ if environ is None else environ
    raw = env.get("WATCHDOG_USEC")
    if not raw:
        return None
    try:
        usec = int(raw)
    except ValueError:
        log.warning("ignoring WATCHDOG_USEC=%r: not an integer", raw)
        return None
    if usec <= 0:
        return None
    owner = env.get("WATCHDOG_PID")
    if owner:
        try:
            owner_pid = int(owner)
        except ValueError:
            log.warning("ignoring the watchdog: WATCHDOG_PID=%r is not a pid", owner)
            return None
        if owner_pid != (os.getpid() if pid is None else pid):
            return None
    return usec


def watchdog_interval_s(usec: int) -> float:
    """Seconds between pings: half the timeout, as ``sd_watchdog_enabled(3)`` recommends."""
    return usec / 2 / 1_000_000


def _utf8(text: str) -> str:
    # sdnotify encodes messages as Latin-1 and silently drops any it cannot encode (a camera
    # named in Chinese); the protocol is UTF-8, so hand it the UTF-8 bytes in Latin-1 clothing.
    return text.encode("utf-8", "replace").decode("latin-1")


def _one_line(text: str) -> str:
    # A newline would start a new KEY=VALUE assignment in the datagram.
    return " ".join(text.split())


class ServiceNotifier:
    """sd_notify for the camera service.

    ``ready()`` once the service works (the first frame arrived), ``status()`` for the text
    ``systemctl status`` shows, ``stopping()`` on shutdown. For the watchdog, call
    ``frame_seen()`` for every frame and ``tick()`` on every loop iteration; ``tick()`` sends
    ``WATCHDOG=1`` at most every ``WATCHDOG_USEC/2`` and only if a frame arrived since the last
    ping. ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID`` are read from the environment
    once, here; ``monotonic`` is injectable for tests.
    """

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        # sdnotify reads NOTIFY_SOCKET from the environment itself (an "@name" is an abstract
        # socket); it opens a socket even when there is nothing to connect to, so skip it then.
        self._socket_path = os.environ.get("NOTIFY_SOCKET") or None
        self._notifier = SystemdNotifier() if self._socket_path else None
        usec = watchdog_usec() if self._notifier is not None else None
        #: seconds between watchdog pings, or None when systemd runs no watchdog for us
        self.watchdog_interval: float | None = (
            watchdog_interval_s(usec) if usec is not None else None
        )
        self._frames_since_ping = 0
        self._last_ping: float | None = None
        self._ready = False
        if self._notifier is not None:
            log.info(
                "systemd notification socket %s; watchdog %s",
                self._socket_path,
                f"ping every {self.watchdog_interval:g} s while frames arrive"
                if self.watchdog_interval is not None
                else "off",
            )

    @property
    def enabled(self) -> bool:
        """True when there is a service manager to notify."""
        return self._notifier is not None

    @property
    def is_ready(self) -> bool:
        return self._ready

    def ready(self, status: str | None = None) -> None:
        """``READY=1`` (once): the service is up and working."""
        if self._ready:
            return
        self._ready = True
        message = "READY=1"
        if status:
            message += f"\nSTATUS={_one_line(status)}"
        self._send(message)
        # systemd arms the watchdog on READY=1 (start-up is TimeoutStartSec's business), so the
        # first ping is due one interval from now and needs a frame that arrives after it.
        self._last_ping = self._monotonic()
        self._frames_since_ping = 0

    def status(self, text: str) -> None:
        """``STATUS=…``: one line for ``systemctl status``."""
        self._send(f"STATUS={_one_line(text)}")

    def stopping(self, status: str | None = None) -> None:
        """``STOPPING=1``: shutdown began (systemd stops expecting pings)."""
        message = "STOPPING=1"
        if status:
            message += f"\nSTATUS={_one_line(status)}"
        self._send(message)

    def frame_seen(self) -> None:
        """The capture loop received a frame: proof of progress for the next ping."""
        self._frames_since_ping += 1

    def tick(self) -> bool:
        """Ping the watchdog if it is due and a frame arrived since the last ping.

        Returns True when a ping was sent. Before ``ready()`` nothing is sent.
        """
        if self.watchdog_interval is None or not self._ready:
            return False
        now = self._monotonic()
        if self._last_ping is not None and now - self._last_ping < self.watchdog_interval:
            return False
        if not self._frames_since_ping:
            return False
        self._send("WATCHDOG=1")
        self._last_ping = now
        self._frames_since_ping = 0
        return True

    def _send(self, message: str) -> None:
        if self._notifier is not None:
            self._notifier.notify(_utf8(message))
