"""Update logic without a repository: versions, release metadata, the notice rules, config,
state.json, bundle safety, slot switching, the health probes, and the vendor tool's refusals."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import re
import stat
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from camera_app.config import ConfigError, parse_config
from camera_app.config.update import UpdateConfig
from camera_app.update import (
    BundleError,
    DeviceUpdater,
    StateError,
    UpdateRefused,
    load_update_status,
)
from camera_app.update.bundle import check_release, unpack_bundle
from camera_app.update.health import CaptureProbe, HealthCheck, HealthTarget, probe_api
from camera_app.update.layout import UpdatePaths
from camera_app.update.notice import notice_for
from camera_app.update.release import ReleaseInfo, Version, target_path, version_of_target
from camera_app.update.slots import active_slot, other_slot, switch_active
from camera_app.update.state import load_state
from firmware.clock import SystemClock
from firmware.identity import ensure_device_identity, ssl_server_context
from firmware.runstatus import RunStatus, write_run_status
from testkit.clock import RunningClock
from testkit.paths import REPO

SHA = "ab" * 32
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def custom(version: str = "1.2.0", **kw: object) -> dict:
    data: dict = {
        "version": version,
        "published": "2025-06-01T12:00:00Z",
        "changes_behaviour": [],
        "models": {"centerface": SHA},
    }
    data.update(kw)
    return data


# ----------------------------------------------------------------------------- versions


def test_versions_are_strict_and_ordered_numerically() -> None:
    assert Version.parse("1.10.0") > Version.parse("1.9.3")
    assert str(Version.parse("0.0.1")) == "0.0.1"
    for bad in ("1.2", "1.2.3rc1", "01.2.3", "v1.2.3", "1.2.3 ", ""):
        with pytest.raises(ValueError, match=r"MAJOR\.MINOR\.PATCH"):
            Version.parse(bad)
    assert target_path("1.2.0") == "releases/camera-app-1.2.0.tar.gz"
    assert version_of_target("releases/camera-app-1.2.0.tar.gz") == "1.2.0"
    assert version_of_target("releases/camera-app-1.2.tar.gz") is None
    assert version_of_target("models/x.onnx") is None


def test_release_metadata_is_parsed_and_checked() -> None:
    info = ReleaseInfo.from_custom(custom(), "releases/camera-app-1.2.0.tar.gz")
    assert info.version == "1.2.0" and not info.changes and info.models == {"centerface": SHA}
    assert ReleaseInfo.from_custom(info.to_custom()) == info
    changing = custom(changes_behaviour=["redaction", "detection"],
                      not_before="2025-06-02T12:00:00Z")  # fmt: skip
    assert ReleaseInfo.from_custom(changing).changes_behaviour == ("detection", "redaction")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (custom(changes_behaviour=["detection"]), "has no not_before"),
        (custom(changes_behaviour=["streaming"], not_before="2025-06-02T11:59:59Z"),
         "less than 24 h after its publication"),
        (custom(changes_behaviour=["audio"], not_before="2025-06-03T00:00:00Z"),
         "changes_behaviour"),
        (custom(published="2025-06-01T12:00:00"), "published"),  # no time zone
        (custom(models={"centerface": "nothex"}), "needs a name and a sha256"),
        (custom(version="1.2"), "version"),
        ("not an object", "missing or not an object"),
    ],
)  # fmt: skip
def test_bad_release_metadata_is_refused(data: object, message: str) -> None:
    with pytest.raises(UpdateRefused, match=message):
        ReleaseInfo.from_custom(data)


def test_release_version_must_match_its_target_name() -> None:
    with pytest.raises(UpdateRefused, match="does not match the target name"):
        ReleaseInfo.from_custom(custom("1.3.0"), "releases/camera-app-1.2.0.tar.gz")


# ------------------------------------------------------------------------------- notice


def _release(version: str, changes: tuple[str, ...] = (), hours: float = 24) -> ReleaseInfo:
    return ReleaseInfo(version, NOW, changes, NOW + timedelta(hours=hours) if changes else None,
                       {"centerface": SHA})  # fmt: skip


def test_notice_is_the_later_of_not_before_and_first_sighting_plus_24_hours() -> None:
    r = _release("1.1.0", ("detection",), hours=30)
    seen_early = {"1.1.0": NOW.timestamp()}
    notice = notice_for(r, [r], Version(1, 0, 0), seen_early)
    assert notice is not None and notice.allowed_from == NOW + timedelta(hours=30)
    seen_late = {"1.1.0": (NOW + timedelta(hours=20)).timestamp()}
    notice = notice_for(r, [r], Version(1, 0, 0), seen_late)
    assert notice is not None and notice.allowed_from == NOW + timedelta(hours=44)
    assert not notice.allows(NOW + timedelta(hours=43)) and notice.allows(notice.allowed_from)
    assert "may be activated from 2025-06-03T08:00:00Z" in notice.refusal(NOW)


def test_notice_is_inherited_by_newer_releases_until_installed() -> None:
    a = _release("1.1.0", ("streaming",))
    b = _release("1.2.0")
    c = _release("1.3.0", ("redaction",), hours=48)
    seen = {"1.1.0": NOW.timestamp(), "1.3.0": NOW.timestamp()}
    notice = notice_for(b, [a, b, c], Version(1, 0, 0), seen)
    assert notice is not None and notice.changes_behaviour == ("streaming",)
    notice = notice_for(c, [a, b, c], Version(1, 0, 0), seen)
    assert notice is not None and notice.changes_behaviour == ("redaction", "streaming")
    assert notice.allowed_from == NOW + timedelta(hours=48)
    assert notice_for(b, [a, b, c], Version(1, 1, 0), seen) is None  # 1.1.0 is installed


# ------------------------------------------------------------------------------- config


def test_update_config_defaults_off_and_checks_urls(tmp_path: Path) -> None:
    assert UpdateConfig().repository_url is None
    root = tmp_path / "root.json"
    ok = parse_config({"update": {"repository_url": "https://updates.example.com/camera",
                                  "root_file": str(root)}})  # fmt: skip
    assert ok.update.health_deadline_s == 120
    parse_config({"update": {"repository_url": "http://127.0.0.1:8000", "root_file": str(root)}})
    for update, message in (
        ({"repository_url": "http://updates.example.com", "root_file": str(root)}, "https"),
        ({"repository_url": "https://updates.example.com"}, "root_file is required"),
        ({"repository_url": "https://u.example.com", "root_file": "root.json"}, "absolute"),
        ({"repository_url": "ftp://u.example.com", "root_file": str(root)}, "http"),
        ({"health_deadline_s": 0}, "health_deadline_s"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_config({"update": update})


# -------------------------------------------------------------------------------- state


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"active": "c"}', "active"),
        (b'{"phase": "sideways"}', "phase"),
        (b'{"schema": 7}', "schema 7"),
        (b'{"surprise": 1}', "surprise"),
        (b"[]", "not valid"),
    ],
)
def test_bad_state_file_is_a_clear_error_and_changes_nothing(
    tmp_path: Path, content: bytes, message: str
) -> None:
    paths = UpdatePaths.of(tmp_path)
    paths.create()
    paths.state.write_bytes(content)
    with pytest.raises(StateError, match=message):
        load_state(paths.state)
    config = UpdateConfig(repository_url="http://127.0.0.1:9", root_file=tmp_path / "r.json")
    updater = DeviceUpdater(config, tmp_path, clock=SystemClock(), restart=lambda: None)
    for action in (updater.apply, updater.rollback, updater.check, updater.resume):
        with pytest.raises(StateError, match="fix or remove it"):
            action()
    assert paths.state.read_bytes() == content
    status = load_update_status(tmp_path)  # never raises: the pages that show it keep working
    assert status.error is not None and message.split()[0] in status.error
    assert status.current_slot is None


def test_state_and_link_that_disagree_are_refused(tmp_path: Path) -> None:
    paths = UpdatePaths.of(tmp_path)
    paths.create()
    paths.slot("b").mkdir()
    switch_active(paths, "b")
    config = UpdateConfig(repository_url="http://127.0.0.1:9", root_file=tmp_path / "r.json")
    updater = DeviceUpdater(config, tmp_path, clock=SystemClock(), restart=lambda: None)
    with pytest.raises(StateError, match=r"points to b but state\.json says no slot"):
        updater.apply()
    assert active_slot(paths) == "b"


def test_no_rollback_without_a_previous_release(tmp_path: Path) -> None:
    config = UpdateConfig()
    updater = DeviceUpdater(config, tmp_path, clock=SystemClock(), restart=lambda: None)
    with pytest.raises(UpdateRefused, match="no previous release"):
        updater.rollback()


# ------------------------------------------------------------------------------- slots


def test_active_link_is_switched_atomically_and_relative(tmp_path: Path) -> None:
    paths = UpdatePaths.of(tmp_path)
    paths.create()
    assert active_slot(paths) is None and other_slot(None) == "a" and other_slot("a") == "b"
    switch_active(paths, "a")
    assert os.readlink(paths.active_link) == "a"
    switch_active(paths, "b")
    assert active_slot(paths) == "b"
    assert not list(paths.slots.glob(".active*"))  # no temporary link left behind
    switch_active(paths, None)
    assert active_slot(paths) is None
    with pytest.raises(ValueError, match="unknown slot"):
        switch_active(paths, "../../etc")


# ------------------------------------------------------------------------------ bundles


def _tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def _special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (("../escape", b"x"), "unsafe name"),
        (("models/../../escape", b"x"), "unsafe name"),
        (("/etc/passwd", b"x"), "unsafe name"),
        (_special("models/link", tarfile.SYMTYPE, "/etc/shadow"), "is a link"),
        (_special("models/hard", tarfile.LNKTYPE, "release.json"), "is a link"),
        (_special("dev", tarfile.CHRTYPE), "not a file or folder"),
        (_special("fifo", tarfile.FIFOTYPE), "not a file or folder"),
    ],
)
def test_unsafe_bundle_members_are_refused_before_anything_is_written(
    tmp_path: Path, member: object, message: str
) -> None:
    archive = _tar(tmp_path / "b.tar.gz", [("release.json", b"{}"), member])  # type: ignore[list-item]
    dest = tmp_path / "out"
    with pytest.raises(BundleError, match=message):
        unpack_bundle(archive, dest)
    assert not dest.exists()
    assert not (tmp_path / "escape").exists()


def test_malformed_bundles_are_refused(tmp_path: Path) -> None:
    not_gzip = tmp_path / "x.tar.gz"
    not_gzip.write_bytes(b"definitely not a tarball")
    with pytest.raises(BundleError, match=r"not a readable \.tar\.gz"):
        unpack_bundle(not_gzip, tmp_path / "out")
    twice = _tar(tmp_path / "twice.tar.gz", [("a", b"1"), ("a", b"2")])
    with pytest.raises(BundleError, match="twice"):
        unpack_bundle(twice, tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def test_bundle_that_disagrees_with_its_signed_metadata_is_refused(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "m.bin").write_bytes(b"model")
    digest = hashlib.sha256(b"model").hexdigest()
    manifest = {"schema": 1, "models": [{
        "name": "m", "file": "m.bin", "sha256": digest, "version": "1",
        "source": {"package": "p", "version": "1", "member": "m"},
        "license": {"spdx": "MIT", "stated_in": "x"}, "description": "d"}]}  # fmt: skip
    (models / "manifest.json").write_text(json.dumps(manifest))
    release = {"schema": 1, "version": "1.2.0", "wheel": "camera_app-1.2.0-py3-none-any.whl",
               "models": {"m": digest}, "changes_behaviour": []}  # fmt: skip
    (tmp_path / "release.json").write_text(json.dumps(release))
    info = ReleaseInfo("1.2.0", NOW, (), None, {"m": digest})
    with pytest.raises(BundleError, match=re.escape("no camera_app-1.2.0-py3-none-any.whl")):
        check_release(tmp_path, info)
    wheel = tmp_path / "camera_app-1.2.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("privacy/models/manifest.json", json.dumps(manifest))
    assert check_release(tmp_path, info).wheel == wheel
    mismatch = re.escape("says version '1.2.0', the signed metadata 1.3.0")
    with pytest.raises(BundleError, match=mismatch):
        check_release(tmp_path, ReleaseInfo("1.3.0", NOW, (), None, {"m": digest}))
    with pytest.raises(BundleError, match="different models"):
        check_release(tmp_path, ReleaseInfo("1.2.0", NOW, (), None, {"m": SHA}))
    (models / "m.bin").write_bytes(b"altered")  # same name, other bytes
    with pytest.raises(BundleError, match=r"m\.bin has sha256 .*, the signed metadata expects"):
        check_release(tmp_path, info)
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("privacy/models/manifest.json", json.dumps({"models": []}))
    with pytest.raises(BundleError, match="pins different models"):
        check_release(tmp_path, info)


# ------------------------------------------------------------------------------- health


def _target(tmp_path: Path, switched_at: float) -> HealthTarget:
    return HealthTarget(
        version="1.1.0",
        slot_dir=tmp_path / "slot",
        status_file=tmp_path / "run" / "status.json",
        cert_file=tmp_path / "cert.pem",
        switched_at=switched_at,
    )


def test_capture_probe_needs_the_new_version_a_fresh_process_and_rising_frames(
    tmp_path: Path,
) -> None:
    now = time.time()
    target = _target(tmp_path, now)
    probe = CaptureProbe(target, SystemClock())
    assert "not running" in (probe.poll() or "")

    def write(**kw: object) -> None:
        fields: dict = {"pid": 7, "started_at": now, "frames": 10, "last_frame_at": time.time(),
                        "api_url": None, "version": "1.1.0"}  # fmt: skip
        write_run_status(target.status_file, RunStatus(**{**fields, **kw}))

    write(version="1.0.0")
    assert "reports version '1.0.0', expected 1.1.0" in (probe.poll() or "")
    write(started_at=now - 60)
    assert "started before the switch" in (probe.poll() or "")
    write(last_frame_at=time.time() - 30)
    assert "no frame for 30 s" in (probe.poll() or "")
    write()
    assert "rise" in (probe.poll() or "")
    write(frames=10)
    assert "stays at 10" in (probe.poll() or "")
    write(frames=12)
    assert probe.poll() is None


def test_health_check_fails_on_the_deadline_with_the_reason(tmp_path: Path) -> None:
    target = _target(tmp_path, time.time())
    health = HealthCheck(SystemClock(), poll_s=0.05, selftest=lambda _t, _s: None)
    result = health.wait(target, 0.3)
    assert not result.ok and result.reason is not None
    assert result.reason.startswith("capture not running within 0.3 s")
    failing = HealthCheck(SystemClock(), selftest=lambda _t, _s: "selftest FAILED: no face")
    result = failing.wait(target, 60)
    assert not result.ok and result.reason == "privacy self-test failed: selftest FAILED: no face"


@pytest.fixture
def https_health(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    identity = ensure_device_identity(tmp_path / "secrets", ips=["127.0.0.1"])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/api/health" else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = ssl_server_context(identity).wrap_socket(server.socket, server_side=True)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    yield f"https://127.0.0.1:{server.server_address[1]}", identity.cert_path
    server.shutdown()
    server.server_close()


def test_api_probe_trusts_only_the_device_certificate(
    https_health: tuple[str, Path], tmp_path: Path
) -> None:
    url, cert = https_health
    assert probe_api(url, cert) is None
    other = ensure_device_identity(tmp_path / "other-secrets")
    problem = probe_api(url, other.cert_path)
    assert problem is not None and "CERTIFICATE_VERIFY_FAILED" in problem


# --------------------------------------------------------------------------- vendor tool


def _tool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "deploy/tuf/repo.py"), *args],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip


@pytest.mark.slow
def test_vendor_tool_keys_are_private_and_never_overwritten(tmp_path: Path) -> None:
    result = _tool("keys", str(tmp_path / "keys"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for role in ("root", "targets", "snapshot", "timestamp"):
        mode = stat.S_IMODE((tmp_path / "keys" / f"{role}.pem").stat().st_mode)
        assert mode == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    again = _tool("keys", str(tmp_path / "keys"), cwd=tmp_path)
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr

    assert _tool("init", "--repo", str(tmp_path / "repo"), "--keys", str(tmp_path / "keys"),
                 cwd=tmp_path).returncode == 0  # fmt: skip
    root = json.loads((tmp_path / "repo/metadata/1.root.json").read_text())
    assert root["signed"]["consistent_snapshot"] is True
    assert set(root["signed"]["roles"]) == {"root", "targets", "snapshot", "timestamp"}
    export = _tool("export-root", "--repo", str(tmp_path / "repo"), "-o",
                   str(tmp_path / "pinned.json"), cwd=tmp_path)  # fmt: skip
    assert export.returncode == 0
    assert (tmp_path / "pinned.json").read_bytes() == (
        tmp_path / "repo/metadata/1.root.json"
    ).read_bytes()


@pytest.mark.slow
def test_vendor_tool_refuses_a_behaviour_change_with_a_short_notice(tmp_path: Path) -> None:
    from testkit.updates import MODELS, wheels

    wheel = wheels("1.1.0")["1.1.0"]
    keys, repo = tmp_path / "keys", tmp_path / "repo"
    assert _tool("keys", str(keys), cwd=tmp_path).returncode == 0
    assert _tool("init", "--repo", str(repo), "--keys", str(keys), cwd=tmp_path).returncode == 0
    bundle = tmp_path / "b.tar.gz"
    built = _tool(
        "build-release", "--version", "1.1.0", "--wheel", str(wheel), "--models", str(MODELS),
        "--changes", "detection", "-o", str(bundle), cwd=tmp_path,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    short = _tool("add-release", "--repo", str(repo), "--keys", str(keys), str(bundle),
                  "--published", "2025-06-01T12:00:00Z", "--not-before", "2025-06-02T11:00:00Z",
                  cwd=tmp_path)  # fmt: skip
    assert short.returncode == 2
    assert "refusing to sign" in short.stderr and "less than 24 h" in short.stderr
    assert not list((repo / "targets").rglob("*.tar.gz"))
    ok = _tool("add-release", "--repo", str(repo), "--keys", str(keys), str(bundle),
               cwd=tmp_path)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    targets = json.loads((repo / "metadata/targets.json").read_text())["signed"]["targets"]
    custom_meta = targets["releases/camera-app-1.1.0.tar.gz"]["custom"]
    assert custom_meta["changes_behaviour"] == ["detection"]
    published = datetime.fromisoformat(custom_meta["published"].replace("Z", "+00:00"))
    not_before = datetime.fromisoformat(custom_meta["not_before"].replace("Z", "+00:00"))
    assert not_before - published == timedelta(hours=24)
    wrong_wheel = _tool("build-release", "--version", "1.2.0", "--wheel", str(wheel), "--models",
                        str(MODELS), "-o", str(tmp_path / "c.tar.gz"), cwd=tmp_path)  # fmt: skip
    assert wrong_wheel.returncode == 2 and "must be named" in wrong_wheel.stderr


def test_running_clock_moves_only_wall_time() -> None:
    """The clock of the notice tests (``testkit.clock.RunningClock``, formerly SteppedClock): set
    an hour ahead, its wall time runs an hour ahead of the real time and its monotonic time stays
    the real one (health checks wait for real)."""
    clock = RunningClock()
    clock.set_wall(time.time() + timedelta(hours=1).total_seconds())
    assert clock.wall() - time.time() == pytest.approx(3600, abs=1)
    assert clock.monotonic() - time.monotonic() == pytest.approx(0, abs=1)
