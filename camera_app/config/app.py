"""The root of the configuration file."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from pydantic import Field, model_validator

from camera_app.config.api import ApiConfig
from camera_app.config.camera import CameraConfig
from camera_app.config.cameras import CameraEntry, camera_list_problems
from camera_app.config.capture import CaptureConfig
from camera_app.config.events import EventsConfig
from camera_app.config.logging import LoggingConfig
from camera_app.config.mqtt import MqttConfig
from camera_app.config.privacy_masks import PrivacyMasksConfig
from camera_app.config.recording import RecordingConfig
from camera_app.config.storage import StorageConfig
from camera_app.config.streaming import StreamingConfig
from camera_app.config.update import UpdateConfig
from camera_app.onboarding.config import OnboardingConfig
from camera_app.sitelink.config import SiteLinkConfig
from firmware.configbase import NamedPolygon, StrictModel
from firmware.motion.config import MotionConfig
from privacy.config import PrivacyConfig


class AppConfig(StrictModel):
    """Everything ``camera-app`` reads from its YAML file. Every key has a safe default.

    One camera (``camera:``, ``capture:``, ``privacy_masks:``, ``motion.masks``) or several
    (``cameras:``). Code that works on one camera takes a *view*: :meth:`views` gives, per
    camera, this config in the one-camera form with that camera's sections in place.
    """

    camera: CameraConfig = Field(default_factory=CameraConfig)
    capture: CaptureConfig = Field(default_factory=CaptureConfig)
    cameras: list[CameraEntry] | None = Field(
        default=None,
        min_length=1,
        max_length=16,
        description="Several cameras on this device, each with its own id, name, room, "
        "capture and masks (instead of camera:, capture:, privacy_masks: and motion.masks, "
        "which are the one-camera form). See docs/multi-camera.md.",
    )
    privacy_masks: PrivacyMasksConfig = Field(default_factory=PrivacyMasksConfig)
    motion: MotionConfig = Field(default_factory=MotionConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    recording: RecordingConfig = Field(default_factory=RecordingConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    streaming: StreamingConfig = Field(default_factory=StreamingConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    update: UpdateConfig = Field(default_factory=UpdateConfig)
    onboarding: OnboardingConfig = Field(default_factory=OnboardingConfig)
    site: SiteLinkConfig = Field(default_factory=SiteLinkConfig)

    @model_validator(mode="before")
    @classmethod
    def _one_form(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("cameras") is not None:
            for key in ("camera", "capture"):
                if key in data:
                    raise ValueError(
                        f"{key}: give either cameras: (several cameras) or camera: and "
                        "capture: (one camera), not both"
                    )
        return data

    @model_validator(mode="after")
    def _cameras_apart(self) -> AppConfig:
        if self.cameras is None:
            return self
        problems = camera_list_problems(self.cameras)
        if self.privacy_masks.areas:
            problems.append(
                "privacy_masks.areas: with cameras:, each camera has its own "
                "(cameras[N].privacy_masks.areas)"
            )
        if self.motion.masks:
            problems.append(
                "motion.masks: with cameras:, each camera has its own (cameras[N].motion_masks)"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def views(self) -> list[AppConfig]:
        """Per camera, in the order listed: this config in the one-camera form with that
        camera's ``camera``, ``capture``, ``privacy_masks`` and ``motion.masks``."""
        if self.cameras is None:
            return [self]
        return [
            self.model_copy(
                update={
                    "camera": entry.identity(),
                    "capture": entry.capture,
                    "privacy_masks": entry.privacy_masks,
                    "motion": self.motion.model_copy(update={"masks": list(entry.motion_masks)}),
                    "cameras": None,
                }
            )
            for entry in self.cameras
        ]

    def view(self, camera_id: str) -> AppConfig:
        """The view of one camera (:meth:`views`); KeyError when there is no such camera."""
        for view in self.views():
            if view.camera.id == camera_id:
                return view
        raise KeyError(camera_id)

    @property
    def multi_camera(self) -> bool:
        """Whether the config lists its cameras (``cameras:``) rather than the one-camera form."""
        return self.cameras is not None

    def first_camera(self) -> CameraConfig:
        """The camera that names the device where one name is needed (MQTT's default device
        id, the Home Assistant device): the only one, or the first listed."""
        return self.views()[0].camera

    def tzinfo(self) -> tzinfo:
        """The device's zone (every camera of a ``cameras:`` list has the same)."""
        return self.first_camera().tzinfo()

    def with_masks(
        self, camera_id: str, privacy: PrivacyMasksConfig, motion_masks: list[NamedPolygon]
    ) -> AppConfig:
        """This config with ``camera_id``'s privacy and motion masks replaced; every other key
        as it was. KeyError when there is no such camera."""
        if self.cameras is None:
            if camera_id != self.camera.id:
                raise KeyError(camera_id)
            motion = self.motion.model_copy(update={"masks": list(motion_masks)})
            return self.model_copy(update={"privacy_masks": privacy, "motion": motion})
        cameras = list(self.cameras)
        for index, entry in enumerate(cameras):
            if entry.id == camera_id:
                cameras[index] = entry.model_copy(
                    update={"privacy_masks": privacy, "motion_masks": list(motion_masks)}
                )
                return self.model_copy(update={"cameras": cameras})
        raise KeyError(camera_id)
