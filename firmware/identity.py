"""The device's TLS identity for its HTTPS owner API.

A camera on a home network has no public domain name, so no public CA can issue it a certificate.
Instead each device generates its own key and a self-signed certificate on first run and keeps
them in its data directory. The owner's browser will warn about the self-signed certificate; the
owner compares the certificate's SHA-256 fingerprint (logged at WARNING when the identity is
created, in the colon-separated upper-case form browsers display) with what the browser shows
before trusting it. The certificate is only regenerated when it is missing, unreadable, corrupt,
does not match the key, or is about to expire, because each new certificate means the owner has
to check a new fingerprint.

The server only speaks TLS 1.2 or newer: older versions have known weaknesses and every client
the owner API supports speaks 1.2.

The private key never leaves the device, is never logged, and its file is created with mode 0600
so it is not readable by other users even for a moment.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import logging
import os
import secrets
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from firmware.atomicfile import write_atomically
from firmware.errors import AppError

log = logging.getLogger(__name__)

CERT_NAME = "device-cert.pem"
KEY_NAME = "device-key.pem"
ORGANIZATION = "privacy camera"
#: a certificate expiring within this margin of ``now`` is replaced
RENEW_MARGIN = dt.timedelta(days=30)
#: not_before is backdated by this much, to tolerate small clock differences with clients
BACKDATE = dt.timedelta(minutes=5)
_CN_MAX = 64  # RFC 5280 ub-common-name

_T = TypeVar("_T")


class IdentityError(AppError, RuntimeError):
    """The identity directory cannot be used (not creatable, not a directory, not writable)."""


@dataclass(frozen=True)
class DeviceIdentity:
    """Where the device's certificate and key are, and what the owner should compare."""

    cert_path: Path
    key_path: Path
    #: SHA-256 of the DER certificate, colon-separated upper-case hex ("AB:CD:...")
    fingerprint_sha256: str
    #: end of validity, timezone-aware UTC
    not_after: dt.datetime


