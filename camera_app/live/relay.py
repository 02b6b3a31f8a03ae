"""Publishing each live camera to the relay (``streaming.relay`` in the config), and only then.

The server's once-a-second ticker calls :meth:`RelayPublishing.reconcile`: a camera that streams
and is not published gets a :class:`streaming.whip.WhipPublisher` over the camera's shared
encode; a publication whose camera stopped, or whose connection failed, is closed. A failed
publish is retried with a growing delay (2 s doubling to 60 s). When a stream stops, the
controller's stop listener closes the publication at once, not at the next tick.

Starting and stopping a publication are audited (``relay_started``/``relay_stopped``, with the
relay's host): the stream then leaves the device.

Every profile may be published: the relay's viewers subscribe with a ticket the device signs
for one viewer and one camera, which ends with their viewing window and which the device revokes
when their access ends (``camera_app.live.tickets``). A camera of a profile whose viewers' frames
must be traceable (``RELAY_CLASS_MARK_PROFILES``: kindergarten) is published with a per-class
mark burned in (room and time, ``class_mark``), on its own encode, because the device cannot
draw each relay viewer's mark; the relay host may add per-viewer marks from the ticket.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable

from aiortc import MediaStreamTrack

from privacy.audit import AuditEvent, AuditLog
from streaming.relayconfig import RelayConfig
from streaming.track import Overlay
from streaming.whep import ViewerSessions
from streaming.whip import WhipError, WhipPublisher, check_whip_url

log = logging.getLogger(__name__)

ACTOR = "relay"
RETRY_S = (2.0, 60.0)  # first delay, maximum delay


class RelayPublishing:
    """The relay publications of this device's cameras, one at most per camera."""

    def __init__(
        self,
        config: RelayConfig,
        sessions: ViewerSessions,
        is_live: Callable[[str], bool],
        audit: AuditLog,
        monotonic: Callable[[], float],
        class_mark: Callable[[str], Overlay | None],
    ) -> None:
        self._config = config
        self._sessions = sessions
        self._is_live = is_live
        self._class_mark = class_mark  # by camera id: the mark its relay stream carries, if any
        self._audit = audit
        self._monotonic = monotonic
        self._publishers: dict[str, tuple[WhipPublisher, MediaStreamTrack]] = {}
        self._retry_at: dict[str, float] = {}
        self._delay: dict[str, float] = {}
        self._lock = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        return self._config.whip_url is not None

    def publishing(self, camera_id: str) -> bool:
        return camera_id in self._publishers

    async def reconcile(self, camera_ids: list[str]) -> None:
        if not self.enabled:
            return
        async with self._lock:
            for camera_id in camera_ids:
                live = self._is_live(camera_id)
                publisher = self._publishers.get(camera_id, (None, None))[0]
                if publisher is not None and not live:
                    await self._close(camera_id, "stream stopped")
                elif publisher is not None and publisher.connection_state in ("failed", "closed"):
                    await self._close(camera_id, f"connection {publisher.connection_state}")
                    self._schedule_retry(camera_id)
                elif (
                    publisher is None
                    and live
                    and self._monotonic() >= self._retry_at.get(camera_id, 0.0)
                ):
                    await self._open(camera_id)

    async def stop(self, camera_id: str, reason: str) -> None:
        async with self._lock:
            self._retry_at.pop(camera_id, None)
            self._delay.pop(camera_id, None)
            if camera_id in self._publishers:
                await self._close(camera_id, reason)

    async def close_all(self, reason: str) -> None:
        async with self._lock:
            for camera_id in list(self._publishers):
                await self._close(camera_id, reason)

    async def _open(self, camera_id: str) -> None:
        url = self._config.endpoint(camera_id)
        mark = self._class_mark(camera_id)
        track: MediaStreamTrack = (
            self._sessions.shared_track(camera_id)
            if mark is None
            else self._sessions.marked_track(camera_id, mark)
        )
        try:
            publisher = WhipPublisher(track, url, self._token(), ssl_context=self._ssl_context())
            await publisher.start()
        except (WhipError, OSError, ValueError, ssl.SSLError) as err:
            track.stop()
            log.warning("publishing %s to the relay failed: %s", camera_id, err)
            self._schedule_retry(camera_id)
            return
        self._publishers[camera_id] = (publisher, track)
        self._delay.pop(camera_id, None)
        log.info("publishing %s to the relay at %s", camera_id, check_whip_url(url).host)
        self._audit.append(
            AuditEvent.RELAY_STARTED,
            actor=ACTOR,
            camera_id=camera_id,
            details={"relay": check_whip_url(url).host, "class_mark": mark is not None},
        )

    async def _close(self, camera_id: str, reason: str) -> None:
        publisher, track = self._publishers.pop(camera_id)
        await publisher.close()  # never raises
        track.stop()  # leaves the shared encoder
        log.info("stopped publishing %s to the relay: %s", camera_id, reason)
        self._audit.append(
            AuditEvent.RELAY_STOPPED, actor=ACTOR, camera_id=camera_id, details={"reason": reason}
        )

    def _schedule_retry(self, camera_id: str) -> None:
        first, most = RETRY_S
        delay = min(most, self._delay.get(camera_id, first / 2) * 2)
        self._delay[camera_id] = delay
        self._retry_at[camera_id] = self._monotonic() + delay

    def _token(self) -> str:
        assert self._config.token_file is not None  # the config requires it with whip_url
        try:
            token = self._config.token_file.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise ValueError(f"cannot read relay.token_file: {err.strerror}") from None
        if not token:
            raise ValueError("relay.token_file is empty")
        return token

    def _ssl_context(self) -> ssl.SSLContext | None:
        if self._config.ca_file is None:
            return None
        return ssl.create_default_context(cafile=str(self._config.ca_file))
