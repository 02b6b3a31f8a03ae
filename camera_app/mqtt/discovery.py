"""Home Assistant MQTT device discovery: one retained message describing the whole device.

Published to ``<discovery_prefix>/device/<device_id>/config`` with the device (``dev``), the
origin (``o``) and its components (``cmps``): motion, armed and streaming as binary sensors,
health figures as sensors, and buttons for the commands. There is deliberately no control to
start a stream. An empty retained message on the same topic removes the device (decommission).
"""

from __future__ import annotations

import json
from importlib import metadata
from typing import Any

from camera_app.mqtt.topics import Topics


def _version() -> str:
    try:
        return metadata.version("camera-app")
    except metadata.PackageNotFoundError:
        return "0"


def discovery_payload(topics: Topics, name: str) -> bytes:
    dev = topics.device_id
    state = topics.state
    health = topics.health

    def binary(key: str, label: str, template: str, device_class: str | None) -> dict[str, Any]:
        component = {
            "p": "binary_sensor",
            "name": label,
            "unique_id": f"{dev}_{key}",
            "state_topic": state,
            "value_template": template,
            "payload_on": "ON",
            "payload_off": "OFF",
        }
        if device_class:
            component["device_class"] = device_class
        return component

    def sensor(key: str, label: str, unit: str | None, **extra: Any) -> dict[str, Any]:
        component = {
            "p": "sensor",
            "name": label,
            "unique_id": f"{dev}_{key}",
            "state_topic": health,
            "value_template": f"{{{{ value_json.{key} }}}}",
            "state_class": "measurement",
            "entity_category": "diagnostic",
            **extra,
        }
        if unit:
            component["unit_of_measurement"] = unit
        return component

    def button(key: str, label: str, icon: str) -> dict[str, Any]:
        return {
            "p": "button",
            "name": label,
            "unique_id": f"{dev}_{key}",
            "command_topic": topics.command(key),
            "payload_press": "{}",
            "icon": icon,
        }

    payload = {
        "dev": {
            "ids": [f"camera-app-{dev}"],
            "name": name,
            "mf": "camera-app",
            "mdl": "privacy-first camera",
            "sw": _version(),
        },
        "o": {"name": "camera-app", "sw": _version()},
        "availability_topic": topics.availability,
        "payload_available": "online",
        "payload_not_available": "offline",
        "qos": 1,
        "cmps": {
            "motion": binary(
                "motion", "Motion", "{{ 'ON' if value_json.motion else 'OFF' }}", "motion"
            ),
            "armed": binary("armed", "Armed", "{{ 'ON' if value_json.armed else 'OFF' }}", None),
            "streaming": binary(
                "streaming",
                "Streaming live",
                "{{ 'ON' if value_json.streaming else 'OFF' }}",
                "running",
            ),
            "fps": sensor("fps", "Capture rate", "fps"),
            "dropped_frames": sensor("dropped_frames", "Dropped frames", None),
            "disk_free_mb": sensor("disk_free_mb", "Free storage", "MB", device_class="data_size"),
            "temperature_c": sensor(
                "temperature_c", "Temperature", "°C", device_class="temperature"
            ),
            "arm": button("arm", "Arm", "mdi:shield-check"),
            "disarm": button("disarm", "Disarm", "mdi:shield-off"),
            "snapshot": button("snapshot", "Take snapshot", "mdi:camera"),
            "stop_stream": button("stop_stream", "Stop live stream", "mdi:video-off"),
        },
    }
    return json.dumps(payload, ensure_ascii=False).encode()
