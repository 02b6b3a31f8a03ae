"""Staging: how ``update check`` (the service user) hands a release to the privileged apply.

The check verifies the repository with the metadata *it* trusts (``update-spool/metadata``),
then copies what it verified into ``update-spool/staged/`` in the repository's own layout:
``metadata/<n>.root.json`` for every root it trusts, ``metadata/timestamp.json``,
``metadata/<v>.snapshot.json``, ``metadata/<v>.targets.json``, and, when it is newer than the
running one, the newest release's bundle in ``targets/`` under the name the repository serves
it by.

The apply (root on a device, no network) reads those files through :class:`StagedFetcher`, a
``tuf.ngclient`` fetcher. ngclient then runs the whole client workflow again, from the apply's
own trusted metadata (``update/metadata``) and the pinned root: signatures, thresholds, version
numbers that never go down, expiry, and the bundle's length and hashes. A staged file is just
bytes to verify. One that the service user altered, replaced by older signed metadata or left
out is refused exactly as if a hostile network had served it.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata, Root
from tuf.ngclient.fetcher import FetcherInterface

from camera_app.update.errors import UpdateError
from camera_app.update.fetch import Release, ReleaseRepository

log = logging.getLogger(__name__)

STAGED_METADATA = "metadata"
STAGED_TARGETS = "targets"
_ROOT_HISTORY = re.compile(r"^[1-9]\d{0,8}\.root\.json$")
_CHUNK = 1 << 20


def _staged_name(url_path: str) -> PurePosixPath:
    """A URL path below a base URL as a relative path, refused when it could leave the spool."""
    parts = url_path.split("/")
    if not url_path or "\\" in url_path or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"{url_path!r} is not a plain relative path")
    return PurePosixPath(*parts)


def target_url_path(release: Release, consistent_snapshot: bool) -> str:
    """The path (below the targets URL) ngclient downloads ``release``'s bundle from: with
    consistent snapshots the file name is prefixed with its first hash, as ngclient does
    (``prefix_targets_with_hash``, on by default)."""
    path = release.target.path
    if not consistent_snapshot:
        return path
    digest = next(iter(release.target.hashes.values()))
    folder, sep, name = path.rpartition("/")
    return f"{folder}{sep}{digest}.{name}"


def _versioned(name: str, metadata: bytes, consistent: bool) -> str:
    if not consistent:
        return f"{name}.json"
    return f"{Metadata.from_bytes(metadata).signed.version}.{name}.json"


def stage(repo: ReleaseRepository, release: Release | None, staged: Path) -> None:
    """Replace ``staged`` with the metadata ``repo`` has just verified and, unless ``release``
    is None (nothing to install), its bundle.

    Call it after ``repo.releases()``. A bundle staged before (same hashes) is kept instead of
    downloaded again. The new folder is built beside the old one and renamed into place.
    """
    trusted = repo.metadata_dir
    try:
        root = Metadata[Root].from_bytes((trusted / "root.json").read_bytes())
        consistent = bool(root.signed.consistent_snapshot)
        building = staged.with_name(staged.name + ".new")
        shutil.rmtree(building, ignore_errors=True)
        (building / STAGED_METADATA).mkdir(parents=True, mode=0o750)
        (building / STAGED_TARGETS).mkdir(mode=0o750)
        for path in sorted((trusted / "root_history").iterdir()):
            if _ROOT_HISTORY.match(path.name):
                shutil.copyfile(path, building / STAGED_METADATA / path.name)
        shutil.copyfile(trusted / "timestamp.json", building / STAGED_METADATA / "timestamp.json")
        for role in ("snapshot", "targets"):
            data = (trusted / f"{role}.json").read_bytes()
            (building / STAGED_METADATA / _versioned(role, data, consistent)).write_bytes(data)
        if release is not None:
            name = _staged_name(target_url_path(release, consistent))
            bundle = building / STAGED_TARGETS / name
            bundle.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
            earlier = staged / STAGED_TARGETS / name
            if _matches(release, earlier):
                shutil.copyfile(earlier, bundle)
            else:
                repo.download(release, bundle)
        shutil.rmtree(staged, ignore_errors=True)
        building.rename(staged)
    except (OSError, ValueError) as err:
        raise UpdateError(f"staging for the privileged apply failed: {err}") from None
    if release is not None:
        log.info("release %s staged for the privileged apply", release.info.version)


def _matches(release: Release, path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            release.target.verify_length_and_hashes(f)
    except (OSError, tuf_errors.LengthOrHashMismatchError):
        return False
    return True


class StagedFetcher(FetcherInterface):
    """Serves ngclient's requests from a staged folder instead of the network.

    ``metadata_base_url`` and ``target_base_url`` are the repository's URLs (from the config),
    so the URLs ngclient asks for map onto ``staged/metadata/…`` and ``staged/targets/…``. A file
    that was not staged answers 404, which ngclient handles as the network's 404 (for example
    the end of the root rotations).
    """

    def __init__(self, staged: Path, metadata_base_url: str, target_base_url: str) -> None:
        self._bases = (
            (metadata_base_url, staged / STAGED_METADATA),
            (target_base_url, staged / STAGED_TARGETS),
        )

    def _fetch(self, url: str) -> Iterator[bytes]:
        for base, folder in self._bases:
            if url.startswith(base):
                try:
                    name = _staged_name(url[len(base) :])
                except ValueError:
                    break
                try:
                    source = open(folder / name, "rb")  # noqa: SIM115 (closed by _chunks)
                except (FileNotFoundError, NotADirectoryError):
                    raise tuf_errors.DownloadHTTPError(f"{url} is not staged", 404) from None
                return _chunks(source)
        raise tuf_errors.DownloadHTTPError(f"{url} is not a URL of the repository", 404)


def _chunks(source: BinaryIO) -> Iterator[bytes]:
    with source:
        while chunk := source.read(_CHUNK):
            yield chunk
