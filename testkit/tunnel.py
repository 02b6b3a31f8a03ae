"""Remote access on loopback, for ``tests/system/test_remote_access.py``: the relay host's real
``sshd`` and real Caddy, configured from ``deploy/remote``'s files, and the device's tunnel run as
the command line of ``deploy/remote/camera-app-tunnel.service``.

Everything listens on 127.0.0.1 and free ports. ``sshd`` runs as the user who runs the tests (a
non-root ``sshd`` can only log that same user in, which is what a test needs); the shipped
``Match User camera-tunnel`` block is applied to that user, and its root-owned keys file to a
temporary one. The changes made to the shipped files are only those: the user, paths and ports.
"""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from testkit.net import free_port
from testkit.paths import REPO

REMOTE = REPO / "deploy" / "remote"
TUNNEL_UNIT = REMOTE / "camera-app-tunnel.service"
SETUP_DEVICE = REMOTE / "setup-device.sh"
SSHD_SNIPPET = REMOTE / "relay" / "sshd-camera-tunnel.conf"
CADDYFILE = REMOTE / "relay" / "Caddyfile"
TUNNEL_CONF_DIR = "/etc/camera-tunnel"  # where the unit and the setup script keep its files
SHIPPED_USER = "camera-tunnel"
SHIPPED_KEYS_FILE = "/etc/ssh/camera-tunnel.keys"
SHIPPED_DEVICE_PEM = "/etc/caddy/camera-device.pem"
SHIPPED_PUBLIC_NAME = "camera.example.org"
SHIPPED_TUNNEL_PORT = "20001"
START_TIMEOUT_S = 20.0

_TOOLS = {"sshd": ("/usr/sbin/sshd", "openssh-server"), "caddy": ("/usr/bin/caddy", "caddy")}


def require_tool(name: str) -> str:
    """The path of ``sshd`` or ``caddy``; installed from Debian when missing and the tests run as
    root (as ``deploy/sysdeps.sh --test`` would), else the test is skipped with the reason (and
    fails under CI, where a skip would hide the remote-access tests)."""
    path, package = _TOOLS[name]
    if not os.access(path, os.X_OK) and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
        ):
            subprocess.run(command, check=False, env=env, timeout=600, capture_output=True)
    if os.access(path, os.X_OK):
        return path
    reason = f"{path} is missing and could not be installed (apt: {package})"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the remote-access tests", pytrace=False)
    pytest.skip(reason)


# --- the device's tunnel: the unit's own command line ----------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of a systemd ``EnvironmentFile=`` (comments and blanks skipped)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def unit_exec_start(unit_text: str) -> str:
    """The ``ExecStart=`` value with its continuation lines joined, as systemd reads it."""
    joined = re.sub(r"\\\n\s*", " ", unit_text)
    starts = [line for line in joined.splitlines() if line.startswith("ExecStart=")]
    if len(starts) != 1:
        raise ValueError(f"expected one ExecStart= line, found {len(starts)}")
    return starts[0].removeprefix("ExecStart=")


