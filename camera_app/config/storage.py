"""``storage:`` — where evidence lives and how long."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from firmware.configbase import StrictModel


class StorageConfig(StrictModel):
    data_dir: Path = Field(
        default=Path("/var/lib/camera-app"),
        description="Clips, snapshots and the SQLite database. Relative paths are taken from the "
        "config file's folder.",
    )
    retention_days: float = Field(
        default=14, gt=0, le=3650, description="Events older than this are deleted."
    )
    quota_mb: float = Field(
        default=4096,
        gt=0,
        description="Clips and snapshots together stay under this; oldest events go first.",
    )
    min_free_mb: float = Field(
        default=200,
        ge=0,
        description="Recording pauses (events are still indexed) while the disk has less free.",
    )
