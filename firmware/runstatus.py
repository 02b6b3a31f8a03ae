"""``<data_dir>/run/status.json``: what the running service reports about itself.

The service rewrites the file about once a second; the update health check (and anyone
debugging a device) reads it. The format is fixed::

    {"pid": int, "started_at": float, "frames": int, "last_frame_at": float | null,
     "api_url": str | null, "version": str}

``started_at`` and ``last_frame_at`` are unix times; ``frames`` counts the frames the service
loop received since it started; ``version`` is the installed camera-app distribution's version.

The file is replaced atomically (write beside it, then rename) so a reader never sees half of
it, but it is *not* fsynced: it is rewritten every second for years on an SD card, and after a
power cut a stale or missing status file is harmless (the process it describes is gone). On an
installed device ``run`` is a symlink to ``/run/camera-app`` (tmpfs, emptied when the service
stops), see docs/deploy.md.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["DISTRIBUTION", "RunStatus", "app_version", "read_run_status", "write_run_status"]

DISTRIBUTION = "camera-app"


@dataclass(frozen=True, slots=True)
class RunStatus:
    """One snapshot of the running service (the exact fields of ``status.json``)."""

    pid: int
    started_at: float
    frames: int
    last_frame_at: float | None
    api_url: str | None
    version: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> RunStatus:
        """Parse a decoded ``status.json``; ValueError names the field that is wrong."""
        if not isinstance(data, dict):
            raise ValueError("status must be a JSON object")
        if set(data) != {f for f in cls.__dataclass_fields__}:
            raise ValueError(f"status has fields {sorted(data)}, expected {_FIELDS}")
        _check(data, "pid", int)
        _check(data, "started_at", (int, float))
        _check(data, "frames", int)
        _check(data, "last_frame_at", (int, float), nullable=True)
        _check(data, "api_url", str, nullable=True)
        _check(data, "version", str)
        return cls(**data)


_FIELDS = sorted(RunStatus.__dataclass_fields__)


def _check(
    data: dict[str, Any], key: str, types: type | tuple[type, ...], *, nullable: bool = False
) -> None:
    value = data[key]
    if value is None and nullable:
        return
    if isinstance(value, bool) or not isinstance(value, types):
        raise ValueError(f"status field {key!r} has the wrong type: {value!r}")


def write_run_status(path: Path, status: RunStatus) -> None:
    """Replace ``path`` with ``status`` atomically (no fsync, see the module docstring)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        tmp.write_text(json.dumps(status.to_json()) + "\n", encoding="utf-8")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_run_status(path: Path) -> RunStatus | None:
    """The status in ``path``, or None when there is none (service not running, never ran).

    Raises ValueError when the file exists but is not a valid status.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from exc
    return RunStatus.from_json(data)


def app_version() -> str:
    """The installed camera-app version (``unknown`` when run from an uninstalled tree)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"
