"""The streaming indicator LED: lit whenever the camera is streaming live.

People in view of the camera are entitled to see when they are being streamed, so the LED is not
optional: there is deliberately no configuration switch, environment variable or argument that
turns it off while a stream is live. On a machine without usable GPIO the indicator degrades to a
recorder of the requested state and reports ``available = False``; the streaming gates are meant
to check that flag and refuse to start streaming on such a device.
"""

from __future__ import annotations

import logging
import threading
import warnings
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["StreamingIndicator"]


class StreamingIndicator:
    """The "live" LED on a GPIO pin (BCM numbering, default GPIO17), driven through gpiozero.

    Call ``set_streaming(True)`` before the first frame goes out and ``set_streaming(False)``
    when the stream ends. There is intentionally no way to disable the LED by configuration.

    If gpiozero is missing or cannot get the pin (no GPIO on this machine, pin busy, no
    permission), a WARNING is logged once, at construction, and the indicator becomes a no-op
    that only records the requested state: ``available`` is then ``False``. Intended use: the
    streaming gates treat ``available is False`` as a closed gate, so a device whose viewers
    could not see that they are being streamed never streams.

    ``pin_factory`` is passed to gpiozero (tests use ``gpiozero.pins.mock.MockFactory``); ``None``
    means gpiozero's default factory for the board.
    """

    def __init__(self, pin: int = 17, *, pin_factory: Any = None) -> None:
        if isinstance(pin, bool) or not isinstance(pin, int) or pin < 0:
            raise ValueError(f"pin must be a non-negative BCM GPIO number, not {pin!r}")
        self.pin = pin
        self._lock = threading.Lock()
        self._live = False
        self._led: Any = self._open_led(pin, pin_factory)

    @staticmethod
    def _open_led(pin: int, pin_factory: Any) -> Any:
        # Imported here: a device without gpiozero must degrade to "unavailable", not crash.
        try:
            from gpiozero import LED
            from gpiozero.exc import GPIOZeroError
        except ImportError as exc:
            log.warning(
                "streaming indicator unavailable (gpiozero cannot be imported: %s); "
                "streaming must stay off on this device",
                exc,
            )
            return None
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                led = LED(pin, pin_factory=pin_factory, initial_value=False)
        except (GPIOZeroError, ImportError, OSError, RuntimeError) as exc:
            # BadPinFactory (no GPIO at all), pin in use, /dev/gpiomem permission denied, ...
            log.warning(
                "streaming indicator unavailable on GPIO%d (%s: %s); "
                "streaming must stay off on this device",
                pin,
                type(exc).__name__,
                exc,
            )
            return None
        finally:
            # gpiozero warns about each pin library it falls back from; only the outcome matters.
            for item in caught:
                log.debug("gpiozero: %s", item.message)
        return led

    @property
    def available(self) -> bool:
        """Whether the LED is really driven. ``False`` means streaming must not start."""
        return self._led is not None

    @property
    def live(self) -> bool:
        """The last state requested through ``set_streaming`` (recorded even without GPIO)."""
        return self._live

    @property
    def is_lit(self) -> bool:
        """Whether the LED is lit right now, as read back from gpiozero (``False`` if
        unavailable)."""
        led = self._led
        return bool(led is not None and led.is_lit)

    def set_streaming(self, live: bool) -> None:
        """Turn the LED on (a stream is live) or off (no stream).

        When turning on fails, the indicator becomes unavailable and the error propagates, so the
        caller does not go live behind a dark LED. A failure to turn off is logged and swallowed
        so that tearing a stream down is never blocked by the LED.
        """
        live = bool(live)
        with self._lock:
            self._live = live
            led = self._led
            if led is None:
                return
            try:
                if live:
                    led.on()
                else:
                    led.off()
            except Exception:
                self._release_locked()
                if live:
                    raise
                log.warning(
                    "streaming indicator failed to turn off; now unavailable", exc_info=True
                )

    def close(self) -> None:
        """Turn the LED off and release the pin. The indicator is unavailable afterwards."""
        with self._lock:
            self._live = False
            if self._led is not None:
                try:
                    self._led.off()
                finally:
                    self._release_locked()

    def _release_locked(self) -> None:
        led, self._led = self._led, None
        try:
            led.close()
        except Exception:
            log.debug("closing the indicator LED failed", exc_info=True)

    def __enter__(self) -> StreamingIndicator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"StreamingIndicator(pin={self.pin}, available={self.available}, live={self._live})"
