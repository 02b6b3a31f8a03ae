"""The MQTT broker's security, against real mosquitto started with deploy/mosquitto's config.

Who may connect (TLS client certificates from the installation's CA only) and what each client
may read and write (deploy/mosquitto/acl). mosquitto grants a forbidden subscription and then
delivers nothing on it, so every "nothing arrives" check runs next to a positive control: the
same message reaches a client that may read it.
"""

from __future__ import annotations

import socket
import ssl
import stat
import time
from pathlib import Path

import pytest
from paho.mqtt.reasoncodes import ReasonCode

from testkit.broker import (
    QUIET_TIMEOUT_S,
    Collector,
    MqttBroker,
    MqttPki,
    make_certs,
    publish_and_wait,
    require_tools,
)

A, B = "cam-a", "cam-b"
CONTROLLER = "controller"
NOT_AUTHORIZED = 0x87


def topics(collector: Collector, count: int = 1, timeout: float = 5.0) -> list[str]:
    return [m.topic for m in collector.wait_for(count, timeout)]


def quiet(*collectors: Collector, timeout: float = QUIET_TIMEOUT_S) -> list[list[str]]:
    """The topics each collector got within one shared ``timeout`` (expected: none)."""
    deadline = time.monotonic() + timeout
    return [
        [m.topic for m in c.wait_for(1, max(0.0, deadline - time.monotonic()))] for c in collectors
    ]


def refused(rc: ReasonCode | None) -> bool:
    """Refused at the TLS stage (no CONNACK) or by the CONNACK."""
    return rc is None or rc.is_failure


# --- who may connect --------------------------------------------------------------------------


def test_client_with_certificate_from_the_ca_connects(mqtt_broker: MqttBroker) -> None:
    rc = mqtt_broker.connect_result(A)
    assert rc is not None and not rc.is_failure, rc


def test_anonymous_client_is_refused(mqtt_broker: MqttBroker) -> None:
    assert refused(mqtt_broker.connect_result(None))


def test_certificate_from_another_ca_is_refused(mqtt_broker: MqttBroker, mqtt_pki: MqttPki) -> None:
    for name in (A, CONTROLLER):
        assert refused(mqtt_broker.connect_result(mqtt_pki.rogue_client(name))), name


