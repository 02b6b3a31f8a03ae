"""``site:`` — the device's outbound link to a site (the school's or the shop chain's server on
the relay host), over the site's MQTT broker. Off by default."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from camera_app.config.api import is_loopback
from firmware.configbase import StrictModel

_ID = r"^[A-Za-z0-9_-]{1,64}$"  # a topic level and the certificate CN


class SiteLinkConfig(StrictModel):
    """Off unless ``enabled``. The device connects out to the site's broker with TLS and its own
    client certificate (CN = ``device_id``, made by the site's ``deploy/mosquitto/make-certs.sh``);
    the broker's ACL lets it write only ``<prefix>/<device_id>/up/#`` and read only
    ``<prefix>/<device_id>/down/#``. The site never gets a frame, a recording or an ID number:
    the device publishes its cameras (id, name, room, profile), takes the site's grants as viewers
    of origin ``site`` and answers ticket requests for them under its own rules."""

    enabled: bool = Field(default=False, description="Connect to a site's broker.")
    host: str = Field(
        default="localhost", min_length=1, max_length=255, description="The site's broker."
    )
    port: int = Field(default=8883, ge=1, le=65535, description="Broker port (8883: MQTT/TLS).")
    tls: bool = Field(
        default=True,
        description="TLS with a client certificate. May be false only for a broker on loopback.",
    )
    ca_file: Path | None = Field(
        default=None,
        description="CA certificate (PEM) that the site broker's certificate chains to.",
    )
    cert_file: Path | None = Field(
        default=None,
        description="This device's client certificate (PEM) from the site's CA; its "
        "CN is device_id.",
    )
    key_file: Path | None = Field(
        default=None, description="The client certificate's private key (PEM, keep it 0600)."
    )
    device_id: str | None = Field(
        default=None,
        pattern=_ID,
        description="The device's id at the site (default: mqtt.device_id, else the first "
        "camera's id); must equal the CN of cert_file.",
    )
    prefix: str = Field(default="site", pattern=_ID, description="First topic level.")
    keepalive_s: int = Field(default=30, ge=5, le=600, description="MQTT keep-alive.")
    reconnect_max_s: float = Field(
        default=60, ge=1, le=3600, description="Reconnect backoff doubles from 1 s up to this."
    )
    requests_per_minute: int = Field(
        default=600,
        ge=1,
        le=100_000,
        description="Ticket requests beyond this rate are refused (a class of 40 renewing every "
        "few minutes stays far below it).",
    )

    @model_validator(mode="after")
    def _secure(self) -> SiteLinkConfig:
        if not self.enabled:
            return self
        if not self.tls:
            if not is_loopback(self.host):
                raise ValueError("site.tls may be false only when site.host is a loopback address")
            return self
        missing = [k for k in ("ca_file", "cert_file", "key_file") if getattr(self, k) is None]
        if missing:
            raise ValueError(
                f"site with TLS needs {', '.join('site.' + k for k in missing)} (the device's "
                "client certificate from the site's CA)"
            )
        return self
