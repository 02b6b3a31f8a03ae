"""Hostile clients at the API's edge, against the real server on real sockets (issue 15):

- half-sent requests (a request line without its end, a body that never comes, a TLS handshake
  that never starts) are closed within the configured time, while other clients are served;
- a per-address and a total connection cap: beyond them a new connection is closed at once,
  another address is still served (127.0.0.2 as the second source address);
- a cross-site request that would change something is refused (Origin / Sec-Fetch-Site), even
  with the owner's cookie, and a form content type never reaches a handler;
- a Host the device does not answer to (DNS rebinding) is refused.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from urllib.parse import urlsplit

import pytest

from camera_app.config.api import ApiConfig
from testkit.api import OWNER, OWNER_PASSWORD, ApiFactory, Client, RunningApi
from testkit.gates import DAILY_9_TO_21
from testkit.net import wait_until
from testkit.paths import REPO

#: Every wait below ends at the latest after this; a pass never depends on it being reached.
GIVE_UP_S = 10.0
HEAD = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"  # no blank line: the head never ends


def _address(api: RunningApi) -> tuple[str, int]:
    parts = urlsplit(api.url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def _connect(api: RunningApi, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(_address(api), timeout=GIVE_UP_S, source_address=(source, 0))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _closed_after(sock: socket.socket, since: float) -> float | None:
    """Seconds from ``since`` until the server closed ``sock`` (reading and discarding whatever
    it sent first), or None if it was still open after GIVE_UP_S."""
    sock.settimeout(GIVE_UP_S)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - since


def _exchange(sock: socket.socket, path: str = "/api/health") -> int:
    """One keep-alive GET on ``sock``; its status (the connection stays open)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the connection instead of answering"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(4096)
        assert chunk
        body += chunk
    return int(head.split(b" ", 2)[1])


def _served(api: RunningApi, source: str) -> bool:
    """A fresh connection from ``source`` gets its answer."""
    try:
        with _connect(api, source) as sock:
            return _exchange(sock) == 200
    except (AssertionError, OSError):
        return False


@pytest.fixture
def sockets() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


# --- finding 5: read timeouts and connection caps -------------------------------------------


def test_half_sent_requests_are_closed_at_the_head_timeout_while_others_are_served(
    start_api: ApiFactory, sockets: ExitStack
) -> None:
    api = start_api({"api": {"request_head_timeout_s": 1.0}})
    started = time.monotonic()
    half_sent = []
    for _ in range(20):
        sock = sockets.enter_context(_connect(api))
        sock.sendall(HEAD)
        half_sent.append(sock)
    # one more that trickles its request line, a byte at a time: data does not extend the time
    trickle = sockets.enter_context(_connect(api))
    stop = threading.Event()

    def trickle_bytes() -> None:
        for byte in b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200:
            if stop.wait(0.05):
                return
            try:
                trickle.send(bytes([byte]))
            except OSError:
                return

    sender = threading.Thread(target=trickle_bytes, daemon=True)
    sender.start()
    try:
        # meanwhile the API answers as usual
        assert api.client().get("/api/health").status == 200
        for sock in [*half_sent, trickle]:
            closed = _closed_after(sock, started)
            assert closed is not None, "a half-sent request stayed open"
            # not before its time (the server's timer starts after our connect)...
            assert closed >= 0.9
        # ...and all of them within the timeout, not at some later sweep
        assert time.monotonic() - started < 1.0 + 4.0
    finally:
        stop.set()
        sender.join(GIVE_UP_S)
    assert api.client().get("/api/health").status == 200


def test_a_body_that_never_comes_is_answered_408_and_closed(
    start_api: ApiFactory, sockets: ExitStack
) -> None:
    api = start_api({"api": {"request_body_timeout_s": 1.0}})
    sock = sockets.enter_context(_connect(api))
    started = time.monotonic()
    sock.sendall(
        b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n" + b'{"username": "'
    )
    sock.settimeout(GIVE_UP_S)
    reply = b""
    try:
        while chunk := sock.recv(4096):
            reply += chunk
    except ConnectionResetError:
        pass
    elapsed = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
    assert b'"request_timeout"' in reply
    assert 0.9 <= elapsed < GIVE_UP_S  # closed, not left open after the answer
    assert api.client().get("/api/health").status == 200


