"""A real MQTT broker for the tests: Debian's ``mosquitto`` with ``deploy/mosquitto``'s config.

The broker is started the way ``deploy/mosquitto/README.md`` installs it: a temporary copy of
``mosquitto.conf`` and ``acl`` in which only the paths and the listener (a free port on
127.0.0.1) are rewritten, and certificates made by the real ``deploy/mosquitto/make-certs.sh``.
When the tests run as root the broker drops to the ``mosquitto`` user exactly as in production,
so the files get the README's owners and modes.

Clients are paho-mqtt 2 clients speaking **MQTT v5** (``CallbackAPIVersion.VERSION2``), each
authenticated by the client certificate of a name: a device id, or ``"controller"``. The broker
sets a client's id to its certificate CN (``use_username_as_clientid``), so one name is one
connection: a second client with the same certificate disconnects the first.

Fixtures (a pytest plugin, listed in ``tests/conftest.py``'s ``pytest_plugins``):

- ``mqtt_pki`` (session): :class:`MqttPki` — CA, server certificate, client certificates;
- ``mqtt_broker`` (function): :class:`MqttBroker`, running; stopped at teardown.

Importable helpers: :class:`Collector`, :func:`publish_and_wait`, :func:`make_pki`,
:func:`make_certs`, :func:`require_tools`.
"""

from __future__ import annotations

import logging
import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from testkit.net import free_port
from testkit.paths import REPO

DEPLOY = REPO / "deploy" / "mosquitto"
MAKE_CERTS = DEPLOY / "make-certs.sh"

HOST = "127.0.0.1"
MQTT_PROTOCOL = mqtt.MQTTv5
# Session Expiry Interval sent with clean_start=False. mosquitto 2.0 keeps (and persists across a
# restart) only sessions that were connected with clean_start=False *and* a non-zero expiry.
SESSION_EXPIRY_S = 3600
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 5.0
QUIET_TIMEOUT_S = 1.5  # how long "nothing arrives" checks wait

log = logging.getLogger(__name__)
paho_log = logging.getLogger(f"{__name__}.paho")


class BrokerUnavailable(RuntimeError):
    """mosquitto or openssl is missing here, or the broker did not start."""


class ConnectRefused(RuntimeError):
    """A client could not connect; ``reason_code`` is the CONNACK's, or None when the connection
    ended before any CONNACK (TLS refused it)."""

    def __init__(self, message: str, reason_code: ReasonCode | None) -> None:
        super().__init__(message)
        self.reason_code = reason_code


# --- tools ----------------------------------------------------------------------------------------


