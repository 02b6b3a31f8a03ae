"""The vendor's TUF repository as the device sees it: only verified metadata and targets.

``tuf.ngclient`` does the verification (the TUF client workflow): it starts from the pinned root,
walks root rotations, then refreshes timestamp → snapshot → targets, checking signatures against
the keys each parent role names, version numbers against what the device already trusts
(persisted in ``metadata/``, so a restart does not forget them), expiry dates, and the lengths and
hashes that bind the roles to each other and to the target files. This module turns its
exceptions into :class:`UpdateRefused` with a message that says what the refusal protects
against.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata, TargetFile, Targets
from tuf.ngclient import Updater
from tuf.ngclient.fetcher import FetcherInterface

from camera_app.update.errors import UpdateError, UpdateRefused
from camera_app.update.release import ReleaseInfo, Version, version_of_target

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Release:
    """A release listed in verified targets metadata."""

    info: ReleaseInfo
    target: TargetFile

    @property
    def version(self) -> Version:
        return self.info.parsed_version


def _refusal(what: str, err: Exception) -> UpdateError:
    """A TUF exception as an error a person can act on."""
    if isinstance(err, tuf_errors.ExpiredMetadataError):
        return UpdateRefused(
            f"{what}: the repository's metadata has expired ({err}); refused, since stale "
            "metadata could hide a newer release (freeze attack); the vendor must re-sign it"
        )
    if isinstance(err, tuf_errors.BadVersionNumberError):
        return UpdateRefused(
            f"{what}: the repository offered older metadata than this device already trusts "
            f"({err}); refused as a rollback attack"
        )
    if isinstance(err, tuf_errors.UnsignedMetadataError):
        return UpdateRefused(
            f"{what}: metadata is not signed by the keys the trusted root names ({err}); "
            "refused (wrong key or altered metadata)"
        )
    if isinstance(err, tuf_errors.LengthOrHashMismatchError):
        return UpdateRefused(
            f"{what}: a file does not match the length or hash its signed metadata gives "
            f"({err}); refused (tampered, or metadata mixed from different versions)"
        )
    if isinstance(err, tuf_errors.RepositoryError):
        return UpdateRefused(f"{what}: the repository's metadata failed verification ({err})")
    if isinstance(err, tuf_errors.DownloadError):
        return UpdateError(f"{what}: download failed ({err})")
    return UpdateError(f"{what}: {err}")


class ReleaseRepository:
    """Lists and downloads releases through ``tuf.ngclient``.

    ``metadata_dir`` keeps the trusted metadata between runs; ``root_file`` is the pinned root
    the device shipped with (the first link of the chain of trust; later roots are fetched and
    verified by ngclient). One instance does one refresh, as ngclient allows.
    """

    def __init__(
        self,
        repository_url: str,
        metadata_dir: Path,
        root_file: Path,
        downloads_dir: Path,
        *,
        fetcher: FetcherInterface | None = None,
    ) -> None:
        base = repository_url.rstrip("/")
        self._metadata_dir = metadata_dir
        self._downloads = downloads_dir
        metadata_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
        downloads_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
        try:
            pinned = root_file.read_bytes()
        except OSError as err:
            raise UpdateError(
                f"cannot read the pinned root {root_file}: {err.strerror or err}"
            ) from None
        try:
            # Always bootstrap from the pinned root: ngclient then re-walks the root versions
            # it has already verified (metadata/root_history) and continues from the newest.
            self._updater = Updater(
                metadata_dir=str(metadata_dir),
                metadata_base_url=f"{base}/metadata/",
                target_base_url=f"{base}/targets/",
                target_dir=str(downloads_dir),
                fetcher=fetcher,
                bootstrap=pinned,
            )
        except (OSError, tuf_errors.RepositoryError, ValueError) as err:
            raise _refusal(f"pinned root {root_file}", err) from None
        self._refreshed = False

    @property
    def metadata_dir(self) -> Path:
        """Where ngclient keeps the metadata it has verified (valid after :meth:`refresh`)."""
        return self._metadata_dir

    def refresh(self) -> None:
        """Fetch and verify the top-level metadata (once per instance)."""
        if self._refreshed:
            return
        try:
            self._updater.refresh()
        except (tuf_errors.RepositoryError, tuf_errors.DownloadError, OSError) as err:
            raise _refusal("update check", err) from None
        self._refreshed = True

    def releases(self) -> list[Release]:
        """Every release the verified targets metadata lists, oldest first."""
        self.refresh()
        out = []
        for path in self._release_paths():
            try:
                target = self._updater.get_targetinfo(path)
            except (tuf_errors.RepositoryError, tuf_errors.DownloadError, OSError) as err:
                raise _refusal(f"target {path}", err) from None
            if target is None:
                continue
            out.append(Release(ReleaseInfo.from_custom(target.custom, path), target))
        out.sort(key=lambda r: r.version)
        return out

    def _release_paths(self) -> list[str]:
        """Target names from the targets metadata ngclient has just verified and stored.

        ngclient has no public call that lists targets, so the names come from its stored copy;
        each one is then looked up again through ``get_targetinfo``, which answers from the
        verified metadata in memory, so a name alone cannot smuggle anything in.
        """
        try:
            raw = (self._metadata_dir / "targets.json").read_bytes()
            stored = Metadata[Targets].from_bytes(raw)
        except (OSError, ValueError) as err:
            raise UpdateError(f"cannot read the verified targets metadata: {err}") from None
        return sorted(p for p in stored.signed.targets if version_of_target(p) is not None)

    def download(self, release: Release, path: Path | None = None) -> Path:
        """Download the release bundle (into ``downloads/`` unless ``path`` is given) and verify
        its length and hashes against the signed targets metadata; a mismatch is refused and
        the file removed."""
        path = path or self._downloads / f"camera-app-{release.info.version}.tar.gz"
        try:
            self._updater.download_target(release.target, filepath=str(path))
        except (tuf_errors.RepositoryError, tuf_errors.DownloadError, OSError) as err:
            path.unlink(missing_ok=True)
            raise _refusal(f"release {release.info.version}", err) from None
        log.info("downloaded and verified %s (%d bytes)", release.target.path, path.stat().st_size)
        return path

    def clear_downloads(self) -> None:
        for child in self._downloads.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
