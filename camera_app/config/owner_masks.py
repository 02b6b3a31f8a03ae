"""The masks the owner saves in the owner app: a file of their own in the data directory
(``<storage.data_dir>/owner-masks.yaml``), laid over the config file's ``privacy_masks`` and
``motion.masks`` wherever the service's config is loaded (``camera-app run``, ``check-config``).

Why not the config file: on an installed device it is root's (``/etc/camera-app``, read-only to
the service under ``ProtectSystem=strict``), and the service is kept from writing there on
purpose. The data directory is the service's own.

With several cameras (``cameras:``) each camera's masks have a file of their own,
``<storage.data_dir>/owner-masks/<camera id>.yaml``, laid over that camera's
``cameras[N].privacy_masks`` and ``cameras[N].motion_masks``; the one-camera file is then refused
(it cannot say which camera it was drawn on).

The owner's masks win: they replace the file's ``privacy_masks.color``, ``privacy_masks.areas``
and ``motion.masks`` whole (the owner app showed the masks in force and the owner saved the set
they want, deletions included). A missing file changes nothing. A file that cannot be read or is
not valid stops the load with an :class:`OwnerMasksError` (a config error: exit 3) naming the file
and the key path. The service then does not start rather than run without masks the owner drew:
a privacy mask silently dropped would record what the owner hid, and a union with the config
file's masks cannot be made from a file that cannot be read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from camera_app.config.app import AppConfig
from camera_app.config.loader import ConfigError, key_path_problems, load_config, read_yaml
from camera_app.config.privacy_masks import Byte, PrivacyMasksConfig
from firmware.atomicfile import write_atomically
from firmware.configbase import NamedPolygon, StrictModel
from firmware.paths import StoragePaths

#: Permissions of the file: the service's user writes it, its group (the admin's tools) reads it.
FILE_MODE = 0o640

HEADER = (
    "# The masks the owner saved in the owner app (camera-app). They replace privacy_masks and\n"
    "# motion.masks of the config file at every start. Written by the app; delete this file and\n"
    "# restart the service to go back to the config file's masks.\n"
)


class _Dumper(yaml.SafeDumper):
    """Block style, except lists of plain values ([x, y] points) on one line."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any] | tuple[Any, ...]) -> yaml.Node:
    flow = all(isinstance(item, str | int | float | bool) or item is None for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


class OwnerMasksError(ConfigError):
    """The owner's masks file cannot be used; the service does not start without it."""

    def report(self) -> str:
        return super().report() + (
            "  (the masks saved in the owner app: fix this file, or delete it to go back to the "
            "config file's masks; the service does not start without them)\n"
        )


class SavedPrivacyMasks(StrictModel):
    color: tuple[Byte, Byte, Byte]
    areas: list[NamedPolygon]


class SavedMotionMasks(StrictModel):
    masks: list[NamedPolygon]


class OwnerMasks(StrictModel):
    """The file's document. Every key is required: a file cut short is an error, never a file
    with fewer masks."""

    privacy_masks: SavedPrivacyMasks
    motion: SavedMotionMasks

    @classmethod
    def of(cls, config: AppConfig, camera_id: str | None = None) -> OwnerMasks:
        """The masks of ``camera_id`` in ``config`` (None: the one-camera form's)."""
        if camera_id is not None:
            config = config.view(camera_id)
        return cls(
            privacy_masks=SavedPrivacyMasks(
                color=config.privacy_masks.color, areas=list(config.privacy_masks.areas)
            ),
            motion=SavedMotionMasks(masks=list(config.motion.masks)),
        )

    def over(self, config: AppConfig, camera_id: str | None = None) -> AppConfig:
        """``config`` with these masks in place of the camera's own (``camera_id`` None: the
        one-camera form's); every other key as it was."""
        privacy = PrivacyMasksConfig(
            color=self.privacy_masks.color, areas=list(self.privacy_masks.areas)
        )
        return config.with_masks(camera_id or config.camera.id, privacy, self.motion.masks)

    def replaced(self, config: AppConfig, camera_id: str | None = None) -> list[str]:
        """The keys (as the config file names them) whose value in ``config`` these change."""
        theirs = OwnerMasks.of(config, camera_id)
        keys: tuple[str, ...]
        if camera_id is None or config.cameras is None:
            keys = ("privacy_masks.color", "privacy_masks.areas", "motion.masks")
        else:
            index = [c.id for c in config.cameras].index(camera_id)
            keys = tuple(
                f"cameras[{index}].{k}"
                for k in ("privacy_masks.color", "privacy_masks.areas", "motion_masks")
            )
        pairs = zip(
            keys,
            (
                (self.privacy_masks.color, theirs.privacy_masks.color),
                (self.privacy_masks.areas, theirs.privacy_masks.areas),
                (self.motion.masks, theirs.motion.masks),
            ),
            strict=True,
        )
        return [key for key, (ours, other) in pairs if ours != other]

    def to_yaml(self) -> bytes:
        text = HEADER + yaml.dump(
            self.model_dump(mode="json"),
            Dumper=_Dumper,
            sort_keys=False,
            allow_unicode=True,
            width=100,
        )
        return text.encode("utf-8")


def parse_owner_masks(raw: bytes, source: str) -> OwnerMasks:
    """The masks in the text of an owner masks file; :class:`OwnerMasksError` if it is not one."""
    try:
        data = read_yaml(raw, source)
    except ConfigError as err:
        raise OwnerMasksError(source, err.problems) from None
    if data is None:
        raise OwnerMasksError(source, ["(top level): the file is empty"])
    if not isinstance(data, dict):
        raise OwnerMasksError(source, ["(top level): expected a mapping (privacy_masks, motion)"])
    try:
        return OwnerMasks.model_validate(data)
    except ValidationError as err:
        raise OwnerMasksError(source, key_path_problems(err)) from None


def read_owner_masks(path: Path) -> OwnerMasks | None:
    """The owner's masks saved at ``path``; None when there is no such file. A data directory
    that is missing or not a directory holds none (the service then fails to create it: a
    storage error, not a config error); one that cannot be read is an error, as nothing says
    no masks are in it."""
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        raise OwnerMasksError(str(path), [f"cannot read file: {err.strerror or err}"]) from None
    return parse_owner_masks(raw, str(path))


def write_owner_masks(path: Path, masks: OwnerMasks) -> None:
    """Replace ``path`` with ``masks``, all or nothing (a power cut leaves the old file or the
    new one). The text is read back first as the next start will read it:
    :class:`OwnerMasksError` (nothing written) if it would not give ``masks``;
    :class:`OSError` if the directory cannot be written."""
    encoded = masks.to_yaml()
    if parse_owner_masks(encoded, str(path)) != masks:
        raise OwnerMasksError(str(path), ["(top level): the text does not read back as saved"])
    write_atomically(path, encoded, mode=FILE_MODE)


def owner_masks_path(config: AppConfig, camera_id: str) -> Path:
    """Where the owner's masks of ``camera_id`` are saved: the one-camera form's file, or with
    ``cameras:`` a file per camera."""
    paths = StoragePaths(config.storage.data_dir)
    if config.cameras is None:
        return paths.owner_masks
    return paths.root / "owner-masks" / f"{camera_id}.yaml"


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """The config as the service runs it, and where it came from."""

    #: in force: the config file's (or the defaults), the owner's saved masks over it
    config: AppConfig
    #: as the config file alone says
    file: AppConfig
    #: where the owner's masks are saved (in ``file``'s data directory)
    owner_masks_path: Path
    #: the owner's saved masks; None when none were saved
    owner_masks: OwnerMasks | None
    #: with ``cameras:``, the owner's saved masks per camera id (only those saved)
    camera_masks: dict[str, OwnerMasks] = field(default_factory=dict)

    def replaced(self) -> list[str]:
        """The config file's mask keys that the owner's saved masks replace with other values."""
        if self.owner_masks is not None:
            return self.owner_masks.replaced(self.file)
        return [
            key
            for camera_id, masks in self.camera_masks.items()
            for key in masks.replaced(self.file, camera_id)
        ]


def load_service_config(path: Path | str | None) -> ServiceConfig:
    """The config ``camera-app run --config path`` runs with (``None``: the defaults): the file
    loaded and validated, then the owner's masks from its data directory laid over it.

    :class:`ConfigError` when the config file cannot be used, :class:`OwnerMasksError` when the
    owner's masks file exists but cannot be read or is not valid.
    """
    file = load_config(path)
    where = StoragePaths(file.storage.data_dir).owner_masks
    if file.cameras is None:
        saved = read_owner_masks(where)
        return ServiceConfig(saved.over(file) if saved is not None else file, file, where, saved)
    if where.exists():
        raise OwnerMasksError(
            str(where),
            [
                "(top level): the masks of a one-camera config, and this config lists its "
                "cameras: move the file to owner-masks/<camera id>.yaml beside it, for the "
                "camera it was drawn on"
            ],
        )
    config, per_camera = file, {}
    for view in file.views():
        camera_id = view.camera.id
        if (masks := read_owner_masks(owner_masks_path(file, camera_id))) is not None:
            per_camera[camera_id] = masks
            config = masks.over(config, camera_id)
    return ServiceConfig(config, file, where.parent / "owner-masks", None, per_camera)
