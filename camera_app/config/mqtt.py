"""``mqtt:`` — events, state, health and commands over MQTT, with Home Assistant discovery."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from camera_app.config.api import is_loopback
from firmware.configbase import StrictModel

_ID = r"^[A-Za-z0-9_-]{1,64}$"  # no '/', '+', '#': it is a topic level and the certificate CN


class MqttConfig(StrictModel):
    """Off unless ``enabled``. The device connects with TLS and its own client certificate (CN =
    ``device_id``); the broker's ACL lets it use only ``<prefix>/<device_id>/#`` and its discovery
    topic (see ``deploy/mosquitto``). Starting a live stream is never possible over MQTT."""

    enabled: bool = Field(default=False, description="Connect to an MQTT broker.")
    host: str = Field(default="localhost", min_length=1, max_length=255, description="Broker.")
    port: int = Field(default=8883, ge=1, le=65535, description="Broker port (8883: MQTT/TLS).")
    tls: bool = Field(
        default=True,
        description="TLS with a client certificate. May be false only for a broker on loopback.",
    )
    ca_file: Path | None = Field(
        default=None, description="CA certificate (PEM) that the broker's certificate chains to."
    )
    cert_file: Path | None = Field(
        default=None, description="This device's client certificate (PEM); its CN is device_id."
    )
    key_file: Path | None = Field(
        default=None, description="The client certificate's private key (PEM, keep it 0600)."
    )
    device_id: str | None = Field(
        default=None,
        pattern=_ID,
        description="The device's id in topics (default: camera.id); must equal the CN of "
        "cert_file, or the broker's ACL refuses its topics.",
    )
    prefix: str = Field(
        default="camera", pattern=_ID, description="First topic level: <prefix>/<device_id>/…"
    )
    discovery: bool = Field(
        default=True,
        description="Publish Home Assistant device discovery (and again when HA comes online).",
    )
    discovery_prefix: str = Field(
        default="homeassistant", pattern=_ID, description="Home Assistant's discovery prefix."
    )
    keepalive_s: int = Field(default=30, ge=5, le=600, description="MQTT keep-alive.")
    reconnect_max_s: float = Field(
        default=60, ge=1, le=3600, description="Reconnect backoff doubles from 1 s up to this."
    )
    health_interval_s: float = Field(
        default=60, ge=5, le=3600, description="How often health (fps, drops, disk, °C) is sent."
    )
    commands_per_minute: int = Field(
        default=30, ge=1, le=600, description="Commands beyond this rate are refused."
    )
    outbox_max_events: int = Field(
        default=10_000,
        ge=100,
        le=1_000_000,
        description="Events kept on disk while the broker is unreachable; beyond it the oldest "
        "are dropped (and counted in the log).",
    )

    @model_validator(mode="after")
    def _secure(self) -> MqttConfig:
        if not self.enabled:
            return self
        if not self.tls:
            if not is_loopback(self.host):
                raise ValueError("mqtt.tls may be false only when mqtt.host is a loopback address")
            return self
        missing = [k for k in ("ca_file", "cert_file", "key_file") if getattr(self, k) is None]
        if missing:
            raise ValueError(
                f"mqtt with TLS needs {', '.join('mqtt.' + k for k in missing)} (the device's "
                "client certificate: deploy/mosquitto/make-certs.sh)"
            )
        return self
