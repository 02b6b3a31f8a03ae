"""``camera-app update …``, ``camera-app selftest`` and the first-install entry point, run as
the installed commands against a real repository over loopback HTTP and the real database."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from testkit.service import camera_app_cmd
from testkit.updates import BASE_ENV, MODELS, VendorRepo, serving, wheels


def _run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*camera_app_cmd(), *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Path, Path, VendorRepo]]:
    """(config file, data dir, vendor) with a repository being served."""
    vendor = VendorRepo(tmp_path / "vendor")
    data_dir = tmp_path / "data"
    with serving(vendor.dir) as server:
        config = tmp_path / "camera.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "storage": {"data_dir": str(data_dir)},
                    "update": {
                        "repository_url": server.url,
                        "root_file": str(vendor.root_file),
                        # the deadline also covers the slot's privacy self-test (a new
                        # interpreter loading the models: ~3 s here, more on a busy machine),
                        # so that it is the capture check, not the self-test, that runs out
                        "health_deadline_s": 15,
                    },
                }
            )
        )
        yield config, data_dir, vendor


def test_status_of_a_device_without_updates(setup: tuple[Path, Path, VendorRepo]) -> None:
    config, data_dir, _ = setup
    result = _run("update", "status", "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["current_slot"] is None and status["phase"] == "idle"
    assert status["pending"] is None and status["error"] is None
    assert "centerface" in status["current_models"]

    (data_dir / "update").mkdir(parents=True)
    (data_dir / "update" / "state.json").write_text("{broken")
    result = _run("update", "status", "--config", str(config))
    assert result.returncode == 0
    assert "error:" in result.stdout and "not valid JSON" in result.stdout
    result = _run("update", "apply", "--config", str(config))
    assert result.returncode == 4 and "state.json is not valid JSON" in result.stderr


def test_rollback_without_a_previous_release_is_refused(
    setup: tuple[Path, Path, VendorRepo],
) -> None:
    config, _, _ = setup
    result = _run("update", "rollback", "--config", str(config))
    assert result.returncode == 2
    assert "refused: there is no previous release" in result.stderr


def test_staged_apply_without_a_stage_says_what_to_do(
    setup: tuple[Path, Path, VendorRepo],
) -> None:
    """The apply unit's command (``update apply --staged``) before any ``update check``."""
    config, data_dir, _ = setup
    result = _run("update", "apply", "--staged", "--config", str(config))
    assert result.returncode == 4
    assert "nothing is staged: `camera-app update check` stages releases first" in result.stderr
    assert not (data_dir / "update" / "slots" / "active").exists()


@pytest.mark.slow
def test_selftest_command_passes_with_the_installed_models() -> None:
    result = _run("selftest", "--models", str(MODELS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "selftest passed" in result.stdout and "the face redacted" in result.stdout


@pytest.mark.slow
def test_apply_from_the_command_line_checks_health_and_rolls_back(
    setup: tuple[Path, Path, VendorRepo],
) -> None:
    config, data_dir, vendor = setup
    wheels("1.0.0", "1.1.0")
    initial = subprocess.run(
        [sys.executable, "-m", "camera_app.update.initial", "--data-dir", str(data_dir),
         "--base-env", str(BASE_ENV), str(vendor.bundle("1.0.0"))],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert initial.returncode == 0, initial.stderr
    assert "release 1.0.0 installed into slot a" in initial.stdout
    again = subprocess.run(
        [sys.executable, "-m", "camera_app.update.initial", "--data-dir", str(data_dir),
         str(vendor.bundle("1.0.0"))],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert again.returncode == 2 and "already installed" in again.stderr

    vendor.publish("1.1.0")
    check = _run("update", "check", "--config", str(config))
    assert check.returncode == 0, check.stderr
    assert "release 1.1.0 is available (running 1.0.0)" in check.stdout

    # No service runs here (and no systemd): the new release never reports in, so the
    # health check fails on its deadline and the device switches back by itself.
    apply = _run("update", "apply", "--config", str(config))
    assert apply.returncode == 4, apply.stdout + apply.stderr
    assert "rolled back from 1.1.0 to 1.0.0" in apply.stdout
    assert "capture not running within 15 s" in apply.stdout
    assert "not running under systemd" in apply.stderr
    assert (data_dir / "update" / "slots" / "active").readlink() == Path("a")

    status = json.loads(_run("update", "status", "--config", str(config), "--json").stdout)
    assert status["current_version"] == "1.0.0" and status["phase"] == "rolled_back"
    assert status["last_result"]["result"] == "rolled_back"
    assert status["bad_versions"] == ["1.1.0"]

    refused = _run("update", "apply", "--config", str(config))
    assert refused.returncode == 2 and "was rolled back on this device" in refused.stderr

    verify = _run("audit", "verify", "--config", str(config))
    assert verify.returncode == 0, verify.stdout
    export = _run("audit", "export", "--config", str(config))
    events = [json.loads(line)["event"] for line in export.stdout.splitlines()]
    assert events == ["update_rolled_back", "update_refused"]


def test_check_with_updates_off_is_not_a_failure(tmp_path: Path) -> None:
    """The update timer runs on every device: one without a repository must not show a failed
    unit every six hours."""
    from testkit.service import camera_app_cmd

    config = tmp_path / "config.yaml"
    config.write_text(f"storage: {{data_dir: {tmp_path / 'data'}}}\n")
    result = subprocess.run(
        [*camera_app_cmd(), "update", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "updates are off" in result.stdout
