"""Configuration: one YAML file, one pydantic model per section, unknown keys rejected; the
owner's saved masks laid over it for the service (:func:`load_service_config`)."""

from camera_app.config.app import AppConfig
from camera_app.config.loader import (
    ConfigError,
    load_config,
    override_api_address,
    parse_config,
)
from camera_app.config.owner_masks import load_service_config

__all__ = [
    "AppConfig",
    "ConfigError",
    "load_config",
    "load_service_config",
    "override_api_address",
    "parse_config",
]
