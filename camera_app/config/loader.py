"""Reads the YAML config file into :class:`AppConfig` with errors a person can act on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from camera_app.config.api import ApiConfig
from camera_app.config.app import AppConfig
from firmware.errors import AppError, ExitCode

MAX_CONFIG_BYTES = 1_000_000

#: A rule across keys (a model validator) names the key it is about at the start of its message.
_NAMED_KEY = re.compile(r"^[a-z_]+(\[\d+\])?(\.[a-z_]+(\[\d+\])?)*: ")


class ConfigError(AppError, ValueError):
    """The config file cannot be used. ``problems`` holds one ``"key.path: reason"`` per error."""

    exit_code = ExitCode.CONFIG

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))

    def report(self) -> str:
        """The source, then one problem a line."""
        return f"config error in {self.source}:\n" + "".join(f"  {p}\n" for p in self.problems)


def _key_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(top level)"


def key_path_problems(err: ValidationError) -> list[str]:
    """One ``"key.path: reason"`` per error of ``err``."""
    out = []
    for e in err.errors(include_url=False):
        # Pydantic appends the tag of a failing validator ("function-after[...]"), drop it.
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and "[" in p))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see docs/configuration.md)"
        if not loc and _NAMED_KEY.match(msg):
            out.extend(msg.split("\n"))  # already "key.path: reason", one a line
            continue
        out.append(f"{_key_path(loc)}: {msg}")
    return out


def parse_config(data: Any, source: str = "<config>", base_dir: Path | None = None) -> AppConfig:
    """Validate already-parsed YAML data; relative paths (``storage.data_dir``, the MQTT
    certificate files) are taken from base_dir."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, ["(top level): expected a mapping of sections"])
    try:
        config = AppConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(source, key_path_problems(err)) from None
    if base_dir is not None and not config.storage.data_dir.is_absolute():
        storage = config.storage.model_copy(
            update={"data_dir": (base_dir / config.storage.data_dir).resolve()}
        )
        config = config.model_copy(update={"storage": storage})
    if base_dir is not None:
        mqtt = config.mqtt
        files = {
            key: (base_dir / value).resolve()
            for key in ("ca_file", "cert_file", "key_file")
            if (value := getattr(mqtt, key)) is not None and not value.is_absolute()
        }
        if files:
            config = config.model_copy(update={"mqtt": mqtt.model_copy(update=files)})
    return config


def load_config(path: Path | str | None) -> AppConfig:
    """Load and validate a config file; ``None`` gives the defaults."""
    if path is None:
        return AppConfig()
    path = Path(path)
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(source, [f"cannot read file: {err.strerror or err}"]) from None
    return config_from_bytes(raw, source, base_dir=path.parent.resolve())


def read_yaml(raw: bytes, source: str) -> Any:
    """The YAML document in ``raw`` (at most :data:`MAX_CONFIG_BYTES`, UTF-8), not validated."""
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(source, [f"file is larger than {MAX_CONFIG_BYTES} bytes"])
    try:
        return yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(source, ["file is not UTF-8 text"]) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(source, [f"invalid YAML at {where}{problem}"]) from None


def config_from_bytes(raw: bytes, source: str, *, base_dir: Path) -> AppConfig:
    """The config in the text of a config file, exactly as :func:`load_config` reads it."""
    return parse_config(read_yaml(raw, source), source, base_dir=base_dir)


def override_api_address(
    config: AppConfig, *, host: str | None = None, port: int | None = None
) -> AppConfig:
    """``config`` listening on ``host``/``port`` instead (``camera-app run --host/--port``).

    Checked by the same rules as the file (a port from 0 to 65535; plain HTTP only on a loopback
    address); a refused value raises :class:`ConfigError` naming the option.
    """
    changes: dict[str, Any] = {}
    if host is not None:
        changes["host"] = host
    if port is not None:
        changes["port"] = port
    try:
        api = ApiConfig.model_validate({**config.api.model_dump(), **changes})
    except ValidationError as err:
        # a rule across keys (no plain HTTP off loopback) is about the address: --host
        options = {"host": "--host", "port": "--port", "(top level)": "--host"}
        problems = []
        for problem in key_path_problems(err):
            key, _, why = problem.partition(": ")
            problems.append(f"{options.get(key, key)}: {why}")
        raise ConfigError("the command line", problems) from None
    return config.model_copy(update={"api": api})
