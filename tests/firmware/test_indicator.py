"""The streaming indicator LED.

The pin is gpiozero's ``MockFactory`` because the test machine has no GPIO; the LED state is
read back through the mock pin, i.e. what the GPIO line would be driven to. The no-GPIO path is
forced (not relied upon), so these tests behave the same on a Raspberry Pi.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from firmware.indicator import StreamingIndicator


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    mock = MockFactory()
    yield mock
    mock.reset()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "firmware.indicator" and r.levelno == logging.WARNING
    ]


def test_led_follows_set_streaming(factory: MockFactory) -> None:
    with StreamingIndicator(17, pin_factory=factory) as indicator:
        assert indicator.available
        assert factory.pin(17).state is False  # off until a stream goes live
        indicator.set_streaming(True)
        assert factory.pin(17).state is True
        assert indicator.is_lit and indicator.live
        indicator.set_streaming(True)  # idempotent
        assert factory.pin(17).state is True
        indicator.set_streaming(False)
        assert factory.pin(17).state is False
        assert not indicator.is_lit and not indicator.live
        indicator.set_streaming(True)
    # leaving the block (e.g. the service stopping) turns the LED off and releases the pin
    assert factory.pin(17).state is False
    assert not indicator.available


def test_other_pin(factory: MockFactory) -> None:
    indicator = StreamingIndicator(27, pin_factory=factory)
    indicator.set_streaming(True)
    assert factory.pin(27).state is True
    assert factory.pin(17).state is False
    indicator.close()


def test_default_pin_is_gpio17(factory: MockFactory) -> None:
    indicator = StreamingIndicator(pin_factory=factory)
    indicator.set_streaming(True)
    assert factory.pin(17).state is True
    indicator.close()


def test_there_is_no_switch_to_disable_it() -> None:
    import inspect

    params = inspect.signature(StreamingIndicator).parameters
    assert list(params) == ["pin", "pin_factory"]


@pytest.mark.parametrize("pin", [-1, 1.5, "17", True])
def test_bad_pin_numbers_are_rejected(pin: object) -> None:
    with pytest.raises(ValueError, match="pin"):
        StreamingIndicator(pin)  # type: ignore[arg-type]


def test_no_gpio_makes_it_unavailable_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Force gpiozero's default factory lookup to fail with BadPinFactory, as on a PC.
    monkeypatch.setattr(Device, "pin_factory", None)
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no_such_pin_factory")
    caplog.set_level(logging.DEBUG, logger="firmware.indicator")
    indicator = StreamingIndicator()
    assert indicator.available is False
    # a no-op recorder: calls succeed, the requested state is kept, nothing is lit
    indicator.set_streaming(True)
    assert indicator.live is True
    assert indicator.is_lit is False
    indicator.set_streaming(False)
    indicator.set_streaming(True)
    indicator.close()
    warnings = _warnings(caplog)
    assert len(warnings) == 1
    assert "BadPinFactory" in warnings[0].getMessage()
    assert "streaming must stay off" in warnings[0].getMessage()


def test_missing_gpiozero_makes_it_unavailable_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "gpiozero", None)  # makes `import gpiozero` fail
    caplog.set_level(logging.WARNING, logger="firmware.indicator")
    indicator = StreamingIndicator()
    indicator.set_streaming(True)
    assert indicator.available is False
    assert len(_warnings(caplog)) == 1


def test_pin_in_use_makes_it_unavailable(
    factory: MockFactory, caplog: pytest.LogCaptureFixture
) -> None:
    first = StreamingIndicator(17, pin_factory=factory)
    caplog.set_level(logging.WARNING, logger="firmware.indicator")
    second = StreamingIndicator(17, pin_factory=factory)
    assert first.available
    assert not second.available
    assert len(_warnings(caplog)) == 1
    first.close()


def test_failure_to_light_propagates_and_disables(
    factory: MockFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    indicator = StreamingIndicator(17, pin_factory=factory)

    def broken(*_: object) -> None:
        raise OSError("GPIO write failed")

    monkeypatch.setattr(indicator._led, "on", broken)
    # the caller must not go live behind a dark LED
    with pytest.raises(OSError, match="GPIO write failed"):
        indicator.set_streaming(True)
    assert indicator.available is False
