"""What can go wrong with an update, as exceptions whose message a device owner can act on."""

from __future__ import annotations

from firmware.errors import AppError, ExitCode


class UpdateError(AppError):
    """An update step failed. The message says what and why; the running release is untouched
    unless the message says otherwise."""


class UpdateRefused(UpdateError):
    """The repository, the metadata or the release failed a check (signature, expiry, version,
    hash, bundle contents, notice period). Nothing was installed or switched."""

    exit_code = ExitCode.USAGE
    label = "refused"


class BundleError(UpdateRefused):
    """The release bundle is malformed or unsafe to unpack (path traversal, links, sizes) or
    does not match its signed metadata."""


class NoticePeriodError(UpdateRefused):
    """The release changes detection, redaction or streaming and its notice period is not over."""


class InstallError(UpdateError):
    """Building the new slot failed (disk, Python environment). The active slot is untouched."""


class StateError(UpdateError):
    """``state.json`` cannot be read or is not valid; nothing is changed until it is fixed."""


class UpdateBusyError(UpdateError):
    """Another update command holds the update lock."""
