"""The device's TUF client against a real repository on disk, served over loopback HTTP.

Each attack is made the way an attacker on the network (or holding some of the online keys)
would make it: by changing what the server serves. The device must refuse with a clear error,
and nothing on the device may change: the active slot, the slots, the installed versions.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata

from camera_app.config.update import UpdateConfig
from camera_app.update import BundleError, DeviceUpdater, UpdateError, UpdateRefused
from camera_app.update.device import install_initial
from camera_app.update.slots import active_slot
from firmware.clock import SystemClock
from testkit.updates import (
    BASE_ENV,
    UpdateDevice,
    VendorRepo,
    load_repo_tool,
    update_device,
    wheels,
)


def _fingerprint(device: UpdateDevice) -> tuple:
    """What must not change when an update is refused."""
    state = json.loads(device.paths.state.read_text()) if device.paths.state.exists() else {}
    slots_dir = device.paths.slots
    slots = sorted(p.name for p in slots_dir.iterdir()) if slots_dir.exists() else []
    return (
        active_slot(device.paths),
        slots,
        state.get("active"),
        state.get("slots"),
        state.get("previous"),
        list(device.service.restarts),
        sorted(p.name for p in device.paths.downloads.iterdir())
        if device.paths.downloads.exists()
        else [],
    )


@pytest.fixture
def device(tmp_path: Path) -> Iterator[UpdateDevice]:
    """A device that trusts the vendor's root and has nothing installed from it yet."""
    with update_device(tmp_path, running=None) as device:
        yield device


@pytest.fixture
def installed(device: UpdateDevice) -> UpdateDevice:
    """The same device running release 1.0.0 from slot a."""
    wheels("1.0.0", "1.1.0", "0.9.0")
    install_initial(device.data_dir, device.vendor.bundle("1.0.0"), clock=SystemClock(),
                    base_env=BASE_ENV)  # fmt: skip
    device.service()
    return device


def _metadata(vendor: VendorRepo, name: str) -> Metadata:
    return Metadata.from_file(str(vendor.dir / "metadata" / name))


def _write(vendor: VendorRepo, md: Metadata, *names: str) -> None:
    data = md.to_bytes()
    for name in names:
        (vendor.dir / "metadata" / name).write_bytes(data)


# ----------------------------------------------------------------------------- targets


