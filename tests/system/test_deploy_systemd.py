"""The systemd units: ``systemd-analyze verify`` passes on a root made by the real install script,
a broken unit fails it, the hardening the docs promise is in the file, and the exposure score.

``systemd-analyze verify`` needs every ``ExecStart=`` binary and every unit a unit depends on to
exist, so it runs with ``--root`` on the tree ``deploy/install.sh --prefix`` populated, plus the
host's own systemd units (``/usr/lib/systemd/system``, as on any Debian root). systemd 252's
verify only *warns* about an unknown key or an unparsable value ("…, ignoring") and still exits 0,
so a unit passes here only when verify exits 0 **and says nothing at all**; the broken copies
below prove that each kind of mistake is caught.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest

from camera_app.update.layout import SpoolPaths, UpdatePaths
from testkit.deploy import UNITS, install_into
from testkit.paths import REPO

UNIT_DIR = REPO / "deploy" / "systemd"
HOST_UNITS = next(
    (p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir()),
    None,
)

pytestmark = pytest.mark.slow


def _systemd_analyze() -> str:
    """The systemd-analyze binary; Debian's systemd package is installed if it is missing."""
    found = shutil.which("systemd-analyze")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "systemd"],
            check=False,
            env=env,
            timeout=600,
        )
        found = shutil.which("systemd-analyze")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing and could not be installed (apt: systemd)")
        pytest.skip("systemd-analyze is not installed (apt: systemd)")
    return found


@pytest.fixture(scope="module")
def analyze() -> str:
    return _systemd_analyze()


@pytest.fixture(scope="module")
def device_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An installed device tree with systemd's own units, as ``--root`` for systemd-analyze."""
    if HOST_UNITS is None:
        pytest.skip("no systemd unit directory on this machine (apt: systemd)")
    root = tmp_path_factory.mktemp("device")
    install_into(root)
    shutil.copytree(HOST_UNITS, root / "usr" / "lib" / "systemd" / "system", symlinks=True)
    return root


def _verify(analyze: str, root: Path, *units: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [analyze, "verify", f"--root={root}", "--man=no", *units],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_units_pass_systemd_analyze_verify(analyze: str, device_root: Path) -> None:
    for unit in UNITS:
        installed = device_root / "etc" / "systemd" / "system" / unit
        assert installed.read_text() == (UNIT_DIR / unit).read_text()
    result = _verify(analyze, device_root, *UNITS)
    assert result.returncode == 0, result.stderr
    assert (result.stdout + result.stderr).strip() == "", (
        f"systemd-analyze verify complained:\n{result.stdout}{result.stderr}"
    )


BROKEN = {
    "misspelt key": ("NoNewPrivileges=yes", "NoNewPrivilegs=yes", r"Unknown key"),
    "bad value": ("ProtectSystem=strict", "ProtectSystem=strcit", r"protect system value"),
    "bad device rights": ("DeviceAllow=char-media rw", "DeviceAllow=char-media rwx", r"rights"),
    "missing program": (
        "ExecStart=/opt/camera-app/bin/camera-app-launch",
        "ExecStart=/opt/camera-app/bin/camera-app-lunch",
        r"not executable",
    ),
    "misspelt section": ("[Service]", "[Servce]", r"Unknown section"),
}


@pytest.mark.parametrize("mistake", sorted(BROKEN))
def test_verify_catches_a_broken_unit(
    analyze: str, device_root: Path, tmp_path: Path, mistake: str
) -> None:
    good, bad, message = BROKEN[mistake]
    root = tmp_path / "root"
    for part in ("etc", "usr"):
        shutil.copytree(device_root / part, root / part, symlinks=True)
    (root / "opt" / "camera-app" / "bin").mkdir(parents=True)
    shutil.copy2(device_root / "opt/camera-app/bin/camera-app-launch", root / "opt/camera-app/bin")
    assert _verify(analyze, root, "camera-app.service").stderr == "", "the copy must be good"
    unit = root / "etc" / "systemd" / "system" / "camera-app.service"
    text = unit.read_text()
    assert text.count(good) == 1
    unit.write_text(text.replace(good, bad))
    result = _verify(analyze, root, "camera-app.service")
    output = result.stdout + result.stderr
    assert re.search(message, output), output
    assert result.returncode != 0 or output.strip(), "verify must not pass a broken unit"


# -- the hardening, as docs/deploy.md describes it ----------------------------------------------


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values in order]}} (keys may repeat, e.g. DeviceAllow);
    a line ending in a backslash goes on on the next."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    text = re.sub(r"\\\n", " ", path.read_text())
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: {line!r} outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a KEY=VALUE line: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


