"""WHEP-style viewer sessions: an SDP offer in, an SDP answer out, one peer connection each.

The device only ever sends: each session gets one video track of the camera's redacted frames
and no audio track at all. Authorisation is the caller's job (the owner API checks the session,
the grant and the gates before it calls :meth:`ViewerSessions.open`); this module enforces the
per-camera and per-account limits and ends sessions on demand, e.g. the moment a gate closes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription

from streaming.hub import FrameHub
from streaming.track import RedactedVideoTrack

log = logging.getLogger(__name__)

MAX_SDP_BYTES = 32 * 1024


class SessionRefused(Exception):
    """An offer was refused; ``status`` and ``code`` say how to answer it."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code
        self.reason = reason


@dataclass
class ViewerSession:
    id: str
    camera_id: str
    account: str
    principal: Any  # the caller's credentials, re-checked by the owner of the sessions
    pc: RTCPeerConnection
    track: RedactedVideoTrack
    on_end: list[Callable[[ViewerSession, str], None]] = field(default_factory=list)


class ViewerSessions:
    """Open viewer sessions, by id."""

    def __init__(self, hub: FrameHub, *, per_camera: int = 4, per_account: int = 2) -> None:
        self._hub = hub
        self.per_camera = per_camera
        self.per_account = per_account
        self._sessions: dict[str, ViewerSession] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str) -> ViewerSession | None:
        return self._sessions.get(session_id)

    def of_all(self) -> list[ViewerSession]:
        return list(self._sessions.values())

    def of_camera(self, camera_id: str) -> list[ViewerSession]:
        return [s for s in self._sessions.values() if s.camera_id == camera_id]

    async def open(
        self, camera_id: str, account: str, offer_sdp: str, principal: Any = None
    ) -> tuple[ViewerSession, str]:
        """Answer an offer; raises :class:`SessionRefused` for a bad offer or a full camera."""
        if len(offer_sdp.encode("utf-8", "replace")) > MAX_SDP_BYTES:
            raise SessionRefused(413, "sdp_too_large", "the SDP offer is too large")
        if not offer_sdp.startswith("v=0"):
            raise SessionRefused(
                400, "invalid_sdp", "the body is not an SDP offer (must start v=0)"
            )
        if len(self.of_camera(camera_id)) >= self.per_camera:
            raise SessionRefused(429, "camera_full", "this camera has its maximum of viewers")
        mine = [s for s in self._sessions.values() if s.account == account]
        if len(mine) >= self.per_account:
            raise SessionRefused(429, "account_full", "this account has its maximum of sessions")
        pc = RTCPeerConnection()
        track = RedactedVideoTrack(self._hub, camera_id)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            if not any(t.kind == "video" for t in pc.getTransceivers()):
                raise SessionRefused(400, "invalid_sdp", "the offer has no video section")
            pc.addTrack(track)  # takes the offer's recvonly video transceiver
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
        except SessionRefused:
            await pc.close()
            raise
        except Exception as err:  # aiortc raises ValueError and others on malformed SDP
            await pc.close()
            raise SessionRefused(
                400, "invalid_sdp", f"the SDP offer cannot be used: {err}"
            ) from None
        session = ViewerSession(secrets.token_urlsafe(16), camera_id, account, principal, pc, track)
        self._sessions[session.id] = session

        @pc.on("connectionstatechange")
        async def _state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.close(session.id, f"connection {pc.connectionState}")

        log.info("viewer session %s opened on %s", session.id[:8], camera_id)
        return session, pc.localDescription.sdp

    async def close(self, session_id: str, reason: str) -> bool:
        session = self._sessions.pop(session_id, None)
        if session is None:
            return False
        session.track.stop()
        await session.pc.close()
        log.info("viewer session %s on %s ended: %s", session_id[:8], session.camera_id, reason)
        for callback in session.on_end:
            callback(session, reason)
        return True

    async def close_camera(self, camera_id: str, reason: str) -> int:
        """End every session of a camera (a gate closed, the owner stopped the stream)."""
        ended = 0
        for session in self.of_camera(camera_id):
            ended += await self.close(session.id, reason)
        return ended

    async def close_all(self, reason: str) -> None:
        await asyncio.gather(*(self.close(sid, reason) for sid in list(self._sessions)))
