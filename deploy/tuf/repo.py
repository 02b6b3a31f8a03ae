#!/usr/bin/env python3
"""The vendor's TUF repository for camera-app releases: keys, signing, publishing.

    repo.py keys KEYS_DIR                                   # ed25519 keys, one per role (0600)
    repo.py init --repo REPO --keys KEYS_DIR                # root, targets, snapshot, timestamp
    repo.py build-release --version V --wheel W --models DIR [--changes detection,...] -o FILE
    repo.py add-release --repo REPO --keys KEYS_DIR BUNDLE [--not-before ISO]
    repo.py refresh --repo REPO --keys KEYS_DIR             # re-sign what expires soon (cron)
    repo.py rotate --repo REPO --keys KEYS_DIR --role ROLE  # new key for ROLE (root signs)
    repo.py export-root --repo REPO -o root.json            # the root a device pins

REPO is served as is over HTTPS: devices fetch ``REPO/metadata/`` and ``REPO/targets/``.
Consistent snapshots are on: every version of snapshot and targets metadata and every bundle
keeps its own file name, so a device mid-download never mixes two publications. Run it with the
project's virtualenv (it uses the same release rules as the device: camera_app.update.release).
See README.md beside this file for where each key lives.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from camera_app.update.errors import UpdateRefused
from camera_app.update.release import (
    NOTICE_PERIOD,
    ReleaseInfo,
    Version,
    iso,
    target_path,
    wheel_name,
)
from privacy.models.registry import file_sha256

log = logging.getLogger("tuf-repo")

ROLES = ("root", "targets", "snapshot", "timestamp")
ONLINE_ROLES = ("targets", "snapshot", "timestamp")
EXPIRY = {
    "root": timedelta(days=365),
    "targets": timedelta(days=90),
    "snapshot": timedelta(days=7),
    "timestamp": timedelta(days=1),
}
#: ``refresh`` re-signs a role whose metadata expires within this share of its lifetime
REFRESH_MARGIN = 0.5
WHEEL_MANIFEST = "privacy/models/manifest.json"


class RepoError(Exception):
    """The repository or a release cannot be used; the message says why."""


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 from the start (the key is never readable by others)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


# ------------------------------------------------------------------------------------ keys


def generate_keys(keys_dir: Path, roles: Iterable[str] = ROLES) -> dict[str, Path]:
    """A new ed25519 key per role: ``<role>.pem`` (private, 0600), ``<role>.pub.json``."""
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    out = {}
    for role in roles:
        path = keys_dir / f"{role}.pem"
        if path.exists():
            raise RepoError(f"{path} exists; refusing to overwrite a key")
        signer = CryptoSigner.generate_ed25519()
        _write_private(path, signer.private_bytes)
        pub = keys_dir / f"{role}.pub.json"
        pub.write_text(json.dumps({signer.public_key.keyid: signer.public_key.to_dict()},
                                  indent=1) + "\n")  # fmt: skip
        out[role] = path
        log.info("made the %s key %s (keyid %s)", role, path, signer.public_key.keyid[:16])
    return out


def load_signer(path: Path) -> CryptoSigner:
    try:
        private = load_pem_private_key(path.read_bytes(), None)
    except (OSError, ValueError, TypeError) as err:
        raise RepoError(f"cannot load the key {path}: {err}") from None
    return CryptoSigner(private)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ repository


class Repository:
    """A TUF repository on disk: ``metadata/`` and ``targets/``, signed with ``keys_dir``.

    ``metadata/<role>.json`` is the working copy of the newest version of each role; clients
    fetch ``<version>.root.json``, ``timestamp.json``, ``<version>.snapshot.json`` and
    ``<version>.targets.json``.
    """

    def __init__(self, repo_dir: Path, keys_dir: Path, *, now: datetime | None = None) -> None:
        self.dir = repo_dir
        self.keys_dir = keys_dir
        self.metadata_dir = repo_dir / "metadata"
        self.targets_dir = repo_dir / "targets"
        self.now = now or _now()

    # keys and files

    def signer(self, role: str) -> CryptoSigner:
        return load_signer(self.keys_dir / f"{role}.pem")

    def load(self, role: str) -> Metadata[Any]:
        path = self.metadata_dir / f"{role}.json"
        try:
            return Metadata.from_file(str(path))
        except Exception as err:
            raise RepoError(f"cannot read {path}: {err} (run `init` first?)") from None

    def write(self, md: Metadata[Any]) -> None:
        role = md.signed.type
        data = md.to_bytes(JSONSerializer(compact=False))
        self.metadata_dir.mkdir(parents=True, exist_ok=True)
        if role != "timestamp":  # consistent snapshots: versioned names
            (self.metadata_dir / f"{md.signed.version}.{role}.json").write_bytes(data)
        tmp = self.metadata_dir / f".{role}.json.tmp"
        tmp.write_bytes(data)
        tmp.replace(self.metadata_dir / f"{role}.json")

    def sign(self, md: Metadata[Any], role: str | None = None, *, append: bool = False) -> None:
        md.sign(self.signer(role or md.signed.type), append=append)

    def _expires(self, role: str, overrides: Mapping[str, timedelta] | None = None) -> datetime:
        return self.now + (overrides or {}).get(role, EXPIRY[role])

    # whole-repository steps

    def init(self, expiry: Mapping[str, timedelta] | None = None) -> None:
        """Root v1 naming one key per role, and empty targets, snapshot and timestamp."""
        if (self.metadata_dir / "root.json").exists():
            raise RepoError(f"{self.dir} already has a root.json")
        root = Root(expires=self._expires("root", expiry), consistent_snapshot=True)
        for role in ROLES:
            root.add_key(self.signer(role).public_key, role)
        root_md = Metadata(root)
        self.sign(root_md)
        self.write(root_md)
        targets_md = Metadata(Targets(expires=self._expires("targets", expiry)))
        self.sign(targets_md)
        self.write(targets_md)
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        self.publish(expiry)

    def publish(self, expiry: Mapping[str, timedelta] | None = None) -> None:
        """New snapshot over the current targets, and a new timestamp over it."""
        targets_md = self.load("targets")
        targets_bytes = (
            self.metadata_dir / f"{targets_md.signed.version}.targets.json"
        ).read_bytes()
        try:
            snapshot_md = self.load("snapshot")
            snapshot = snapshot_md.signed
            snapshot.version += 1
        except RepoError:
            snapshot_md = Metadata(Snapshot())
            snapshot = snapshot_md.signed
        snapshot.expires = self._expires("snapshot", expiry)
        snapshot.meta["targets.json"] = MetaFile.from_data(
            targets_md.signed.version, targets_bytes, ["sha256"]
        )
        self.sign(snapshot_md)
        self.write(snapshot_md)
        self._timestamp(snapshot_md, expiry)

    def _timestamp(
        self, snapshot_md: Metadata[Snapshot], expiry: Mapping[str, timedelta] | None = None
    ) -> None:
        snapshot_bytes = (
            self.metadata_dir / f"{snapshot_md.signed.version}.snapshot.json"
        ).read_bytes()
        try:
            ts_md = self.load("timestamp")
            ts_md.signed.version += 1
        except RepoError:
            ts_md = Metadata(Timestamp())
        ts_md.signed.expires = self._expires("timestamp", expiry)
        ts_md.signed.snapshot_meta = MetaFile.from_data(
            snapshot_md.signed.version, snapshot_bytes, ["sha256"]
        )
        self.sign(ts_md)
        self.write(ts_md)

    def add_release(
        self,
        bundle: Path,
        *,
        published: datetime | None = None,
        not_before: datetime | None = None,
        expiry: Mapping[str, timedelta] | None = None,
    ) -> ReleaseInfo:
        """Sign ``bundle`` as a release target and publish new snapshot and timestamp.

        A release that changes behaviour gets ``not_before`` = published + 24 h unless given;
        one given earlier than that is refused (the device would refuse it too).
        """
        release = read_bundle_release(bundle)
        published = published or self.now
        changes = tuple(sorted(release.get("changes_behaviour") or []))
        if changes and not_before is None:
            not_before = published + NOTICE_PERIOD
        info = ReleaseInfo(
            version=str(Version.parse(release["version"])),
            published=published,
            changes_behaviour=changes,
            not_before=not_before,
            models=dict(release["models"]),
        )
        try:  # the device's own rules, so nothing is signed that a device would refuse
            ReleaseInfo.from_custom(info.to_custom(), info.target)
        except UpdateRefused as err:
            raise RepoError(f"refusing to sign: {err}") from None
        targets_md = self.load("targets")
        path = target_path(info.version)
        if path in targets_md.signed.targets:
            raise RepoError(f"{path} is already published; release a new version instead")
        target = TargetFile.from_file(path, str(bundle), ["sha256"])
        target.unrecognized_fields["custom"] = info.to_custom()
        digest = target.hashes["sha256"]
        dest = self.targets_dir / "releases" / f"{digest}.{Path(path).name}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bundle, dest)
        targets_md.signed.targets[path] = target
        targets_md.signed.version += 1
        targets_md.signed.expires = self._expires("targets", expiry)
        self.sign(targets_md)
        self.write(targets_md)
        self.publish(expiry)
        log.info("published %s (%s)", path, "changes " + ", ".join(changes) if changes else
                 "no behaviour change")  # fmt: skip
        return info

    def refresh(self, *, force: bool = False,
                expiry: Mapping[str, timedelta] | None = None) -> list[str]:  # fmt: skip
        """Re-sign the online roles whose expiry is near (all of them with ``force``)."""
        done = []

        def due(md: Metadata[Any], role: str) -> bool:
            left = md.signed.expires - self.now
            return force or left < EXPIRY[role] * REFRESH_MARGIN

        targets_md = self.load("targets")
        if due(targets_md, "targets"):
            targets_md.signed.version += 1
            targets_md.signed.expires = self._expires("targets", expiry)
            self.sign(targets_md)
            self.write(targets_md)
            done.append("targets")
        snapshot_md = self.load("snapshot")
        if done or due(snapshot_md, "snapshot"):
            self.publish(expiry)
            return [*done, "snapshot", "timestamp"]
        self._timestamp(snapshot_md, expiry)
        return [*done, "timestamp"]

    def rotate(self, role: str, *, expiry: Mapping[str, timedelta] | None = None) -> Path:
        """Replace ``role``'s key: a new root version names the new key and is signed by the
        root key(s) (old and new, when root itself rotates, so devices can follow the chain)."""
        if role not in ROLES:
            raise RepoError(f"unknown role {role!r}")
        old_key_file = self.keys_dir / f"{role}.pem"
        old_signer = load_signer(old_key_file)
        stamp = self.now.strftime("%Y%m%dT%H%M%SZ")
        retired = self.keys_dir / f"{role}.pem.retired-{stamp}"
        old_key_file.rename(retired)
        (self.keys_dir / f"{role}.pub.json").unlink(missing_ok=True)
        generate_keys(self.keys_dir, [role])
        new_signer = self.signer(role)
        root_md = self.load("root")
        root = root_md.signed
        root.revoke_key(old_signer.public_key.keyid, role)
        root.add_key(new_signer.public_key, role)
        root.version += 1
        root.expires = self._expires("root", expiry)
        root_md.signatures.clear()
        root_md.sign(new_signer if role == "root" else self.signer("root"))
        if role == "root":
            root_md.sign(old_signer, append=True)
        self.write(root_md)
        if role != "root":  # new signatures from the new key, published in order
            self.refresh(force=True, expiry=expiry)
        log.info("rotated the %s key; the old one is kept as %s", role, retired)
        return retired

    def export_root(self, output: Path) -> None:
        shutil.copyfile(self.metadata_dir / "root.json", output)


# --------------------------------------------------------------------------------- bundles


def read_bundle_release(bundle: Path) -> dict[str, Any]:
    try:
        with tarfile.open(bundle, "r:gz") as tar:
            member = tar.extractfile("release.json")
            if member is None:
                raise KeyError("release.json")
            data = json.loads(member.read().decode("utf-8"))
    except (OSError, KeyError, tarfile.TarError, ValueError) as err:
        raise RepoError(f"{bundle} is not a release bundle: {err}") from None
    if not isinstance(data, dict) or "version" not in data or "models" not in data:
        raise RepoError(f"{bundle}: release.json lacks version or models")
    return data


def build_release(
    version: str,
    wheel: Path,
    models_dir: Path,
    output: Path,
    changes: Iterable[str] = (),
) -> Path:
    """Bundle the app wheel with the models its own manifest pins (checked by sha256)."""
    version = str(Version.parse(version))
    if wheel.name != wheel_name(version):
        raise RepoError(f"the wheel for {version} must be named {wheel_name(version)}, "
                        f"not {wheel.name}")  # fmt: skip
    try:
        with zipfile.ZipFile(wheel) as zf:
            manifest_bytes = zf.read(WHEEL_MANIFEST)
        manifest = json.loads(manifest_bytes)
        entries = [(m["name"], m["file"], m["sha256"].lower()) for m in manifest["models"]]
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile) as err:
        raise RepoError(f"{wheel}: cannot read {WHEEL_MANIFEST}: {err}") from None
    changes = sorted(set(changes))
    release = {
        "schema": 1,
        "version": version,
        "wheel": wheel.name,
        "models": {name: digest for name, _file, digest in entries},
        "changes_behaviour": changes,
    }
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp)
        (staging / "models").mkdir()
        for name, file, digest in entries:
            source = models_dir / file
            if not source.is_file() or file_sha256(source) != digest:
                raise RepoError(f"model {name}: {source} is missing or not the pinned file")
            shutil.copyfile(source, staging / "models" / file)
        (staging / "models" / "manifest.json").write_bytes(manifest_bytes)
        shutil.copyfile(wheel, staging / wheel.name)
        (staging / "release.json").write_text(json.dumps(release, indent=1) + "\n")
        output.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(output, "w:gz", compresslevel=6) as tar:
            for path in sorted(staging.rglob("*")):
                info = tar.gettarinfo(str(path), str(path.relative_to(staging)))
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = 0
                if path.is_file():
                    with path.open("rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
    log.info("built %s (%s, sha256 %s)", output, version,
             hashlib.sha256(output.read_bytes()).hexdigest()[:16])  # fmt: skip
    return output


# ------------------------------------------------------------------------------------- CLI


def _when(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone (e.g. Z)")
    return moment


def _expiry_overrides(items: list[str] | None) -> dict[str, timedelta]:
    out = {}
    for item in items or []:
        role, _, days = item.partition("=")
        if role not in ROLES:
            raise RepoError(f"--expires {item!r}: unknown role")
        try:
            value = float(days)
        except ValueError:
            raise RepoError(f"--expires {item!r}: days must be a number") from None
        if value <= 0:
            raise RepoError(f"--expires {item!r}: must be in the future")
        out[role] = timedelta(days=value)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="repo.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    keys = sub.add_parser("keys", help="make an ed25519 key per role")
    keys.add_argument("keys_dir", type=Path)
    keys.add_argument("--roles", default=",".join(ROLES), help="comma-separated roles")

    def repo_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--repo", type=Path, required=True, help="repository folder")
        p.add_argument("--keys", type=Path, required=True, help="folder with <role>.pem")
        p.add_argument("--expires", action="append", metavar="ROLE=DAYS",
                       help="lifetime of newly signed metadata (default: root=365, "
                       "targets=90, snapshot=7, timestamp=1)")  # fmt: skip

    init = sub.add_parser("init", help="create a repository")
    repo_args(init)

    build = sub.add_parser("build-release", help="bundle a wheel and its pinned models")
    build.add_argument("--version", required=True)
    build.add_argument("--wheel", type=Path, required=True, help="camera_app-<V>-py3-none-any.whl")
    build.add_argument("--models", type=Path, required=True, help="provisioned models folder")
    build.add_argument("--changes", default="",
                       help="comma-separated: detection, redaction, streaming")  # fmt: skip
    build.add_argument("-o", "--output", type=Path, required=True)

    add = sub.add_parser("add-release", help="sign a bundle as a release and publish it")
    repo_args(add)
    add.add_argument("bundle", type=Path)
    add.add_argument("--published", type=_when, help="publication time (default: now)")
    add.add_argument("--not-before", type=_when,
                     help="earliest activation (behaviour changes: ≥ published + 24 h; "
                     "default published + 24 h)")  # fmt: skip

    refresh = sub.add_parser("refresh", help="re-sign metadata that expires soon")
    repo_args(refresh)
    refresh.add_argument("--force", action="store_true", help="re-sign every online role")

    rotate = sub.add_parser("rotate", help="replace a role's key")
    repo_args(rotate)
    rotate.add_argument("--role", required=True, choices=ROLES)

    export = sub.add_parser("export-root", help="copy the current root.json for devices")
    export.add_argument("--repo", type=Path, required=True)
    export.add_argument("-o", "--output", type=Path, required=True)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.command == "keys":
            generate_keys(args.keys_dir, [r.strip() for r in args.roles.split(",") if r.strip()])
        elif args.command == "build-release":
            changes = [c.strip() for c in args.changes.split(",") if c.strip()]
            build_release(args.version, args.wheel, args.models, args.output, changes)
        elif args.command == "export-root":
            Repository(args.repo, Path()).export_root(args.output)
        else:
            repo = Repository(args.repo, args.keys)
            expiry = _expiry_overrides(args.expires)
            if args.command == "init":
                repo.init(expiry)
            elif args.command == "add-release":
                info = repo.add_release(args.bundle, published=args.published,
                                        not_before=args.not_before, expiry=expiry)  # fmt: skip
                if info.not_before:
                    log.info("not before %s", iso(info.not_before))
            elif args.command == "refresh":
                log.info("re-signed: %s", ", ".join(repo.refresh(force=args.force, expiry=expiry)))
            elif args.command == "rotate":
                repo.rotate(args.role, expiry=expiry)
    except (RepoError, ValueError) as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
