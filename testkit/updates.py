"""A real vendor TUF repository on disk, served over loopback HTTP, for the update tests.

- app wheels are built once per test session with ``pip wheel --no-deps`` from a copy of this
  checkout (only the version in the copy's setup.cfg differs) and reused;
- release bundles and signatures come from the vendor tool ``deploy/tuf/repo.py`` (imported);
- the repository is served by a real ``http.server`` on 127.0.0.1 in a thread;
- the camera service is stood in for by :class:`StandInService`, which writes ``status.json``
  as ``camera-app run`` does (the version it reports is read from the active slot's installed
  distribution) and answers ``/api/health``. Everything else (ngclient, the bundle checks, the
  slot environments, pip, the slot's own ``camera-app selftest``) is the real thing.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import http.server
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from camera_app.config.update import UpdateConfig
from camera_app.update import DeviceUpdater
from camera_app.update.device import install_initial
from camera_app.update.health import HealthCheck
from camera_app.update.layout import SpoolPaths, UpdatePaths
from firmware.clock import Clock, SystemClock
from firmware.runstatus import RunStatus, write_run_status
from testkit.paths import MODELS, REPO

BASE_ENV = Path(sys.prefix)
_SOURCES = ("camera_app", "firmware", "privacy", "streaming", "setup.cfg", "pyproject.toml",
            "README.md")  # fmt: skip


def load_repo_tool() -> ModuleType:
    """``deploy/tuf/repo.py`` as a module (it is a script, not a package)."""
    return _repo_tool()


@functools.cache
def _repo_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tuf_repo_tool", REPO / "deploy/tuf/repo.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["tuf_repo_tool"] = module
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------ wheels


@functools.cache
def _session_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="camera-app-update-tests-"))
    atexit.register(shutil.rmtree, path, True)
    return path


def _wheel_build_args() -> list[str]:
    # Without the `wheel` package (or setuptools ≥ 70.1) in the venv, pip needs build
    # isolation, which fetches setuptools from the package index.
    try:
        import setuptools

        modern = tuple(int(x) for x in setuptools.__version__.split(".")[:2]) >= (70, 1)
    except ImportError:
        modern = False
    has_wheel = importlib.util.find_spec("wheel") is not None
    return ["--no-build-isolation"] if (modern or has_wheel) else []


def _build_wheel(version: str, variant: str, patch: Callable[[Path], None] | None) -> Path:
    work = _session_dir() / f"src-{version}-{variant}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    for name in _SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, work / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, work / name)
    cfg = work / "setup.cfg"
    cfg.write_text(
        "\n".join(
            f"version = {version}" if line.startswith("version =") else line
            for line in cfg.read_text().splitlines()
        )
        + "\n"
    )
    if patch is not None:
        patch(work)
    out = _session_dir() / f"wheels-{variant}"
    out.mkdir(exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
         "--disable-pip-version-check", *_wheel_build_args(), "-w", str(out), str(work)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, f"pip wheel failed:\n{result.stderr[-3000:]}"
    wheel = out / f"camera_app-{version}-py3-none-any.whl"
    assert wheel.is_file(), sorted(p.name for p in out.iterdir())
    return wheel


_wheel_lock = threading.Lock()
_wheels: dict[tuple[str, str], Path] = {}


#: the versions the update tests use, built together (in parallel) on first use
TEST_VERSIONS = ("0.9.0", "1.0.0", "1.1.0", "1.2.0")


def wheels(*versions: str) -> dict[str, Path]:
    """Normal app wheels of ``versions`` (built once per session, in parallel)."""
    with _wheel_lock:
        wanted = dict.fromkeys([*versions, *TEST_VERSIONS])
        missing = [v for v in wanted if (v, "ok") not in _wheels]
        with ThreadPoolExecutor(max_workers=4) as pool:
            for version, wheel in zip(
                missing, pool.map(lambda v: _build_wheel(v, "ok", None), missing), strict=True
            ):
                _wheels[(version, "ok")] = wheel
        return {v: _wheels[(v, "ok")] for v in versions}


def broken_model_wheel(version: str, models_dir: Path) -> Path:
    """A wheel whose model manifest pins a broken centerface model (see broken_models)."""
    with _wheel_lock:
        key = (version, "broken-model")
        if key not in _wheels:

            def patch(work: Path) -> None:
                manifest = work / "privacy/models/manifest.json"
                data = json.loads(manifest.read_text())
                for entry in data["models"]:
                    entry["sha256"] = _sha256(models_dir / entry["file"])
                manifest.write_text(json.dumps(data, indent=2))

            _wheels[key] = _build_wheel(version, "broken-model", patch)
        return _wheels[key]


def broken_models() -> Path:
    """The provisioned models, except that centerface.onnx is not an ONNX model at all: the
    kind of mistake a signature cannot catch (the vendor signed the wrong file)."""
    out = _session_dir() / "broken-models"
    if not out.exists():
        shutil.copytree(MODELS, out)
        (out / "centerface.onnx").write_bytes(b"this is not an onnx model" * 100)
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------- repository


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]


class RepoServer:
    """A real HTTP server on loopback serving ``root`` (which a test may swap)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        server = self

        class Handler(_QuietHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(server.root), **kwargs)

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.requests = []  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def requests(self) -> list[str]:
        return self._httpd.requests  # type: ignore[attr-defined]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@dataclass
