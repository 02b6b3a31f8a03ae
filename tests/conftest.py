"""Shared fixtures: the fake clock, real video files made with PyAV, config files; the harnesses
themselves (and the helpers that test modules import) are in the ``testkit`` package."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from testkit.clock import FakeClock
from testkit.media import write_motion_video

# start_api; mqtt_*; browser; relay
pytest_plugins = ["testkit.api", "testkit.broker", "testkit.browser", "testkit.relay"]


@pytest.fixture
def clock() -> FakeClock:
    """The app's clock, standing still until the test moves it (``testkit.clock.FakeClock``;
    a test module that needs another start time overrides this fixture)."""
    return FakeClock()


@pytest.fixture
def motion_video(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "motion.mp4", **kwargs: object) -> Path:
        return write_motion_video(tmp_path / name, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[dict], Path]:
    def make(data: dict, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        # The service starts the owner API; tests keep it on loopback on a free port.
        data = {"api": {"host": "127.0.0.1", "port": 0, "tls": False}, **data}
        path.write_text(yaml.safe_dump(data))
        return path

    return make
