"""``update:`` — signed software and model updates (TUF), installed A/B with automatic rollback."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from camera_app.config.api import is_loopback
from firmware.configbase import StrictModel


class UpdateConfig(StrictModel):
    """Off unless ``repository_url`` is set. The device trusts only metadata that chains to the
    pinned ``root_file``; a new release goes into the inactive slot and is kept only if the
    health check passes within ``health_deadline_s`` (see docs/updates.md)."""

    repository_url: str | None = Field(
        default=None,
        max_length=2048,
        description="Base URL of the vendor's TUF repository (metadata/ and targets/ below it). "
        "HTTPS, or plain HTTP on a loopback address only. Unset: updates are off.",
    )
    root_file: Path | None = Field(
        default=None,
        description="The pinned root.json shipped with the device (absolute path); every "
        "signature the device accepts chains to it. Required when repository_url is set.",
    )
    health_deadline_s: float = Field(
        default=120,
        ge=1,
        le=3600,
        description="After switching to a new release, capture, the privacy self-test and the "
        "API must all pass within this time or the device switches back.",
    )
    check_interval_h: float = Field(
        default=6,
        gt=0,
        le=168,
        description="How often the device looks for new releases, so that behaviour changes "
        "are announced well before they may be activated.",
    )

    @field_validator("repository_url")
    @classmethod
    def _secure_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be an http(s) URL with a host")
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            raise ValueError("must use https (plain http only on a loopback address)")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or fragment")
        return url

    @model_validator(mode="after")
    def _root_pinned(self) -> UpdateConfig:
        if self.root_file is not None and not self.root_file.is_absolute():
            raise ValueError("update.root_file must be an absolute path")
        if self.repository_url is not None and self.root_file is None:
            raise ValueError(
                "update.root_file is required when update.repository_url is set (the pinned "
                "root.json: deploy/tuf/README.md)"
            )
        return self
