"""Remote access with no port opened at home, end to end on loopback, with what ``deploy/remote``
ships: a phone → HTTPS (Caddy, the relay's public end) → the relay's loopback port → the
device's outbound SSH tunnel (the unit's own ``ExecStart=``) → the owner API, a real server with
its device certificate (``testkit.api``). The relay's ``sshd`` runs the shipped ``Match`` block
and the key line ``setup-device.sh`` prints; the tests also try, with that key, everything it must
not do: a shell, a command, a terminal, another port, another interface, a ``-L`` forward.

Stand-ins (``testkit.tunnel``): the public certificate comes from a test CA instead of Let's
Encrypt, ``localhost`` is the public name, and ``sshd`` logs in the user running the tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.api import OWNER, OWNER_PASSWORD, ApiFactory, Client, RunningApi
from testkit.net import free_port, wait_until
from testkit.tunnel import (
    TUNNEL_UNIT,
    CaddySite,
    DeviceSetup,
    LocalSshd,
    listeners,
    make_public_certificate,
    run_setup_device,
    setup_device,
    start_caddy,
    start_sshd,
    stop_process,
    wait_listening,
)

pytestmark = pytest.mark.slow

SSH_TIMEOUT_S = 30
MARKER = "shell-ran-here"


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts (tunnels); all ended afterwards."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        stop_process(process)


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[LocalSshd]:
    server = start_sshd(tmp_path / "relay-sshd")
    yield server
    server.stop()


def _device(sshd: LocalSshd, prefix: Path, listen_port: int, api_port: int) -> DeviceSetup:
    """``setup-device.sh`` against the relay's sshd (its host key fetched with ssh-keyscan, as
    on a device), and the key line it printed added to the relay."""
    setup = setup_device(
        prefix,
        *("--relay", "127.0.0.1", "--ssh-port", str(sshd.port)),
        *("--relay-user", sshd.user, "--listen-port", str(listen_port)),
        *("--api-port", str(api_port), "--public-name", "camera.example.net"),
    )
    sshd.keys_file.write_text(setup.key_line + "\n")
    return setup


def _start_tunnel(
    setup: DeviceSetup, processes: list[subprocess.Popen[str]]
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        setup.command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    processes.append(process)
    wait_listening(int(setup.env["RELAY_LISTEN_PORT"]), process, "the tunnel")
    return process


def _variant(command: list[str], *, forward: list[str], remote: list[str] | None) -> list[str]:
    """The unit's command with another forward (or none) and, with ``remote``, a command run
    on the relay instead of ``-N``: the same key, host key check and options."""
    words = list(command)
    at = words.index("-R")
    del words[at : at + 2]
    destination = words.pop()
    if remote is not None:
        words.remove("-N")
    return [*words, *forward, destination, *(remote or [])]


def _ssh(command: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=SSH_TIMEOUT_S, check=False
    )


def _api_port(api: RunningApi) -> int:
    return int(api.url.rsplit(":", 1)[1])


def test_the_owner_reaches_the_device_over_https_through_the_tunnel_and_only_through_it(
    start_api: ApiFactory, tmp_path: Path, sshd: LocalSshd, processes: list[subprocess.Popen[str]]
) -> None:
    api = start_api({"api": {"tls": True}})  # HTTPS with the device's own certificate
    device_pem = api.paths.secrets / "device-cert.pem"
    # the owner account is made on the device, as at installation
    local = Client(api.url, ssl_context=ssl.create_default_context(cafile=device_pem))
    made_owner = local.post(
        "/api/setup", {"code": api.setup_code(), "username": OWNER, "password": OWNER_PASSWORD}
    )
    assert made_owner.status == 201, made_owner.body
    listen_port = free_port()

    prefix = tmp_path / "device"
    # the device certificate where setup-device.sh looks for it, so it prints it for the relay
    cert_dir = prefix / "var" / "lib" / "camera-app" / "secrets"
    cert_dir.mkdir(parents=True)
    shutil.copy(device_pem, cert_dir / "device-cert.pem")
    setup = _device(sshd, prefix, listen_port, _api_port(api))
    assert setup.key_line.startswith(
        f'restrict,port-forwarding,permitlisten="127.0.0.1:{listen_port}",'
        'command="/usr/sbin/nologin" ssh-ed25519 '
    )
    assert device_pem.read_text().strip() in setup.output  # for /etc/caddy/camera-device.pem
    assert f"reverse_proxy https://127.0.0.1:{listen_port}" in setup.output
    assert "camera.example.net {" in setup.output
    assert "api: {allowed_hosts: [camera.example.net]}" in setup.output  # the camera's side

    command = setup.command()
    assert command[:2] == ["/usr/bin/ssh", "-N"]
    assert "ExitOnForwardFailure=yes" in command and "ServerAliveInterval=15" in command
    tunnel = _start_tunnel(setup, processes)
    # the tunnel's port is on the relay's loopback only; the device API on the device's
    assert listeners(listen_port) == {"127.0.0.1"}
    assert listeners(_api_port(api)) == {"127.0.0.1"}

    public_cert = make_public_certificate(tmp_path / "public")
    caddy = start_caddy(tmp_path / "caddy", CaddySite(listen_port, device_pem, public_cert))
    # the phone trusts the public CA only: an answer means TLS ended at the relay's proxy
    phone = Client(caddy.url, ssl_context=ssl.create_default_context(cafile=public_cert.ca))
    health = phone.get("/api/health")
    assert health.status == 200, (health.body, caddy.log())

    owner = phone.login(OWNER, OWNER_PASSWORD)
    made = owner.post("/api/tokens", {"name": "phone widget", "scopes": ["device:read"]})
    assert made.status == 201, made.body
    token = made.body["token"]
    assert token.startswith("cat_")
    device = phone.get("/api/device/health", token=token)
    assert device.status == 200, device.body
    assert device.body["armed"] is True
    assert phone.get("/api/device/health").status == 401  # no token, no answer
    events_only = owner.post("/api/tokens", {"name": "events", "scopes": ["events:read"]})
    refused = phone.get("/api/device/health", token=events_only.body["token"])
    # owner-only routes answer a token without the scope like an unknown id
    assert refused.status == 404 and refused.error == "not_found"

    # A second tunnel for the same port is refused by the relay and exits (ExitOnForwardFailure),
    # so systemd restarts it, instead of staying connected with no forward.
    second = _ssh(command)
    assert second.returncode == 255, second.stderr
    assert f"remote port forwarding failed for listen port {listen_port}" in second.stderr

    # A proxy that pins another certificate gets nothing from the device: this is what stops an
    # impostor that took the port on the relay while the tunnel was down.
    other = make_public_certificate(tmp_path / "other")
    wrong = start_caddy(tmp_path / "caddy-wrong", CaddySite(listen_port, other.cert, public_cert))
    try:
        stranger = Client(wrong.url, ssl_context=ssl.create_default_context(cafile=public_cert.ca))
        assert stranger.get("/api/health").status == 502
        assert "x509: certificate signed by unknown authority" in wrong.log()
    finally:
        wrong.stop()

    # Without the tunnel the public end has nothing to reach: the way in is the tunnel alone.
    stop_process(tunnel)
    assert wait_until(lambda: not listeners(listen_port), timeout=10)
    assert phone.get("/api/health").status == 502
    caddy.stop()


class _Target:
    """A TCP service on the relay's loopback (like Janus's API) that counts who connected."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.sendall(b"relay-internal-service\n")
            conn.close()

    def close(self) -> None:
        self.sock.close()