def test_plain_tcp_gets_no_connack(mqtt_broker: MqttBroker) -> None:
    # an MQTT 3.1.1 CONNECT (clean session, keep-alive 60, client id "plain") without TLS
    client_id = b"plain"
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(client_id).to_bytes(2, "big") + client_id
    connect = b"\x10" + bytes([len(body)]) + body
    answer = b""
    with socket.create_connection((mqtt_broker.host, mqtt_broker.port), timeout=2) as sock:
        sock.sendall(connect)
        try:
            while chunk := sock.recv(4096):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    # at most a TLS alert record (content type 21), never a CONNACK (0x20)
    assert not answer.startswith(b"\x20"), answer
    assert answer == b"" or answer[0] == 21, answer


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_below_1_2_is_refused(mqtt_broker: MqttBroker, mqtt_pki: MqttPki) -> None:
    cert, key = mqtt_pki.client(A)

    def handshake(version: ssl.TLSVersion) -> str:
        context = ssl.create_default_context(cafile=str(mqtt_pki.ca_cert))
        context.load_cert_chain(str(cert), str(key))
        context.minimum_version = context.maximum_version = version
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client offer TLS 1.1 at all
        with (
            socket.create_connection((mqtt_broker.host, mqtt_broker.port), timeout=5) as sock,
            context.wrap_socket(sock, server_hostname="localhost") as tls,
        ):
            return str(tls.version())

    assert handshake(ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    assert handshake(ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
    try:
        handshake(ssl.TLSVersion.TLSv1_1)
    except ssl.SSLError as err:
        if "NO_PROTOCOLS_AVAILABLE" in str(err) or "UNSUPPORTED_PROTOCOL" in str(err):
            pytest.skip(f"this machine's OpenSSL cannot offer TLS 1.1: {err}")
        assert "PROTOCOL_VERSION" in str(err)  # the broker's alert
    else:
        pytest.fail("the broker accepted TLS 1.1")


# --- what a device may read -------------------------------------------------------------------


def test_device_cannot_read_another_devices_topics(mqtt_broker: MqttBroker) -> None:
    a, b, controller = (mqtt_broker.client(n) for n in (A, B, CONTROLLER))
    # retained before anyone subscribes: delivered on subscribe only to who may read it
    assert not publish_and_wait(b, f"camera/{B}/availability", "online", retain=True).is_failure
    spies = [Collector(a, f) for f in (f"camera/{B}/#", "camera/+/#", "#", "homeassistant/#")]
    control = Collector(controller, f"camera/{B}/#")
    discovery = Collector(controller, "homeassistant/#")
    assert topics(control) == [f"camera/{B}/availability"]

    publish_and_wait(b, f"camera/{B}/events/motion", '{"active": true}')
    publish_and_wait(b, f"homeassistant/device/{B}/config", "{}", retain=True)
    publish_and_wait(controller, f"camera/{B}/cmd/arm", "on")
    assert topics(control, count=3) == [
        f"camera/{B}/availability",
        f"camera/{B}/events/motion",
        f"camera/{B}/cmd/arm",
    ]
    assert topics(discovery) == [f"homeassistant/device/{B}/config"]
    assert quiet(*spies) == [[], [], [], []]


def test_device_reads_and_writes_its_own_subtree(mqtt_broker: MqttBroker) -> None:
    a, controller = mqtt_broker.client(A), mqtt_broker.client(CONTROLLER)
    own = Collector(a, f"camera/{A}/#")
    ha_status = Collector(a, "homeassistant/status")
    watch = Collector(controller, f"camera/{A}/#")
    discovery = Collector(controller, f"homeassistant/device/{A}/config")

    for topic in ("availability", "state", "events/motion", "health", "cmd/response"):
        assert not publish_and_wait(a, f"camera/{A}/{topic}", "x").is_failure, topic
    assert not publish_and_wait(a, f"homeassistant/device/{A}/config", "{}", retain=True).is_failure
    assert len(topics(own, count=5)) == 5
    assert len(topics(watch, count=5)) == 5
    assert [m.retain for m in discovery.wait_for(1, 5)] == [False]  # live, not from the store

    publish_and_wait(controller, "homeassistant/status", "online")
    assert [m.text for m in ha_status.wait_for(1, 5)] == ["online"]


def test_controller_commands_reach_only_their_device(mqtt_broker: MqttBroker) -> None:
    a, b, controller = (mqtt_broker.client(n) for n in (A, B, CONTROLLER))
    commands = Collector(a, f"camera/{A}/cmd/#")
    other = Collector(b, "#")
    responses = Collector(controller, "camera/+/cmd/response")

    assert not publish_and_wait(controller, f"camera/{A}/cmd/arm", "on").is_failure
    assert [(m.topic, m.text) for m in commands.wait_for(1, 5)] == [(f"camera/{A}/cmd/arm", "on")]
    publish_and_wait(a, f"camera/{A}/cmd/response", '{"ok": true}')
    assert topics(responses) == [f"camera/{A}/cmd/response"]
    assert quiet(other) == [[]]


# --- what a device may write ------------------------------------------------------------------


FORGED = [
    f"camera/{B}/state",
    f"camera/{B}/availability",
    f"camera/{B}/cmd/arm",
    f"camera/{B}/cmd/response",
    f"homeassistant/device/{B}/config",
    "homeassistant/status",
]


def test_device_cannot_write_outside_its_own_topics(mqtt_broker: MqttBroker) -> None:
    a, b, controller = (mqtt_broker.client(n) for n in (A, B, CONTROLLER))
    at_controller = Collector(controller, "camera/+/#")
    at_b = [Collector(b, f) for f in (f"camera/{B}/cmd/#", "homeassistant/status")]
    ha = Collector(controller, "homeassistant/#")

    answers = {topic: publish_and_wait(a, topic, "forged", retain=True) for topic in FORGED}
    assert answers == dict.fromkeys(FORGED, NOT_AUTHORIZED)
    # positive control, published after the forgeries on the same connection
    publish_and_wait(a, f"camera/{A}/state", "real")
    assert [m.text for m in at_controller.wait_for(1, 5)] == ["real"]
    # nothing forged was retained either: a new subscription gets no stored message
    late = [Collector(controller, topic) for topic in FORGED]
    assert quiet(at_controller, ha, *at_b, *late) == [[f"camera/{A}/state"]] + [[]] * 9


def test_client_id_of_another_device_does_not_disconnect_it(mqtt_broker: MqttBroker) -> None:
    b, controller = mqtt_broker.client(B), mqtt_broker.client(CONTROLLER)
    disconnects: list[object] = []
    b.on_disconnect = lambda _c, _u, _f, reason_code, _p: disconnects.append(reason_code)
    watch = Collector(controller, f"camera/{B}/#")
    # A connects claiming B's client id; the broker uses A's certificate CN instead
    mqtt_broker.client(A, client_id=B)
    publish_and_wait(b, f"camera/{B}/state", "still here")
    assert [m.text for m in watch.wait_for(1, 5)] == ["still here"]
    assert disconnects == []
    assert b.is_connected()


def test_queued_command_survives_broker_restart(mqtt_broker: MqttBroker) -> None:
    a = mqtt_broker.client(A, clean_start=False)
    Collector(a, f"camera/{A}/cmd/#")
    a.disconnect()
    a.loop_stop()
    controller = mqtt_broker.client(CONTROLLER)
    assert not publish_and_wait(controller, f"camera/{A}/cmd/arm", "on").is_failure
    controller.disconnect()
    controller.loop_stop()

    mqtt_broker.restart()
    a = mqtt_broker.client(A, clean_start=False)
    commands = Collector(a, f"camera/{A}/cmd/#", subscribe=False)
    assert [(m.topic, m.text) for m in commands.wait_for(1, 5)] == [(f"camera/{A}/cmd/arm", "on")]


# --- the certificate script -------------------------------------------------------------------


@pytest.fixture
def ca_dir(tmp_path: Path) -> Path:
    require_tools()
    make_certs(tmp_path / "pki", "ca")
    return tmp_path / "pki"


@pytest.mark.parametrize("name", ["a/b", "#", "+", "", "a b", "x" * 65, "../ca"])
def test_cert_script_refuses_names_that_would_break_the_acl(ca_dir: Path, name: str) -> None:
    result = make_certs(ca_dir, "client", name, check=False)
    assert result.returncode != 0
    assert "not a valid client name" in result.stderr
    assert not (ca_dir / "clients").exists() or list((ca_dir / "clients").iterdir()) == []


def test_cert_script_keeps_existing_keys_without_force(ca_dir: Path) -> None:
    ca_key = (ca_dir / "ca.key").read_bytes()
    again = make_certs(ca_dir, "ca")
    assert "already exists" in again.stdout
    assert (ca_dir / "ca.key").read_bytes() == ca_key

    make_certs(ca_dir, "client", A)
    key, cert = ca_dir / "clients" / f"{A}.key", ca_dir / "clients" / f"{A}.crt"
    first_key, first_cert = key.read_bytes(), cert.read_bytes()
    again = make_certs(ca_dir, "client", A)
    assert "already exists" in again.stdout
    assert (key.read_bytes(), cert.read_bytes()) == (first_key, first_cert)

    # a lost certificate is issued again for the same key
    cert.unlink()
    make_certs(ca_dir, "client", A)
    assert key.read_bytes() == first_key and cert.read_bytes() != first_cert

    make_certs(ca_dir, "client", A, force=True)
    assert key.read_bytes() != first_key


def test_cert_script_needs_a_ca_first(tmp_path: Path) -> None:
    require_tools()
    result = make_certs(tmp_path, "client", A, check=False)
    assert result.returncode != 0
    assert f"no CA in {tmp_path}" in result.stderr


def test_generated_keys_are_private(mqtt_pki: MqttPki) -> None:
    mqtt_pki.client(A)
    mqtt_pki.rogue_client(A)
    keys = sorted(mqtt_pki.root.rglob("*.key"))
    assert {k.name for k in keys} >= {"ca.key", "server.key", f"{A}.key"}
    for path in keys:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for path in mqtt_pki.root.rglob("*.crt"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
