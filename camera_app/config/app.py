"""The root of the configuration file."""

from __future__ import annotations

from pydantic import Field

from camera_app.config.api import ApiConfig
from camera_app.config.camera import CameraConfig
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
from firmware.configbase import StrictModel
from firmware.motion.config import MotionConfig
from privacy.config import PrivacyConfig


class AppConfig(StrictModel):
    """Everything ``camera-app`` reads from its YAML file. Every key has a safe default."""

    camera: CameraConfig = Field(default_factory=CameraConfig)
    capture: CaptureConfig = Field(default_factory=CaptureConfig)
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
