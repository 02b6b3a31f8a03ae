"""Configuration: one YAML file, one pydantic model per section, unknown keys rejected."""

from camera_app.config.app import AppConfig
from camera_app.config.loader import (
    ConfigError,
    load_config,
    override_api_address,
    parse_config,
)

__all__ = ["AppConfig", "ConfigError", "load_config", "override_api_address", "parse_config"]
