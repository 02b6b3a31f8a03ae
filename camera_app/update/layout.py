"""Where updates live under the data directory.

Two trees, for two identities (docs/updates.md, "Who writes what"):

* ``<data_dir>/update/`` — written only by the privileged apply (``update apply``, ``rollback``,
  ``resume``; root on a device): the A/B slots the service runs, the TUF metadata the apply
  trusts, ``state.json``. The camera service and ``update check`` only read it.
* ``<data_dir>/update-spool/`` — written by ``update check`` (the service user): the metadata
  it trusts for its announcements, the repository files it staged for the apply to verify
  again, and its announcements. Nothing in it is trusted by the apply without verification.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from firmware.paths import StoragePaths

SLOT_NAMES = ("a", "b")
ACTIVE_LINK = "active"


@dataclass(frozen=True, slots=True)
class UpdatePaths:
    """``metadata/`` trusted TUF metadata, ``downloads/`` bundles being installed, ``slots/a`` and
    ``slots/b`` the two releases, ``slots/active`` → the running one, ``state.json``."""

    root: Path

    @classmethod
    def of(cls, data_dir: Path) -> UpdatePaths:
        return cls(StoragePaths(Path(data_dir)).update)

    @property
    def db_before_switch(self) -> Path:
        """The database schema version the release before the last switch used (rollback)."""
        return self.root / "db-before-switch.json"

    @property
    def metadata(self) -> Path:
        return self.root / "metadata"

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    @property
    def slots(self) -> Path:
        return self.root / "slots"

    @property
    def active_link(self) -> Path:
        """The symlink the service is started through: ``slots/active/bin/camera-app run``."""
        return self.slots / ACTIVE_LINK

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    def slot(self, name: str) -> Path:
        if name not in SLOT_NAMES:
            raise ValueError(f"unknown slot {name!r}")
        return self.slots / name

    def create(self) -> None:
        for folder in (self.root, self.metadata, self.downloads, self.slots):
            folder.mkdir(parents=True, exist_ok=True, mode=0o750)


@dataclass(frozen=True, slots=True)
class SpoolPaths:
    """``metadata/`` the TUF metadata ``update check`` trusts, ``staged/`` the repository files
    it staged (``staged/metadata/``, ``staged/targets/``: the repository's own layout),
    ``announcements.json`` what it has seen and announced, ``lock``."""

    root: Path

    @classmethod
    def of(cls, data_dir: Path) -> SpoolPaths:
        return cls(StoragePaths(Path(data_dir)).update_spool)

    @property
    def metadata(self) -> Path:
        return self.root / "metadata"

    @property
    def staged(self) -> Path:
        return self.root / "staged"

    @property
    def announcements(self) -> Path:
        return self.root / "announcements.json"

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    def create(self) -> None:
        for folder in (self.root, self.metadata, self.staged):
            folder.mkdir(parents=True, exist_ok=True, mode=0o750)
