"""Publishing the camera's one redacted stream to a relay over WHIP (RFC 9725).

For many viewers the device encodes once and sends that stream to a relay/SFU (Janus, see
``deploy/janus`` and ``docs/relay.md``), which fans it out: viewers never connect to the device.
:class:`WhipPublisher` is the WHIP client: one send-only peer connection with one video track
(VP8; never audio), an SDP offer POSTed with a bearer token, the answer applied, and the resource
DELETEd on :meth:`WhipPublisher.close`.

The stream leaves the device, so the WHIP URL must be ``https`` unless its host is a loopback
address (tests, or a relay on the same machine). No STUN/TURN server is contacted unless given:
the relay is reachable on its public address, and aiortc's default (a public STUN server) would
tell a third party that the camera is streaming.

What is published is whatever the given track yields; the device passes a track of its
``privacy.RedactedFrame`` s (``streaming.track.RedactedVideoTrack`` or the shared encode), so the
relay never sees a raw frame.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Sequence
from types import TracebackType

import aiohttp
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from yarl import URL

from streaming.encoder import SharedPacketTrack
from streaming.relayconfig import WhipError, check_whip_url

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
_MAX_REASON_CHARS = 200


class WhipPublisher:
    """Publishes one video track to a WHIP endpoint.

    ``start()`` negotiates and returns once the relay answered (media flows once ICE and DTLS
    complete, see :attr:`connection_state`); ``close()`` deletes the WHIP resource and closes the
    peer connection. Also usable as ``async with WhipPublisher(...) as publisher:``.

    ``ssl_context`` verifies the relay's certificate (default: the system's CAs);
    ``ice_servers`` are STUN/TURN servers to gather through (default: none).
    """

    def __init__(
        self,
        track: MediaStreamTrack,
        url: str,
        token: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        ssl_context: ssl.SSLContext | None = None,
        ice_servers: Sequence[RTCIceServer] = (),
    ) -> None:
        if track.kind != "video":
            raise ValueError("only a video track can be published (the device never sends audio)")
        if not token:
            raise ValueError("a bearer token is required")
        self._url = check_whip_url(url)  # before anything touches the network
        self._track = track
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._ice_servers = list(ice_servers)
        self._pc: RTCPeerConnection | None = None
        self._resource: URL | None = None
        self._ended = asyncio.Event()
        self._closed = False

    @property
    def url(self) -> str:
        return str(self._url)

    @property
    def resource_url(self) -> str | None:
        """The WHIP resource (the relay's ``Location``) while publishing."""
        return str(self._resource) if self._resource is not None else None

    @property
    def connection_state(self) -> str:
        """The peer connection's state: ``new`` before start, then aiortc's states."""
        return self._pc.connectionState if self._pc is not None else "new"

    async def start(self) -> None:
        """Offer the track to the relay and apply its answer; raises :class:`WhipError`."""
        if self._pc is not None or self._closed:
            raise RuntimeError("a WhipPublisher is started once")
        pc = self._pc = RTCPeerConnection(RTCConfiguration(iceServers=self._ice_servers))

        @pc.on("connectionstatechange")
        def _state() -> None:
            log.info("WHIP publication to %s: connection %s", self._url.host, pc.connectionState)
            if pc.connectionState in ("failed", "closed"):
                self._ended.set()

        try:
            transceiver = pc.addTransceiver(self._track, direction="sendonly")
            if isinstance(self._track, SharedPacketTrack):
                self._track.attach(transceiver.sender)  # the relay's PLIs reach the encoder
            transceiver.setCodecPreferences(
                [
                    codec
                    for codec in RTCRtpSender.getCapabilities("video").codecs
                    if codec.mimeType.lower() in ("video/vp8", "video/rtx")
                ]
            )
            # aiortc gathers every candidate before setLocalDescription returns, so the offer is
            # complete: WHIP's trickle ICE (PATCH) is not needed.
            await pc.setLocalDescription(await pc.createOffer())
            answer = await self._post_offer(pc.localDescription.sdp)
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
            except Exception as err:  # aiortc raises ValueError and others for a bad answer
                raise WhipError(f"the relay's SDP answer cannot be used: {err}") from None
        except BaseException:
            await self.close()
            raise
        log.info("publishing to %s (resource %s)", self._url.host, self._resource_path())

    async def _post_offer(self, offer: str) -> str:
        headers = {"Content-Type": "application/sdp", "Authorization": f"Bearer {self._token}"}
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as http,
                http.post(
                    self._url,
                    data=offer.encode(),
                    headers=headers,
                    ssl=self._ssl,
                    allow_redirects=False,  # a redirect would carry the token elsewhere
                ) as response,
            ):
                body = await response.text(errors="replace")
                if response.status != 201:
                    raise WhipError(_reason(response, body), response.status)
                location = response.headers.get("Location")
                content_type = response.content_type
        except (aiohttp.ClientError, OSError) as err:
            raise WhipError(f"cannot reach the relay at {self._url.host}: {err}") from None
        except TimeoutError:
            raise WhipError(f"the relay at {self._url.host} did not answer in time") from None
        if not location:
            raise WhipError("the relay's answer has no Location (resource URL)", 201)
        resource = self._url.join(URL(location))
        if resource.origin() != self._url.origin():
            # the DELETE carries the token: it may only go back where the offer went
            raise WhipError(f"the relay's resource URL is on another origin: {resource}", 201)
        self._resource = resource
        if content_type != "application/sdp" or not body.startswith("v=0"):
            raise WhipError("the relay's answer is not an SDP answer", 201)
        return body

    def _resource_path(self) -> str:
        return self._resource.path if self._resource is not None else "-"

    async def close(self) -> None:
        """Delete the WHIP resource (the relay unpublishes) and close the peer connection.

        Never raises: a relay that cannot be reached for the DELETE is logged and left to time
        the publication out."""
        if self._closed:
            return
        self._closed = True
        if self._resource is not None:
            await self._delete(self._resource)
            self._resource = None
        if self._pc is not None:
            await self._pc.close()
        self._ended.set()

    async def _delete(self, resource: URL) -> None:
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as http,
                http.delete(
                    resource,
                    headers={"Authorization": f"Bearer {self._token}"},
                    ssl=self._ssl,
                    allow_redirects=False,
                ) as response,
            ):
                body = await response.text(errors="replace")
                if response.status not in (200, 202, 204):
                    log.warning(
                        "the relay refused to delete %s: %s %s",
                        resource.path,
                        response.status,
                        _reason(response, body),
                    )
        except (aiohttp.ClientError, OSError, TimeoutError) as err:
            log.warning("could not delete %s at %s: %s", resource.path, resource.host, err)

    async def wait_ended(self) -> str:
        """Wait until the publication ends (closed, or the connection failed); returns the
        final connection state, so a caller can re-publish after a failure."""
        await self._ended.wait()
        return self.connection_state if not self._closed else "closed"

    async def __aenter__(self) -> WhipPublisher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


def _reason(response: aiohttp.ClientResponse, body: str) -> str:
    text = " ".join(body.split())[:_MAX_REASON_CHARS]
    return text or response.reason or "no reason given"
