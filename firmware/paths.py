"""Where the device keeps its files under the data directory."""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoragePaths:
    """The layout of the data directory. Paths stored in the database are relative to ``root``."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / "camera.db"

    @property
    def owner_masks(self) -> Path:
        """The privacy and motion masks the owner saved in the owner app; laid over the config
        file's at every start (``camera_app.config.owner_masks``)."""
        return self.root / "owner-masks.yaml"

    @property
    def clips(self) -> Path:
        return self.root / "clips"

    @property
    def snapshots(self) -> Path:
        return self.root / "snapshots"

    @property
    def secrets(self) -> Path:
        """Device key (identity data encryption) and TLS certificate; 0700."""
        return self.root / "secrets"

    @property
    def field_key(self) -> Path:
        return self.secrets / "field.key"

    @property
    def notices(self) -> Path:
        """Generated posted-notice signs (PDF)."""
        return self.root / "notices"

    @property
    def update(self) -> Path:
        """Signed updates: trusted TUF metadata, downloads, the A/B slots and ``state.json``
        (layout: ``camera_app.update.layout.UpdatePaths``)."""
        return self.root / "update"

    @property
    def update_spool(self) -> Path:
        """What ``update check`` (the service user) stages for the privileged apply: its own
        verified metadata, the repository files to replay and its announcements. Kept apart
        from ``update``, which only the privileged apply writes (docs/updates.md)."""
        return self.root / "update-spool"

    @property
    def run(self) -> Path:
        """State of the running service (``status.json``); a symlink to /run/camera-app (tmpfs)
        on an installed device. Created on first write, not by :meth:`create`: a dangling
        symlink while the service is stopped must not break other commands."""
        return self.root / "run"

    @property
    def run_status(self) -> Path:
        return self.run / "status.json"

    def clip_for(self, camera_id: str, day: str, event_id: str) -> Path:
        return self.clips / camera_id / day / f"{event_id}.mp4"

    def snapshot_for(self, camera_id: str, day: str, event_id: str) -> Path:
        return self.snapshots / camera_id / day / f"{event_id}.jpg"

    def relative(self, path: Path) -> str:
        return str(path.relative_to(self.root))

    def absolute(self, relative: str) -> Path:
        return self.root / relative

    def create(self) -> None:
        """Make the folders. The data directory is closed to other users even when it existed
        before (made by hand with the umask's 0755): recordings, notices and the database are
        inside, and their own modes follow the umask."""
        for folder in (self.root, self.clips, self.snapshots, self.notices):
            folder.mkdir(parents=True, exist_ok=True, mode=0o750)
        self.secrets.mkdir(exist_ok=True, mode=0o700)
        info = self.root.stat()
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o007 and info.st_uid == os.geteuid():
            self.root.chmod(mode & ~0o007)
            log.info("data directory %s: permissions %o -> %o", self.root, mode, mode & ~0o007)