def test_connections_beyond_the_per_address_cap_are_closed_at_once(
    start_api: ApiFactory, sockets: ExitStack
) -> None:
    api = start_api({"api": {"max_connections_per_address": 4}})
    held = [sockets.enter_context(_connect(api)) for _ in range(4)]
    for sock in held:
        assert _exchange(sock) == 200  # admitted, and kept open (keep-alive)
    extra = sockets.enter_context(_connect(api))
    started = time.monotonic()
    with contextlib.suppress(OSError):  # if already reset
        extra.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    closed = _closed_after(extra, started)
    assert closed is not None and closed < 2.0, closed  # at once, not at a timeout
    # another address is not held back by the first one's connections
    assert _served(api, "127.0.0.2")
    # the admitted ones still work; once one ends, its address gets a slot back
    assert _exchange(held[0]) == 200
    held[1].close()
    assert wait_until(lambda: _served(api, "127.0.0.1"), timeout=GIVE_UP_S, every=0.05)


def test_the_total_cap_holds_across_addresses(start_api: ApiFactory, sockets: ExitStack) -> None:
    api = start_api({"api": {"max_connections_per_address": 4, "max_connections": 6}})
    held = [sockets.enter_context(_connect(api)) for _ in range(4)]
    held += [sockets.enter_context(_connect(api, "127.0.0.2")) for _ in range(2)]
    for sock in held:
        assert _exchange(sock) == 200
    assert not _served(api, "127.0.0.3")
    held[0].close()
    assert wait_until(lambda: _served(api, "127.0.0.3"), timeout=GIVE_UP_S, every=0.05)


