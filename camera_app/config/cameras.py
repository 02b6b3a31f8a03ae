"""``cameras:`` — several cameras on one device, each with its own capture and masks.

The one-camera form (``camera:`` + ``capture:`` + ``privacy_masks:`` + ``motion.masks``) stays
the default; a config gives either that or a ``cameras:`` list, never both. Everything else
(motion thresholds, events, recording, storage, privacy, streaming) is the device's and applies
to every camera alike.
"""

from __future__ import annotations

import os

from pydantic import Field

from camera_app.config.camera import CameraConfig
from camera_app.config.capture import CaptureConfig
from camera_app.config.privacy_masks import PrivacyMasksConfig
from firmware.configbase import NamedPolygon

#: Sources that name the same one camera however often they are listed: the Pi's camera port
#: (``auto`` takes it first when there is one). Two entries with these would open it twice.
_PI_CAMERA = ("auto", "picamera2")


class CameraEntry(CameraConfig):
    """One camera of the ``cameras:`` list: who it is, how it is read, its own masks."""

    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$",
        description="Stable id used in paths, the event index, the API and MQTT; unique on the "
        "device.",
    )
    capture: CaptureConfig = Field(
        default_factory=CaptureConfig,
        description="How this camera is read (the keys of the one-camera form's capture:).",
    )
    privacy_masks: PrivacyMasksConfig = Field(
        default_factory=PrivacyMasksConfig,
        description="This camera's static privacy masks (as the one-camera form's "
        "privacy_masks:); the owner app saves its own over them.",
    )
    motion_masks: list[NamedPolygon] = Field(
        default_factory=list,
        description="This camera's motion masks (as the one-camera form's motion.masks).",
    )

    def identity(self) -> CameraConfig:
        """The ``camera:`` section this camera would have in the one-camera form."""
        return CameraConfig(id=self.id, name=self.name, room=self.room, timezone=self.timezone)


def _device_node(source: str) -> str | None:
    """The device a source opens exclusively (None for files, streams and the test scene)."""
    if source in _PI_CAMERA:
        return "the Pi camera (auto/picamera2)"
    if source.startswith("v4l2:"):
        return os.path.normpath(source.removeprefix("v4l2:"))
    return None


def camera_list_problems(cameras: list[CameraEntry]) -> list[str]:
    """What makes a ``cameras:`` list unusable, one ``"key.path: reason"`` each: an id used
    twice, two cameras on one device node, or two time zones (one device keeps one)."""
    problems: list[str] = []
    ids: dict[str, int] = {}
    nodes: dict[str, int] = {}
    for index, camera in enumerate(cameras):
        if camera.id in ids:
            problems.append(
                f"cameras[{index}].id: {camera.id!r} is already the id of cameras[{ids[camera.id]}]"
                "; each camera needs its own id"
            )
        ids.setdefault(camera.id, index)
        node = _device_node(camera.capture.source)
        if node is not None and node in nodes:
            problems.append(
                f"cameras[{index}].capture.source: {node} is already read by "
                f"cameras[{nodes[node]}]; one device node gives one camera"
            )
        if node is not None:
            nodes.setdefault(node, index)
        if camera.timezone != cameras[0].timezone:
            problems.append(
                f"cameras[{index}].timezone: differs from cameras[0]'s; a device keeps one time "
                "zone (set the same on every camera, or none)"
            )
    return problems