class VendorRepo:
    """The vendor's keys and repository, signing with the real tool."""

    base: Path
    keys: Path = field(init=False)
    dir: Path = field(init=False)
    bundles: Path = field(init=False)

    def __post_init__(self) -> None:
        tool = load_repo_tool()
        self.keys = self.base / "keys"
        self.dir = self.base / "repo"
        self.bundles = self.base / "bundles"
        self.bundles.mkdir(parents=True)
        tool.generate_keys(self.keys)
        self.repo().init()

    def repo(self, now: datetime | None = None) -> Any:
        return load_repo_tool().Repository(self.dir, self.keys, now=now)

    @property
    def root_file(self) -> Path:
        """The root a device pins (exported once, at manufacture)."""
        path = self.base / "pinned-root.json"
        if not path.exists():
            self.repo().export_root(path)
        return path

    def bundle(
        self,
        version: str,
        changes: tuple[str, ...] = (),
        *,
        wheel: Path | None = None,
        models: Path = MODELS,
    ) -> Path:
        """A release bundle built by the vendor tool (cached for the session: a bundle does not
        depend on the repository it is published in)."""
        wheel = wheel or wheels(version)[version]
        key = hashlib.sha256(f"{version}|{changes}|{wheel}|{models}".encode()).hexdigest()[:16]
        out = _session_dir() / "bundles" / f"camera-app-{version}-{key}.tar.gz"
        with _wheel_lock:
            if not out.exists():
                out.parent.mkdir(exist_ok=True)
                part = out.with_suffix(".part")
                load_repo_tool().build_release(version, wheel, models, part, changes)
                part.replace(out)
        return out

    def publish(
        self,
        version: str,
        changes: tuple[str, ...] = (),
        *,
        published: datetime | None = None,
        not_before: datetime | None = None,
        bundle: Path | None = None,
    ) -> Any:
        bundle = bundle or self.bundle(version, changes)
        return self.repo().add_release(bundle, published=published, not_before=not_before)

    def snapshot_files(self) -> dict[str, bytes]:
        """Every metadata file as it is now (to replay later)."""
        return {p.name: p.read_bytes() for p in (self.dir / "metadata").iterdir() if p.is_file()}

    def restore(self, files: dict[str, bytes], names: list[str] | None = None) -> None:
        for name, data in files.items():
            if names is None or name in names:
                (self.dir / "metadata" / name).write_bytes(data)

    def target_files(self) -> list[Path]:
        return sorted((self.dir / "targets" / "releases").glob("*.tar.gz"))


# ------------------------------------------------------------------------ the service