def test_tls_connections_are_capped_and_timed_from_the_first_byte(
    start_api: ApiFactory, sockets: ExitStack
) -> None:
    """A TLS handshake that never starts holds a slot only for the head timeout, and counts
    against its address's cap while it lasts."""
    api = start_api(
        {"api": {"tls": True, "request_head_timeout_s": 1.0, "max_connections_per_address": 3}}
    )
    context = ssl.create_default_context(cafile=api.paths.secrets / "device-cert.pem")
    started = time.monotonic()
    silent = [sockets.enter_context(_connect(api)) for _ in range(3)]
    refused = sockets.enter_context(_connect(api))
    closed = _closed_after(refused, time.monotonic())
    assert closed is not None and closed < 2.0  # over the cap: closed at once
    # another address is served over TLS meanwhile
    with (
        _connect(api, "127.0.0.2") as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert _exchange(tls) == 200
    for sock in silent:
        closed = _closed_after(sock, started)
        assert closed is not None and 0.9 <= closed < 1.0 + 4.0
    assert Client(api.url, ssl_context=context).get("/api/health").status == 200


def test_the_service_unit_leaves_room_for_the_connection_cap() -> None:
    unit = (REPO / "deploy" / "systemd" / "camera-app.service").read_text()
    limits = [line for line in unit.splitlines() if line.startswith("LimitNOFILE=")]
    assert len(limits) == 1, limits
    # connections, plus WebRTC sockets, recordings, the database and libraries
    assert int(limits[0].partition("=")[2]) >= 4 * ApiConfig().max_connections


# --- finding 11: cross-site requests --------------------------------------------------------


def _cookie(api: RunningApi) -> str:
    api.owner()
    login = api.client().post("/api/login", {"username": OWNER, "password": OWNER_PASSWORD})
    return login.headers["Set-Cookie"].split(";")[0]


def test_a_cross_site_post_with_the_owners_cookie_changes_nothing(start_api: ApiFactory) -> None:
    api = start_api()
    cookie = _cookie(api)
    own_origin = api.url
    assert api.monitoring.armed
    forged = [
        # the finding: a body-less form POST from another site, the browser adds the cookie
        {"Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": own_origin.replace("127.0.0.1", "localhost")},
        {"Origin": own_origin, "Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://" + urlsplit(own_origin).netloc},  # another scheme, another origin
        {},  # a cookie but no word on where the request comes from
    ]
    for headers in forged:
        reply = api.client().post("/api/cameras/cam1/disarm", headers={"Cookie": cookie, **headers})
        assert reply.status == 403, (headers, reply.status, reply.body)
        assert reply.error in {"cross_site_request", "origin_required"}, reply.body
        assert "Origin" in reply.body["reason"]
        assert api.monitoring.armed, headers
    # the owner app's own requests (same origin) still work
    same_origin = api.client().post(
        "/api/cameras/cam1/disarm",
        headers={"Cookie": cookie, "Origin": own_origin, "Sec-Fetch-Site": "same-origin"},
    )
    assert same_origin.status == 200, same_origin.body
    assert not api.monitoring.armed
    # reading is not a change: a GET with a foreign Origin is not refused for it
    assert api.client().get("/api/me", headers={"Cookie": cookie, "Origin": "http://x.example"})


def test_clients_without_cookies_need_no_origin_but_never_send_forms(
    start_api: ApiFactory,
) -> None:
    api = start_api()
    owner = api.owner()  # a bearer token, as scripts and integrations use
    assert owner.post("/api/cameras/cam1/disarm").status == 200
    assert (
        owner.post("/api/cameras/cam1/arm", headers={"Origin": "http://evil.example"}).status == 403
    )
    for kind in (
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
    ):
        reply = owner.post("/api/cameras/cam1/arm", raw=b"a=b", content_type=kind)
        assert reply.status == 415 and reply.error == "unsupported_media_type", (kind, reply.body)
    assert not api.monitoring.armed
    # login and setup from a script: no cookie, no Origin, fine; from another site: refused
    login = {"username": OWNER, "password": OWNER_PASSWORD}
    assert api.client().post("/api/login", login).status == 200
    refused = api.client().post("/api/login", login, headers={"Origin": "http://evil.example"})
    assert refused.status == 403 and refused.error == "cross_site_request"
    # a JSON body must say it is JSON
    text = api.client().post("/api/login", raw=b'{"username": "owner"}', content_type="text/json")
    assert text.status == 415


# --- finding 12: Host allow-list ------------------------------------------------------------


def test_a_host_the_device_does_not_answer_to_is_refused(start_api: ApiFactory) -> None:
    api = start_api(
        {
            "api": {"allowed_hosts": ["camera.example.org"]},
            "streaming": {"public_url": "https://shop-cam.example.com"},
        }
    )
    port = _address(api)[1]
    client = api.client()
    for host in (
        "evil.example",
        f"evil.example:{port}",
        "127.0.0.1.evil.example",
        "camera.example",
    ):
        for method, path in (("GET", "/api/health"), ("GET", "/"), ("POST", "/api/login")):
            body = {"username": OWNER, "password": "x"} if method == "POST" else None
            reply = client.call(method, path, body, headers={"Host": host})
            assert reply.status == 421, (host, path, reply.status)
            assert reply.error == "unknown_host" and "api.allowed_hosts" in reply.body["reason"]
    for host in (
        f"127.0.0.1:{port}",
        f"localhost:{port}",
        "LOCALHOST",
        f"[::1]:{port}",
        "127.0.0.2",
        f"{socket.gethostname()}.local",
        "camera.example.org",
        "Camera.Example.Org:443",
        "shop-cam.example.com",
    ):
        reply = client.get("/api/health", headers={"Host": host})
        assert reply.status == 200, (host, reply.body)
    for version in (b"1.1", b"1.0"):  # no Host at all: aiohttp or the guard refuses
        with _connect(api) as sock:
            sock.sendall(b"GET /api/health HTTP/" + version + b"\r\n\r\n")
            assert sock.recv(4096).split(b" ", 2)[1] == b"400", version


def test_a_notices_public_name_is_answered(start_api: ApiFactory) -> None:
    api = start_api(
        {
            "camera": {"id": "counter", "name": "Front counter"},
            "streaming": {"profile": "merchant"},
        }
    )
    owner = api.owner()
    notice_body = {
        "operator": "Smith & Sons (Shanghai) Ltd.",
        "purpose": "Livestream of our kitchen",
        "contact": "+86 21 5555 0100",
        "hours": DAILY_9_TO_21,
        "public_url": "https://kitchen.example.net",
    }
    made = owner.post("/api/cameras/counter/notices", notice_body)
    assert made.status == 201, made.body
    notice = urlsplit(made.body["url"]).path
    assert api.client().get(notice, headers={"Host": "kitchen.example.net"}).status == 200
    assert api.client().get(notice, headers={"Host": "other.example.net"}).status == 421
