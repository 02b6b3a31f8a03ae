"""Restarting the camera service so that it runs the slot ``slots/active`` now points to."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

SERVICE_UNIT = "camera-app.service"
_SYSTEMD_RUNTIME = Path("/run/systemd/system")  # exists only when systemd is the init system


def restart_service() -> None:
    """``systemctl restart --no-block camera-app.service`` when systemd runs the machine.

    ``--no-block``: the unit is ``Type=notify``, and the health check (not systemctl) decides
    whether the new release came up. Without systemd the operator restarts it; the health check
    then waits for that until its deadline.

    Run ``camera-app update apply`` outside the service's own cgroup (a shell, a timer or its
    own unit): a restart ends every process of the unit, this one included.
    """
    systemctl = shutil.which("systemctl")
    if not _SYSTEMD_RUNTIME.is_dir() or systemctl is None:
        log.warning(
            "not running under systemd: restart camera-app yourself now so that it "
            "runs the new release (the health check is waiting)"
        )
        return
    subprocess.run([systemctl, "restart", "--no-block", SERVICE_UNIT], check=True, timeout=60)
    log.info("asked systemd to restart %s", SERVICE_UNIT)