SANDBOX = {
    "User": "camera-app",
    "Group": "camera-app",
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "ProtectSystem": "strict",
    "ReadWritePaths": "/var/lib/camera-app",
    "StateDirectory": "camera-app",
    "ConfigurationDirectory": "camera-app",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "DevicePolicy": "closed",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "LockPersonality": "yes",
    "SystemCallArchitectures": "native",
    "SystemCallFilter": "@system-service",
    "UMask": "0027",
}


def _single(service: dict[str, list[str]], key: str) -> str:
    values = service.get(key)
    assert values is not None, f"{key}= is missing"
    assert len(values) == 1, f"{key}= is set {len(values)} times"
    return values[0]


def test_camera_service_is_hardened_and_watched() -> None:
    unit = parse_unit(UNIT_DIR / "camera-app.service")
    service = unit["Service"]
    for key, value in SANDBOX.items():
        assert _single(service, key) == value, key
    assert _single(service, "Type") == "notify"
    assert _single(service, "NotifyAccess") == "main"
    assert _single(service, "WatchdogSec") == "30"
    assert _single(service, "Restart") == "on-failure"  # includes a watchdog timeout
    assert int(_single(service, "TimeoutStartSec")) >= 120  # model and library loading on a Pi
    assert _single(service, "SupplementaryGroups").split() == ["video", "gpio"]
    assert _single(service, "ExecStart").startswith("/opt/camera-app/bin/camera-app-launch run ")
    assert "CAMERA_APP_MODELS=/opt/camera-app/models" in _single(service, "Environment").split()
    assert service["DeviceAllow"] == [
        "char-video4linux rw",  # /dev/video*, /dev/v4l-subdev*
        "char-media rw",  # /dev/media*
        "char-dma_heap rw",  # /dev/dma_heap/*
        "char-gpiochip rw",  # /dev/gpiochip*
        "char-*gpiomem* rw",  # /dev/gpiomem (bcm2835-gpiomem, rpi-gpiomem)
    ]
    assert unit["Unit"]["StartLimitBurst"] and unit["Unit"]["StartLimitIntervalSec"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_update_units_run_the_check_sandboxed_on_a_timer() -> None:
    service = parse_unit(UNIT_DIR / "camera-app-update.service")["Service"]
    for key, value in SANDBOX.items():
        assert _single(service, key) == value, key
    assert _single(service, "Type") == "oneshot"
    assert _single(service, "ExecStart").startswith(
        "/opt/camera-app/bin/camera-app-launch update check "
    )
    assert _single(service, "PrivateDevices") == "yes"
    timer = parse_unit(UNIT_DIR / "camera-app-update.timer")
    assert timer["Timer"]["Unit"] == ["camera-app-update.service"]
    assert timer["Timer"]["OnUnitActiveSec"] == ["6h"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]


# -- who can write the code and models (issue 15, finding 9) ------------------------------------

DATA = PurePosixPath("/var/lib/camera-app")
#: what runs: the installed release, its models, the launcher, and the update slots (with the
#: metadata and state that decide which slot runs)
CODE_AND_MODELS = (
    "/opt/camera-app/venv/lib/python3.11/site-packages/camera_app/cli.py",
    "/opt/camera-app/models/centerface.onnx",
    "/opt/camera-app/bin/camera-app-launch",
    "/etc/camera-app/config.yaml",
    f"{UpdatePaths.of(Path(DATA)).slot('a')}/bin/camera-app",
    f"{UpdatePaths.of(Path(DATA)).slot('b')}/models/centerface.onnx",
    str(UpdatePaths.of(Path(DATA)).active_link),
    f"{UpdatePaths.of(Path(DATA)).metadata}/root.json",
    str(UpdatePaths.of(Path(DATA)).state),
)


def _paths(service: dict[str, list[str]], key: str, base: str = "") -> list[PurePosixPath]:
    """A path list setting's paths (``-`` marks an optional one), relative ones under ``base``."""
    out = []
    for value in service.get(key, []):
        for item in value.split():
            out.append(PurePosixPath(base) / item.lstrip("-+"))
    return out


def writable(service: dict[str, list[str]], path: str) -> bool:
    """Whether ``path`` is writable inside the unit's mount namespace, as systemd sets it up
    under ``ProtectSystem=strict``: nothing is, but the state, runtime and private temporary
    folders and ``ReadWritePaths=``; a ``ReadOnlyPaths=`` or ``InaccessiblePaths=`` below them
    makes that subtree read-only again. The longest matching path decides."""
    assert _single(service, "ProtectSystem") == "strict"
    rules = [(p, True) for p in _paths(service, "ReadWritePaths")]
    rules += [(p, True) for p in _paths(service, "StateDirectory", "/var/lib")]
    rules += [(p, True) for p in _paths(service, "RuntimeDirectory", "/run")]
    if service.get("PrivateTmp") == ["yes"]:
        rules += [(PurePosixPath("/tmp"), True), (PurePosixPath("/var/tmp"), True)]
    rules += [(p, False) for p in _paths(service, "ReadOnlyPaths")]
    rules += [(p, False) for p in _paths(service, "InaccessiblePaths")]
    target = PurePosixPath(path)
    matching = [(len(p.parts), rw) for p, rw in rules if target == p or p in target.parents]
    return max(matching)[1] if matching else False


@pytest.mark.parametrize("unit", ["camera-app.service", "camera-app-update.service"])
def test_service_user_units_cannot_write_code_or_models(unit: str) -> None:
    """Finding 9: the A/B slots lived under the units' ``ReadWritePaths``."""
    service = parse_unit(UNIT_DIR / unit)["Service"]
    assert _single(service, "User") == "camera-app"
    for path in CODE_AND_MODELS:
        assert not writable(service, path), f"{unit} can write {path}"
    # update/ must exist for the unit to start (no "-"): a missing one fails closed
    assert "/var/lib/camera-app/update" in service["ReadOnlyPaths"]
    # …and the data it owns stays writable
    assert writable(service, f"{DATA}/camera.db")
    assert writable(service, f"{SpoolPaths.of(Path(DATA)).staged}/metadata/timestamp.json")
    # the launcher's default slots are the ones the unit mounts read-only
    assert f"slots=${{CAMERA_APP_SLOTS:-{UpdatePaths.of(Path(DATA)).slots}}}" in (
        (UNIT_DIR / "camera-app-launch").read_text()
    )


def test_only_the_offline_root_apply_unit_writes_the_slots() -> None:
    unit = parse_unit(UNIT_DIR / "camera-app-update-apply.service")
    service = unit["Service"]
    assert service.get("User", ["root"]) == ["root"]
    assert _single(service, "Group") == "camera-app"  # the service reads what it writes
    assert _single(service, "UMask") == "0027"
    for path in CODE_AND_MODELS[4:]:  # the slots and what decides which one runs
        assert writable(service, path), path
    for path in CODE_AND_MODELS[:4]:  # the installed release stays read-only even to root
        assert not writable(service, path), path
    assert _single(service, "ExecStart").startswith(
        "/opt/camera-app/bin/camera-app-launch update apply --staged "
    )
    # no network but loopback (the health check of the new release's API)
    assert _single(service, "IPAddressDeny") == "any"
    assert _single(service, "IPAddressAllow") == "localhost"
    assert _single(service, "CapabilityBoundingSet").split() == ["CAP_DAC_OVERRIDE", "CAP_CHOWN"]
    assert _single(service, "NoNewPrivileges") == "yes"
    assert unit["Unit"]["ConditionPathExists"] == ["/var/lib/camera-app/camera.db"]
    assert "Install" not in unit  # started by hand, never at boot


def _assert_exposure_low(analyze: str, root: Path, unit: str) -> None:
    """``systemd-analyze security`` offline rates ``unit`` 2.5 at most (0 is a fully
    locked-down unit, 10 an open one)."""
    result = subprocess.run(
        [analyze, "security", "--offline=yes", f"--root={root}", "--threshold=25",
         "--no-pager", unit],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    score = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
    assert score, result.stdout + result.stderr
    print(f"{unit}: exposure {score.group(1)}")
    assert result.returncode == 0, f"{unit}: exposure {score.group(1)} is above 2.5"


def test_security_exposure_stays_low(analyze: str, device_root: Path) -> None:
    for unit in ("camera-app.service", "camera-app-update.service",
                 "camera-app-update-apply.service"):  # fmt: skip
        _assert_exposure_low(analyze, device_root, unit)


RELAY_UNITS = {
    "camera-site.service": REPO / "deploy" / "site",
    "camera-relay-whip.service": REPO / "deploy" / "janus",
    "camera-relay-marker.service": REPO / "deploy" / "janus",
    "camera-relay-janus.service": REPO / "deploy" / "janus",
}


@pytest.fixture(scope="module")
def relay_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A relay host's tree: systemd's own units and the relay host's (the site, the WHIP
    front-end, the marker, Janus) as installed by copying them to /etc/systemd/system."""
    if HOST_UNITS is None:
        pytest.skip("no systemd unit directory on this machine (apt: systemd)")
    root = tmp_path_factory.mktemp("relay-host")
    shutil.copytree(HOST_UNITS, root / "usr" / "lib" / "systemd" / "system", symlinks=True)
    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    for name, directory in RELAY_UNITS.items():
        shutil.copy(directory / name, units / name)
    return root


@pytest.mark.parametrize("unit", sorted(RELAY_UNITS))
def test_the_relay_hosts_services_are_sandboxed_like_the_devices(
    analyze: str, relay_root: Path, unit: str
) -> None:
    """The relay host faces the internet (behind its TLS proxy): its services run as their own
    users with the device's sandbox (no capabilities, a read-only system, @system-service
    calls only), so ``systemd-analyze security`` rates each low."""
    _assert_exposure_low(analyze, relay_root, unit)
    service = parse_unit(RELAY_UNITS[unit] / unit)["Service"]
    assert _single(service, "User") != "root" and _single(service, "CapabilityBoundingSet") == ""
    assert _single(service, "SystemCallFilter") == "@system-service"


# -- MemoryDenyWriteExecute: measured, not guessed ----------------------------------------------

PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1  # Linux >= 6.3, what systemd >= 253 uses

_DTLS_UNDER_MDWE = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:
    sys.exit(3)
from OpenSSL import SSL
ctx = SSL.Context(SSL.DTLS_METHOD)
try:
    ctx.set_verify(SSL.VERIFY_PEER, lambda *args: True)  # what aiortc's DTLS transport does
except MemoryError as exc:
    print(exc)
    sys.exit(1)
"""


