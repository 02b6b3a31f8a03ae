"""systemd readiness and watchdog (sd_notify) and the run status file.

The unit tests drive :class:`firmware.watchdog.ServiceNotifier` against a real unix datagram
socket (the sd_notify protocol) with a scripted monotonic clock. The end-to-end test runs the
real ``camera-app run`` with ``NOTIFY_SOCKET`` and ``WATCHDOG_USEC`` pointing at a socket the
test owns, as systemd would set them, on a real ``file:`` source that stalls for real: the file
is a FIFO the test writes a few seconds of MPEG-TS video into and then keeps open without
writing more, so the capture thread blocks in its read while the service loop keeps spinning.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from camera_app.heartbeat import ServiceHeartbeat
from firmware.runstatus import RunStatus, read_run_status, write_run_status
from firmware.watchdog import ServiceNotifier, watchdog_interval_s, watchdog_usec
from testkit.clock import FakeClock
from testkit.media import write_motion_video
from testkit.net import wait_until
from testkit.service import camera_app_cmd


class NotifySocket:
    """The service manager's end of sd_notify: a bound datagram socket that records messages."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.2)
        self._lock = threading.Lock()
        self.messages: list[tuple[float, str]] = []  # (monotonic time received, datagram)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.append((time.monotonic(), data.decode("utf-8")))

    def received(self) -> list[tuple[float, str]]:
        with self._lock:
            return list(self.messages)

    def times_of(self, assignment: str) -> list[float]:
        return [t for t, msg in self.received() if assignment in msg.split("\n")]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


def _drain(sock: NotifySocket, count: int, timeout: float = 2.0) -> list[str]:
    assert wait_until(lambda: len(sock.received()) >= count, timeout=timeout, every=0.01)
    return [msg for _, msg in sock.received()]


# -- WATCHDOG_USEC / WATCHDOG_PID (sd_watchdog_enabled semantics) -------------------------------


