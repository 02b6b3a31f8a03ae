"""A release bundle: unpacking it safely and checking it against its signed metadata.

A bundle is a ``.tar.gz`` with::

    release.json              {"schema": 1, "version", "wheel", "models", "changes_behaviour"}
    camera_app-<version>-py3-none-any.whl
    models/manifest.json      the privacy/models/manifest.json format
    models/<model files>

The bundle's bytes are already verified by TUF before this runs; these checks catch a vendor
build mistake (and any bug in the verification) before anything is installed: a tar that would
write outside its folder, links, device files or oversized members is refused, and every model
must have the sha256 the signed metadata and the wheel's own manifest name.
"""

from __future__ import annotations

import json
import logging
import shutil
import tarfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from camera_app.update.errors import BundleError
from camera_app.update.release import ReleaseInfo, wheel_name
from privacy.models.registry import ModelIntegrityError, file_sha256, load_manifest

log = logging.getLogger(__name__)

RELEASE_FILE = "release.json"
MODELS_DIR = "models"
MANIFEST_FILE = "manifest.json"
WHEEL_MANIFEST = "privacy/models/manifest.json"
MAX_MEMBERS = 1000
MAX_UNPACKED_BYTES = 2 * 1024**3
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class UnpackedRelease:
    """A bundle unpacked and checked: what to install."""

    root: Path
    version: str
    wheel: Path
    models_dir: Path


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if (
        not name
        or "\\" in name
        or "\x00" in name
        or path.is_absolute()
        or any(part in ("..", "") for part in name.split("/") if part != ".")
    ):
        raise BundleError(f"bundle member {name!r} has an unsafe name (absolute or '..')")
    parts = [p for p in path.parts if p != "."]
    if not parts:
        raise BundleError(f"bundle member {name!r} has an empty name")
    return PurePosixPath(*parts)


def unpack_bundle(archive: Path, dest: Path) -> Path:
    """Unpack ``archive`` into the new folder ``dest``: regular files and folders only.

    Every member is checked before the first byte is written, so a refused bundle leaves
    nothing behind.
    """
    if dest.exists():
        shutil.rmtree(dest)
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            members = tar.getmembers()
            if len(members) > MAX_MEMBERS:
                raise BundleError(f"bundle has {len(members)} members (at most {MAX_MEMBERS})")
            total = 0
            planned: list[tuple[tarfile.TarInfo, PurePosixPath]] = []
            for member in members:
                name = _safe_name(member.name)
                if member.issym() or member.islnk():
                    raise BundleError(f"bundle member {member.name!r} is a link (refused)")
                if not (member.isfile() or member.isdir()):
                    raise BundleError(f"bundle member {member.name!r} is not a file or folder")
                total += member.size
                if total > MAX_UNPACKED_BYTES:
                    raise BundleError(f"bundle unpacks to more than {MAX_UNPACKED_BYTES} bytes")
                planned.append((member, name))
            dest.mkdir(parents=True, mode=0o750)
            for member, name in planned:
                target = dest.joinpath(*name.parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:
                    raise BundleError(f"bundle member {member.name!r} cannot be read")
                with source, open(target, "xb") as out:
                    shutil.copyfileobj(source, out, _CHUNK)
                target.chmod(0o640)
    except BundleError:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    except (tarfile.TarError, EOFError, OSError, ValueError) as err:
        shutil.rmtree(dest, ignore_errors=True)
        if isinstance(err, FileExistsError):
            raise BundleError(f"bundle lists {err.filename} twice") from None
        raise BundleError(f"bundle {archive.name} is not a readable .tar.gz ({err})") from None
    return dest


def _read_json(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"bundle has no {what}") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise BundleError(f"bundle {what} is not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise BundleError(f"bundle {what} is not a JSON object")
    return data


def _manifest_digests(data: dict, what: str) -> dict[str, str]:
    try:
        return {str(m["name"]): str(m["sha256"]).lower() for m in data["models"]}
    except (KeyError, TypeError) as err:
        raise BundleError(f"{what} lacks {err}") from None


def check_release(root: Path, info: ReleaseInfo) -> UnpackedRelease:
    """Check an unpacked bundle against the release's signed metadata; raises BundleError."""
    release = _read_json(root / RELEASE_FILE, RELEASE_FILE)
    if release.get("version") != info.version:
        raise BundleError(
            f"bundle release.json says version {release.get('version')!r}, "
            f"the signed metadata {info.version}"
        )
    if sorted(release.get("changes_behaviour") or []) != list(info.changes_behaviour):
        raise BundleError("bundle release.json and the signed metadata disagree on what changes")
    expected_wheel = wheel_name(info.version)
    if release.get("wheel") != expected_wheel:
        raise BundleError(
            f"bundle release.json names wheel {release.get('wheel')!r}, expected {expected_wheel}"
        )
    wheel = root / expected_wheel
    if not wheel.is_file():
        raise BundleError(f"bundle has no {expected_wheel}")
    if release.get("models") != dict(info.models):
        raise BundleError("bundle release.json and the signed metadata list different models")

    models_dir = root / MODELS_DIR
    manifest_path = models_dir / MANIFEST_FILE
    bundle_manifest = _manifest_digests(
        _read_json(manifest_path, "models/manifest.json"), "models/manifest.json"
    )
    if bundle_manifest != dict(info.models):
        raise BundleError(
            "bundle models/manifest.json does not list the models and sha256s the signed "
            "metadata names"
        )
    wheel_manifest = _wheel_manifest(wheel)
    if wheel_manifest != bundle_manifest:
        raise BundleError(
            f"the app in {expected_wheel} pins different models than the bundle carries"
        )
    verify_models(models_dir, manifest_path, info.models)
    return UnpackedRelease(root=root, version=info.version, wheel=wheel, models_dir=models_dir)


def _wheel_manifest(wheel: Path) -> dict[str, str]:
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = json.loads(zf.read(WHEEL_MANIFEST).decode("utf-8"))
    except KeyError:
        raise BundleError(f"{wheel.name} has no {WHEEL_MANIFEST}") from None
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, ValueError) as err:
        raise BundleError(f"{wheel.name} is not a readable wheel ({err})") from None
    if not isinstance(data, dict):
        raise BundleError(f"{wheel.name}: {WHEEL_MANIFEST} is not a JSON object")
    return _manifest_digests(data, f"{wheel.name}: {WHEEL_MANIFEST}")


def verify_models(models_dir: Path, manifest_path: Path, expected: Mapping[str, str]) -> None:
    """Every model the manifest lists is in ``models_dir`` with the expected sha256 (the same
    manifest reader and hash function the privacy stage uses before it loads a model)."""
    try:
        entries = load_manifest(models_dir, manifest_path=manifest_path)
    except ModelIntegrityError as err:
        raise BundleError(f"bundle model manifest: {err}") from None
    for entry in entries:
        if entry.sha256 != expected.get(entry.name):
            raise BundleError(f"model {entry.name!r}: manifest and signed metadata disagree")
        if PurePosixPath(entry.file).name != entry.file:
            raise BundleError(f"model {entry.name!r}: file name {entry.file!r} is not plain")
        if not entry.path.is_file():
            raise BundleError(f"model {entry.name!r}: {entry.file} is missing from the bundle")
        actual = file_sha256(entry.path)
        if actual != entry.sha256:
            raise BundleError(
                f"model {entry.name!r}: {entry.file} has sha256 {actual}, the signed metadata "
                f"expects {entry.sha256}"
            )