def _kernel_has_mdwe() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(66, 0, 0, 0, 0) >= 0  # PR_GET_MDWE


def test_memory_deny_write_execute_matches_what_webrtc_needs() -> None:
    """MemoryDenyWriteExecute= stays off only while the live view's DTLS needs W+X memory.

    Run under the kernel's MDWE (prctl PR_SET_MDWE, the same refusal systemd applies), pyOpenSSL's
    verify callback, which aiortc installs for every WebRTC peer, needs a writable+executable
    cffi trampoline. The rest of the app (mediapipe, onnxruntime, PyAV/x264, argon2, MQTT TLS)
    ran its tests under MDWE without a failure (docs/deploy.md). When this probe passes, turn
    MemoryDenyWriteExecute on in the units.
    """
    if not _kernel_has_mdwe():
        pytest.skip("this kernel has no PR_SET_MDWE (Linux < 6.3)")
    probe = subprocess.run(
        [sys.executable, "-c", _DTLS_UNDER_MDWE], capture_output=True, text=True, timeout=60
    )
    assert probe.returncode in (0, 1), probe.stderr
    needs_wx = probe.returncode == 1
    expected = "no" if needs_wx else "yes"
    for unit in ("camera-app.service", "camera-app-update.service"):
        service = parse_unit(UNIT_DIR / unit)["Service"]
        assert _single(service, "MemoryDenyWriteExecute") == expected, (
            f"{unit}: DTLS {'needs' if needs_wx else 'no longer needs'} W+X memory "
            f"({probe.stdout.strip() or 'probe passed'}), so MemoryDenyWriteExecute={expected}"
        )
