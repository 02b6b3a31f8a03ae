"""``api:`` — the owner API and viewer web server (HTTPS; plain HTTP only on loopback)."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from firmware.configbase import StrictModel


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_HOST_NAME = re.compile(
    r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
)


def _host_name(value: str) -> str:
    name = value.strip().lower().rstrip(".")
    if not _HOST_NAME.fullmatch(name):
        raise ValueError(f"{value!r} is not a host name (letters, digits, '-' and '.'; no port)")
    return name


HostName = Annotated[str, AfterValidator(_host_name)]


class ApiConfig(StrictModel):
    enabled: bool = Field(default=True, description="Serve the owner API and the viewer page.")
    host: str = Field(
        default="0.0.0.0",  # noqa: S104 - a camera is reached over the LAN, always with TLS
        min_length=1,
        max_length=255,
        description="Address to listen on. 0.0.0.0 = every interface (HTTPS required). "
        "'camera-app run --host ADDRESS' overrides it.",
    )
    port: int = Field(
        default=8443,
        ge=0,
        le=65535,
        description="TCP port (0: any free port); 'camera-app run --port N' overrides it. A port "
        "another program holds ends 'camera-app run' with that reason (exit code 4).",
    )
    tls: bool = Field(
        default=True,
        description="HTTPS with the device certificate (made on first run, fingerprint logged). "
        "May be false only when host is a loopback address.",
    )
    session_hours: float = Field(
        default=12, gt=0, le=24 * 30, description="A login stays valid this long."
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Failed logins allowed per account from one client address (and per "
        "browser that logged in to the account before), and failed setup codes, invite codes "
        "and public links per address, within login_window_s before further attempts are "
        "refused (HTTP 429). Never per account alone: nobody elsewhere can lock the owner out.",
    )
    login_max_failures_per_address: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Failed logins (for any names) and codes allowed per client address (an IPv6 "
        "address by its /64) within login_window_s. 'camera-app unlock-logins' lifts a lock.",
    )
    login_account_slowdown: int = Field(
        default=50,
        ge=1,
        le=100_000,
        description="Failed logins for one account from all addresses within login_window_s "
        "after which each address gets one attempt per window at that account instead of "
        "login_max_failures: slows a guesser with many addresses down without locking out an "
        "address that has not failed, or a browser that logged in before.",
    )
    login_window_s: float = Field(
        default=900, gt=0, description="Window for counting failed logins, and the lockout time."
    )
    password_workers: int = Field(
        default=1,
        ge=1,
        le=4,
        description="Threads that check and hash passwords (argon2: 64 MiB and tens of "
        "milliseconds each), apart from every other executor.",
    )
    password_queue: int = Field(
        default=8,
        ge=0,
        le=256,
        description="Password checks that may wait for a thread; beyond them a login is "
        "answered 503 'busy' at once instead of queueing.",
    )
    request_head_timeout_s: float = Field(
        default=15,
        gt=0,
        le=300,
        description="A connection must finish its TLS handshake, and then send a complete "
        "request line and headers, each within this many seconds (from connecting, and from "
        "the previous answer on a kept-alive connection); otherwise it is closed. Sending slowly "
        "does not extend it.",
    )
    request_body_timeout_s: float = Field(
        default=30,
        gt=0,
        le=600,
        description="A request's body must arrive in full within this many seconds of its "
        "headers; otherwise the answer is 408 and the connection is closed.",
    )
    max_connections_per_address: int = Field(
        default=32,
        ge=1,
        le=4096,
        description="Open connections one client address may hold (an IPv6 client: its /64 "
        "network), a TLS handshake in progress included; a connection beyond it is closed at "
        "once. Remote access through the tunnel arrives from 127.0.0.1 and counts as one "
        "address.",
    )
    max_connections: int = Field(
        default=512,
        ge=1,
        le=16384,
        description="Open connections from all clients together; a connection beyond it is "
        "closed at once, so clients cannot use up the service's file descriptors (the systemd "
        "unit allows 8192).",
    )
    allowed_hosts: tuple[HostName, ...] = Field(
        default=(),
        max_length=64,
        description="More names clients reach the device by (the Host header), e.g. the public "
        "name of remote access (camera.example.org). Always answered: IP addresses, localhost, "
        "the device's host name and <hostname>.local, api.host, the names in the device "
        "certificate, the host of streaming.public_url and of the current notices' addresses. "
        "A request for any other name gets 421 (protection against DNS rebinding).",
    )

    @model_validator(mode="after")
    def _tls_off_only_on_loopback(self) -> ApiConfig:
        if not self.tls and not is_loopback(self.host):
            raise ValueError(
                "tls may be false only when host is a loopback address (127.0.0.1, ::1 or "
                "localhost): passwords and video must not cross the network in clear"
            )
        return self
