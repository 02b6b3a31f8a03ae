"""The device TLS identity: real files, real certificates, a real TLS handshake."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import ipaddress
import logging
import os
import re
import shutil
import socket
import ssl
import stat
import threading
import warnings
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from firmware.identity import (
    CERT_NAME,
    KEY_NAME,
    DeviceIdentity,
    IdentityError,
    ensure_device_identity,
    ssl_server_context,
)

FINGERPRINT = re.compile(r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def load(identity: DeviceIdentity) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(identity.cert_path.read_bytes())
    key = serialization.load_pem_private_key(identity.key_path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def spki(public_key: object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def snapshot(identity: DeviceIdentity) -> tuple[tuple[int, int], tuple[int, int]]:
    cert, key = identity.cert_path.stat(), identity.key_path.stat()
    return (cert.st_ino, cert.st_mtime_ns), (key.st_ino, key.st_mtime_ns)


# --- creating and reusing -------------------------------------------------------------------------


def test_first_run_creates_private_key_public_cert_private_directory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "tls" / "identity"
    with caplog.at_level(logging.INFO, logger="firmware.identity"):
        identity = ensure_device_identity(directory)

    assert identity.cert_path == directory / CERT_NAME
    assert identity.key_path == directory / KEY_NAME
    assert mode_of(directory) == 0o700
    assert mode_of(identity.key_path) == 0o600
    assert mode_of(identity.cert_path) == 0o644
    assert sorted(p.name for p in directory.iterdir()) == sorted([CERT_NAME, KEY_NAME])

    assert FINGERPRINT.match(identity.fingerprint_sha256)
    der = x509.load_pem_x509_certificate(identity.cert_path.read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
    assert identity.fingerprint_sha256 == hashlib.sha256(der).digest().hex(":").upper()

    warnings_logged = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings_logged) == 1
    assert identity.fingerprint_sha256 in warnings_logged[0].getMessage()
    assert "PRIVATE KEY" not in caplog.text


def test_second_run_reuses_the_identity_without_rewriting(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = ensure_device_identity(tmp_path)
    before = snapshot(first)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="firmware.identity"):
        second = ensure_device_identity(tmp_path)

    assert second == first
    assert snapshot(second) == before
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(
        r.levelno == logging.INFO and first.fingerprint_sha256 in r.getMessage()
        for r in caplog.records
    )


def test_certificate_contents(tmp_path: Path) -> None:
    now = dt.datetime(2030, 6, 1, 12, 0, tzinfo=dt.UTC)
    identity = ensure_device_identity(
        tmp_path,
        hostnames=["camera.example.lan", "cam2.local"],
        ips=["192.168.1.50", "fd00::5"],
        now=now,
        valid_days=400,
    )
    cert, key = load(identity)

    assert cert.version == x509.Version.v3
    assert isinstance(key.curve, ec.SECP256R1)
    assert spki(key.public_key()) == spki(cert.public_key())
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "camera.example.lan"
    )
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "privacy camera"
    )
    assert cert.not_valid_before_utc == now - dt.timedelta(minutes=5)
    assert cert.not_valid_after_utc == now + dt.timedelta(days=400)
    assert identity.not_after == cert.not_valid_after_utc

    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = san.get_values_for_type(x509.DNSName)
    addresses = san.get_values_for_type(x509.IPAddress)
    assert {"camera.example.lan", "cam2.local", "localhost", socket.gethostname()} <= set(dns)
    assert len(dns) == len(set(dns))
    assert {
        ipaddress.ip_address(a) for a in ("192.168.1.50", "fd00::5", "127.0.0.1", "::1")
    } <= set(addresses)

    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca is False
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    # the key really signed the certificate
    cert.verify_directly_issued_by(cert)


def test_common_name_defaults_to_the_system_hostname(tmp_path: Path) -> None:
    cert, _ = load(ensure_device_identity(tmp_path))
    common_name = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert common_name == (socket.gethostname() or "localhost")[:64]


def test_serials_are_random(tmp_path: Path) -> None:
    a, _ = load(ensure_device_identity(tmp_path / "a"))
    b, _ = load(ensure_device_identity(tmp_path / "b"))
    assert a.serial_number != b.serial_number


def test_a_malformed_ip_is_rejected_before_writing_anything(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        ensure_device_identity(tmp_path / "id", ips=["192.168.1.300"])
    assert not (tmp_path / "id").exists()


# --- replacing a bad pair -------------------------------------------------------------------------


def assert_replaced(
    old: DeviceIdentity, new: DeviceIdentity, caplog: pytest.LogCaptureFixture, reason: str
) -> None:
    assert new.fingerprint_sha256 != old.fingerprint_sha256
    cert, key = load(new)
    assert spki(key.public_key()) == spki(cert.public_key())
    assert mode_of(new.key_path) == 0o600
    assert mode_of(new.cert_path) == 0o644
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(reason in m for m in messages), messages
    assert any(new.fingerprint_sha256 in m for m in messages), messages
    assert "PRIVATE KEY" not in caplog.text
    # the replacement is stable
    assert ensure_device_identity(new.cert_path.parent) == new


def test_corrupt_key_is_replaced(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    old = ensure_device_identity(tmp_path)
    pem = old.key_path.read_bytes()
    old.key_path.write_bytes(pem[: len(pem) // 2])  # truncated, as a power cut might leave it
    with caplog.at_level(logging.INFO, logger="firmware.identity"):
        new = ensure_device_identity(tmp_path)
    assert_replaced(old, new, caplog, "key file does not parse")


def test_corrupt_certificate_is_replaced(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    old = ensure_device_identity(tmp_path)
    old.cert_path.write_bytes(b"-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
    with caplog.at_level(logging.INFO, logger="firmware.identity"):
        new = ensure_device_identity(tmp_path)
    assert_replaced(old, new, caplog, "certificate file does not parse")


def test_missing_key_is_replaced(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    old = ensure_device_identity(tmp_path)
    old.key_path.unlink()
    with caplog.at_level(logging.INFO, logger="firmware.identity"):
        new = ensure_device_identity(tmp_path)
    assert_replaced(old, new, caplog, "key file is missing")


def test_certificate_from_another_key_is_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = ensure_device_identity(tmp_path / "device")
    other = ensure_device_identity(tmp_path / "other")
    shutil.copyfile(other.cert_path, old.cert_path)
    with caplog.at_level(logging.INFO, logger="firmware.identity"):
        new = ensure_device_identity(tmp_path / "device")
    assert new.fingerprint_sha256 != other.fingerprint_sha256
    assert_replaced(old, new, caplog, "key does not match the certificate")


def test_certificate_expiring_within_30_days_is_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    real_now = dt.datetime.now(dt.UTC)
    old = ensure_device_identity(tmp_path, now=real_now - dt.timedelta(days=20), valid_days=30)
    assert dt.timedelta(days=9) < old.not_after - real_now < dt.timedelta(days=11)
    with caplog.at_level(logging.INFO, logger="firmware.identity"):
        new = ensure_device_identity(tmp_path)
    assert new.not_after > real_now + dt.timedelta(days=3000)
    assert_replaced(old, new, caplog, "expires soon")


def test_expired_certificate_is_replaced(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    now = dt.datetime.now(dt.UTC)
    old = ensure_device_identity(tmp_path, now=now - dt.timedelta(days=400), valid_days=365)
    with caplog.at_level(logging.INFO, logger="firmware.identity"):
        new = ensure_device_identity(tmp_path, now=now)
    assert_replaced(old, new, caplog, "expired")


def test_now_decides_expiry(tmp_path: Path) -> None:
    """A certificate 31 days from expiry is kept; 29 days from expiry it is replaced."""
    start = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    old = ensure_device_identity(tmp_path, now=start, valid_days=100)
    kept = ensure_device_identity(tmp_path, now=old.not_after - dt.timedelta(days=31))
    assert kept == old
    replaced = ensure_device_identity(tmp_path, now=old.not_after - dt.timedelta(days=29))
    assert replaced.fingerprint_sha256 != old.fingerprint_sha256


# --- unusable directories -------------------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_unwritable_directory_raises_identity_error(tmp_path: Path) -> None:
    directory = tmp_path / "readonly"
    directory.mkdir()
    directory.chmod(0o500)
    try:
        with pytest.raises(IdentityError, match="not writable"):
            ensure_device_identity(directory)
        assert list(directory.iterdir()) == []
    finally:
        directory.chmod(0o700)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_uncreatable_directory_raises_identity_error(tmp_path: Path) -> None:
    parent = tmp_path / "readonly"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        with pytest.raises(IdentityError, match="cannot create"):
            ensure_device_identity(parent / "identity")
    finally:
        parent.chmod(0o700)


def test_path_that_is_a_file_raises_identity_error(tmp_path: Path) -> None:
    path = tmp_path / "identity"
    path.write_text("not a directory")
    with pytest.raises(IdentityError, match="not a directory"):
        ensure_device_identity(path)


# --- TLS ------------------------------------------------------------------------------------------


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        line = await reader.readline()
        writer.write(b"echo " + line)
        await writer.drain()
    except (ssl.SSLError, ConnectionError):
        pass
    finally:
        writer.close()


async def _exchange(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> tuple[bytes, bytes, str | None]:
    """Run an echo server; return (reply, peer certificate DER, TLS version) seen by a client."""
    server = await asyncio.start_server(_echo, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    try:
        async with asyncio.timeout(10):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client_context, server_hostname="localhost"
            )
            try:
                ssl_object = writer.get_extra_info("ssl_object")
                peer = ssl_object.getpeercert(binary_form=True)
                version = ssl_object.version()
                writer.write(b"hello camera\n")
                await writer.drain()
                reply = await reader.readline()
            finally:
                writer.close()
                with contextlib.suppress(ssl.SSLError, ConnectionError):
                    await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()
    return reply, peer, version


def test_tls_round_trip_presents_the_device_certificate(tmp_path: Path) -> None:
    identity = ensure_device_identity(tmp_path)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=identity.cert_path)

    reply, peer, version = asyncio.run(_exchange(ssl_server_context(identity), client))

    assert reply == b"echo hello camera\n"
    assert hashlib.sha256(peer).digest().hex(":").upper() == identity.fingerprint_sha256
    assert version in {"TLSv1.2", "TLSv1.3"}


def test_tls_client_with_another_ca_is_refused(tmp_path: Path) -> None:
    identity = ensure_device_identity(tmp_path / "device")
    impostor = ensure_device_identity(tmp_path / "impostor")
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=impostor.cert_path)
    with pytest.raises(ssl.SSLCertVerificationError):
        asyncio.run(_exchange(ssl_server_context(identity), client))


def test_server_context_requires_tls_1_2(tmp_path: Path) -> None:
    context = ssl_server_context(ensure_device_identity(tmp_path))
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def _tls11_context(purpose: int, **kwargs: object) -> ssl.SSLContext:
    """A context limited to TLS 1.1, or skip if this Python/OpenSSL cannot make one."""
    context = ssl.SSLContext(purpose, **kwargs)  # type: ignore[arg-type]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1_1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        # OpenSSL 3 only allows TLS 1.1 (SHA-1 signatures) at security level 0
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError) as exc:
        pytest.skip(f"the local OpenSSL cannot configure a TLS 1.1 context: {exc}")
    return context


def _blocking_handshake(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> tuple[str | BaseException, BaseException | None]:
    """Handshake over a real socket; (client's TLS version or error, server's error or None).

    Blocking sockets rather than asyncio: asyncio's server drops a failed handshake without
    flushing OpenSSL's alert, so the client would only see a reset, not why it was refused.
    """
    server_error: list[BaseException] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)

        def serve() -> None:
            try:
                conn, _ = listener.accept()
            except OSError as exc:
                server_error.append(exc)
                return
            with conn:
                try:
                    with server_context.wrap_socket(conn, server_side=True) as tls:
                        tls.sendall(b"ok")
                except (ssl.SSLError, OSError) as exc:
                    server_error.append(exc)

        thread = threading.Thread(target=serve)
        thread.start()
        try:
            with (
                socket.create_connection(listener.getsockname(), timeout=10) as raw,
                client_context.wrap_socket(raw, server_hostname="localhost") as tls,
            ):
                client_result: str | BaseException = tls.version() or ""
                tls.recv(2)
        except (ssl.SSLError, OSError) as exc:
            client_result = exc
        finally:
            thread.join(timeout=10)
    return client_result, (server_error[0] if server_error else None)


def test_tls_1_1_clients_are_refused(tmp_path: Path) -> None:
    identity = ensure_device_identity(tmp_path)
    client = _tls11_context(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(cafile=identity.cert_path)

    # control: the TLS 1.1 client works against a server that still allows TLS 1.1, so a refusal
    # below is the device's minimum version at work, not a client that cannot speak at all
    legacy_server = _tls11_context(ssl.PROTOCOL_TLS_SERVER)
    legacy_server.load_cert_chain(identity.cert_path, identity.key_path)
    client_result, server_error = _blocking_handshake(legacy_server, client)
    if client_result != "TLSv1.1":
        pytest.skip(f"the local OpenSSL cannot complete a TLS 1.1 handshake: {client_result!r}")
    assert server_error is None

    client_result, server_error = _blocking_handshake(ssl_server_context(identity), client)
    assert isinstance(client_result, ssl.SSLError), client_result
    assert client_result.reason == "TLSV1_ALERT_PROTOCOL_VERSION"
    assert isinstance(server_error, ssl.SSLError), server_error
    assert server_error.reason == "UNSUPPORTED_PROTOCOL"