def installed_version(slot_dir: Path) -> str:
    """The camera-app version pip installed in a slot, asked of the slot's own Python."""
    result = subprocess.run(
        [str(slot_dir / "bin" / "python"), "-I", "-c",
         "import importlib.metadata as m; print(m.version('camera-app'))"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return result.stdout.strip()


class _HealthHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path == "/api/health" else 404
        body = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class StandInService:
    """Stands in for ``camera-app run`` under systemd: a restart (the callable the updater is
    given) starts a new "process" that runs whatever ``slots/active`` holds, writing
    ``run/status.json`` every 0.1 s with a rising frame count, and answering ``/api/health``.

    ``broken_versions``: releases that crash at start, so their status never appears (the
    previous process's status file stays, as after a crash loop).
    """

    def __init__(
        self, data_dir: Path, broken_versions: tuple[str, ...] = (), clock: Clock | None = None
    ) -> None:
        self.clock = clock or SystemClock()
        self.data_dir = data_dir
        self.paths = UpdatePaths.of(data_dir)
        self.status_file = data_dir / "run" / "status.json"
        self.broken_versions = set(broken_versions)
        self.restarts: list[str] = []
        #: called with the version at every start, before it runs or crashes (e.g. migrate)
        self.on_start: Callable[[str], None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._api = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HealthHandler)
        threading.Thread(
            target=self._api.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._api.server_address[1]}"

    def __call__(self) -> None:
        self._halt()
        active = self.paths.active_link
        version = installed_version(active) if active.exists() else "base"
        self.restarts.append(version)
        if self.on_start is not None:
            self.on_start(version)
        if version in self.broken_versions:
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(version, self._stop), daemon=True)
        self._thread.start()

    def _run(self, version: str, stop: threading.Event) -> None:
        started = self.clock.wall()
        frames = 0
        pid = os.getpid() * 1000 + len(self.restarts)  # a new "process" per restart
        while not stop.is_set():
            frames += 2
            write_run_status(
                self.status_file,
                RunStatus(pid, started, frames, self.clock.wall(), self.api_url, version),
            )
            stop.wait(0.1)

    def _halt(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def close(self) -> None:
        self._halt()
        self._api.shutdown()
        self._api.server_close()


@contextlib.contextmanager
def serving(root: Path) -> Iterator[RepoServer]:
    server = RepoServer(root)
    try:
        yield server
    finally:
        server.close()


@dataclass
class UpdateDevice:
    """A device's update state under ``data_dir`` with the vendor repository it trusts, served
    over loopback, and the stand-in service it restarts."""

    data_dir: Path
    vendor: VendorRepo
    server: RepoServer
    service: StandInService
    deadline_s: float = 20

    @property
    def paths(self) -> UpdatePaths:
        return UpdatePaths.of(self.data_dir)

    @property
    def spool(self) -> SpoolPaths:
        """What ``check`` (the service user) writes: its trusted metadata, the stage."""
        return SpoolPaths.of(self.data_dir)

    def state(self) -> dict[str, Any]:
        return json.loads(self.paths.state.read_text())

    def updater(self, **kw: Any) -> DeviceUpdater:
        """The real updater for this device; ``kw`` as :class:`DeviceUpdater` takes them
        (``staged``, ``audit``, ``clock``)."""
        config = UpdateConfig(
            repository_url=self.server.url,
            root_file=self.vendor.root_file,
            health_deadline_s=self.deadline_s,
        )
        kw.setdefault("clock", SystemClock())
        return DeviceUpdater(
            config,
            self.data_dir,
            restart=self.service,
            base_env=BASE_ENV,
            health=HealthCheck(SystemClock(), poll_s=0.1),
            **kw,
        )


@contextlib.contextmanager
def update_device(tmp_path: Path, *, running: str | None) -> Iterator[UpdateDevice]:
    """A device trusting a fresh vendor repository under ``tmp_path``; with ``running`` set, it
    was installed with that release in slot a (as the install script does) and its service is
    running it. The caller builds the wheels first (:func:`wheels`)."""
    vendor = VendorRepo(tmp_path / "vendor")
    data_dir = tmp_path / "data"
    if running is not None:
        install_initial(data_dir, vendor.bundle(running), clock=SystemClock(), base_env=BASE_ENV)
    service = StandInService(data_dir)
    if running is not None:
        service()
    try:
        with serving(vendor.dir) as server:
            yield UpdateDevice(data_dir, vendor, server, service)
    finally:
        service.close()
