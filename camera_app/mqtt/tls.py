"""The TLS context of an MQTT client with a certificate of its own (the device to its broker,
the device to its site, the site to its broker): the broker's CA only, TLS 1.2 or later."""

from __future__ import annotations

import ssl
from pathlib import Path


def client_context(
    ca_file: Path | None, cert_file: Path | None, key_file: Path | None
) -> ssl.SSLContext:
    """Raises ValueError when a file is not given (the configs check that first)."""
    if ca_file is None or cert_file is None or key_file is None:
        raise ValueError("TLS to the broker needs ca_file, cert_file and key_file")
    context = ssl.create_default_context(cafile=str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_file), str(key_file))
    return context
