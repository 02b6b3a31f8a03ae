"""Device-held secret key and authenticated field encryption for identity data at rest.

The key is a random 32-byte file readable only by the app's user (0600) under the data directory;
``FieldCipher`` encrypts single database fields with AES-256-GCM, binding each ciphertext to the
record and purpose it belongs to (associated data) so ciphertexts cannot be moved between rows.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from firmware.errors import AppError

log = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12
# Leading format byte, so a later key rotation or algorithm change can tell old values apart.
_FORMAT_V1 = b"\x01"
_TAG_BYTES = 16


class SecretStoreError(AppError, RuntimeError):
    """The key file is missing, malformed or not private enough to trust."""


class DecryptionError(ValueError):
    """A ciphertext failed authentication: tampered, truncated, wrong key or wrong record."""


class DeviceSecretStore:
    """A random 32-byte key in a 0600 file, created on first use.

    A key file that group or others can access is refused rather than repaired: if it was ever
    readable, the data it protects must be treated as exposed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: bytes | None = None

    def __repr__(self) -> str:
        return f"DeviceSecretStore({str(self.path)!r})"

    def key(self) -> bytes:
        """The device key, creating the key file if it does not exist yet."""
        if self._key is None:
            try:
                self._key = self._read()
            except FileNotFoundError:
                self._create()
                self._key = self._read()
        return self._key

    def _read(self) -> bytes:
        fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise SecretStoreError(f"key file {self.path} is not a regular file")
            if stat.S_IMODE(info.st_mode) & 0o077:
                raise SecretStoreError(
                    f"key file {self.path} has mode {stat.S_IMODE(info.st_mode):04o}; it must not "
                    "be accessible to group or others (expected 0600). Refusing to use it."
                )
            if info.st_uid != os.geteuid():
                raise SecretStoreError(f"key file {self.path} is owned by another user")
            data = os.read(fd, KEY_BYTES + 1)
        finally:
            os.close(fd)
        if len(data) != KEY_BYTES:
            raise SecretStoreError(f"key file {self.path} does not hold a {KEY_BYTES}-byte key")
        return data

    def _create(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Written under a temporary name and hard-linked into place, so a concurrent reader never
        # sees a half-written key and two first starts cannot end up with different keys.
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        try:
            os.write(fd, os.urandom(KEY_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, self.path)
            log.info("created device key file %s", self.path)
        except FileExistsError:
            pass  # another process won the race; its key is the one to use
        finally:
            tmp.unlink()
        dir_fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with contextlib.suppress(OSError):
                os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _aad_bytes(aad: bytes | str) -> bytes:
    return aad.encode("utf-8") if isinstance(aad, str) else aad


class FieldCipher:
    """AES-256-GCM for single text fields: ``version || nonce || ciphertext+tag``.

    Each value gets a fresh random 96-bit nonce (fine for the few thousand values a device will
    ever encrypt under one key). ``aad`` must name the record and the field, e.g.
    ``"registrations/<id>/resident_id"``; decrypting with any other ``aad`` fails.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"FieldCipher needs a {KEY_BYTES}-byte key")
        self._aead = AESGCM(key)

    @classmethod
    def from_store(cls, store: DeviceSecretStore) -> FieldCipher:
        return cls(store.key())

    def __repr__(self) -> str:
        return "FieldCipher(<key hidden>)"

    def encrypt(self, plaintext: str, aad: bytes | str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), _aad_bytes(aad))
        return _FORMAT_V1 + nonce + sealed

    def decrypt(self, blob: bytes, aad: bytes | str) -> str:
        blob = bytes(blob)
        if len(blob) < 1 + NONCE_BYTES + _TAG_BYTES or blob[:1] != _FORMAT_V1:
            raise DecryptionError("encrypted field is malformed or of an unknown format")
        nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            plain = self._aead.decrypt(nonce, sealed, _aad_bytes(aad))
        except InvalidTag:
            raise DecryptionError(
                "encrypted field failed authentication: it was altered, belongs to another "
                "record, or the device key changed"
            ) from None
        return plain.decode("utf-8")
