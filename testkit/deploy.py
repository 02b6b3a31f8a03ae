"""A device's file tree made by the real ``deploy/install.sh --prefix``, for the deploy tests.

The install is real (a venv, the app pip-installed from this checkout, the models checked against
their sha256, the launcher, the units, the config) with two shortcuts that keep it fast:
``--deps-from`` borrows the test venv's dependencies instead of installing them again, and
``--models-from`` copies the checkout's models instead of downloading them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from testkit.paths import REPO

INSTALL = REPO / "deploy" / "install.sh"
UNINSTALL = REPO / "deploy" / "uninstall.sh"
UNITS = (
    "camera-app.service",
    "camera-app-update.service",
    "camera-app-update.timer",
    "camera-app-update-apply.service",
)


def run_script(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def install_into(root: Path) -> subprocess.CompletedProcess[str]:
    """Run the install script into ``root``; fails the test with its output if it fails."""
    deps = Path(sys.prefix)
    # the interpreter the test venv was made from: the borrowed packages were built for it
    base = Path(getattr(sys, "_base_executable", sys.executable))
    args: list[str | Path] = [INSTALL, "--prefix", root, "--source", REPO, "--deps-from", deps]
    args += ["--python", base]
    if (REPO / "models").is_dir():
        args += ["--models-from", REPO / "models"]
    result = run_script(*args)
    assert result.returncode == 0, f"install.sh failed:\n{result.stdout}\n{result.stderr}"
    return result


def copy_root(root: Path, dest: Path) -> Path:
    """A copy of an installed root (symlinks kept), for tests that change or remove it."""
    shutil.copytree(root, dest, symlinks=True)
    return dest
