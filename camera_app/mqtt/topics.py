"""The topic layout: everything of a device lives under ``<prefix>/<device_id>/``.

The broker's ACL (``deploy/mosquitto/acl``) grants a device exactly that subtree plus its own
Home Assistant discovery topic and read access to Home Assistant's status topic.
"""

from __future__ import annotations

from dataclasses import dataclass

COMMANDS = ("arm", "disarm", "snapshot", "stop_stream")


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str
    device_id: str
    discovery_prefix: str = "homeassistant"

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.device_id}"

    @property
    def availability(self) -> str:
        """Retained ``online``/``offline``; ``offline`` is also the last will."""
        return f"{self.base}/availability"

    @property
    def state(self) -> str:
        """Retained JSON: armed, motion, and per camera whether it streams and why not."""
        return f"{self.base}/state"

    @property
    def motion(self) -> str:
        """QoS 1 JSON events, ``start`` and ``end``, each with its event id."""
        return f"{self.base}/events/motion"

    def camera_motion(self, camera_id: str) -> str:
        """A camera's events when the device has several (one camera uses :attr:`motion`)."""
        return f"{self.base}/cameras/{camera_id}/events/motion"

    @property
    def reminder(self) -> str:
        """QoS 1 JSON, at most once a day per camera: re-attest the posted notice before it
        lapses (merchant profile)."""
        return f"{self.base}/reminder"

    @property
    def health(self) -> str:
        return f"{self.base}/health"

    @property
    def commands(self) -> str:
        """The subscription filter: ``<base>/cmd/<name>``."""
        return f"{self.base}/cmd/+"

    def command(self, name: str) -> str:
        return f"{self.base}/cmd/{name}"

    @property
    def responses(self) -> str:
        return f"{self.base}/cmd/response"

    @property
    def discovery(self) -> str:
        """Home Assistant device discovery (one retained message for all components)."""
        return f"{self.discovery_prefix}/device/{self.device_id}/config"

    @property
    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"
