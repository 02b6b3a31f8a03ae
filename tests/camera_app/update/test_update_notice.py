"""The 24-hour notice for releases that change detection, redaction or streaming.

A real repository over loopback HTTP, the real audit log (SQLite), and an injected clock: the
device's wall time is moved on instead of waiting a day. The stand-in service reads the same
clock, as the real service would on a device whose clock says so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from camera_app.config.update import UpdateConfig
from camera_app.update import DeviceUpdater, NoticePeriodError, audit_to, load_update_status
from camera_app.update.device import install_initial
from camera_app.update.health import HealthCheck
from camera_app.update.layout import UpdatePaths
from camera_app.update.slots import active_slot
from firmware.db import open_database
from privacy.audit import AuditLog, verify
from testkit.clock import RunningClock
from testkit.updates import BASE_ENV, StandInService, VendorRepo, serving, wheels

pytestmark = pytest.mark.slow


class Device:
    def __init__(self, tmp_path: Path, server_url: str, vendor: VendorRepo) -> None:
        self.data_dir = tmp_path / "data"
        self.vendor = vendor
        self.clock = RunningClock()  # real time until a test sets the wall clock
        self.paths = UpdatePaths.of(self.data_dir)
        install_initial(self.data_dir, vendor.bundle("1.0.0"), clock=self.clock,
                        base_env=BASE_ENV)  # fmt: skip
        self.service = StandInService(self.data_dir, clock=self.clock)
        self.service()
        self.conn = open_database(self.data_dir / "camera.db")
        self.config = UpdateConfig(
            repository_url=server_url, root_file=vendor.root_file, health_deadline_s=20
        )

    def updater(self) -> DeviceUpdater:
        return DeviceUpdater(
            self.config,
            self.data_dir,
            clock=self.clock,
            restart=self.service,
            base_env=BASE_ENV,
            health=HealthCheck(self.clock, poll_s=0.1),
            audit=audit_to(AuditLog(self.conn, self.clock)),
        )

    def clock_ahead(self, by: timedelta) -> None:
        """From now on the device's wall clock says ``by`` later than the real time; monotonic
        time does not jump (the health check still waits for real)."""
        self.clock.set_wall(time.time() + by.total_seconds())

    def audit(self) -> list[tuple[str, dict]]:
        rows = self.conn.execute("SELECT event, details FROM audit ORDER BY seq").fetchall()
        return [(event, json.loads(details)) for event, details in rows]


@pytest.fixture
def device(tmp_path: Path) -> Iterator[Device]:
    wheels("1.0.0", "1.1.0", "1.2.0")
    vendor = VendorRepo(tmp_path / "vendor")
    with serving(vendor.dir) as server:
        dev = Device(tmp_path, server.url, vendor)
        yield dev
        dev.service.close()
        dev.conn.close()


def test_behaviour_change_is_announced_refused_early_and_accepted_after(device: Device) -> None:
    # published now, not_before = published + 24 h (the signing tool's default)
    info = device.vendor.publish("1.1.0", ("detection",))
    assert info.not_before == info.published + timedelta(hours=24)

    found = device.updater().check()
    assert found.announced == ("1.1.0",)
    assert found.notice is not None and found.notice.changes_behaviour == ("detection",)
    assert "may be activated from" in found.message
    ((event, details),) = device.audit()
    assert event == "update_announced"
    assert details["version"] == "1.1.0" and details["changes_behaviour"] == ["detection"]
    assert set(details["models"]) == {"blazeface_short_range", "blazeface_full_range",
                                      "centerface", "blazepose_detector"}  # fmt: skip

    status = load_update_status(device.data_dir)
    assert status.current_version == "1.0.0"
    assert status.pending is not None and status.pending.version == "1.1.0"
    assert status.pending.changes_behaviour == ("detection",)
    assert status.pending.models_changed == ()  # same model files, new behaviour
    assert abs(status.pending.not_before.timestamp() - info.not_before.timestamp()) < 5
    assert status.to_json()["pending"]["version"] == "1.1.0"

    # seen again: no second announcement
    assert device.updater().check().announced == ()
    assert len(device.audit()) == 1

    # 23 hours later: refused, and nothing changes
    device.clock_ahead(timedelta(hours=23))
    with pytest.raises(NoticePeriodError, match=r"changes detection behaviour.*in 1\.0 h"):
        device.updater().apply()
    assert active_slot(device.paths) == "a"
    assert not device.paths.slot("b").exists()
    assert device.service.restarts == ["1.0.0"]
    assert device.audit()[-1][0] == "update_refused"

    # 25 hours later: accepted, activated, and no longer pending
    device.clock_ahead(timedelta(hours=25))
    result = device.updater().apply()
    assert result.result == "healthy", result.message
    assert active_slot(device.paths) == "b"
    status = load_update_status(device.data_dir)
    assert status.current_version == "1.1.0" and status.pending is None
    assert status.previous_version == "1.0.0"  # the previous models stay for a rollback
    assert (device.paths.slot("a") / "models" / "centerface.onnx").is_file()
    events = [e for e, _ in device.audit()]
    assert events == ["update_announced", "update_refused", "update_installed"]
    assert verify(device.conn).ok


def test_notice_counts_from_when_the_device_first_saw_the_release(device: Device) -> None:
    # Published (or back-dated) two days ago with a not_before that has passed: this device
    # sees it only now, and still gives it 24 hours of notice.
    now = device.clock.now()
    device.vendor.publish(
        "1.1.0", ("redaction",), published=now - timedelta(days=2),
        not_before=now - timedelta(days=1),
    )  # fmt: skip
    device.clock_ahead(timedelta(hours=1))
    with pytest.raises(NoticePeriodError, match="announced at"):
        device.updater().apply()  # the first sighting is this apply: announced, then refused
    assert [e for e, _ in device.audit()] == ["update_announced", "update_refused"]
    device.clock_ahead(timedelta(hours=26))
    assert device.updater().apply().result == "healthy"


def test_a_later_release_inherits_the_notice_of_one_it_skips(device: Device) -> None:
    device.vendor.publish("1.1.0", ("streaming",))
    device.updater().check()
    device.vendor.publish("1.2.0")  # no behaviour change of its own, but it contains 1.1.0
    device.clock_ahead(timedelta(hours=2))
    with pytest.raises(NoticePeriodError, match=r"release 1\.2\.0 changes streaming"):
        device.updater().apply()
    status = load_update_status(device.data_dir)
    assert status.pending is not None and status.pending.version == "1.2.0"
    assert status.pending.changes_behaviour == ("streaming",)
    assert active_slot(device.paths) == "a"


def test_plain_release_is_not_held_back(device: Device) -> None:
    device.vendor.publish("1.1.0")
    found = device.updater().check()
    assert found.notice is None and found.announced == ()
    assert load_update_status(device.data_dir).pending is None
    assert device.audit() == []