def tunnel_command(unit_text: str, env: Mapping[str, str], prefix: Path) -> list[str]:
    """The command systemd runs for the unit: ``${VAR}`` replaced from the environment file and
    the tunnel's files (``/etc/camera-tunnel/...``) found under ``prefix``, where
    ``setup-device.sh --prefix`` wrote them."""

    def expand(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise KeyError(f"the unit uses ${{{name}}}, which the environment file does not set")
        return env[name]

    words = shlex.split(unit_exec_start(unit_text))
    expanded = [re.sub(r"\$\{(\w+)\}", expand, word) for word in words]
    return [w.replace(TUNNEL_CONF_DIR + "/", f"{prefix}{TUNNEL_CONF_DIR}/") for w in expanded]


@dataclass
class DeviceSetup:
    """What ``setup-device.sh --prefix`` made and printed."""

    prefix: Path
    output: str

    @property
    def conf(self) -> Path:
        return self.prefix / TUNNEL_CONF_DIR.lstrip("/")

    @property
    def key_line(self) -> str:
        """The line it tells the owner to add to the relay's keys file."""
        lines = [line for line in self.output.splitlines() if line.startswith("restrict,")]
        if len(lines) != 1:
            raise ValueError(f"setup-device.sh printed {len(lines)} key lines:\n{self.output}")
        return lines[0]

    @property
    def env(self) -> dict[str, str]:
        return read_env_file(self.conf / "tunnel.env")

    def command(self) -> list[str]:
        unit = self.prefix / "etc" / "systemd" / "system" / TUNNEL_UNIT.name
        return tunnel_command(unit.read_text(), self.env, self.prefix)


def run_setup_device(prefix: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SETUP_DEVICE), "--prefix", str(prefix), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def setup_device(prefix: Path, *args: str) -> DeviceSetup:
    result = run_setup_device(prefix, *args)
    assert result.returncode == 0, f"setup-device.sh failed:\n{result.stdout}\n{result.stderr}"
    return DeviceSetup(prefix, result.stdout)


def listeners(port: int) -> set[str]:
    """The IPv4/IPv6 addresses a TCP socket LISTENs on with ``port`` (from /proc/net/tcp*)."""
    found: set[str] = set()
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)
            # the kernel prints each 32-bit word in host (little-endian) order
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, width, 4))
            found.add(str(ipaddress.ip_address(words)))
    return found


def wait_listening(port: int, process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if listeners(port):
            return
        if process.poll() is not None:
            _, err = process.communicate()
            raise RuntimeError(f"{what} exited with {process.returncode}: {(err or '').strip()}")
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port}")


def stop_process(process: subprocess.Popen[str]) -> str:
    """End a process the test started (SIGTERM, then SIGKILL) and return its stderr."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    _, err = process.communicate()
    return err or ""


# --- the relay host: sshd ---------------------------------------------------------------------


def shipped_sshd_block(user: str, keys_file: Path) -> str:
    """``relay/sshd-camera-tunnel.conf`` for ``user`` and a keys file of the test's own."""
    text = SSHD_SNIPPET.read_text()
    for shipped in (f"Match User {SHIPPED_USER}", SHIPPED_KEYS_FILE):
        if shipped not in text:
            raise ValueError(f"{shipped!r} is no longer in {SSHD_SNIPPET}")
    return text.replace(f"Match User {SHIPPED_USER}", f"Match User {user}").replace(
        SHIPPED_KEYS_FILE, str(keys_file)
    )


