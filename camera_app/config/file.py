"""The config file a running service was started with, rewritten when the owner app saves a
setting that lives in it (the masks), so that the file stays the one source of the config.

The rewrite is all or nothing: the new text is validated by the same loader ``camera-app run``
uses before anything is written, the previous file is kept beside it as ``<name>.bak``, and the
new one replaces it atomically (a power cut leaves the old file or the new one, never half).
Values and the order of keys are kept; YAML comments are not (PyYAML does not read them), which
is why the rewritten file starts with a comment saying so.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from camera_app.config.app import AppConfig
from camera_app.config.loader import ConfigError, config_from_bytes, read_yaml
from firmware.atomicfile import write_atomically

HEADER = (
    "# Rewritten by the owner app when settings were saved there; the file before that is\n"
    "# kept beside this one as {backup}. Comments are not kept by the rewrite.\n"
)


class _Dumper(yaml.SafeDumper):
    """Block style, except lists of plain values ([x, y] points) on one line."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any] | tuple[Any, ...]) -> yaml.Node:
    flow = all(isinstance(item, str | int | float | bool) or item is None for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


@dataclass(frozen=True, slots=True)
class ConfigSnapshot:
    """The file as read now: its bytes, its YAML document and the config it gives."""

    raw: bytes
    data: dict[str, Any]
    config: AppConfig


class ConfigFile:
    """``path`` as given to ``camera-app run --config``. Relative paths inside the file are read
    from the directory of ``path`` (as the loader does); a symlink is followed for the write, so
    the link stays and its target gets the new text. Not thread-safe: the caller serialises."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._base_dir = self.path.parent.resolve()

    @property
    def backup(self) -> Path:
        target = self.path.resolve()
        return target.with_name(target.name + ".bak")

    def read(self) -> ConfigSnapshot:
        """The file now; :class:`ConfigError` when it cannot be read or is not a valid config."""
        source = str(self.path)
        try:
            raw = self.path.read_bytes()
        except OSError as err:
            raise ConfigError(source, [f"cannot read file: {err.strerror or err}"]) from None
        data = read_yaml(raw, source)
        config = config_from_bytes(raw, source, base_dir=self._base_dir)
        return ConfigSnapshot(raw, data if isinstance(data, dict) else {}, config)

    def rewrite(self, data: dict[str, Any], previous: ConfigSnapshot) -> AppConfig:
        """Replace the file with ``data``; returns the config as the next start will load it.

        :class:`ConfigError` (nothing written) when ``data`` is not a valid config;
        :class:`OSError` when the directory or file cannot be written (the old file stays, and
        so does any earlier backup unless only the final rename failed).
        """
        target = self.path.resolve()
        backup = self.backup
        text = HEADER.format(backup=backup.name) + yaml.dump(
            data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
        )
        encoded = text.encode("utf-8")
        config = config_from_bytes(encoded, str(self.path), base_dir=self._base_dir)
        # The file may hold MQTT credentials: the new file and the backup keep its permissions.
        mode = stat.S_IMODE(target.stat().st_mode)
        write_atomically(backup, previous.raw, mode=mode)
        write_atomically(target, encoded, mode=mode)
        return config