def test_watchdog_usec_follows_sd_watchdog_enabled() -> None:
    assert watchdog_usec({}) is None
    assert watchdog_usec({"WATCHDOG_USEC": ""}) is None
    assert watchdog_usec({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_usec({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_usec({"WATCHDOG_USEC": "-5"}) is None
    assert watchdog_usec({"WATCHDOG_USEC": "30000000"}) == 30_000_000
    # meant for another process (a child that inherited the environment): not ours to feed
    assert watchdog_usec({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, pid=4242) is None
    assert watchdog_usec({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, pid=4242) == (
        30_000_000
    )
    assert watchdog_usec({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "x"}, pid=4242) is None
    assert watchdog_usec({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())})
    assert watchdog_interval_s(30_000_000) == 15.0


# -- ServiceNotifier on a real socket -----------------------------------------------------------


def _environment(
    monkeypatch: pytest.MonkeyPatch, socket_name: str | None, usec: int | None = None
) -> None:
    """What systemd puts in a Type=notify service's environment."""
    for key in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        monkeypatch.delenv(key, raising=False)
    if socket_name is not None:
        monkeypatch.setenv("NOTIFY_SOCKET", socket_name)
    if usec is not None:
        monkeypatch.setenv("WATCHDOG_USEC", str(usec))
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))


def test_without_notify_socket_everything_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    _environment(monkeypatch, None, 1_000_000)
    clock = FakeClock(monotonic=100.0)
    notifier = ServiceNotifier(monotonic=clock.monotonic)
    assert not notifier.enabled
    assert notifier.watchdog_interval is None
    notifier.ready("up")
    notifier.frame_seen()
    clock.advance(10)
    assert notifier.tick() is False
    notifier.status("x")
    notifier.stopping()


def test_ready_status_and_stopping_reach_the_socket(
    notify_socket: NotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    _environment(monkeypatch, str(notify_socket.path))
    notifier = ServiceNotifier()
    assert notifier.enabled and notifier.watchdog_interval is None
    notifier.status("cam1: starting\nsecond line")  # one line: a newline would be a new key
    notifier.ready("cam1: 1 frames")
    notifier.ready("again")  # READY is sent once
    notifier.status("客厅: 5 frames")  # UTF-8, which sdnotify alone would silently drop
    notifier.stopping("bye")
    messages = _drain(notify_socket, 4)
    time.sleep(0.1)
    assert notify_socket.received()[-1][1] == "STOPPING=1\nSTATUS=bye"
    assert messages == [
        "STATUS=cam1: starting second line",
        "READY=1\nSTATUS=cam1: 1 frames",
        "STATUS=客厅: 5 frames",
        "STOPPING=1\nSTATUS=bye",
    ]


def test_watchdog_pings_only_while_frames_arrive(
    notify_socket: NotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    _environment(monkeypatch, str(notify_socket.path), 4_000_000)
    clock = FakeClock(monotonic=100.0)
    notifier = ServiceNotifier(monotonic=clock.monotonic)
    assert notifier.watchdog_interval == 2.0

    notifier.frame_seen()
    clock.advance(5)
    assert notifier.tick() is False, "no ping before READY (start-up has its own timeout)"
    notifier.ready()
    notifier.frame_seen()
    clock.advance(1.9)
    assert notifier.tick() is False, "not due yet: at most one ping per WATCHDOG_USEC/2"
    clock.advance(0.1)
    assert notifier.tick() is True
    clock.advance(0.5)
    notifier.frame_seen()
    assert notifier.tick() is False, "rate-limited"
    clock.advance(1.5)
    assert notifier.tick() is True, "the frame seen in between earns the next ping"

    # capture stalls: the loop keeps ticking, no frame arrives, no ping goes out
    for _ in range(20):
        clock.advance(0.5)
        assert notifier.tick() is False

    # frames come back before systemd gave up: the next tick pings at once
    notifier.frame_seen()
    assert notifier.tick() is True
    messages = _drain(notify_socket, 4)
    assert messages == ["READY=1", "WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1"]


def test_abstract_notify_socket_names_work(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"camera-app-test-{os.getpid()}-{time.monotonic_ns()}"
    _environment(monkeypatch, "@" + name)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0" + name)
        server.settimeout(2)
        ServiceNotifier().ready()
        assert server.recv(100) == b"READY=1"


# -- the run status file ------------------------------------------------------------------------


def test_run_status_round_trip_and_validation(tmp_path: Path) -> None:
    path = tmp_path / "run" / "status.json"
    assert read_run_status(path) is None
    status = RunStatus(
        pid=12, started_at=1.5, frames=3, last_frame_at=None, api_url=None, version="0.1.0"
    )
    write_run_status(path, status)
    assert read_run_status(path) == status
    assert sorted(json.loads(path.read_text())) == [
        "api_url", "frames", "last_frame_at", "pid", "started_at", "version",
    ]  # fmt: skip
    assert [p.name for p in path.parent.iterdir()] == ["status.json"], "no temporary file left"
    path.write_text(json.dumps({**status.to_json(), "frames": "3"}))
    with pytest.raises(ValueError, match="frames"):
        read_run_status(path)
    path.write_text(json.dumps({**status.to_json(), "extra": 1}))
    with pytest.raises(ValueError, match="fields"):
        read_run_status(path)
    path.write_text("{")
    with pytest.raises(ValueError, match="not JSON"):
        read_run_status(path)


# -- the service's heartbeat (notifier + status file) -------------------------------------------


def test_heartbeat_is_ready_on_the_first_frame_and_writes_the_status(
    tmp_path: Path, notify_socket: NotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    _environment(monkeypatch, str(notify_socket.path), 2_000_000)
    clock = FakeClock(1_700_000_000.0, monotonic=50.0)
    status = tmp_path / "run" / "status.json"
    beat = ServiceHeartbeat(status, clock, camera="door", source="test:", api_url=None)
    beat.starting()
    first = read_run_status(status)
    assert first is not None and first.frames == 0 and first.last_frame_at is None
    assert first.pid == os.getpid() and first.started_at == clock.wall() and first.api_url is None
    beat.tick(0)
    assert not notify_socket.times_of("READY=1"), "not ready before a frame arrived"
    clock.advance(0.5)
    beat.frame()
    assert wait_until(lambda: notify_socket.times_of("READY=1"), timeout=2, every=0.01)
    assert read_run_status(status).last_frame_at == clock.wall()
    for _ in range(4):  # 2 s of frames: one ping per second
        clock.advance(0.5)
        beat.frame()
        beat.tick(1)
    assert read_run_status(status).frames == 5
    beat.stopping()
    beat.stopped()
    assert not status.exists()
    assert wait_until(lambda: notify_socket.times_of("STOPPING=1"), timeout=2, every=0.01)
    assert len(notify_socket.times_of("WATCHDOG=1")) == 2


def test_heartbeat_survives_an_unwritable_status_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _environment(monkeypatch, None)
    (tmp_path / "run").write_text("a file where the run directory should be")
    status = tmp_path / "run" / "status.json"
    clock = FakeClock(1_700_000_000.0, monotonic=50.0)
    beat = ServiceHeartbeat(status, clock, camera="door", source="test:", api_url="http://x")
    beat.starting()
    for _ in range(5):
        clock.advance(1)
        beat.frame()
        beat.tick(0)
    warnings = [r for r in caplog.records if "cannot write the run status file" in r.message]
    assert len(warnings) == 1, "reported once, not every second"
    (tmp_path / "run").unlink()
    clock.advance(1)
    beat.tick(0)
    assert read_run_status(status).frames == 5, "written again once it can be"


# -- the real service ---------------------------------------------------------------------------

WATCHDOG_USEC = 2_000_000  # ping every second
VIDEO_SECONDS = 8
FPS = 15


def _feed_fifo(fifo: Path, video: Path, done: threading.Event, release: threading.Event) -> None:
    """Write the whole video into the FIFO, then hold it open without writing (a stall)."""
    with fifo.open("wb") as out:  # blocks until the service opens the FIFO for reading
        out.write(video.read_bytes())
        out.flush()
        done.set()
        release.wait(120)


@pytest.mark.slow
def test_service_notifies_systemd_and_stops_pinging_when_capture_stalls(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    video = write_motion_video(
        tmp_path / "feed.ts", frames=VIDEO_SECONDS * FPS, fps=FPS, size=(320, 240)
    )
    fifo = tmp_path / "camera.ts"
    os.mkfifo(fifo)
    data_dir = tmp_path / "data"
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "camera": {"id": "door"},
                "capture": {"source": f"file:{fifo}", "width": 320, "height": 240, "fps": FPS},
                "storage": {"data_dir": str(data_dir)},
                "api": {"host": "127.0.0.1", "port": 0, "tls": False},
            }
        )
    )
    written, release = threading.Event(), threading.Event()
    writer = threading.Thread(target=_feed_fifo, args=(fifo, video, written, release), daemon=True)
    writer.start()
    env = {
        **os.environ,
        "GPIOZERO_PIN_FACTORY": "mock",
        "NOTIFY_SOCKET": str(notify_socket.path),
        "WATCHDOG_USEC": str(WATCHDOG_USEC),
    }
    proc = subprocess.Popen(
        [*camera_app_cmd(), "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    status_file = data_dir / "run" / "status.json"
    try:
        assert wait_until(lambda: notify_socket.times_of("READY=1"), timeout=90), (
            "no READY=1 from the service"
        )
        ready_at = notify_socket.times_of("READY=1")[0]

        # the status file: exactly the documented fields, this process, frames rising
        first = _wait_for_status(status_file, lambda s: s.frames > 0)
        assert first.pid == proc.pid
        assert first.version == metadata.version("camera-app")
        assert first.api_url is not None and first.api_url.startswith("http://127.0.0.1:")
        assert first.last_frame_at is not None
        assert abs(first.last_frame_at - time.time()) < 5
        assert first.started_at <= first.last_frame_at
        later = _wait_for_status(status_file, lambda s: s.frames >= first.frames + FPS)
        assert later.started_at == first.started_at and later.pid == first.pid

        # frames flow: pings every WATCHDOG_USEC/2, never faster
        assert wait_until(lambda: len(notify_socket.times_of("WATCHDOG=1")) >= 3, timeout=30)
        pings = notify_socket.times_of("WATCHDOG=1")
        interval = WATCHDOG_USEC / 2e6
        gaps = [b - a for a, b in zip([ready_at, *pings], pings, strict=False)]
        assert min(gaps) >= interval * 0.9, gaps
        assert max(gaps) < interval * 2, f"a ping came late while frames were flowing: {gaps}"
        statuses = [m for _, m in notify_socket.received() if m.startswith("STATUS=door: ")]
        assert any(
            re.fullmatch(r"STATUS=door: \d+ frames, \d+ events; API \S+", m) for m in statuses
        ), statuses

        # the writer has put the whole video into the FIFO and now stays silent: capture stalls
        assert written.wait(60)
        stalled = _wait_for_stall(status_file)
        stall_seen = time.monotonic()
        time.sleep(3 * WATCHDOG_USEC / 1e6)  # a systemd watchdog would long have fired
        assert proc.poll() is None, "the service must keep running: restarting is systemd's job"
        late = [t for t in notify_socket.times_of("WATCHDOG=1") if t > stall_seen]
        assert not late, f"{len(late)} ping(s) after capture stalled: systemd would not restart"
        assert read_run_status(status_file).frames == stalled.frames
        stall_texts = [m for t, m in notify_socket.received() if t > stall_seen and "STATUS" in m]
        assert any("no frame for" in m for m in stall_texts), stall_texts

        proc.send_signal(signal.SIGTERM)
        assert wait_until(lambda: notify_socket.times_of("STOPPING=1"), timeout=30)
        release.set()
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-3000:]
        assert not status_file.exists(), "a stopped service must not leave a status behind"
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def _wait_for_status(
    path: Path, predicate: Callable[[RunStatus], bool], timeout: float = 30
) -> RunStatus:
    found: list[RunStatus] = []

    def check() -> bool:
        status = read_run_status(path)
        if status is not None and predicate(status):
            found.append(status)
            return True
        return False

    assert wait_until(check, timeout=timeout, every=0.1), f"no matching status in {path}"
    return found[0]


def _wait_for_stall(path: Path, quiet_s: float = 3.0, timeout: float = 60) -> RunStatus:
    """The status once its frame count has not moved for ``quiet_s`` seconds."""
    deadline = time.monotonic() + timeout
    last = read_run_status(path)
    assert last is not None
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = read_run_status(path)
        assert now is not None
        if now.frames != last.frames:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return now
    raise AssertionError("capture never stalled")
