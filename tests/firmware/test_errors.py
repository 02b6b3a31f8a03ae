"""Errors carry their exit code (firmware.errors), and the command line ends with it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from camera_app import cli
from camera_app.accounts import SetupError
from camera_app.cli import EXIT_CODES, main
from camera_app.config import ConfigError
from camera_app.update.errors import (
    BundleError,
    InstallError,
    NoticePeriodError,
    StateError,
    UpdateBusyError,
    UpdateError,
    UpdateRefused,
)
from firmware.capture.base import CaptureError, SourceSpecError
from firmware.db import DatabaseError
from firmware.errors import AppError, ExitCode
from firmware.identity import IdentityError
from privacy.detect.base import DetectorError
from privacy.models.provision import ProvisionError
from privacy.models.registry import ModelIntegrityError
from privacy.offline import MediaError
from privacy.registration import RegistrationError
from privacy.secrets import SecretStoreError

# (error, exit code, the builtin base other code catches it by)
EXPECTED: list[tuple[type[AppError], ExitCode, type[Exception]]] = [
    (ConfigError, ExitCode.CONFIG, ValueError),
    (SetupError, ExitCode.USAGE, ValueError),
    (RegistrationError, ExitCode.USAGE, ValueError),
    (MediaError, ExitCode.USAGE, ValueError),
    (SourceSpecError, ExitCode.USAGE, ValueError),
    (UpdateRefused, ExitCode.USAGE, UpdateError),
    (BundleError, ExitCode.USAGE, UpdateRefused),
    (NoticePeriodError, ExitCode.USAGE, UpdateRefused),
    (UpdateError, ExitCode.RUNTIME, Exception),
    (InstallError, ExitCode.RUNTIME, UpdateError),
    (StateError, ExitCode.RUNTIME, UpdateError),
    (UpdateBusyError, ExitCode.RUNTIME, UpdateError),
    (DatabaseError, ExitCode.RUNTIME, RuntimeError),
    (CaptureError, ExitCode.RUNTIME, RuntimeError),
    (IdentityError, ExitCode.RUNTIME, RuntimeError),
    (DetectorError, ExitCode.RUNTIME, RuntimeError),
    (ModelIntegrityError, ExitCode.RUNTIME, RuntimeError),
    (ProvisionError, ExitCode.RUNTIME, RuntimeError),
    (SecretStoreError, ExitCode.RUNTIME, RuntimeError),
]


def _subclasses(cls: type[AppError]) -> set[type[AppError]]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def test_every_app_error_has_a_documented_exit_code() -> None:
    errors = _subclasses(AppError)
    assert errors >= {cls for cls, _, _ in EXPECTED}
    for cls in errors:
        assert isinstance(cls.exit_code, ExitCode), cls
        assert cls.exit_code is not ExitCode.OK, cls
        assert f"\n  {cls.exit_code.value}  " in EXIT_CODES, cls


NAMES = [cls.__name__ for cls, _, _ in EXPECTED]


def _instance(cls: type[AppError]) -> AppError:
    if cls is ConfigError:
        return ConfigError("c.yaml", ["motion.treshold: unknown key", "capture.fps: too high"])
    if cls is RegistrationError:
        return RegistrationError("name", "length", "the name is too long")
    return cls("what went wrong")


@pytest.mark.parametrize(("cls", "code", "base"), EXPECTED, ids=NAMES)
def test_exit_code_and_builtin_base(
    cls: type[AppError], code: ExitCode, base: type[Exception]
) -> None:
    assert cls.exit_code is code
    assert issubclass(cls, base)


def test_every_documented_exit_code_is_listed_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "exit codes:" in out
    for code in ExitCode:
        assert f"\n  {code.value}  " in out


def test_malformed_config_ends_with_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("capture: [unclosed\n")
    assert main(["check-config", str(bad)]) == ExitCode.CONFIG == 3
    err = capsys.readouterr().err
    assert err.startswith(f"config error in {bad}:\n  invalid YAML at line")


def test_refused_update_ends_with_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "_setup_logging", lambda level: None)  # leave pytest's logging be
    config = tmp_path / "c.yaml"
    config.write_text(f"storage:\n  data_dir: {tmp_path / 'data'}\n")
    assert main(["update", "rollback", "--config", str(config)]) == ExitCode.USAGE == 2
    assert capsys.readouterr().err == "refused: there is no previous release to roll back to\n"


def _failing_command(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    def command(args: argparse.Namespace) -> int:
        raise error

    monkeypatch.setattr(cli, "_cmd_check_config", command)


@pytest.mark.parametrize(("cls", "code"), [(cls, code) for cls, code, _ in EXPECTED], ids=NAMES)
def test_the_cli_ends_with_the_code_the_error_carries(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cls: type[AppError],
    code: ExitCode,
) -> None:
    error = _instance(cls)
    _failing_command(monkeypatch, error)
    assert main(["check-config", "c.yaml"]) == code
    assert capsys.readouterr().err == error.report()


def test_reports() -> None:
    assert _instance(DatabaseError).report() == "error: what went wrong\n"
    assert _instance(BundleError).report() == "refused: what went wrong\n"
    assert _instance(ConfigError).report() == (
        "config error in c.yaml:\n  motion.treshold: unknown key\n  capture.fps: too high\n"
    )


def test_os_errors_are_runtime_failures_and_bugs_are_not_hidden(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _failing_command(monkeypatch, NotADirectoryError("not a directory: /data"))
    assert main(["check-config", "c.yaml"]) == ExitCode.RUNTIME
    assert capsys.readouterr().err == "error: not a directory: /data\n"
    # an exception that is no AppError is a bug: it is not turned into an exit code
    _failing_command(monkeypatch, ValueError("a bug"))
    with pytest.raises(ValueError, match="a bug"):
        main(["check-config", "c.yaml"])
