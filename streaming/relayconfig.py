"""Where the redacted stream may be published (``streaming.relay`` in the config) and the rule
for a WHIP URL: https, or plain http to a loopback address only.

Kept apart from :mod:`streaming.whip` so that loading the configuration does not load aiortc.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, model_validator
from yarl import URL

from firmware.configbase import StrictModel


class WhipError(Exception):
    """Publishing failed: ``status`` is the relay's HTTP status (``None`` if it never answered)
    and ``reason`` says why. The bearer token is never part of it."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(f"WHIP {status}: {reason}" if status is not None else f"WHIP: {reason}")
        self.status = status
        self.reason = reason


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it is not resolved here, so it is not trusted to be local


def check_whip_url(url: str) -> URL:
    """The parsed URL, if the stream may be sent there: https, or http to a loopback address."""
    parsed = URL(url)
    if not parsed.is_absolute() or parsed.scheme not in ("http", "https") or not parsed.host:
        raise WhipError(f"not an http(s) URL: {url!r}")
    if parsed.user or parsed.password:
        raise WhipError("the WHIP URL must not carry credentials; give the token separately")
    if parsed.scheme != "https" and not _is_loopback(parsed.host):
        raise WhipError(
            f"refusing plain http to {parsed.host}: the stream leaves the device, so the WHIP "
            "URL must be https (plain http is allowed to a loopback address only)"
        )
    return parsed


class RelayConfig(StrictModel):
    """Publishing the redacted stream to a relay (WHIP) for many viewers; off unless
    ``whip_url`` is set. The relay gets only what viewers get: the redacted stream."""

    whip_url: str | None = Field(
        default=None,
        max_length=300,
        description="WHIP endpoint of the relay, e.g. https://relay.example/whip/endpoint/{camera} "
        "({camera} becomes the camera id). https is required unless the host is loopback. "
        "Unset: no relay, viewers connect to the device.",
    )
    token_file: Path | None = Field(
        default=None,
        description="File holding the relay's bearer token (keep it 0600); required with "
        "whip_url. Read when publishing starts; never logged.",
    )
    ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA (or self-signed certificate) that the relay's TLS "
        "certificate must chain to. Default: the system's trusted CAs.",
    )

    @model_validator(mode="after")
    def _usable(self) -> RelayConfig:
        if self.whip_url is None:
            return self
        if self.token_file is None:
            raise ValueError("relay.token_file is required when relay.whip_url is set")
        try:
            check_whip_url(self.endpoint("camera"))
        except (WhipError, KeyError, IndexError, ValueError) as err:
            raise ValueError(f"relay.whip_url: {err}") from None
        return self

    def endpoint(self, camera_id: str) -> str:
        assert self.whip_url is not None
        return self.whip_url.format(camera=camera_id)
