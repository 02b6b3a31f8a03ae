"""The A/B slots: building a release's Python environment and switching between slots.

A slot is a virtual environment made by the base environment's interpreter, with the release's
app wheel installed into it (``pip install --no-deps --no-index``: nothing is fetched) and its
models in ``<slot>/models``. The app's dependencies (numpy, OpenCV, …) stay in the base
environment: a ``.pth`` file in the slot adds the base site-packages after the slot's own, so the
slot's ``camera_app``/``privacy``/… packages win and an update ships only the app and its models.
(``--system-site-packages`` does not do this: it exposes the *system* Python's packages, not the
base venv's.) A base environment made with ``--system-site-packages`` (for picamera2 on a Pi)
gets slots made the same way. The same ``.pth`` file points ``$CAMERA_APP_MODELS`` at the slot's
``models/``, so a release always runs with the models it was verified with, whoever starts it.

Activation swaps the ``slots/active`` symlink with a rename, which is atomic: a power cut leaves
the old or the new link, and the service is always started through it.

A finished slot is **sealed**: nothing in it is writable by anyone but its owner (root on a
device: the privileged apply builds it), and it carries its install manifest, ``SHA256SUMS``
(every file, in ``sha256sum`` format) and ``SYMLINKS`` (every link and its target). The launcher
(``deploy/systemd/camera-app-launch``) checks both, and the owner, before it runs the slot, so a
changed, added or removed file, or a slot someone else could change, is refused.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

from camera_app.update.bundle import MANIFEST_FILE, RELEASE_FILE, UnpackedRelease
from camera_app.update.errors import InstallError
from camera_app.update.layout import ACTIVE_LINK, SLOT_NAMES, UpdatePaths
from camera_app.update.state import SlotName
from privacy.models.registry import ENV_MODELS_DIR

log = logging.getLogger(__name__)

BASE_PTH = "_camera_app_base.pth"
BASE_ENV_FILE = "base-env"
#: the install manifest the launcher checks (names shared with deploy/systemd/camera-app-launch)
FILES_MANIFEST = "SHA256SUMS"
LINKS_MANIFEST = "SYMLINKS"
PIP_TIMEOUT_S = 600
#: characters that would make a manifest line ambiguous for sha256sum or the launcher
_UNSAFE_NAME_CHARS = ("\n", "\\", "\r")


def other_slot(slot: str | None) -> SlotName:
    """The slot a new release goes into while ``slot`` runs."""
    return "b" if slot == "a" else "a"


def active_slot(paths: UpdatePaths) -> str | None:
    """The slot ``slots/active`` points to; None when there is no link (the base install runs)."""
    try:
        target = paths.active_link.readlink()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise InstallError(f"{paths.active_link} is not a symlink ({err})") from None
    name = Path(target).name
    if name not in SLOT_NAMES:
        raise InstallError(f"{paths.active_link} points to {target!r}, not to a slot")
    return name


def switch_active(paths: UpdatePaths, slot: str | None) -> None:
    """Point ``slots/active`` at ``slot`` (None removes it) with an atomic rename."""
    link = paths.active_link
    if slot is None:
        link.unlink(missing_ok=True)
        _fsync_dir(paths.slots)
        return
    paths.slot(slot)  # validates the name
    tmp = paths.slots / f".{ACTIVE_LINK}.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(slot)  # relative: the data directory may be moved
    tmp.replace(link)
    _fsync_dir(paths.slots)
    log.info("active slot is now %s", slot)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def default_base_env(paths: UpdatePaths) -> Path:
    """The environment holding the app's dependencies.

    When running from a slot, it is the one that slot was built on (recorded in the slot);
    otherwise the environment of this interpreter.
    """
    prefix = Path(sys.prefix).resolve()
    slots = paths.slots.resolve()
    if prefix.parent == slots:
        recorded = prefix / BASE_ENV_FILE
        try:
            return Path(recorded.read_text(encoding="utf-8").strip())
        except OSError as err:
            raise InstallError(
                f"slot {prefix.name} does not record its base environment ({err})"
            ) from None
    return prefix


def _site_packages(env: Path) -> Path:
    return Path(
        sysconfig.get_path(
            "purelib", scheme="posix_prefix", vars={"base": str(env), "platbase": str(env)}
        )
    )


def _uses_system_site_packages(env: Path) -> bool:
    try:
        for line in (env / "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "include-system-site-packages":
                return value.strip().lower() == "true"
    except OSError:
        pass
    return False


def _run(cmd: list[str], what: str) -> None:
    try:
        result = subprocess.run(
            cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise InstallError(f"{what} failed: {err}") from None
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise InstallError(f"{what} failed (exit {result.returncode}): " + " | ".join(tail))


def build_slot(paths: UpdatePaths, slot: str, release: UnpackedRelease, base_env: Path) -> Path:
    """Replace ``slot`` with a fresh environment holding ``release``; returns the slot folder.

    Never call it for the active slot. On failure the slot is removed, so a half-built slot is
    never mistaken for a release.
    """
    target = paths.slot(slot)
    if active_slot(paths) == slot:
        raise InstallError(f"slot {slot} is active; refusing to overwrite it")
    base_python = base_env / "bin" / "python"
    if not base_python.exists():
        raise InstallError(f"the base environment {base_env} has no bin/python")
    base_site = _site_packages(base_env)
    if not base_site.is_dir():
        raise InstallError(f"the base environment has no site-packages at {base_site}")
    shutil.rmtree(target, ignore_errors=True)
    try:
        venv = [str(base_python), "-m", "venv", "--without-pip"]
        if _uses_system_site_packages(base_env):
            venv.append("--system-site-packages")
        _run([*venv, str(target)], f"creating the environment of slot {slot}")
        slot_site = _site_packages(target)
        # Every process of the slot's Python uses the slot's own models (the app finds them
        # through $CAMERA_APP_MODELS, privacy.models.default_models_dir), and sees the base
        # packages: addsitedir (not a bare path) so the base's own .pth files are honoured too.
        models_dir = target / "models"
        (slot_site / BASE_PTH).write_text(
            f"import os; os.environ[{ENV_MODELS_DIR!r}] = {str(models_dir)!r}\n"
            f"import site; site.addsitedir({str(base_site)!r})\n",
            encoding="utf-8",
        )
        (target / BASE_ENV_FILE).write_text(f"{base_env}\n", encoding="utf-8")
        # --ignore-installed: the base may hold an older camera-app; it must not be touched.
        _run(
            [
                str(target / "bin" / "python"), "-m", "pip", "install", "--no-deps",
                "--no-index", "--ignore-installed", "--disable-pip-version-check",
                "--no-warn-script-location", "--quiet", str(release.wheel),
            ],
            f"installing {release.wheel.name} into slot {slot}",
        )  # fmt: skip
        if not (target / "bin" / "camera-app").exists():
            raise InstallError(f"{release.wheel.name} did not install the camera-app command")
        shutil.copytree(release.models_dir, target / "models")
        shutil.copy2(release.root / RELEASE_FILE, target / RELEASE_FILE)
        if not (target / "models" / MANIFEST_FILE).is_file():
            raise InstallError(f"slot {slot} has no models/{MANIFEST_FILE}")
        seal_slot(target)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    log.info("release %s installed into slot %s", release.version, slot)
    return target


def seal_slot(slot_dir: Path) -> None:
    """Take write access from group and others throughout ``slot_dir``, then write its install
    manifest (``SHA256SUMS``, ``SYMLINKS``); the last step of building a slot."""
    files: list[str] = []
    links: list[str] = []
    for folder, dirs, names in os.walk(slot_dir):
        here = Path(folder)
        here.chmod(stat.S_IMODE(here.lstat().st_mode) & ~0o022)
        for name in sorted([*dirs, *names]):
            path = here / name
            if here == slot_dir and name in (FILES_MANIFEST, LINKS_MANIFEST):
                continue  # sealed before: rewritten below
            relative = "./" + path.relative_to(slot_dir).as_posix()
            if any(c in relative for c in _UNSAFE_NAME_CHARS):
                raise InstallError(f"slot file {relative!r} has a name the manifest cannot hold")
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                links.append(f"{relative} -> {path.readlink()}")
            elif stat.S_ISREG(mode):
                path.chmod(stat.S_IMODE(mode) & ~0o022)
                with path.open("rb") as fh:
                    digest = hashlib.file_digest(fh, "sha256").hexdigest()
                files.append(f"{digest}  {relative}")
            elif not stat.S_ISDIR(mode):
                raise InstallError(f"slot file {relative} is not a file, folder or link")
    for name, lines in ((FILES_MANIFEST, files), (LINKS_MANIFEST, links)):
        manifest = slot_dir / name
        manifest.unlink(missing_ok=True)  # read-only once written
        manifest.write_text("".join(f"{line}\n" for line in sorted(lines)), encoding="utf-8")
        manifest.chmod(0o444)


def remove_slot(paths: UpdatePaths, slot: str) -> None:
    if active_slot(paths) == slot:
        raise InstallError(f"slot {slot} is active; refusing to remove it")
    shutil.rmtree(paths.slot(slot), ignore_errors=True)
