"""The site's fixtures: the real site server on the test broker, and two kindergarten devices
linked to it (kg1 films Sunflower and Rainbow, kg2 Sunflower's nap room and Moon)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.api import ApiFactory, RunningApi
from testkit.broker import MqttBroker
from testkit.clock import FakeClock
from testkit.site import RunningSite, site_device, start_site


@pytest.fixture
def site(mqtt_broker: MqttBroker, tmp_path: Path) -> Iterator[RunningSite]:
    running = start_site(mqtt_broker, tmp_path / "site", FakeClock(time.time()))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def devices(
    start_api: ApiFactory, mqtt_broker: MqttBroker, site: RunningSite
) -> tuple[RunningApi, RunningApi]:
    kg1, _ = site_device(start_api, mqtt_broker, "kg1")
    kg2, _ = site_device(start_api, mqtt_broker, "kg2")
    assert site.device_seen("kg1") and site.device_seen("kg2")
    return kg1, kg2