def test_the_tunnel_key_gets_no_shell_and_no_other_forward(
    tmp_path: Path, sshd: LocalSshd, processes: list[subprocess.Popen[str]]
) -> None:
    listen_port = free_port()
    setup = _device(sshd, tmp_path / "device", listen_port, free_port())
    command = setup.command()

    # a command, a shell on a terminal: the forced command runs instead, never the request
    ran = _ssh(_variant(command, forward=[], remote=[f"echo {MARKER}"]))
    assert MARKER not in ran.stdout and ran.returncode != 0
    shell = _ssh(_variant(command, forward=["-tt"], remote=[]), stdin=f"echo {MARKER}\nexit\n")
    assert MARKER not in shell.stdout

    # another port, or the same port on every interface: refused, and ssh exits
    for spec in (f"127.0.0.1:{free_port()}:127.0.0.1:22", f"0.0.0.0:{listen_port}:127.0.0.1:22"):
        forward = _ssh(_variant(command, forward=["-R", spec], remote=None))
        assert forward.returncode == 255, spec
        assert "remote port forwarding failed" in forward.stderr, spec
    assert "but the request was denied" in sshd.log()

    # -L: the relay's own loopback services stay out of reach
    target = _Target()
    local_port = free_port()
    try:
        forward_l = subprocess.Popen(
            _variant(
                command,
                forward=["-L", f"127.0.0.1:{local_port}:127.0.0.1:{target.port}"],
                remote=None,
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(forward_l)
        wait_listening(local_port, forward_l, "ssh -L")
        with socket.create_connection(("127.0.0.1", local_port), timeout=10) as conn:
            conn.settimeout(10)
            try:
                received = conn.recv(100)
            except ConnectionResetError:
                received = b""
        assert received == b""
        assert wait_until(lambda: "refused local port forward" in sshd.log(), timeout=10)
        assert target.accepted == 0
    finally:
        target.close()


@pytest.mark.parametrize(
    ("shipped_block", "key_options"),
    [(True, False), (False, True)],
    ids=["sshd-block-alone", "key-line-alone"],
)
def test_each_layer_alone_refuses_a_command(
    tmp_path: Path, shipped_block: bool, key_options: bool
) -> None:
    """The sshd block and the key line each stop a command by themselves; the control (neither)
    shows the same user, key and command would run one."""
    results: dict[str, bool] = {}
    for name, block, options in (("control", False, False), ("layer", shipped_block, key_options)):
        server = start_sshd(tmp_path / name, shipped_block=block)
        try:
            setup = _device(server, tmp_path / f"{name}-device", free_port(), free_port())
            line = setup.key_line if options else setup.key_line.split(" ", 1)[1]
            server.keys_file.write_text(line + "\n")
            ran = _ssh(_variant(setup.command(), forward=[], remote=[f"echo {MARKER}"]))
            results[name] = MARKER in ran.stdout
        finally:
            server.stop()
    assert results == {"control": True, "layer": False}


def test_setup_device_refuses_bad_input_and_writes_nothing(tmp_path: Path) -> None:
    for args, message in (
        (["--listen-port", "20001"], "--relay HOST is required"),
        (["--relay", "relay.example.org"], "--listen-port PORT is required"),
        (["--relay", "relay.example.org", "--listen-port", "70000"], "is not a port"),
        (["--relay", "relay;rm -rf /", "--listen-port", "20001"], "is not a host name"),
        (["--relay", "r.example.org", "--listen-port", "1", "--relay-user", "Root!"], "user name"),
        (["--relay", "r.example.org", "--listen-port", "1", "--bogus"], "unknown option"),
    ):
        prefix = tmp_path / "device"
        result = run_setup_device(prefix, *args)
        assert result.returncode != 0, args
        assert message in result.stderr, (args, result.stderr)
        assert not prefix.exists(), args


def test_the_unit_passes_systemd_analyze(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        reason = "systemd-analyze is not installed (apt: systemd; deploy/sysdeps.sh --test)"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    verify = subprocess.run(
        [analyze, "verify", "--man=no", str(TUNNEL_UNIT)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verify.returncode == 0 and not verify.stdout.strip() and not verify.stderr.strip(), (
        verify.stdout + verify.stderr
    )
    security = subprocess.run(
        [analyze, "security", "--offline=yes", str(TUNNEL_UNIT)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    score = float(security.stdout.rsplit("exposure level for", 1)[1].split(":")[1].split()[0])
    assert score <= 2.0, security.stdout


def test_an_unreachable_relay_is_said_plainly(tmp_path: Path) -> None:
    result = run_setup_device(
        tmp_path / "device",
        "--relay",
        "127.0.0.1",
        "--ssh-port",
        str(free_port()),
        "--listen-port",
        "20001",
    )
    assert result.returncode != 0
    assert "no SSH host key from 127.0.0.1" in result.stderr
    assert not (tmp_path / "device" / "etc" / "camera-tunnel" / "known_hosts").exists()
