"""Code and models the service runs are not writable by it (issue 15, finding 9).

The split (docs/updates.md, "Who writes what"): ``update check`` runs as the service user and
writes only ``update-spool/``, where it stages the newest release; the privileged apply (root on
a device, no network) verifies the staged files from its own trusted metadata and is the only
writer of the slots; the launcher runs a slot only while it is sealed and matches its install
manifest. The slots here are real (pip, the vendor's bundles), the launcher is the installed
shell script, and the apply runs with the repository server stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata

from camera_app.update import NoticePeriodError, UpdateRefused
from camera_app.update.device import install_initial
from camera_app.update.errors import UpdateError
from camera_app.update.layout import UpdatePaths
from camera_app.update.slots import active_slot
from firmware.clock import SystemClock
from testkit.paths import REPO
from testkit.updates import BASE_ENV, UpdateDevice, VendorRepo, update_device, wheels

pytestmark = pytest.mark.slow

LAUNCHER = REPO / "deploy" / "systemd" / "camera-app-launch"


def _fake_venv(path: Path) -> Path:
    """An installed venv whose camera-app only says that it ran."""
    program = path / "bin" / "camera-app"
    program.parent.mkdir(parents=True)
    program.write_text('#!/bin/sh\necho "venv $*"\n')
    program.chmod(0o755)
    return path


def _launch(slots: Path, venv: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(slots.parent),
        "CAMERA_APP_SLOTS": str(slots),
        "CAMERA_APP_VENV": str(venv),
        "CAMERA_APP_SLOTS_OWNER": str(os.getuid()),
        **env,
    }
    return subprocess.run(
        [str(LAUNCHER), *args], capture_output=True, text=True, timeout=120, env=environment
    )


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with release 1.0.0 in slot a, as the privileged install leaves it."""
    data_dir = tmp_path_factory.mktemp("sealed") / "data"
    vendor = VendorRepo(data_dir.parent / "vendor")
    install_initial(data_dir, vendor.bundle("1.0.0"), clock=SystemClock(), base_env=BASE_ENV)
    return data_dir


def _site_packages(slot: Path) -> Path:
    (found,) = slot.glob("lib/python3*/site-packages")
    return found


def _append(path: Path) -> None:
    path.chmod(0o644)
    with path.open("a") as f:
        f.write("\nimport os  # added by someone who could write the slot\n")


TAMPERING: dict[str, tuple[Callable[[Path], None], str]] = {
    "changed code": (
        lambda slot: _append(_site_packages(slot) / "camera_app" / "cli.py"),
        "files differ from its install manifest",
    ),
    "changed model": (
        lambda slot: (slot / "models" / "centerface.onnx").write_bytes(b"not a model"),
        "files differ from its install manifest",
    ),
    "added .pth file": (
        lambda slot: (_site_packages(slot) / "zz.pth").write_text("import os\n"),
        "files its install manifest does not list: ./lib/",
    ),
    "removed file": (
        lambda slot: (_site_packages(slot) / "camera_app" / "cli.py").unlink(),
        "files differ from its install manifest",
    ),
    "redirected link": (
        lambda slot: (
            (slot / "bin" / "python").unlink(),
            (slot / "bin" / "python").symlink_to("/bin/sh"),
        ),
        "its links differ from its install manifest",
    ),
    "writable by its group": (
        lambda slot: (slot / "release.json").chmod(0o664),
        "a/release.json is not owned by uid",
    ),
    "no install manifest": (
        lambda slot: (slot / "SHA256SUMS").unlink(),
        "it has no install manifest (SHA256SUMS)",
    ),
}


def test_launcher_runs_a_sealed_slot(sealed: Path, tmp_path: Path) -> None:
    slots = UpdatePaths.of(sealed).slots
    ran = _launch(slots, _fake_venv(tmp_path / "venv"), "check-config", "--help")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("usage: camera-app check-config"), ran.stdout
    assert ran.stderr == ""


@pytest.mark.parametrize("how", sorted(TAMPERING))
def test_launcher_refuses_a_tampered_active_slot(sealed: Path, tmp_path: Path, how: str) -> None:
    """Finding 9: the launcher ran whatever ``slots/active`` held."""
    tamper, reason = TAMPERING[how]
    data_dir = tmp_path / "data"
    shutil.copytree(sealed, data_dir, symlinks=True)
    slots = UpdatePaths.of(data_dir).slots
    tamper(slots / "a")
    ran = _launch(slots, _fake_venv(tmp_path / "venv"), "run", "--config", "c.yaml")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "venv run --config c.yaml"  # the installed release, not slot a
    assert "camera-app-launch: refusing update slot a: " in ran.stderr
    assert reason in ran.stderr, ran.stderr


