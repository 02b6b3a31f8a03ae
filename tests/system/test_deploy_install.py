"""The install and uninstall scripts, run for real into a throwaway root (``--prefix``).

The installed venv runs the app (the real service for a few seconds, on the synthetic scene),
the models match the manifest's sha256, the units, launcher and config are in place with their
modes, a second install keeps the config, and uninstall keeps the recordings and the config
unless ``--purge``. The launcher is tested with a fake A/B update slot.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from camera_app.update.slots import seal_slot
from testkit.deploy import INSTALL, UNINSTALL, UNITS, copy_root, install_into, run_script
from testkit.paths import REPO

pytestmark = pytest.mark.slow

APP = Path("opt/camera-app")
LAUNCHER = REPO / "deploy" / "systemd" / "camera-app-launch"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("device")
    result = install_into(root)
    return root, result.stdout


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _launch(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed launcher, pointed at the installed venv inside the throwaway root."""
    environment = {
        **os.environ,
        "CAMERA_APP_VENV": str(root / APP / "venv"),
        "CAMERA_APP_SLOTS": str(root / "var/lib/camera-app/update/slots"),
        "GPIOZERO_PIN_FACTORY": "mock",
        **env,
    }
    return subprocess.run(
        [str(root / APP / "bin" / "camera-app-launch"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )


def test_install_lays_out_the_device(installed: tuple[Path, str]) -> None:
    root, output = installed
    assert "camera-app is installed under" in output
    expected = {
        APP: 0o755,
        APP / "bin" / "camera-app-launch": 0o755,
        APP / "models": 0o755,
        APP / "share/doc/deploy.md": 0o644,
        APP / "share/doc/remote-access.md": 0o644,  # camera-app-tunnel.service's Documentation=
        Path("etc/camera-app"): 0o750,
        Path("etc/camera-app/config.yaml"): 0o640,
        Path("var/lib/camera-app"): 0o750,
        # root's on a device (no chown with --prefix); setgid: what root writes stays readable
        Path("var/lib/camera-app/update"): 0o2750,
        **{Path("etc/systemd/system") / unit: 0o644 for unit in UNITS},
    }
    for path, mode in expected.items():
        assert (root / path).exists(), path
        assert _mode(root / path) == mode, f"{path}: {oct(_mode(root / path))}"
    for unit in UNITS:
        assert (root / "etc/systemd/system" / unit).read_bytes() == (
            REPO / "deploy/systemd" / unit
        ).read_bytes()
    assert (root / APP / "bin/camera-app-launch").read_bytes() == LAUNCHER.read_bytes()
    config = root / "etc/camera-app/config.yaml"
    assert config.read_bytes() == (REPO / "deploy/device.yaml").read_bytes()
    assert yaml.safe_load(config.read_text())["storage"]["data_dir"] == "/var/lib/camera-app"
    # status.json lives in RAM on the device: run/ points at the unit's RuntimeDirectory
    run = root / "var/lib/camera-app/run"
    assert run.is_symlink() and os.readlink(run) == "/run/camera-app"
    # paths inside files name the device, not the throwaway root
    assert str(root) not in (root / "etc/systemd/system/camera-app.service").read_text()


def test_installed_venv_runs_the_app_from_its_own_copy(installed: tuple[Path, str]) -> None:
    root, _ = installed
    python = root / APP / "venv" / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import camera_app; print(camera_app.__file__)"],
        capture_output=True, text=True, timeout=60, check=True, cwd=root,  # not the checkout
    )  # fmt: skip
    assert where.stdout.startswith(str(root / APP / "venv")), where.stdout
    helped = _launch(root, "--help")
    assert helped.returncode == 0, helped.stderr
    assert "camera-app" in helped.stdout
    checked = _launch(root, "check-config", str(root / "etc/camera-app/config.yaml"))
    assert checked.returncode == 0, checked.stderr


def test_installed_app_runs_the_service(installed: tuple[Path, str], tmp_path: Path) -> None:
    """The installed copy carries its package data (models manifest, web page) and works."""
    root, _ = installed
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "camera": {"id": "door"},
                "capture": {"source": "test:", "width": 320, "height": 240, "fps": 10},
                "storage": {"data_dir": str(tmp_path / "data")},
                "api": {"host": "127.0.0.1", "port": 0, "tls": False},
            }
        )
    )
    ran = _launch(
        root,
        "run",
        "--config",
        str(config),
        "--duration",
        "3",
        CAMERA_APP_MODELS=str(root / APP / "models"),
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "owner API listening on http://127.0.0.1:" in ran.stderr
    assert (tmp_path / "data" / "camera.db").is_file()


def test_installed_models_match_the_manifest(installed: tuple[Path, str]) -> None:
    root, _ = installed
    models = root / APP / "models"
    manifest = json.loads((REPO / "privacy/models/manifest.json").read_text())
    entries = manifest["models"] if isinstance(manifest, dict) else manifest
    assert entries
    for entry in entries:
        data = (models / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"].lower(), entry["file"]
        assert _mode(models / entry["file"]) == 0o644
    provenance = json.loads((models / "provenance.json").read_text())
    assert sorted(m["name"] for m in provenance["models"]) == sorted(e["name"] for e in entries)


def test_second_install_upgrades_and_keeps_the_config(
    installed: tuple[Path, str], tmp_path: Path
) -> None:
    root = copy_root(installed[0], tmp_path / "device")
    # a copied venv still points at the original root: make a fresh one, as an upgrade would
    shutil.rmtree(root / APP / "venv")
    config = root / "etc/camera-app/config.yaml"
    owned = config.read_text().replace("name: Camera", "name: Front door")
    config.write_text(owned)
    leftover = root / "var/lib/camera-app/run"
    leftover.unlink()
    leftover.mkdir()  # as a run by hand would leave it
    (leftover / "status.json").write_text("{}")
    result = install_into(root)
    assert "keeping the existing /etc/camera-app/config.yaml" in result.stdout
    assert config.read_text() == owned
    assert _mode(config) == 0o640
    assert leftover.is_symlink() and os.readlink(leftover) == "/run/camera-app"
    assert _launch(root, "--help").returncode == 0


def test_install_refuses_bad_invocations(tmp_path: Path) -> None:
    unknown = run_script(INSTALL, "--prefix", tmp_path, "--frobnicate")
    assert unknown.returncode != 0 and "unknown option" in unknown.stderr
    everything = run_script(INSTALL, "--prefix", "/")
    assert everything.returncode != 0 and "real system" in everything.stderr
    not_a_tree = run_script(INSTALL, "--prefix", tmp_path / "r", "--source", tmp_path)
    assert not_a_tree.returncode != 0 and "not a camera-app source tree" in not_a_tree.stderr
    assert not (tmp_path / "r" / "opt").exists()


def test_uninstall_keeps_recordings_and_config(installed: tuple[Path, str], tmp_path: Path) -> None:
    root = copy_root(installed[0], tmp_path / "device")
    clip = root / "var/lib/camera-app/clips/door/2024-01-01/e1.mp4"
    clip.parent.mkdir(parents=True)
    clip.write_bytes(b"evidence")
    result = run_script(UNINSTALL, "--prefix", root)
    assert result.returncode == 0, result.stderr
    assert not (root / APP).exists()
    for unit in UNITS:
        assert not (root / "etc/systemd/system" / unit).exists()
    assert clip.read_bytes() == b"evidence"
    assert (root / "etc/camera-app/config.yaml").is_file()
    assert "/var/lib/camera-app" in result.stdout and "--purge" in result.stdout


def test_uninstall_purge_removes_everything(installed: tuple[Path, str], tmp_path: Path) -> None:
    root = copy_root(installed[0], tmp_path / "device")
    result = run_script(UNINSTALL, "--prefix", root, "--purge")
    assert result.returncode == 0, result.stderr
    for path in (APP, Path("var/lib/camera-app"), Path("etc/camera-app")):
        assert not (root / path).exists(), path
    assert "removed completely" in result.stdout


# -- the launcher and the A/B update slots ------------------------------------------------------


def _fake_camera_app(path: Path, name: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\necho "{name} $* models=${{CAMERA_APP_MODELS:-unset}}"\n')
    path.chmod(0o755)


def test_launcher_prefers_the_active_update_slot(tmp_path: Path) -> None:
    venv, slots = tmp_path / "venv", tmp_path / "update" / "slots"
    _fake_camera_app(venv / "bin" / "camera-app", "venv")

    def launch() -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ["PATH"],
            "CAMERA_APP_VENV": str(venv),
            "CAMERA_APP_SLOTS": str(slots),
            "CAMERA_APP_SLOTS_OWNER": str(os.getuid()),
        }
        return subprocess.run(
            [str(LAUNCHER), "run", "--config", "x y.yaml"],
            capture_output=True, text=True, timeout=30, env=env, check=True,
        )  # fmt: skip

    def stdout() -> str:
        return launch().stdout.strip()

    assert stdout() == "venv run --config x y.yaml models=unset"  # no update applied yet
    slot = slots / "b"
    _fake_camera_app(slot / "bin" / "camera-app", "slot-b")
    seal_slot(slot)  # what the privileged apply does last
    (slots / "active").symlink_to("b")
    assert stdout() == "slot-b run --config x y.yaml models=unset"
    (slot / "models").mkdir()
    assert stdout() == f"slot-b run --config x y.yaml models={slots}/b/models"
    (slot / "models" / "extra.onnx").write_bytes(b"not in the install manifest")
    refused = launch()  # a changed slot: the venv runs, and the journal says why
    assert refused.stdout.startswith("venv run")
    assert "refusing update slot b: it holds files its install manifest does not list: " in (
        refused.stderr
    )
    (slot / "models" / "extra.onnx").unlink()
    (slot / "bin" / "camera-app").chmod(0o644)  # sealed, but nothing to run: the venv runs
    seal_slot(slot)
    refused = launch()
    assert refused.stdout.startswith("venv run")
    assert "refusing update slot b: it has no bin/camera-app" in refused.stderr


def test_shell_scripts_parse_and_pass_shellcheck() -> None:
    scripts = [INSTALL, UNINSTALL, REPO / "deploy" / "remote" / "setup-device.sh"]
    for script in scripts:
        subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
    subprocess.run(["sh", "-n", str(LAUNCHER)], check=True, timeout=30)
    assert LAUNCHER.read_text().startswith("#!/bin/sh\n")
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (bash -n and sh -n passed)")
    result = subprocess.run(
        [shellcheck, *map(str, scripts), str(LAUNCHER)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout
