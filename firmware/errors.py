"""The errors the app reports to a person, each with the exit status a command ends with.

Every layer raises its own :class:`AppError` subclasses (``ConfigError``, ``DatabaseError``,
``UpdateRefused``, …); the command line turns any of them into its message and
``exit_code`` in one place, so the status a script sees follows from what went wrong.
"""

from __future__ import annotations

import enum
from typing import ClassVar


class ExitCode(enum.IntEnum):
    """How a ``camera-app`` command ends; ``meaning`` is what ``--help`` says about it."""

    OK = 0
    USAGE = 2
    CONFIG = 3
    RUNTIME = 4
    TAMPERED = 5

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    ExitCode.OK: "done",
    ExitCode.USAGE: "bad usage or a refused request (asking again the same way fails again)",
    ExitCode.CONFIG: "the config file cannot be used",
    ExitCode.RUNTIME: "a failure while running: capture, models, database, update, storage",
    ExitCode.TAMPERED: "audit verify found the audit log altered",
}


class AppError(Exception):
    """An error whose message a person can act on. ``exit_code`` says how the command ends."""

    exit_code: ClassVar[ExitCode] = ExitCode.RUNTIME
    #: how the command line introduces the message
    label: ClassVar[str] = "error"

    def report(self) -> str:
        """The text the command line writes to standard error."""
        return f"{self.label}: {self}\n"