@dataclass
class LocalSshd:
    """A real ``sshd -D`` on 127.0.0.1; ``stop`` ends it."""

    root: Path
    port: int
    user: str
    keys_file: Path
    process: subprocess.Popen[str]

    def known_hosts_line(self) -> str:
        key = (self.root / "host_ed25519_key.pub").read_text().split()
        return f"[127.0.0.1]:{self.port} {key[0]} {key[1]}"

    def log(self) -> str:
        return (self.root / "sshd.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_sshd(root: Path, *, shipped_block: bool = True) -> LocalSshd:
    """Start ``sshd`` with a fresh host key; ``shipped_block``: with the relay's ``Match`` block
    (else a plain sshd, for the control case). Keys go in :attr:`LocalSshd.keys_file`."""
    sshd = require_tool("sshd")
    root.mkdir(parents=True, exist_ok=True)
    host_key = root / "host_ed25519_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)],
        check=True,
        capture_output=True,
    )
    keys_file = root / "authorized_keys"
    keys_file.write_text("")
    user = getpass.getuser()
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation needs it
    port = free_port()
    lines = [
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {host_key}",
        "PidFile none",
        "UsePAM no",
        # the temporary directory is under the world-writable /tmp, which StrictModes refuses
        "StrictModes no",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        f"AuthorizedKeysFile {keys_file}",
        f"AllowUsers {user}",
        "LogLevel VERBOSE",
    ]
    config = root / "sshd_config"
    block = shipped_sshd_block(user, keys_file) if shipped_block else ""
    config.write_text("\n".join(lines) + "\n" + block)
    checked = subprocess.run(
        [sshd, "-t", "-f", str(config)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, f"sshd refuses the config: {checked.stderr}"
    process = subprocess.Popen(
        [sshd, "-D", "-f", str(config), "-E", str(root / "sshd.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    wait_listening(port, process, "sshd")
    return LocalSshd(root, port, user, keys_file, process)


# --- the relay host: Caddy, the public TLS end ------------------------------------------------


@dataclass
class PublicCertificate:
    """A test CA and the public name's certificate it signed (what Let's Encrypt gives a relay)."""

    ca: Path
    cert: Path
    key: Path


def make_public_certificate(directory: Path, name: str = "localhost") -> PublicCertificate:
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test public CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = PublicCertificate(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    paths.ca.write_bytes(ca.public_bytes(pem))
    paths.cert.write_bytes(leaf.public_bytes(pem))
    paths.key.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@dataclass
class LocalCaddy:
    port: int
    process: subprocess.Popen[str]
    root: Path

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def log(self) -> str:
        return (self.root / "caddy.log").read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.process)


@dataclass
class CaddySite:
    """The shipped Caddyfile's values, replaced for a test."""

    tunnel_port: int
    device_pem: Path
    public: PublicCertificate
    public_name: str = "localhost"
    replaced: dict[str, str] = field(default_factory=dict)

    def caddyfile(self, root: Path, http_port: int, https_port: int) -> str:
        text = CADDYFILE.read_text()
        site_line = SHIPPED_PUBLIC_NAME + " {"
        for shipped in (site_line, f"127.0.0.1:{SHIPPED_TUNNEL_PORT}", SHIPPED_DEVICE_PEM):
            if shipped not in text:
                raise ValueError(f"{shipped!r} is no longer in {CADDYFILE}")
        site = (
            text.replace(f"127.0.0.1:{SHIPPED_TUNNEL_PORT}", f"127.0.0.1:{self.tunnel_port}")
            .replace(SHIPPED_DEVICE_PEM, str(self.device_pem))
            # the test's certificate instead of Let's Encrypt (no ACME on a closed network)
            .replace(site_line, f"{site_line}\n\ttls {self.public.cert} {self.public.key}")
            .replace(SHIPPED_PUBLIC_NAME, self.public_name)
        )
        options = "\n".join(
            [
                "{",
                "\tadmin off",
                "\tauto_https disable_redirects",
                f"\thttp_port {http_port}",
                f"\thttps_port {https_port}",
                f"\tstorage file_system {root / 'data'}",
                "\tskip_install_trust",
                "}",
            ]
        )
        return options + "\n" + site


def start_caddy(root: Path, site: CaddySite) -> LocalCaddy:
    caddy = require_tool("caddy")
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = root / "Caddyfile"
    config.write_text(site.caddyfile(root, free_port(), port))
    env = {
        **os.environ,
        "HOME": str(root),
        "XDG_DATA_HOME": str(root / "data"),
        "XDG_CONFIG_HOME": str(root / "config"),
    }
    with (root / "caddy.log").open("w") as log:  # a file: a full pipe would stall Caddy
        process = subprocess.Popen(
            [caddy, "run", "--config", str(config), "--adapter", "caddyfile"],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
    try:
        wait_listening(port, process, "caddy")
    except RuntimeError as err:
        raise RuntimeError(f"{err}\n{(root / 'caddy.log').read_text()}") from None
    return LocalCaddy(port, process, root)


def connect_refused(port: int) -> bool:
    """Whether nothing accepts a TCP connection on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        sock.settimeout(5)
        return sock.connect_ex(("127.0.0.1", port)) != 0