@pytest.mark.slow
def test_tampered_bundle_is_refused_and_nothing_changes(installed: UpdateDevice) -> None:
    installed.vendor.publish("1.1.0")
    (served,) = installed.vendor.target_files()
    data = bytearray(served.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same length, after signing
    served.write_bytes(bytes(data))
    before = _fingerprint(installed)
    audit: list = []

    with pytest.raises(UpdateRefused, match="does not match the length or hash") as err:
        installed.updater(audit=lambda e, d: audit.append((e, d))).apply()
    assert "release 1.1.0" in str(err.value)
    assert _fingerprint(installed) == before
    state = json.loads(installed.paths.state.read_text())
    assert state["last_result"]["result"] == "refused"
    assert "tampered" in state["last_result"]["reason"]
    assert [event for event, _ in audit] == ["update_refused"]


@pytest.mark.slow
def test_older_release_is_refused_and_nothing_changes(installed: UpdateDevice) -> None:
    installed.vendor.publish("0.9.0")  # validly signed, but older than what runs
    before = _fingerprint(installed)
    with pytest.raises(UpdateRefused, match=r"0\.9\.0 is older than the installed 1\.0\.0"):
        installed.updater().apply()
    assert _fingerprint(installed) == before
    assert "0.9.0" not in str(installed.server.requests)  # never even downloaded


@pytest.mark.slow
def test_bundle_with_path_traversal_is_refused_and_nothing_changes(
    installed: UpdateDevice, tmp_path: Path
) -> None:
    # Signed by the vendor (a build mistake, or a compromised build machine): the device still
    # refuses to unpack a member that would land outside its folder.
    bundle = tmp_path / "camera-app-1.1.0.tar.gz"
    good = installed.vendor.bundle("1.0.0")
    with tarfile.open(good) as src:
        release = json.loads(src.extractfile("release.json").read())  # type: ignore[union-attr]
    release["version"] = "1.1.0"
    release["wheel"] = "camera_app-1.1.0-py3-none-any.whl"
    with tarfile.open(bundle, "w:gz") as tar:
        for name, data in (("release.json", json.dumps(release).encode()),
                           ("../../escaped.txt", b"owned")):  # fmt: skip
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    installed.vendor.publish("1.1.0", bundle=bundle)
    before = _fingerprint(installed)
    with pytest.raises(BundleError, match="unsafe name"):
        installed.updater().apply()
    assert _fingerprint(installed) == before
    assert not list(installed.data_dir.rglob("escaped.txt"))
    assert not list(installed.data_dir.parent.rglob("escaped.txt"))


# ---------------------------------------------------------------------------- metadata


def test_expired_timestamp_is_refused(device: UpdateDevice) -> None:
    device.vendor.publish("1.0.0")
    # re-signed with the right key, but it expired yesterday (a freeze: old but validly signed)
    device.vendor.repo(now=datetime.now(UTC) - timedelta(days=2)).refresh(force=False)
    with pytest.raises(UpdateRefused, match="expired") as err:
        device.updater().check()
    assert "freeze attack" in str(err.value)


def test_expired_targets_metadata_is_refused(device: UpdateDevice) -> None:
    device.vendor.publish("1.0.0")
    repo = device.vendor.repo()
    targets = repo.load("targets")
    targets.signed.version += 1
    targets.signed.expires = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    repo.sign(targets)
    repo.write(targets)
    repo.publish()  # snapshot and timestamp are fresh and valid
    with pytest.raises(UpdateRefused, match="expired"):
        device.updater().check()


def test_timestamp_signed_by_a_wrong_key_is_refused(device: UpdateDevice) -> None:
    device.vendor.publish("1.0.0")
    md = _metadata(device.vendor, "timestamp.json")
    md.signed.version += 1
    md.sign(CryptoSigner.generate_ed25519())
    _write(device.vendor, md, "timestamp.json")
    with pytest.raises(UpdateRefused, match="not signed by the keys the trusted root names"):
        device.updater().check()


def test_targets_resigned_by_a_wrong_key_are_refused(device: UpdateDevice) -> None:
    # An attacker holding the online snapshot and timestamp keys, but not the targets key,
    # lists a release of their own: snapshot and timestamp verify, targets does not.
    device.vendor.publish("1.0.0")
    repo = device.vendor.repo()
    targets = repo.load("targets")
    targets.signed.version += 1
    (path,) = list(targets.signed.targets)
    targets.signed.targets[path].unrecognized_fields["custom"]["version"] = "1.0.0"
    targets.sign(CryptoSigner.generate_ed25519())
    repo.write(targets)
    repo.publish()
    with pytest.raises(UpdateRefused, match="not signed by the keys"):
        device.updater().check()


@pytest.mark.slow
def test_replayed_older_metadata_is_refused_after_a_restart(device: UpdateDevice) -> None:
    device.vendor.publish("1.0.0")
    old = device.vendor.snapshot_files()
    device.vendor.publish("1.1.0")
    found = device.updater().check()  # trusts the newest timestamp, snapshot and targets now
    assert found.newest_version == "1.1.0"
    assert (device.spool.metadata / "timestamp.json").exists()  # persisted

    # The server replays the older (validly signed) metadata that hid release 1.1.0. A new
    # updater, as after a restart, reads what the last one trusted and refuses to go back.
    device.vendor.restore(old, ["timestamp.json"])
    with pytest.raises(UpdateRefused, match="older metadata than this device already trusts"):
        device.updater().check()
    device.vendor.restore(old)  # every old file: same refusal
    with pytest.raises(UpdateRefused, match="rollback attack"):
        device.updater().check()


@pytest.mark.slow
def test_frozen_metadata_is_refused_once_it_expires(device: UpdateDevice) -> None:
    device.vendor.publish("1.0.0")
    repo = device.vendor.repo()
    # the vendor signs a timestamp that lives 2 s; the attacker keeps serving it ever after
    ts = repo.load("timestamp")
    ts.signed.version += 1
    ts.signed.expires = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    repo.sign(ts)
    repo.write(ts)
    assert device.updater().check().newest_version == "1.0.0"
    time.sleep(3)
    with pytest.raises(UpdateRefused, match="freeze attack"):
        device.updater().check()


def test_mix_and_match_metadata_is_refused(device: UpdateDevice) -> None:
    device.vendor.publish("1.0.0")
    v2 = (device.vendor.dir / "metadata" / "2.targets.json").read_bytes()
    repo = device.vendor.repo()
    targets = repo.load("targets")
    targets.signed.version += 1
    repo.sign(targets)
    repo.write(targets)
    repo.publish()
    # Serve the current snapshot and timestamp with the previous targets (validly signed by
    # the targets key) under the current name: the snapshot's hash binds them together.
    current = repo.load("targets").signed.version
    (device.vendor.dir / "metadata" / f"{current}.targets.json").write_bytes(v2)
    with pytest.raises(UpdateRefused, match="metadata mixed from different versions"):
        device.updater().check()


def test_root_rotation_is_followed_and_the_old_key_is_refused(device: UpdateDevice) -> None:
    device.vendor.publish("1.0.0")
    assert device.updater().check().newest_version == "1.0.0"
    old_key = device.vendor.keys / "targets.pem"
    old_signer = load_repo_tool().load_signer(old_key)
    device.vendor.repo().rotate("targets")  # root v2 names the new targets key
    assert device.updater().check().newest_version == "1.0.0"  # followed from pinned root v1
    assert (device.spool.metadata / "root_history" / "2.root.json").exists()

    repo = device.vendor.repo()
    targets = repo.load("targets")
    targets.signed.version += 1
    targets.sign(old_signer)  # the retired key
    repo.write(targets)
    repo.publish()
    with pytest.raises(UpdateRefused, match="not signed by the keys"):
        device.updater().check()


def test_unreachable_repository_is_an_error_not_a_crash(device: UpdateDevice) -> None:
    device.server.close()
    with pytest.raises(UpdateError, match=r"download failed|update check"):
        device.updater().check()


def test_a_root_that_is_not_the_pinned_one_is_refused(device: UpdateDevice, tmp_path: Path) -> None:
    # A device pinned to another vendor's root refuses this repository entirely.
    other = VendorRepo(tmp_path / "other")
    config = UpdateConfig(repository_url=device.server.url, root_file=other.root_file)
    device.vendor.publish("1.0.0")
    updater = DeviceUpdater(config, device.data_dir, clock=SystemClock(), restart=lambda: None)
    with pytest.raises(UpdateRefused, match="not signed by the keys"):
        updater.check()


def test_root_key_rotation_is_followed(device: UpdateDevice) -> None:
    device.vendor.publish("1.0.0")
    assert device.updater().check().newest_version == "1.0.0"
    device.vendor.repo().rotate("root")  # root v2: signed by the old and the new root key
    device.vendor.repo().rotate("timestamp")  # root v3, signed by the new root key alone
    assert device.updater().check().newest_version == "1.0.0"
    assert (device.spool.metadata / "root_history" / "3.root.json").exists()
