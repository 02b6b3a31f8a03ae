"""The owner's recordings over the API: event pages, snapshots, clips with HTTP Range, deletion;
every access audited; every other role gets 404.

The server is the real ``OwnerServices`` on loopback (``testkit.api``); the clip is a real H.264
MP4 (PyAV) and the snapshot a real JPEG, put where the recorder would put them, with their rows
written through the real ``EventStore``.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from camera_app.monitor.control import MonitoringControl
from firmware.frames import Frame
from testkit.api import MONDAY_10, ApiFactory, Client, RunningApi
from testkit.media import write_motion_video
from testkit.recordings import CAMERA, add_event, audited


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_motion_video(tmp_path / "clip.mp4", frames=30, moving=(5, 25))


@pytest.fixture
def owner_api(start_api: ApiFactory) -> tuple[RunningApi, Client]:
    api = start_api()
    return api, api.owner()


def test_events_come_newest_first_in_pages_with_a_cursor(
    owner_api: tuple[RunningApi, Client],
) -> None:
    api, owner = owner_api
    for i in range(7):
        add_event(api, f"ev{i}", MONDAY_10 - 3600 + i * 60, snapshot=i % 2 == 0)
    first = owner.get(f"/api/cameras/{CAMERA}/events?limit=3")
    assert first.status == 200, first.body
    assert [e["id"] for e in first.body["events"]] == ["ev6", "ev5", "ev4"]
    assert first.body["events"][0]["snapshot_url"] == "/api/events/ev6/snapshot.jpg"
    assert first.body["events"][1]["snapshot_url"] is None
    assert "clip_path" not in first.body["events"][0]  # no paths on the device
    second = owner.get(f"/api/cameras/{CAMERA}/events?limit=3&cursor={first.body['cursor']}")
    third = owner.get(f"/api/cameras/{CAMERA}/events?limit=3&cursor={second.body['cursor']}")
    assert [e["id"] for e in second.body["events"]] == ["ev3", "ev2", "ev1"]
    assert [e["id"] for e in third.body["events"]] == ["ev0"] and third.body["cursor"] is None
    window = owner.get(
        f"/api/cameras/{CAMERA}/events?since={MONDAY_10 - 3600 + 120}"
        f"&until={MONDAY_10 - 3600 + 240}"
    )
    assert [e["id"] for e in window.body["events"]] == ["ev3", "ev2"]
    for query in ("limit=0", "limit=201", "limit=x", "since=nan", "until=soon", "cursor=%21%21"):
        bad = owner.get(f"/api/cameras/{CAMERA}/events?{query}")
        assert bad.status == 422 and bad.error == "invalid_input", query
    assert owner.get("/api/cameras/elsewhere/events").status == 404


def test_a_clip_seeks_with_http_range(owner_api: tuple[RunningApi, Client], clip: Path) -> None:
    api, owner = owner_api
    add_event(api, "ev1", MONDAY_10 - 60, clip=clip)
    data = clip.read_bytes()
    size = len(data)
    whole = owner.get("/api/events/ev1/clip.mp4")
    assert whole.status == 200 and whole.raw == data
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Content-Type"] == "video/mp4"
    for header, start, end in (
        ("bytes=0-99", 0, 99),
        (f"bytes={size // 2}-{size // 2 + 499}", size // 2, size // 2 + 499),
        ("bytes=-100", size - 100, size - 1),
    ):
        part = owner.get("/api/events/ev1/clip.mp4", headers={"Range": header})
        assert part.status == 206, header
        assert part.headers["Content-Range"] == f"bytes {start}-{end}/{size}"
        assert part.raw == data[start : end + 1]
    beyond = owner.get("/api/events/ev1/clip.mp4", headers={"Range": f"bytes={size + 10}-"})
    assert beyond.status == 416
    download = owner.get("/api/events/ev1/clip.mp4?download=1")
    assert download.headers["Content-Disposition"] == 'attachment; filename="ev1.mp4"'
    with av.open(io.BytesIO(download.raw)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == 30


def test_every_look_at_a_recording_is_audited_once_per_viewing(
    owner_api: tuple[RunningApi, Client], clip: Path
) -> None:
    api, owner = owner_api
    add_event(api, "ev1", MONDAY_10 - 60, clip=clip)
    snap = owner.get("/api/events/ev1/snapshot.jpg")
    assert snap.status == 200 and snap.headers["Content-Type"] == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(snap.raw, np.uint8), cv2.IMREAD_COLOR) is not None
    owner.get("/api/events/ev1/clip.mp4", headers={"Range": "bytes=0-99"})
    owner.get("/api/events/ev1/clip.mp4", headers={"Range": "bytes=100-199"})  # the same viewing
    assert audited(api, "recording_viewed") == [
        ("owner", CAMERA, {"event": "ev1", "what": "snapshot"}),
        ("owner", CAMERA, {"event": "ev1", "what": "clip"}),
    ]
    api.clock.advance(601)  # a later viewing is recorded again
    owner.get("/api/events/ev1/clip.mp4", headers={"Range": "bytes=0-99"})
    assert len(audited(api, "recording_viewed")) == 3


def test_deleting_an_event_removes_its_files_and_is_audited(
    owner_api: tuple[RunningApi, Client], clip: Path
) -> None:
    api, owner = owner_api
    add_event(api, "ev1", MONDAY_10 - 60, clip=clip)
    add_event(api, "rec", MONDAY_10 - 5, active=True)
    files = [p for p in api.paths.root.rglob("ev1.*")]
    assert len(files) == 2
    gone = owner.call("DELETE", "/api/events/ev1")
    assert gone.status == 200 and gone.body == {"deleted": "ev1"}
    assert not any(p.exists() for p in files)
    assert owner.get("/api/events/ev1").status == 404
    assert owner.get("/api/events/ev1/clip.mp4").status == 404
    assert owner.call("DELETE", "/api/events/ev1").status == 404
    busy = owner.call("DELETE", "/api/events/rec")
    assert busy.status == 409 and busy.error == "recording"
    assert owner.get("/api/events/rec").status == 200
    assert [(actor, cam, d["event"]) for actor, cam, d in audited(api, "event_deleted")] == [
        ("owner", CAMERA, "ev1")
    ]


def test_no_other_role_reaches_a_recording(start_api: ApiFactory, clip: Path) -> None:
    api = start_api()
    owner = api.owner()
    add_event(api, "ev1", MONDAY_10 - 60, clip=clip)
    invited = owner.post(
        "/api/viewers", {"username": "grandma", "role": "family", "cameras": [CAMERA]}
    )
    assert invited.status == 201, invited.body
    guest = api.client()
    accepted = guest.post(
        "/api/invites/accept",
        {"code": invited.body["code"], "password": "granny-pass-1!", "consent": True},
    )
    assert accepted.status == 201, accepted.body
    family = guest.login("grandma", "granny-pass-1!")
    anonymous = api.client()
    routes = [
        ("GET", f"/api/cameras/{CAMERA}/events"),
        ("GET", "/api/events/ev1"),
        ("GET", "/api/events/ev1/snapshot.jpg"),
        ("GET", "/api/events/ev1/clip.mp4"),
        ("DELETE", "/api/events/ev1"),
        ("GET", f"/api/cameras/{CAMERA}/preview.jpg"),
        ("POST", f"/api/cameras/{CAMERA}/disarm"),
        ("GET", "/api/device/health"),
    ]
    for method, path in routes:
        # without a recordings grant (test_api_recording_grants) the event is as unknown to
        # them as a made-up one
        refused = family.call(method, path)
        made_up = family.call(method, path.replace("ev1", "nothing").replace(CAMERA, "nocam"))
        assert refused.status == 404 and refused.body == made_up.body, path
        assert anonymous.call(method, path).status == 401, path
    assert owner.get("/api/events/ev1").status == 200  # still there, never served to them
    assert audited(api, "recording_viewed") == []


def test_arm_and_disarm_are_kept_audited_and_owner_only(
    owner_api: tuple[RunningApi, Client],
) -> None:
    api, owner = owner_api
    assert owner.get("/api/device/health").body["armed"] is True
    off = owner.post(f"/api/cameras/{CAMERA}/disarm")
    assert off.status == 200 and off.body == {"camera_id": CAMERA, "armed": False}
    assert owner.post(f"/api/cameras/{CAMERA}/disarm").body["armed"] is False  # no change
    assert owner.get("/api/device/health").body["armed"] is False
    # kept across a restart: a new control reads what the owner left
    again = MonitoringControl(api.paths.database, api.clock)
    try:
        assert again.armed is False
    finally:
        again.close()
    assert owner.post(f"/api/cameras/{CAMERA}/arm").body["armed"] is True
    assert [(actor, cam) for actor, cam, _ in audited(api, "disarmed")] == [("owner", None)]
    assert [(actor, cam) for actor, cam, _ in audited(api, "armed")] == [("owner", None)]
    assert owner.post("/api/cameras/elsewhere/arm").status == 404


def test_device_health_tells_the_owner_what_they_need(
    owner_api: tuple[RunningApi, Client], clip: Path
) -> None:
    api, owner = owner_api
    add_event(api, "ev1", MONDAY_10 - 60, clip=clip)
    health = owner.get("/api/device/health")
    assert health.status == 200, health.body
    body = health.body
    assert body["quota_mb"] == api.config.storage.quota_mb
    expected_mb = round(
        (clip.stat().st_size + (api.paths.snapshots / CAMERA / "ev1.jpg").stat().st_size) / 2**20, 1
    )
    assert body["recordings_mb"] == expected_mb
    assert body["disk_free_mb"] > 0
    assert body["uptime_s"] >= 0 and body["app_version"]
    assert set(body["models"]) >= {"centerface"}
    for key in ("fps", "dropped_frames", "temperature_c", "release"):
        assert key in body


def test_the_live_preview_is_the_owners_audited_and_never_stored(
    owner_api: tuple[RunningApi, Client],
) -> None:
    api, owner = owner_api
    waiting = owner.get(f"/api/cameras/{CAMERA}/preview.jpg")
    assert waiting.status == 503 and waiting.error == "no_picture"
    image = np.zeros((120, 160, 3), np.uint8)
    image[:, 80:] = (0, 0, 255)  # right half red
    image.flags.writeable = False  # as the capture feed hands frames on
    api.preview.put(Frame(image, 1.0, 1))
    shot = owner.get(f"/api/cameras/{CAMERA}/preview.jpg")
    assert shot.status == 200 and shot.headers["Content-Type"] == "image/jpeg"
    seen = cv2.imdecode(np.frombuffer(shot.raw, np.uint8), cv2.IMREAD_COLOR)
    assert seen.shape == (120, 160, 3)
    assert seen[60, 120, 2] > 200 and seen[60, 40, 2] < 40  # the picture, not another
    assert shot.headers["Cache-Control"] == "no-store"
    assert [(a, cam) for a, cam, _ in audited(api, "preview_viewed")] == [("owner", CAMERA)]
    assert not any(api.paths.snapshots.rglob("*"))  # not recorded
    assert owner.get("/api/cameras/elsewhere/preview.jpg").status == 404
