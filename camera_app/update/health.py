"""Is the release that was just switched to working? Three checks, one deadline.

1. **capture**: the service writes ``<data_dir>/run/status.json`` about once a second
   (``{"pid", "started_at", "frames", "last_frame_at", "api_url", "version"}``). It must report
   the new version, have started after the switch, and its frame count must rise with a recent
   ``last_frame_at``.
2. **privacy self-test**: the new slot's own ``camera-app selftest`` builds the privacy stage from
   the slot's verified models and must redact the face in a known image (judged on pixels).
3. **API**: ``GET {api_url}/api/health`` answers 200. The device's certificate is self-signed, so
   it is the only one trusted for this request (``<data_dir>/secrets/device-cert.pem``).

A failing self-test ends the check at once (it will not get better); capture and the API are
polled until they pass or the deadline comes.
"""

from __future__ import annotations

import logging
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from firmware.clock import Clock
from firmware.runstatus import read_run_status

log = logging.getLogger(__name__)

#: a status older than this, or a last frame older than this, means capture has stalled
STALE_AFTER_S = 5.0
#: the switch and the new process's start may differ by clock granularity
START_SLACK_S = 1.0
API_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class HealthResult:
    """``ok``, or the reason the release failed; ``checks`` says how each check ended."""

    ok: bool
    reason: str | None
    checks: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HealthTarget:
    """What the health check looks at."""

    version: str
    slot_dir: Path
    status_file: Path
    cert_file: Path
    switched_at: float  # unix time of the switch; an older process status does not count
    config_file: Path | None = None


def run_selftest(target: HealthTarget, timeout_s: float) -> str | None:
    """Run the slot's ``camera-app selftest``; None when it passes, else why not."""
    cmd = [str(target.slot_dir / "bin" / "camera-app"), "selftest",
           "--models", str(target.slot_dir / "models")]  # fmt: skip
    if target.config_file is not None:
        cmd += ["--config", str(target.config_file)]
    try:
        result = subprocess.run(
            cmd, capture_output=True, text=True, timeout=max(1.0, timeout_s), check=False
        )
    except subprocess.TimeoutExpired:
        return f"did not finish within {timeout_s:.0f} s"
    except OSError as err:
        return f"cannot run {cmd[0]}: {err}"
    if result.returncode == 0:
        return None
    lines = [ln for ln in (result.stdout + "\n" + result.stderr).splitlines() if ln.strip()]
    summary = next((ln for ln in reversed(lines) if "selftest" in ln.lower()), None)
    return summary or (lines[-1] if lines else f"exit {result.returncode}")


class CaptureProbe:
    """Watches ``status.json`` for a process of the new version whose frame count rises."""

    def __init__(self, target: HealthTarget, clock: Clock) -> None:
        self._target = target
        self._clock = clock
        self._first: tuple[int, int] | None = None  # (pid, frames) of the first good reading
        self.api_url: str | None = None

    def poll(self) -> str | None:
        """None once capture is seen running, else what is still wrong."""
        try:
            status = read_run_status(self._target.status_file)
        except (OSError, ValueError) as err:
            return f"unreadable {self._target.status_file.name}: {err}"
        if status is None:
            return f"no {self._target.status_file.name} (the service is not running)"
        if status.version != self._target.version:
            return (
                f"the service reports version {status.version!r}, expected {self._target.version}"
            )
        if status.started_at < self._target.switched_at - START_SLACK_S:
            return "the status is from a process started before the switch"
        if status.last_frame_at is None:
            return "no frame captured yet"
        age = self._clock.wall() - status.last_frame_at
        if age > STALE_AFTER_S:
            return f"no frame for {age:.0f} s"
        self.api_url = status.api_url or None
        if self._first is None or self._first[0] != status.pid:
            self._first = (status.pid, status.frames)
            return "waiting for the frame count to rise"
        if status.frames <= self._first[1]:
            return f"the frame count stays at {status.frames}"
        return None


def probe_api(api_url: str, cert_file: Path) -> str | None:
    """None when ``GET {api_url}/api/health`` answers 200, else why not."""
    url = api_url.rstrip("/") + "/api/health"
    context = None
    if url.startswith("https:"):
        try:
            context = ssl.create_default_context(cafile=str(cert_file))
        except (OSError, ssl.SSLError) as err:
            return f"cannot load the device certificate {cert_file}: {err}"
        # The certificate is pinned (the only trusted one), so the host name adds nothing; the
        # service may announce 127.0.0.1 while the certificate names the device's LAN name.
        context.check_hostname = False
    try:
        # S310: the URL is http(s), from the service's own status file
        with urllib.request.urlopen(url, timeout=API_TIMEOUT_S, context=context) as reply:  # noqa: S310
            return None if reply.status == 200 else f"{url} answered {reply.status}"
    except urllib.error.HTTPError as err:
        return f"{url} answered {err.code}"
    except (urllib.error.URLError, OSError, ValueError) as err:
        return f"{url}: {getattr(err, 'reason', err)}"


class HealthCheck:
    """Runs the three checks against ``target`` until they pass or ``deadline_s`` runs out."""

    def __init__(
        self,
        clock: Clock,
        *,
        sleep: Callable[[float], None] = time.sleep,
        poll_s: float = 0.5,
        selftest: Callable[[HealthTarget, float], str | None] = run_selftest,
        api_probe: Callable[[str, Path], str | None] = probe_api,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._poll_s = poll_s
        self._selftest = selftest
        self._api_probe = api_probe

    def wait(self, target: HealthTarget, deadline_s: float) -> HealthResult:
        end = self._clock.monotonic() + deadline_s
        checks: dict[str, str] = {}
        problem = self._selftest(target, max(1.0, end - self._clock.monotonic()))
        if problem is not None:
            checks["selftest"] = f"failed: {problem}"
            return HealthResult(False, f"privacy self-test failed: {problem}", checks)
        checks["selftest"] = "passed"
        capture = CaptureProbe(target, self._clock)
        capture_problem: str | None = "not checked yet"
        api_problem: str | None = "not checked yet"
        while True:
            if capture_problem is not None:
                capture_problem = capture.poll()
                if capture_problem is None:
                    checks["capture"] = "running"
            if capture_problem is None and api_problem is not None:
                if capture.api_url is None:
                    api_problem = None
                    checks["api"] = "not served (api disabled)"
                else:
                    api_problem = self._api_probe(capture.api_url, target.cert_file)
                    if api_problem is None:
                        checks["api"] = "answered"
            if capture_problem is None and api_problem is None:
                return HealthResult(True, None, checks)
            if self._clock.monotonic() >= end:
                break
            self._sleep(self._poll_s)
        if capture_problem is not None:
            checks["capture"] = f"failed: {capture_problem}"
            reason = f"capture not running within {deadline_s:g} s: {capture_problem}"
        else:
            checks["api"] = f"failed: {api_problem}"
            reason = f"API not answering within {deadline_s:g} s: {api_problem}"
        log.warning("health check of %s failed: %s", target.version, reason)
        return HealthResult(False, reason, checks)
