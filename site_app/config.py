"""The site's configuration file (YAML): where it keeps its data, where it listens, its broker."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import ClassVar

import yaml
from pydantic import Field, ValidationError, model_validator

from camera_app.config.api import is_loopback
from camera_app.onboarding.config import OnboardingConfig
from firmware.configbase import StrictModel
from firmware.errors import AppError, ExitCode
from site_app.invites import SiteInvitesConfig


class SiteConfigError(AppError, ValueError):
    exit_code: ClassVar[ExitCode] = ExitCode.CONFIG


class SiteHttpConfig(StrictModel):
    host: str = Field(
        default="127.0.0.1",
        description="Listen address. Beyond loopback only with certfile/keyfile; on the relay "
        "host the TLS proxy in front of the WHIP/WHEP front-end serves the site too.",
    )
    port: int = Field(default=8091, ge=0, le=65535, description="Listen port (0: any free one).")
    certfile: Path | None = Field(default=None, description="TLS certificate (PEM).")
    keyfile: Path | None = Field(default=None, description="TLS private key (PEM).")
    relay_origin: str | None = Field(
        default=None,
        pattern=r"^https?://[^/\s]+$",
        description="The relay's origin (https://relay.example.org) when the page is served from "
        "another origin than the relay's WHEP endpoint: the page may connect there.",
    )
    session_hours: float = Field(
        default=12, gt=0, le=24 * 90, description="A login lasts this long."
    )
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = Field(
        default=(),
        max_length=64,
        description="Addresses or networks (CIDR) of the proxies in front of the site (the relay "
        "host's TLS proxy: often 127.0.0.1). Only when a request comes from one of them is its "
        "X-Forwarded-For read: the client is its right-most address that is not a trusted proxy, "
        "and the login limiter counts attempts per that address. Empty (the default): the "
        "socket's peer is the client and X-Forwarded-For is ignored.",
    )

    @model_validator(mode="after")
    def _tls_beyond_loopback(self) -> SiteHttpConfig:
        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError("http.certfile and http.keyfile go together")
        if self.certfile is None and not is_loopback(self.host):
            raise ValueError("the site listens beyond loopback only with TLS (certfile, keyfile)")
        return self


class SiteBrokerConfig(StrictModel):
    host: str = Field(default="localhost", min_length=1, description="The site's mosquitto.")
    port: int = Field(default=8883, ge=1, le=65535, description="MQTT/TLS port.")
    ca_file: Path = Field(description="The site's CA certificate (PEM).")
    cert_file: Path = Field(description="The site server's client certificate (CN site).")
    key_file: Path = Field(description="Its private key (PEM, 0600).")
    prefix: str = Field(default="site", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Topics.")
    ticket_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="A device that has not answered a ticket request "
        "by then is reported unreachable.",
    )


class SiteConfig(StrictModel):
    """Everything ``camera-site`` reads from its YAML file."""

    data_dir: Path = Field(description="The site's database lives here (site.db, mode 0600).")
    http: SiteHttpConfig = Field(default_factory=SiteHttpConfig)
    broker: SiteBrokerConfig
    invites: SiteInvitesConfig = Field(default_factory=SiteInvitesConfig)
    # the device's own section: the school's named schedules a class list may refer to
    onboarding: OnboardingConfig = Field(default_factory=OnboardingConfig)


def load_site_config(path: Path) -> SiteConfig:
    """Read and check a config file; errors name the key path."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise SiteConfigError(f"cannot read {path}: {err}") from None
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SiteConfigError(f"{path}: {where}: {first['msg']}") from None
