"""Home Assistant MQTT device discovery: one retained message describing the whole device.

Published to ``<discovery_prefix>/device/<device_id>/config`` with the device (``dev``), the
origin (``o``) and its components (``cmps``): motion, armed and streaming as binary sensors,
health figures as sensors, and buttons for the commands. There is deliberately no control to
start a stream. An empty retained message on the same topic removes the device (decommission).

A device with several cameras (``cameras:``) keeps the device's own components (motion and
streaming on any camera, armed, storage, temperature, arm and disarm) and adds, per camera,
its motion, streaming, capture rate and dropped frames (from ``state`` and ``health``, where
they are under ``cameras.<id>``) and its snapshot and stop-stream buttons (the command with
``{"camera": "<id>"}``); their ids are ``<device>_<camera>_<what>``. One camera's message is
as it always was.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from camera_app.mqtt.topics import Topics


def _version() -> str:
    try:
        return metadata.version("camera-app")
    except metadata.PackageNotFoundError:
        return "0"


def discovery_payload(topics: Topics, name: str, cameras: Sequence[tuple[str, str]] = ()) -> bytes:
    """The device's discovery message; ``cameras`` (id, name) each get their own components
    when there are two or more."""
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

    def sensor(
        key: str, label: str, unit: str | None, value: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        component = {
            "p": "sensor",
            "name": label,
            "unique_id": f"{dev}_{key}",
            "state_topic": health,
            "value_template": f"{{{{ value_json.{value or key} }}}}",
            "state_class": "measurement",
            "entity_category": "diagnostic",
            **extra,
        }
        if unit:
            component["unit_of_measurement"] = unit
        return component

    def button(command: str, label: str, icon: str, camera: str | None = None) -> dict[str, Any]:
        return {
            "p": "button",
            "name": label,
            "unique_id": f"{dev}_{camera}_{command}" if camera else f"{dev}_{command}",
            "command_topic": topics.command(command),
            "payload_press": json.dumps({"camera": camera} if camera else {}),
            "icon": icon,
        }

    def camera_components(camera: str, label: str) -> dict[str, dict[str, Any]]:
        """One camera's own components; their keys (and ids) start with the camera's id."""
        of = f"cameras[{json.dumps(camera)}]"  # camera ids may have "-": not an attribute
        return {
            f"{camera}_motion": binary(
                f"{camera}_motion",
                f"{label} motion",
                f"{{{{ 'ON' if value_json.{of}.motion else 'OFF' }}}}",
                "motion",
            ),
            f"{camera}_streaming": binary(
                f"{camera}_streaming",
                f"{label} streaming live",
                f"{{{{ 'ON' if value_json.{of}.get('state') == 'streaming' else 'OFF' }}}}",
                "running",
            ),
            f"{camera}_fps": sensor(f"{camera}_fps", f"{label} capture rate", "fps", f"{of}.fps"),
            f"{camera}_dropped_frames": sensor(
                f"{camera}_dropped_frames",
                f"{label} dropped frames",
                None,
                f"{of}.dropped_frames",
            ),
            f"{camera}_snapshot": button("snapshot", f"{label} snapshot", "mdi:camera", camera),
            f"{camera}_stop_stream": button(
                "stop_stream", f"{label} stop live stream", "mdi:video-off", camera
            ),
        }

    components: dict[str, dict[str, Any]] = {
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
        "temperature_c": sensor("temperature_c", "Temperature", "°C", device_class="temperature"),
        "arm": button("arm", "Arm", "mdi:shield-check"),
        "disarm": button("disarm", "Disarm", "mdi:shield-off"),
        "snapshot": button("snapshot", "Take snapshot", "mdi:camera"),
        "stop_stream": button("stop_stream", "Stop live stream", "mdi:video-off"),
    }
    if len(cameras) > 1:
        for key in ("fps", "dropped_frames", "snapshot", "stop_stream"):  # now per camera
            del components[key]
        for camera, label in cameras:
            components.update(camera_components(camera, label))
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
        "cmps": components,
    }
    return json.dumps(payload, ensure_ascii=False).encode()
