"""WHEP-style viewer sessions: an SDP offer in, an SDP answer out, one peer connection each.

The device only ever sends: each session gets one video track of the camera's redacted frames
and no audio track at all. Video is VP8, which every WebRTC browser must support (RFC 7742):
sessions without a per-viewer overlay share one encode per camera (``streaming.encoder``), and
a watermarked session is encoded for its viewer alone. Authorisation is the caller's job (the
owner API checks the session, the grant and the gates before it calls
:meth:`ViewerSessions.open`); this module enforces the limits (:mod:`streaming.limits`) and
ends sessions on demand, e.g. the moment a gate closes or the viewer's login ends.

A slot is taken when the offer arrives, before anything is awaited, and given back if the offer
fails: concurrent offers cannot all pass the check before any of them counts. A session whose
connection does not come up within the negotiation timeout is ended, so an offer that is never
followed by a connection cannot hold a slot for long.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Coroutine
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
from streaming.limits import Seat, ViewerLimits, refusal
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
    seat: Seat
    principal: Any  # the caller's credentials, re-checked by the owner of the sessions
    pc: RTCPeerConnection
    track: RedactedVideoTrack | SharedPacketTrack
    on_end: list[Callable[[ViewerSession, str], None]] = field(default_factory=list)
    deadline: asyncio.TimerHandle | None = None  # the negotiation timeout, until connected

    @property
    def camera_id(self) -> str:
        return self.seat.camera_id

    @property
    def account(self) -> str:
        return self.seat.account


class ViewerSessions:
    """Open viewer sessions, by id, and the slots of offers still being answered. Used on the
    event loop only."""

    def __init__(self, hub: FrameHub, limits: ViewerLimits | None = None) -> None:
        self._hub = hub
        self.limits = limits or ViewerLimits()
        self._sessions: dict[str, ViewerSession] = {}
        self._seats: dict[str, Seat] = {}  # every slot taken: open sessions and pending offers
        self._cancelled: dict[str, str] = {}  # pending offers ended meanwhile, with the reason
        self._encoders: dict[str, SharedEncoder] = {}
        self._closing: set[asyncio.Future[object]] = set()  # kept until done

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

    def marked_track(self, camera_id: str, overlay: Overlay) -> RedactedVideoTrack:
        """A track of the camera with ``overlay`` drawn on it, encoded on its own (e.g. the
        per-class mark of a kindergarten stream published to a relay)."""
        return RedactedVideoTrack(self._hub, camera_id, overlay)

    async def open(
        self,
        camera_id: str,
        account: str,
        offer_sdp: str,
        principal: Any = None,
        *,
        overlay: Overlay | None = None,
        holder: str | None = None,
        login: str | None = None,
        link: str | None = None,
        owner: bool = False,
    ) -> tuple[ViewerSession, str]:
        """Answer an offer; raises :class:`SessionRefused` for a bad offer, a limit reached, or a
        session ended while its offer was being answered.

        ``overlay`` (the watermark) is drawn on this viewer's frames only, which therefore get
        their own encode. ``holder`` is what ``per_account`` counts (default: ``account``),
        ``login`` the login session that opens it, ``link`` the public link it comes through
        and ``owner`` whether it may take the owner's reserved slots (see :class:`Seat`)."""
        if len(offer_sdp.encode("utf-8", "replace")) > MAX_SDP_BYTES:
            raise SessionRefused(413, "sdp_too_large", "the SDP offer is too large")
        if not offer_sdp.startswith("v=0"):
            raise SessionRefused(
                400, "invalid_sdp", "the body is not an SDP offer (must start v=0)"
            )
        seat = Seat(camera_id, account, holder or account, login, link, owner)
        # Check and take the slot in one step, before the first await: concurrent offers are
        # counted against each other, not only against the sessions already answered.
        refused = refusal(self._seats.values(), seat, self.limits)
        if refused is not None:
            raise SessionRefused(429, *refused)
        session_id = secrets.token_urlsafe(16)
        self._seats[session_id] = seat
        try:
            session, answer_sdp = await self._answer(
                session_id, seat, offer_sdp, principal, overlay
            )
        except BaseException:
            self._seats.pop(session_id, None)
            self._cancelled.pop(session_id, None)
            raise
        log.info(
            "viewer session %s opened on %s (%s encode)",
            session.id[:8],
            camera_id,
            "own" if overlay else "shared",
        )
        return session, answer_sdp

    async def _answer(
        self,
        session_id: str,
        seat: Seat,
        offer_sdp: str,
        principal: Any,
        overlay: Overlay | None,
    ) -> tuple[ViewerSession, str]:
        track: RedactedVideoTrack | SharedPacketTrack
        if overlay is None:
            track = self.shared_track(seat.camera_id)
        else:
            track = RedactedVideoTrack(self._hub, seat.camera_id, overlay)
        # No STUN server: aiortc's default (a public one) would tell a third party whenever
        # someone watches. Viewers reach the device directly (LAN) or through the relay.
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            answer_sdp = await _answer(pc, track, offer_sdp)
            ended = self._cancelled.pop(session_id, None)
            if ended is not None:  # e.g. the login ended or the stream stopped meanwhile
                raise SessionRefused(409, "session_ended", f"the session was ended: {ended}")
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
        session = ViewerSession(session_id, seat, principal, pc, track)
        self._sessions[session_id] = session
        timeout = self.limits.negotiation_timeout_s
        session.deadline = asyncio.get_running_loop().call_later(
            timeout, self._unless_connected, session_id, f"not connected within {timeout:g} s"
        )

        @pc.on("connectionstatechange")
        async def _state() -> None:
            if pc.connectionState == "connected" and session.deadline is not None:
                session.deadline.cancel()
                session.deadline = None
            elif pc.connectionState in ("failed", "closed"):
                await self.close(session_id, f"connection {pc.connectionState}")

        return session, answer_sdp

    def _unless_connected(self, session_id: str, reason: str) -> None:
        session = self._sessions.get(session_id)
        if session is not None and session.pc.connectionState != "connected":
            self._spawn(self.close(session_id, reason))

    def end_matching(self, match: Callable[[Seat], bool], reason: str) -> int:
        """End every session whose seat ``match`` accepts, offers still being answered included
        (they are refused when their answer is ready); returns how many. Callable from plain
        code on the loop (e.g. when a login session ends): the sessions stop sending and free
        their slots at once; their peer connections are closed by tasks it starts."""
        ended = 0
        for session_id, seat in list(self._seats.items()):
            if not match(seat):
                continue
            ended += 1
            session = self._detach(session_id)
            if session is not None:  # no frame leaves from now on; the hang-up follows
                self._spawn(self._hang_up(session, reason))
            else:
                self._cancelled[session_id] = reason
        return ended

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(work)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self, session_id: str, reason: str) -> bool:
        session = self._detach(session_id)
        if session is None:
            return False
        await self._hang_up(session, reason)
        return True

    def _detach(self, session_id: str) -> ViewerSession | None:
        """Take a session out at once: its slot is free and its track sends nothing more."""
        session = self._sessions.pop(session_id, None)
        if session is None:
            return None
        self._seats.pop(session_id, None)
        if session.deadline is not None:
            session.deadline.cancel()
        session.track.stop()
        return session

    async def _hang_up(self, session: ViewerSession, reason: str) -> None:
        await session.pc.close()
        log.info("viewer session %s on %s ended: %s", session.id[:8], session.camera_id, reason)
        for callback in session.on_end:
            callback(session, reason)

    async def close_camera(self, camera_id: str, reason: str) -> int:
        """End every session of a camera (a gate closed, the owner stopped the stream), and
        refuse its offers still being answered."""
        for session_id, seat in self._seats.items():
            if seat.camera_id == camera_id and session_id not in self._sessions:
                self._cancelled[session_id] = reason
        ended = 0
        for session in self.of_camera(camera_id):
            ended += await self.close(session.id, reason)
        return ended

    async def close_all(self, reason: str) -> None:
        await asyncio.gather(*(self.close(sid, reason) for sid in list(self._sessions)))
        await asyncio.gather(*self._closing, return_exceptions=True)  # hang-ups under way
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
