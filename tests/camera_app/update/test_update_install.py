"""A/B install from a real TUF repository over loopback HTTP: install, activate, health, rollback.

The updater, ngclient, the bundle checks, pip and the slot's own ``camera-app selftest`` are
real; the camera service is the stand-in of testkit/updates.py (a restart starts a "process"
that reports the active slot's installed version in ``run/status.json``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from camera_app.config.update import UpdateConfig
from camera_app.update import DeviceUpdater, UpdateRefused, load_update_status
from camera_app.update.device import install_initial
from camera_app.update.layout import UpdatePaths
from camera_app.update.slots import active_slot
from firmware.clock import SystemClock
from firmware.db import lower_schema_version, open_database, schema_version
from testkit.updates import (
    BASE_ENV,
    MODELS,
    UpdateDevice,
    VendorRepo,
    broken_model_wheel,
    broken_models,
    installed_version,
    serving,
    update_device,
    wheels,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _wheels() -> None:
    wheels("1.0.0", "1.1.0")  # built in parallel, once


@pytest.fixture
def device(tmp_path: Path) -> Iterator[UpdateDevice]:
    """Release 1.0.0 in slot a, as the install script does it, and the service running it."""
    with update_device(tmp_path, running="1.0.0") as device:
        yield device


def test_initial_install_runs_from_slot_a(device: UpdateDevice) -> None:
    assert active_slot(device.paths) == "a"
    assert installed_version(device.paths.active_link) == "1.0.0"
    status = load_update_status(device.data_dir)
    assert status.current_version == "1.0.0" and status.current_slot == "a"
    assert set(status.current_models) == {"blazeface_short_range", "blazeface_full_range",
                                          "centerface", "blazepose_detector"}  # fmt: skip


def test_valid_update_installs_into_the_inactive_slot_and_activates(device: UpdateDevice) -> None:
    device.vendor.publish("1.1.0")
    records: list[tuple[str, dict]] = []
    updater = device.updater(audit=lambda event, details: records.append((event, dict(details))))

    found = updater.check()
    assert found.update_available and found.newest_version == "1.1.0"

    result = updater.apply()
    assert result.result == "healthy", result.message
    assert result.health is not None and result.health.checks == {
        "selftest": "passed", "capture": "running", "api": "answered"
    }  # fmt: skip
    assert active_slot(device.paths) == "b"
    assert installed_version(device.paths.slot("b")) == "1.1.0"
    assert installed_version(device.paths.slot("a")) == "1.0.0"  # kept for rollback
    # the new slot's own command runs without network, from its own models
    selftest = subprocess.run(
        [str(device.paths.slot("b") / "bin/camera-app"), "selftest",
         "--models", str(device.paths.slot("b") / "models")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert selftest.returncode == 0 and "selftest passed" in selftest.stdout
    state = device.state()
    assert state["phase"] == "healthy" and state["active"] == "b" and state["previous"] == "a"
    assert state["last_result"]["result"] == "healthy"
    assert [e for e, _ in records] == ["update_installed"]
    assert records[0][1]["version"] == "1.1.0" and records[0][1]["from_version"] == "1.0.0"
    assert device.service.restarts == ["1.0.0", "1.1.0"]
    status = load_update_status(device.data_dir)
    assert (status.current_version, status.previous_version) == ("1.1.0", "1.0.0")

    # nothing newer: up to date, nothing changes
    assert device.updater().apply().result == "up_to_date"
    assert active_slot(device.paths) == "b"

    # by hand: back to 1.0.0, and apply does not reinstall the release that was rolled back
    back = device.updater().rollback()
    assert back.result == "rolled_back" and active_slot(device.paths) == "a"
    assert device.service.restarts[-1] == "1.0.0"
    with pytest.raises(UpdateRefused, match="was rolled back"):
        device.updater().apply()
    assert active_slot(device.paths) == "a"


def test_release_whose_service_never_comes_up_rolls_back_by_itself(device: UpdateDevice) -> None:
    device.vendor.publish("1.1.0")
    device.service.broken_versions.add("1.1.0")  # crashes at start: status keeps saying 1.0.0
    # the running release's database is at schema 1; the new release migrates it as it starts
    # (then crashes), and the rollback must leave a database the old release still opens
    database = device.data_dir / "camera.db"
    open_database(database).close()
    lower_schema_version(database, 1)
    device.service.on_start = lambda v: open_database(database).close() if v == "1.1.0" else None
    # enough for the slot's privacy self-test (~3 s, a new interpreter loading the models), so
    # that it is the capture check that runs out
    device.deadline_s = 15
    records: list[tuple[str, dict]] = []
    result = device.updater(audit=lambda e, d: records.append((e, dict(d)))).apply()

    assert result.result == "rolled_back"
    assert "capture not running" in (result.reason or "")
    assert "reports version '1.0.0', expected 1.1.0" in (result.reason or "")
    assert active_slot(device.paths) == "a"
    assert device.service.restarts == ["1.0.0", "1.1.0", "1.0.0"]  # back on the old release
    assert schema_version(database) == 1
    state = device.state()
    assert state["phase"] == "rolled_back" and state["active"] == "a"
    assert state["last_result"]["result"] == "rolled_back"
    assert "expected 1.1.0" in state["last_result"]["reason"]
    assert state["bad_versions"] == ["1.1.0"]
    assert [e for e, _ in records] == ["update_rolled_back"]
    assert records[0][1]["automatic"] is True
    status = load_update_status(device.data_dir)
    assert status.current_version == "1.0.0" and status.last_result is not None
    assert status.last_result.result == "rolled_back"


def test_release_with_a_broken_model_fails_its_selftest_and_rolls_back(
    device: UpdateDevice,
) -> None:
    # The vendor signed a release whose centerface file is not a model at all: every hash
    # matches (the signature cannot help), the privacy self-test in the new slot catches it.
    models = broken_models()
    wheel = broken_model_wheel("1.1.0", models)
    bundle = device.vendor.bundle("1.1.0", wheel=wheel, models=models)
    device.vendor.publish("1.1.0", bundle=bundle)
    result = device.updater().apply()
    assert result.result == "rolled_back"
    assert "privacy self-test failed" in (result.reason or "")
    assert "selftest FAILED" in (result.reason or "")
    assert active_slot(device.paths) == "a"
    assert device.service.restarts == ["1.0.0", "1.1.0", "1.0.0"]
    assert device.state()["bad_versions"] == ["1.1.0"]


def test_models_come_from_the_bundle_not_the_checkout(device: UpdateDevice) -> None:
    device.vendor.publish("1.1.0")
    assert device.updater().apply().result == "healthy"
    slot_models = device.paths.slot("b") / "models"
    for model in ("centerface.onnx", "face_detection_full_range_sparse.tflite"):
        assert (slot_models / model).read_bytes() == (MODELS / model).read_bytes()
        assert not (slot_models / model).is_symlink()
    # whoever starts the slot's Python (the service, the selftest) gets the slot's models
    found = subprocess.run(
        [str(device.paths.active_link / "bin/python"), "-I", "-c",
         "from privacy.models import default_models_dir; print(default_models_dir())"],
        capture_output=True, text=True, timeout=60, check=True, env={"PATH": os.environ["PATH"]},
    )  # fmt: skip
    assert Path(found.stdout.strip()) == slot_models


class RealService:
    """``camera-app run`` started through ``slots/active``, as the systemd unit starts it; a
    restart stops the running one (SIGTERM, as systemd does) and starts the active slot's."""

    def __init__(self, data_dir: Path, config: Path) -> None:
        self.active = UpdatePaths.of(data_dir).active_link
        self.config = config
        self.log = data_dir.parent / "service.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __call__(self) -> None:
        self.stop()
        env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock"}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(self.active / "bin" / "camera-app"), "run", "--config", str(self.config),
                 "--source", "test:"],
                stdout=log, stderr=log, env=env, cwd=self.config.parent,
            )  # fmt: skip

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def test_update_with_the_real_service(tmp_path: Path) -> None:
    """No stand-in: the service really runs from slot a, then from slot b, and its own
    status file and API are what the health check judges."""
    vendor = VendorRepo(tmp_path / "vendor")
    data_dir = tmp_path / "data"
    config = tmp_path / "camera.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "storage": {"data_dir": str(data_dir)},
                "api": {"host": "127.0.0.1", "port": 0, "tls": False},
                "capture": {"fps": 10},
            }
        )
    )
    install_initial(data_dir, vendor.bundle("1.0.0"), clock=SystemClock(), base_env=BASE_ENV)
    service = RealService(data_dir, config)
    service()
    try:
        vendor.publish("1.1.0")
        with serving(vendor.dir) as server:
            settings = UpdateConfig(
                repository_url=server.url, root_file=vendor.root_file, health_deadline_s=90
            )
            updater = DeviceUpdater(
                settings,
                data_dir,
                clock=SystemClock(),
                restart=service,
                base_env=BASE_ENV,
                config_file=config,
            )
            result = updater.apply()
        log = service.log.read_text(errors="replace")
        assert result.result == "healthy", f"{result.message}\n{log[-3000:]}"
        assert result.health is not None and result.health.checks["api"] == "answered"
        status = json.loads((data_dir / "run" / "status.json").read_text())
        assert status["version"] == "1.1.0" and status["frames"] > 0
        assert status["api_url"].startswith("http://127.0.0.1:")
    finally:
        service.stop()