def fingerprint_sha256(der: bytes) -> str:
    """SHA-256 of a DER certificate in the form browsers show: ``AB:CD:...``."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    return digest.finalize().hex(":").upper()


def ensure_device_identity(
    directory: Path,
    *,
    hostnames: Sequence[str] = (),
    ips: Sequence[str] = (),
    now: dt.datetime | None = None,
    valid_days: int = 3650,
) -> DeviceIdentity:
    """Return the device identity stored in ``directory``, creating or replacing it if needed.

    An existing certificate/key pair is reused unchanged when both files are readable, parse,
    belong together and the certificate is not expiring within 30 days of ``now``. Otherwise a new
    ECDSA P-256 key and self-signed certificate are generated (valid ``valid_days`` from ``now``).
    Note that a reused certificate is not checked against ``hostnames``/``ips``.

    Raises :class:`IdentityError` if the directory cannot be created or written to, and
    ``ValueError`` for a malformed entry in ``ips`` or a non-positive ``valid_days``.
    """
    if valid_days <= 0:
        raise ValueError(f"valid_days must be positive, got {valid_days}")
    now = _as_utc(now or dt.datetime.now(dt.UTC))
    ip_addresses = _parse_ips(ips)  # fail on a typo before touching any file
    directory = Path(directory)
    cert_path = directory / CERT_NAME
    key_path = directory / KEY_NAME

    reason: str | None = None
    if cert_path.exists() or key_path.exists():
        existing, reason = _load_existing(cert_path, key_path, now)
        if existing is not None:
            log.info(
                "Using device TLS certificate %s, SHA-256 fingerprint %s, valid until %s",
                cert_path,
                existing.fingerprint_sha256,
                existing.not_after.isoformat(),
            )
            return existing

    _prepare_directory(directory)
    if reason is not None:
        log.warning("Replacing device TLS certificate in %s: %s", directory, reason)

    key = ec.generate_private_key(ec.SECP256R1())
    cert = _self_signed_certificate(
        key, list(hostnames), ip_addresses, now=now, valid_days=valid_days
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    try:
        # key first: a crash between the two writes leaves a mismatched pair, which the next
        # run detects and replaces, never an old certificate paired with a reused key
        _write_private(key_path, key_pem)
        write_atomically(cert_path, cert_pem, mode=0o644)
        _fsync_directory(directory)
    except OSError as exc:
        raise IdentityError(
            f"cannot write the device TLS identity to {directory}: {exc.strerror or exc}"
        ) from exc

    identity = DeviceIdentity(
        cert_path=cert_path,
        key_path=key_path,
        fingerprint_sha256=fingerprint_sha256(cert.public_bytes(serialization.Encoding.DER)),
        not_after=cert.not_valid_after_utc,
    )
    log.warning(
        "Created a new self-signed device TLS certificate %s, valid until %s. "
        "SHA-256 fingerprint: %s -- compare it with the one your browser shows when it warns "
        "about the certificate",
        cert_path,
        identity.not_after.isoformat(),
        identity.fingerprint_sha256,
    )
    return identity


def ssl_server_context(identity: DeviceIdentity) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2 or newer) presenting the device certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=identity.cert_path, keyfile=identity.key_path)
    return context


# --- loading ------------------------------------------------------------------------------------


def _load_existing(
    cert_path: Path, key_path: Path, now: dt.datetime
) -> tuple[DeviceIdentity | None, str | None]:
    """The stored identity, or None and why it cannot be used. Never mentions key material."""
    try:
        cert_pem = cert_path.read_bytes()
    except FileNotFoundError:
        return None, "the certificate file is missing"
    except OSError as exc:
        return None, f"the certificate file is unreadable ({exc.strerror or type(exc).__name__})"
    try:
        key_pem = key_path.read_bytes()
    except FileNotFoundError:
        return None, "the key file is missing"
    except OSError as exc:
        return None, f"the key file is unreadable ({exc.strerror or type(exc).__name__})"

    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        return None, "the certificate file does not parse"
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # deliberately not including the exception text: keep anything about the key out of logs
        return None, "the key file does not parse"

    try:
        cert_public = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return None, "the certificate's public key is unsupported"
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, spki) != cert_public.public_bytes(der, spki):
        return None, "the key does not match the certificate"

    not_after = cert.not_valid_after_utc
    if not_after - RENEW_MARGIN <= now:
        if not_after <= now:
            return None, f"the certificate expired on {not_after.isoformat()}"
        return None, f"the certificate expires soon ({not_after.isoformat()})"

    identity = DeviceIdentity(
        cert_path=cert_path,
        key_path=key_path,
        fingerprint_sha256=fingerprint_sha256(cert.public_bytes(serialization.Encoding.DER)),
        not_after=not_after,
    )
    return identity, None


# --- generating ---------------------------------------------------------------------------------


def _self_signed_certificate(
    key: ec.EllipticCurvePrivateKey,
    hostnames: list[str],
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address],
    *,
    now: dt.datetime,
    valid_days: int,
) -> x509.Certificate:
    system_name = socket.gethostname()
    common_name = (hostnames[0] if hostnames else system_name) or "localhost"
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:_CN_MAX]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
        ]
    )
    dns_names = _unique([*hostnames, system_name, "localhost"])
    all_ips = _unique([*ips, ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")])
    san = x509.SubjectAlternativeName(
        [x509.DNSName(n) for n in dns_names] + [x509.IPAddress(ip) for ip in all_ips]
    )
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
        .sign(key, hashes.SHA256())
    )


def _parse_ips(ips: Sequence[str]) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(ip) for ip in ips]
    except ValueError as exc:
        raise ValueError(f"not an IP address in ips: {exc}") from exc


def _unique(items: list[_T]) -> list[_T]:
    return list(dict.fromkeys(items))


def _as_utc(moment: dt.datetime) -> dt.datetime:
    """A naive ``now`` is taken to be UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


# --- files --------------------------------------------------------------------------------------


def _prepare_directory(directory: Path) -> None:
    if not directory.exists():
        try:
            directory.mkdir(mode=0o700, parents=True)
            directory.chmod(0o700)  # mkdir's mode is filtered by the umask
        except FileExistsError:
            pass  # created concurrently; checked below
        except OSError as exc:
            raise IdentityError(
                f"cannot create the device identity directory {directory}: {exc.strerror or exc}"
            ) from exc
    if not directory.is_dir():
        raise IdentityError(f"the device identity path {directory} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise IdentityError(
            f"the device identity directory {directory} is not writable by this user "
            f"(uid {os.geteuid()})"
        )


def _write_private(path: Path, data: bytes) -> None:
    """Atomically write ``data`` to ``path`` with mode 0600, never readable by others.

    ``write_atomically`` creates its temporary file with the umask's permissions and only then
    chmods it, so the key would be briefly world-readable; this creates the file 0600 instead.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.part")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)  # exactly 0600 whatever the umask
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync_directory(directory: Path) -> None:
    """Make the renames durable (best effort: not every filesystem supports it)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
