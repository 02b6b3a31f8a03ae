"""WHEP-style viewer sessions: an SDP offer in, an SDP answer out, one peer connection each.

The device only ever sends: each session gets one video track of the camera's redacted frames
and no audio track at all. Video is VP8, which every WebRTC browser must support (RFC 7742):
sessions without a per-viewer overlay share one encode per camera (``streaming.encoder``), and
a watermarked session is encoded for its viewer alone. Authorisation is the caller's job (the
owner API checks the session, the grant and the gates before it calls
:meth:`ViewerSessions.open`); this module enforces the per-camera and per-account limits and
ends sessions on demand, e.g. the moment a gate closes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)

from streaming.encoder import SharedEncoder, SharedPacketTrack
from streaming.hub import FrameHub
from streaming.track import Overlay, RedactedVideoTrack

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
    track: RedactedVideoTrack | SharedPacketTrack
    on_end: list[Callable[[ViewerSession, str], None]] = field(default_factory=list)


class ViewerSessions:
    """Open viewer sessions, by id."""

    def __init__(self, hub: FrameHub, *, per_camera: int = 4, per_account: int = 2) -> None:
        self._hub = hub
        self.per_camera = per_camera
        self.per_account = per_account
        self._sessions: dict[str, ViewerSession] = {}
        self._encoders: dict[str, SharedEncoder] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str) -> ViewerSession | None:
        return self._sessions.get(session_id)

    def of_all(self) -> list[ViewerSession]:
        return list(self._sessions.values())

    def of_camera(self, camera_id: str) -> list[ViewerSession]:
        return [s for s in self._sessions.values() if s.camera_id == camera_id]

    def encoder(self, camera_id: str) -> SharedEncoder:
        """The camera's shared encoder (made on first use; it idles without subscribers)."""
        encoder = self._encoders.get(camera_id)
        if encoder is None:
            encoder = self._encoders[camera_id] = SharedEncoder(self._hub, camera_id)
        return encoder

    def shared_track(self, camera_id: str) -> SharedPacketTrack:
        """A track of the camera's shared encode, e.g. for publishing to a relay."""
        return SharedPacketTrack(self.encoder(camera_id))

    async def open(
        self,
        camera_id: str,
        account: str,
        offer_sdp: str,
        principal: Any = None,
        *,
        overlay: Overlay | None = None,
    ) -> tuple[ViewerSession, str]:
        """Answer an offer; raises :class:`SessionRefused` for a bad offer or a full camera.

        ``overlay`` (the watermark) is drawn on this viewer's frames only, which therefore get
        their own encode."""
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
        track: RedactedVideoTrack | SharedPacketTrack
        if overlay is None:
            track = self.shared_track(camera_id)
        else:
            track = RedactedVideoTrack(self._hub, camera_id, overlay)
        # No STUN server: aiortc's default (a public one) would tell a third party whenever
        # someone watches. Viewers reach the device directly (LAN) or through the relay.
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            answer_sdp = await _answer(pc, track, offer_sdp)
        except SessionRefused:
            track.stop()
            await pc.close()
            raise
        except Exception as err:  # aiortc raises ValueError and others on malformed SDP
            track.stop()
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

        log.info(
            "viewer session %s opened on %s (%s encode)",
            session.id[:8],
            camera_id,
            "own" if overlay else "shared",
        )
        return session, answer_sdp

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
        for encoder in self._encoders.values():
            encoder.close()


async def _answer(pc: RTCPeerConnection, track: MediaStreamTrack, offer_sdp: str) -> str:
    """Negotiate one send-only VP8 video stream; the offer's other sections get nothing."""
    # Our transceiver exists before the offer is applied, so the offer's first video section
    # takes it, with our codec preference (VP8 only: the shared encode is VP8).
    transceiver = pc.addTransceiver(track, direction="sendonly")
    if isinstance(track, SharedPacketTrack):
        track.attach(transceiver.sender)
    vp8 = [
        c
        for c in RTCRtpSender.getCapabilities("video").codecs
        if c.mimeType.lower() in ("video/vp8", "video/rtx")
    ]
    transceiver.setCodecPreferences(vp8)
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
    except Exception as err:
        if "Failed to set remote video" in str(err):
            raise SessionRefused(
                400, "unsupported_codec", "the offer must accept VP8 video"
            ) from None
        raise
    if transceiver.mid is None:
        raise SessionRefused(400, "invalid_sdp", "the offer has no video section")
    for other in pc.getTransceivers():
        if other is not transceiver:  # e.g. an audio section: the device neither sends nor
            other.direction = "inactive"  # receives anything but the one video stream
    await pc.setLocalDescription(await pc.createAnswer())
    return pc.localDescription.sdp