def test_launcher_refuses_a_slot_another_user_owns(sealed: Path, tmp_path: Path) -> None:
    slots = UpdatePaths.of(sealed).slots
    someone_else = str(os.getuid() + 1)
    ran = _launch(slots, _fake_venv(tmp_path / "venv"), "run", CAMERA_APP_SLOTS_OWNER=someone_else)
    assert ran.stdout.strip() == "venv run"
    assert f"is not owned by uid {someone_else} alone" in ran.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_launcher_refuses_a_link_another_user_owns(sealed: Path, tmp_path: Path) -> None:
    """A link has no modes of its own: whoever owns it counts."""
    data_dir = tmp_path / "data"
    shutil.copytree(sealed, data_dir, symlinks=True)
    slots = UpdatePaths.of(data_dir).slots
    os.lchown(slots / "a" / "bin" / "python", 65534, -1)
    ran = _launch(slots, _fake_venv(tmp_path / "venv"), "run")
    assert ran.stdout.strip() == "venv run"
    assert "a/bin/python is not owned by uid 0 alone" in ran.stderr


def test_launcher_ignores_the_service_users_site_packages(tmp_path: Path) -> None:
    """The service user's home is its data directory; with ``--system-site-packages`` (how the
    install script makes the venv, for picamera2) Python would run a ``.pth`` file the service
    wrote into ``~/.local`` at every start, whichever release runs."""
    home = tmp_path / "home"
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    user_site = home / ".local" / "lib" / version / "site-packages"
    user_site.mkdir(parents=True)
    (user_site / "planted.pth").write_text("import os; os.environ['PLANTED'] = 'ran'\n")
    venv = tmp_path / "venv"
    base = Path(getattr(sys, "_base_executable", sys.executable))
    subprocess.run([str(base), "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                   check=True, timeout=120)  # fmt: skip
    program = venv / "bin" / "camera-app"
    program.write_text(
        f"#!{venv}/bin/python\nimport os\nprint('planted code', os.environ.get('PLANTED', 'no'))\n"
    )
    program.chmod(0o755)
    ran = _launch(tmp_path / "slots", venv, "run", HOME=str(home))
    assert ran.stdout.strip() == "planted code no", ran.stdout + ran.stderr


# -- the privileged apply verifies what the service user staged ---------------------------------


@dataclass
class Device(UpdateDevice):
    """With the file trees an apply must leave alone."""

    def tree(self, root: Path) -> dict[str, bytes | str]:
        """Every file (its bytes) and link (its target) under ``root``."""
        out: dict[str, bytes | str] = {}
        for path in sorted(root.rglob("*")):
            key = str(path.relative_to(root))
            if path.is_symlink():
                out[key] = str(path.readlink())
            elif path.is_file():
                out[key] = path.read_bytes()
        return out

    def installed(self) -> dict[str, bytes | str]:
        """``update/`` but the metadata the apply trusts (verified metadata may advance even
        when the bundle is refused, as in TUF's client workflow), the empty lock file and
        ``last_result`` (which records the refusal)."""
        tree = {k: v for k, v in self.tree(self.paths.root).items()
                if not k.startswith("metadata") and k != "lock"}  # fmt: skip
        state = json.loads(tree.pop("state.json"))
        state.pop("last_result", None)
        tree["state.json"] = json.dumps(state, sort_keys=True)
        return tree


@pytest.fixture
def device(tmp_path: Path) -> Iterator[Device]:
    wheels("1.0.0", "1.1.0")
    with update_device(tmp_path, running="1.0.0") as device:
        yield Device(device.data_dir, device.vendor, device.server, device.service)


def test_check_stages_without_writing_the_slots_and_apply_installs_offline(
    device: Device, tmp_path: Path
) -> None:
    device.vendor.publish("1.1.0")
    before = device.tree(device.paths.root)
    found = device.updater(staged=False).check()
    assert found.update_available and found.newest_version == "1.1.0"
    assert device.tree(device.paths.root) == before  # the service user's check wrote no byte
    staged = device.spool.staged
    assert (staged / "metadata" / "1.root.json").is_file()
    assert (staged / "metadata" / "timestamp.json").is_file()
    (bundle,) = staged.glob("targets/releases/*.camera-app-1.1.0.tar.gz")
    assert bundle.stat().st_size > 0

    device.server.close()  # the privileged apply has no network
    result = device.updater(staged=True).apply()
    assert result.result == "healthy", result.message
    assert active_slot(device.paths) == "b"
    assert device.service.restarts == ["1.0.0", "1.1.0"]
    # the slot it built is sealed: the launcher runs it
    ran = _launch(device.paths.slots, _fake_venv(tmp_path / "venv"), "check-config", "--help")
    assert ran.stdout.startswith("usage: camera-app check-config"), ran.stdout + ran.stderr


def _tamper_bundle(device: Device) -> None:
    (bundle,) = device.spool.staged.glob("targets/releases/*.tar.gz")
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bundle.write_bytes(bytes(data))


def _resign(path: Path, change: Callable[[Metadata], None]) -> None:
    """The service user rewrites a staged metadata file; it holds no key the device trusts,
    so it can only sign with one of its own."""
    from securesystemslib.signer import CryptoSigner

    md = Metadata.from_file(str(path))
    change(md)
    md.signatures.clear()
    md.sign(CryptoSigner.generate_ed25519())
    path.write_bytes(md.to_bytes())


def _bless_other_bytes(device: Device) -> None:
    def change(md: Metadata) -> None:
        for target in md.signed.targets.values():
            target.hashes = {"sha256": "0" * 64}

    (path,) = device.spool.staged.glob("metadata/*.targets.json")
    _resign(path, change)


def _resign_timestamp(device: Device) -> None:
    def change(md: Metadata) -> None:
        md.signed.version += 1

    _resign(device.spool.staged / "metadata" / "timestamp.json", change)


def _remove_staged_metadata(device: Device) -> None:
    for path in device.spool.staged.glob("metadata/*.snapshot.json"):
        path.unlink()


BAD_STAGES: dict[str, tuple[Callable[[Device], None], type[UpdateError], str]] = {
    "tampered bundle": (_tamper_bundle, UpdateRefused, "does not match the length or hash"),
    "targets rewritten for other bytes": (
        _bless_other_bytes,
        UpdateRefused,
        "does not match the length or hash",
    ),
    "timestamp signed by another key": (_resign_timestamp, UpdateRefused, "not signed by the keys"),
    "metadata left out": (_remove_staged_metadata, UpdateError, "is not staged"),
}


@pytest.mark.parametrize("how", sorted(BAD_STAGES))
def test_privileged_apply_refuses_a_bad_stage_and_changes_nothing(device: Device, how: str) -> None:
    tamper, error, message = BAD_STAGES[how]
    device.vendor.publish("1.1.0")
    device.updater(staged=False).check()
    before = device.installed()
    tamper(device)
    device.server.close()
    with pytest.raises(error, match=message):
        device.updater(staged=True).apply()
    assert device.installed() == before
    assert active_slot(device.paths) == "a"
    assert device.service.restarts == ["1.0.0"]
    if error is UpdateRefused:
        last = json.loads(device.paths.state.read_text())["last_result"]
        assert last["result"] == "refused" and message in last["reason"]


def test_privileged_apply_refuses_older_staged_metadata(device: Device) -> None:
    """The service user replays a stage from before a release it wants to hide."""
    device.vendor.publish("1.1.0")
    device.updater(staged=False).check()
    old_stage = device.data_dir.parent / "old-stage"
    shutil.copytree(device.spool.staged, old_stage)
    assert device.updater(staged=True).apply().result == "healthy"
    device.vendor.repo().publish()  # new timestamp, snapshot and targets versions
    device.updater(staged=False).check()
    assert device.updater(staged=True).apply().result == "up_to_date"
    shutil.rmtree(device.spool.staged)
    shutil.copytree(old_stage, device.spool.staged)
    with pytest.raises(UpdateRefused, match="older metadata than this device already trusts"):
        device.updater(staged=True).apply()
    assert active_slot(device.paths) == "b"


def test_privileged_apply_follows_root_rotations_from_the_stage(device: Device) -> None:
    device.vendor.publish("1.1.0")
    device.vendor.repo().rotate("root")  # root v2: signed by the old and the new root key
    device.vendor.repo().rotate("timestamp")  # root v3, signed by the new root key alone
    device.updater(staged=False).check()
    device.server.close()
    assert device.updater(staged=True).apply().result == "healthy"
    assert (device.paths.metadata / "root_history" / "3.root.json").exists()


def test_a_backdated_sighting_cannot_shorten_the_signed_notice(device: Device) -> None:
    """``update check`` records first sightings in a file the service user writes; the apply
    takes them as a claim, and a claim cannot move activation before ``not_before``."""
    device.vendor.publish("1.1.0", ("redaction",))
    assert device.updater(staged=False).check().announced == ("1.1.0",)
    notes = json.loads(device.spool.announcements.read_text())
    notes["seen"] = {"1.1.0": 0.0, "not a version": -1.0}
    device.spool.announcements.write_text(json.dumps(notes))
    with pytest.raises(NoticePeriodError, match="may be activated from"):
        device.updater(staged=True).apply()
    state = json.loads(device.paths.state.read_text())
    assert state["seen"] == {"1.1.0": 0.0}  # the claim is kept; only versions, and in the past
    assert active_slot(device.paths) == "a"


def test_apply_without_a_stage_says_what_to_do(device: Device) -> None:
    with pytest.raises(UpdateError, match="nothing is staged"):
        device.updater(staged=True).apply()
    assert active_slot(device.paths) == "a"
