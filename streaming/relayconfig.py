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


#: What the WHIP URL is expected to contain, so the viewer and revocation URLs can be derived.
_WHIP_ENDPOINT = "/whip/endpoint/"


class RelayConfig(StrictModel):
    """Publishing the redacted stream to a relay (WHIP) for many viewers; off unless
    ``whip_url`` is set. The relay gets only what viewers get: the redacted stream. Viewers
    subscribe there with a ticket the device signs for each of them (``camera_app.live.tickets``).
    """

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

    whep_url: str | None = Field(
        default=None,
        max_length=300,
        description="Where viewers subscribe on the relay, e.g. "
        "https://relay.example/whep/endpoint/{camera}. Default: whip_url with /whip/endpoint/ "
        "replaced by /whep/endpoint/.",
    )
    ticket_max_ttl_s: int = Field(
        default=600,
        ge=30,
        le=3600,
        description="Longest life of a viewer's relay ticket, in seconds. A ticket also ends at "
        "the end of the viewer's viewing window and of their login, whichever comes first; the "
        "owner app renews it before it runs out while the viewer may still watch.",
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
        if self.whep_url is None and _WHIP_ENDPOINT not in self.whip_url:
            raise ValueError(
                f"relay.whep_url is required when relay.whip_url has no {_WHIP_ENDPOINT} to "
                "derive it from"
            )
        try:
            check_whip_url(self.viewer_endpoint("camera"))
        except (WhipError, KeyError, IndexError, ValueError) as err:
            raise ValueError(f"relay.whep_url: {err}") from None
        return self

    def endpoint(self, camera_id: str) -> str:
        assert self.whip_url is not None
        return self.whip_url.format(camera=camera_id)

    def viewer_endpoint(self, camera_id: str) -> str:
        """Where a viewer of ``camera_id`` subscribes on the relay (WHEP, with a ticket)."""
        assert self.whip_url is not None
        template = self.whep_url or self.whip_url.replace(_WHIP_ENDPOINT, "/whep/endpoint/")
        return template.format(camera=camera_id)

    @property
    def audience(self) -> str:
        """The ``aud`` of this device's tickets: the relay's origin (scheme://host[:port]),
        which the front-end is started with (``--audience``)."""
        assert self.whip_url is not None
        return str(URL(self.endpoint("camera")).origin())

    @property
    def revocations_url(self) -> str:
        """Where the device pushes revoked tickets: ``/whip/revocations`` beside the WHIP
        endpoint (under the same path prefix), else at the relay's origin."""
        assert self.whip_url is not None
        prefix, found, _ = self.whip_url.partition(_WHIP_ENDPOINT)
        return f"{prefix}/whip/revocations" if found else f"{self.audience}/whip/revocations"