def mosquitto_binary() -> str | None:
    """The broker binary; Debian installs it in /usr/sbin, which is often not on a user's PATH."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None


def missing_tools() -> list[str]:
    missing = [] if mosquitto_binary() else ["mosquitto"]
    return missing + [tool for tool in ("openssl", "bash") if shutil.which(tool) is None]


def require_tools() -> None:
    """Skip the calling test when mosquitto or openssl is missing — but fail under CI (``CI`` set),
    where ``deploy/sysdeps.sh --test`` installs them and a skip would hide the security tests."""
    missing = missing_tools()
    if not missing:
        return
    reason = (
        f"{' and '.join(missing)} not installed (Debian packages mosquitto, openssl: "
        "`deploy/sysdeps.sh --test`)"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the MQTT tests", pytrace=False)
    pytest.skip(reason)


# --- certificates ---------------------------------------------------------------------------------


def make_certs(
    directory: Path, *args: str, force: bool = False, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``deploy/mosquitto/make-certs.sh [--force] DIRECTORY ARGS...``."""
    command = ["bash", str(MAKE_CERTS), *(["--force"] if force else []), str(directory), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if check and result.returncode != 0:
        raise BrokerUnavailable(
            f"{' '.join(command[1:])} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result


@dataclass
class MqttPki:
    """The installation's CA (in ``root``), the broker's certificate for 127.0.0.1/localhost, and
    client certificates made on demand with ``make-certs.sh``."""

    root: Path
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.crt"

    @property
    def server_cert(self) -> Path:
        return self.root / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.root / "server.key"

    def client(self, name: str) -> tuple[Path, Path]:
        """(certificate, key) of the client ``name`` (CN=name), made on first use."""
        return self._client(self.root, name)

    def rogue_client(self, name: str) -> tuple[Path, Path]:
        """(certificate, key) for the same CN issued by another CA (with the same CA name): the
        broker must refuse it."""
        rogue = self.root / "rogue-ca"
        with self._lock:
            if not (rogue / "ca.crt").exists():
                make_certs(rogue, "ca")
        return self._client(rogue, name)

    def _client(self, root: Path, name: str) -> tuple[Path, Path]:
        cert, key = root / "clients" / f"{name}.crt", root / "clients" / f"{name}.key"
        with self._lock:
            if not (cert.exists() and key.exists()):
                make_certs(root, "client", name)
        return cert, key


def make_pki(root: Path) -> MqttPki:
    """A CA and a server certificate (localhost, 127.0.0.1, ::1) in ``root``."""
    make_certs(root, "ca")
    make_certs(root, "server", "localhost", HOST, "::1")
    return MqttPki(root)


# --- receiving and acknowledgements ---------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One message as a subscriber got it."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: Properties | None = None

    @property
    def text(self) -> str:
        return self.payload.decode()


class _ClientState:
    """Routes one paho client's callbacks to :class:`Collector`s and acknowledgement waiters.

    Messages that no collector matches are kept, so a collector made after connecting still gets
    what a resumed session delivered right after CONNACK."""

    def __init__(self, client: mqtt.Client) -> None:
        self._cond = threading.Condition()
        self._collectors: list[Collector] = []
        self._unclaimed: list[Received] = []
        self._acks: dict[int, Any] = {}
        # keep whatever the owner had set; it is still called
        self._previous_subscribe = client.on_subscribe
        self._previous_publish = client.on_publish
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_publish = self._on_publish

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        received = Received(
            message.topic,
            bytes(message.payload),
            message.qos,
            bool(message.retain),
            getattr(message, "properties", None),
        )
        with self._cond:
            matching = [
                c for c in self._collectors if mqtt.topic_matches_sub(c.topic, received.topic)
            ]
            if not matching:
                self._unclaimed.append(received)
        for collector in matching:
            collector._add(received)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        self._ack(mid, list(reason_codes))
        if self._previous_subscribe:
            self._previous_subscribe(client, userdata, mid, reason_codes, properties)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._ack(mid, reason_code)
        if self._previous_publish:
            self._previous_publish(client, userdata, mid, reason_code, properties)

    def _ack(self, mid: int, value: Any) -> None:
        with self._cond:
            self._acks[mid] = value
            self._cond.notify_all()

    def wait_ack(self, mid: int, timeout: float, what: str) -> Any:
        with self._cond:
            if not self._cond.wait_for(lambda: mid in self._acks, timeout):
                raise TimeoutError(f"no {what} for message id {mid} within {timeout} s")
            return self._acks.pop(mid)

    def register(self, collector: Collector) -> None:
        with self._cond:
            self._collectors.append(collector)
            claimed: list[Received] = []
            kept: list[Received] = []
            for message in self._unclaimed:
                matches = mqtt.topic_matches_sub(collector.topic, message.topic)
                (claimed if matches else kept).append(message)
            self._unclaimed = kept
        for message in claimed:
            collector._add(message)


_STATES: weakref.WeakKeyDictionary[mqtt.Client, _ClientState] = weakref.WeakKeyDictionary()
_STATES_LOCK = threading.Lock()


def _state(client: mqtt.Client) -> _ClientState:
    with _STATES_LOCK:
        state = _STATES.get(client)
        if state is None:
            state = _STATES[client] = _ClientState(client)
        return state


class Collector:
    """Collects the messages ``client`` receives on ``topic`` (a filter), thread-safely.

    Subscribes (and waits for the SUBACK; ``granted`` holds its reason codes) unless
    ``subscribe=False`` — for a resumed session that still has the subscription. The collector
    takes over the client's ``on_message``: do not set it yourself on a collected client.
    mosquitto grants a subscription the ACL forbids and then delivers nothing on it, so check
    denials by what arrives, next to a positive control.
    """

    def __init__(
        self,
        client: mqtt.Client,
        topic: str,
        *,
        qos: int = 1,
        subscribe: bool = True,
        timeout: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self.client = client
        self.topic = topic
        self.granted: list[ReasonCode] = []
        self._cond = threading.Condition()
        self._messages: list[Received] = []
        state = _state(client)
        state.register(self)
        if subscribe:
            rc, mid = client.subscribe(topic, qos=qos)
            if rc != mqtt.MQTT_ERR_SUCCESS or mid is None:
                raise RuntimeError(f"subscribe {topic!r} failed: {mqtt.error_string(rc)}")
            self.granted = state.wait_ack(mid, timeout, f"SUBACK for {topic!r}")

    def _add(self, message: Received) -> None:
        with self._cond:
            self._messages.append(message)
            self._cond.notify_all()

    @property
    def messages(self) -> list[Received]:
        """What arrived so far, in order."""
        with self._cond:
            return list(self._messages)

    def wait_for(self, count: int = 1, timeout: float = 2.0) -> list[Received]:
        """Wait until ``count`` messages have arrived or ``timeout`` passed; returns all messages
        so far (fewer than ``count`` on timeout: ``wait_for(1, 1.5) == []`` checks that nothing
        arrives)."""
        with self._cond:
            self._cond.wait_for(lambda: len(self._messages) >= count, timeout)
            return list(self._messages)

    def clear(self) -> None:
        with self._cond:
            self._messages.clear()


def publish_and_wait(
    client: mqtt.Client,
    topic: str,
    payload: str | bytes = b"",
    *,
    qos: int = 1,
    retain: bool = False,
    timeout: float = CONNECT_TIMEOUT_S,
) -> ReasonCode:
    """Publish and return the broker's answer: the PUBACK's reason code at QoS 1 (mosquitto
    answers a publish the ACL denies with "Not authorized", 0x87), "Success" once sent at QoS 0."""
    state = _state(client)
    info = client.publish(topic, payload, qos=qos, retain=retain)
    if info.rc != mqtt.MQTT_ERR_SUCCESS:
        raise RuntimeError(f"publish to {topic!r} failed: {mqtt.error_string(info.rc)}")
    result: ReasonCode = state.wait_ack(info.mid, timeout, f"acknowledgement of {topic!r}")
    return result


# --- the broker -----------------------------------------------------------------------------------


def _broker_account() -> tuple[int, int] | None:
    """(uid, gid) mosquitto drops to when started as root (its ``user`` default, "mosquitto",
    falling back to "nobody"); None when it runs as the current user."""
    if os.geteuid() != 0:
        return None
    for user in ("mosquitto", "nobody"):
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    return None


def _rewrite(text: str, pattern: str, replacement: str) -> str:
    new, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    if count == 0:
        raise BrokerUnavailable(f"{pattern!r} is not in deploy/mosquitto/mosquitto.conf any more")
    return new


CertsOrName = str | tuple[Path, Path] | None


class MqttBroker:
    """mosquitto with the project's config on ``host:port``; clients made by :meth:`client` are
    disconnected by :meth:`close`.

    ``root`` must be traversable by the broker's account when running as root (a directory under
    /tmp, not pytest's root-only tmp_path)."""

    host = HOST

    def __init__(self, pki: MqttPki, root: Path, port: int | None = None) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise BrokerUnavailable("mosquitto is not installed")
        self.binary = binary
        self.pki = pki
        self.root = root
        self.port = port or free_port()
        self.config_path = root / "mosquitto.conf"
        self.data_dir = root / "data"
        self.log_dir = root / "log"
        self.log_path = self.log_dir / "mosquitto.log"
        self.console_path = self.log_dir / "console.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._clients: list[mqtt.Client] = []
        self._install()

    # -- set-up as the README installs it

    def _install(self) -> None:
        config = (DEPLOY / "mosquitto.conf").read_text()
        config = _rewrite(config, r"/etc/mosquitto/camera/", f"{self.root}/")
        config = _rewrite(config, r"^listener 8883$", f"listener {self.port} {HOST}")
        config = _rewrite(
            config,
            r"^persistence_location /var/lib/mosquitto/$",
            f"persistence_location {self.data_dir}/",
        )
        config = _rewrite(
            config,
            r"^log_dest file /var/log/mosquitto/mosquitto\.log$",
            f"log_dest file {self.log_path}",
        )
        account = _broker_account()
        uid, gid = account or (os.getuid(), os.getgid())
        self.root.chmod(0o750)
        self.data_dir.mkdir()
        self.log_dir.mkdir()
        files = {
            "ca.crt": self.pki.ca_cert,
            "server.crt": self.pki.server_cert,
            "server.key": self.pki.server_key,
            "acl": DEPLOY / "acl",
        }
        for name, source in files.items():
            shutil.copyfile(source, self.root / name)
        self.config_path.write_text(config)
        for name in [*files, self.config_path.name]:
            (self.root / name).chmod(0o640)
        if account:
            # README: /etc/mosquitto/camera root:mosquitto 0750, files 0640; data and logs owned
            # by the mosquitto user
            os.chown(self.root, 0, gid)
            for name in [*files, self.config_path.name]:
                os.chown(self.root / name, 0, gid)
            for directory in (self.data_dir, self.log_dir):
                os.chown(directory, uid, gid)
                directory.chmod(0o750)

    # -- process

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    def start(self) -> None:
        """Start the broker (same port, config and persistence as before) and wait until it
        completes a TLS handshake."""
        if self.running:
            return
        with self.console_path.open("ab") as console:
            self._process = subprocess.Popen(
                [self.binary, "-c", str(self.config_path)],
                stdout=console,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _probe_context(self) -> ssl.SSLContext:
        cert, key = self.pki.client("controller")
        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        context.load_cert_chain(str(cert), str(key))
        return context

    def _wait_ready(self) -> None:
        context = self._probe_context()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise BrokerUnavailable(
                    f"mosquitto exited with {self._process.returncode} while starting:\n"
                    + self.log_tail()
                )
            try:
                with (
                    socket.create_connection((HOST, self.port), timeout=1) as sock,
                    context.wrap_socket(sock, server_hostname=HOST),
                ):
                    return
            except OSError:  # refused, reset, TLS not up yet
                time.sleep(0.02)  # poll interval
        raise BrokerUnavailable(
            f"mosquitto did not accept TLS on {HOST}:{self.port}:\n" + self.log_tail()
        )

    def stop(self) -> None:
        """Stop the broker as systemd does (SIGTERM: it saves its persistence database)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for path in (self.console_path, self.log_path):
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                if text:
                    parts.append(f"--- {path.name} ---\n" + "\n".join(text))
        return "\n".join(parts)

    # -- clients

    def _new_client(self, certs: tuple[Path, Path] | None, client_id: str) -> mqtt.Client:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTT_PROTOCOL
        )
        cert, key = certs if certs else (None, None)
        client.tls_set(
            ca_certs=str(self.pki.ca_cert),
            certfile=str(cert) if cert else None,
            keyfile=str(key) if key else None,
        )
        client.enable_logger(paho_log)
        return client

    def _certs(self, who: CertsOrName) -> tuple[Path, Path] | None:
        return self.pki.client(who) if isinstance(who, str) else who

    def client(
        self, name: str, *, clean_start: bool = True, client_id: str | None = None
    ) -> mqtt.Client:
        """A connected MQTT v5 client with the certificate of ``name``, its network loop running.

        ``clean_start=False`` resumes the session of ``name`` (Session Expiry Interval
        :data:`SESSION_EXPIRY_S`, so queued QoS 1 messages wait for it, across broker restarts
        too). ``client_id`` defaults to ``name``; the broker replaces it with the certificate CN
        anyway. Its ``on_message``, ``on_subscribe`` and ``on_publish`` feed :class:`Collector`
        and :func:`publish_and_wait`: read messages with a collector rather than replacing them.
        Raises :class:`ConnectRefused` when the broker refuses the connection."""
        client = self._new_client(self.pki.client(name), client_id or name)
        _state(client)  # before connecting: a resumed session delivers right after CONNACK
        connected = threading.Event()
        result: dict[str, ReasonCode] = {}

        def on_connect(
            client: mqtt.Client,
            userdata: Any,
            flags: mqtt.ConnectFlags,
            reason_code: ReasonCode,
            properties: Properties | None,
        ) -> None:
            result["rc"] = reason_code
            connected.set()

        def on_disconnect(
            client: mqtt.Client,
            userdata: Any,
            flags: mqtt.DisconnectFlags,
            reason_code: ReasonCode,
            properties: Properties | None,
        ) -> None:
            connected.set()

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.reconnect_delay_set(min_delay=1, max_delay=2)
        properties = None
        if not clean_start:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = SESSION_EXPIRY_S
        self._clients.append(client)
        try:
            client.connect(
                HOST, self.port, keepalive=30, clean_start=clean_start, properties=properties
            )
        except OSError as err:
            raise ConnectRefused(f"{name}: {err}", None) from err
        client.loop_start()
        if not connected.wait(CONNECT_TIMEOUT_S):
            raise ConnectRefused(f"{name}: no CONNACK within {CONNECT_TIMEOUT_S} s", None)
        rc = result.get("rc")
        if rc is None or rc.is_failure:
            client.loop_stop()
            raise ConnectRefused(f"{name}: connection refused ({rc})", rc)
        # the fixture's own callbacks are done; the test may set its own
        client.on_connect = None
        client.on_disconnect = None
        return client

    def connect_result(
        self, who: CertsOrName, *, timeout: float = CONNECT_TIMEOUT_S
    ) -> ReasonCode | None:
        """Try to connect (and then disconnect) with the certificate of a name, a
        (certificate, key) pair, or None for no client certificate.

        Returns the CONNACK's reason code (``rc.is_failure`` for a refusal), or None when the
        connection ended before any CONNACK — the TLS handshake was refused."""
        client = self._new_client(self._certs(who), f"probe-{uuid.uuid4().hex[:8]}")
        result: dict[str, ReasonCode] = {}
        client.on_connect = lambda _c, _u, _f, reason_code, _p: result.setdefault("rc", reason_code)
        try:
            client.connect(HOST, self.port, keepalive=10)
        except OSError as err:
            log.info("connect_result(%r): refused while connecting: %r", who, err)
            return None
        deadline = time.monotonic() + timeout
        try:
            while "rc" not in result and time.monotonic() < deadline:
                rc = client.loop(timeout=0.1)
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    log.info("connect_result(%r): connection ended: %s", who, mqtt.error_string(rc))
                    break
        finally:
            if client.is_connected():
                client.disconnect()  # no loop thread: paho writes the DISCONNECT at once
        return result.get("rc")

    def close(self) -> None:
        """Disconnect every client made here, then stop the broker."""
        for client in self._clients:
            # paho's loop thread logs a spurious "not connected" error after a disconnect
            client.disable_logger()
            client.disconnect()
            client.loop_stop()
        self._clients.clear()
        self.stop()

    def __enter__(self) -> MqttBroker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def device_mqtt_config(broker: MqttBroker, device_id: str) -> dict[str, Any]:
    """The ``mqtt:`` config section of a device that uses ``broker`` with its own certificate
    (the ``site:`` section is this and the device's id: ``testkit.site``)."""
    cert, key = broker.pki.client(device_id)
    return {
        "enabled": True,
        "host": broker.host,
        "port": broker.port,
        "ca_file": str(broker.pki.ca_cert),
        "cert_file": str(cert),
        "key_file": str(key),
    }


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mqtt_pki(tmp_path_factory: pytest.TempPathFactory) -> MqttPki:
    """The CA, the broker's certificate and client certificates (made on demand), per session."""
    require_tools()
    return make_pki(tmp_path_factory.mktemp("mqtt-pki") / "pki")


@pytest.fixture
def mqtt_broker(mqtt_pki: MqttPki) -> Iterator[MqttBroker]:
    """mosquitto with deploy/mosquitto's config on a free loopback port, running."""
    # not pytest's tmp_path: its parents are root-only, and as root mosquitto runs as "mosquitto"
    root = Path(tempfile.mkdtemp(prefix="camera-mqtt-"))
    broker = MqttBroker(mqtt_pki, root)
    try:
        broker.start()
        yield broker
    finally:
        broker.close()
        # shown with the test's output when it fails
        print(f"mosquitto log ({root}):\n{broker.log_tail()}")
        shutil.rmtree(root, ignore_errors=True)
