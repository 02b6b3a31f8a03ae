"""The owner's privacy and motion masks over the API: shown in 0..1 coordinates, saved into the
owner's masks file in the data directory (validated, atomically, audited; the config file is
never written) and put in force at once, and previewed on the camera's picture without saving.
Bad input is refused and changes nothing.

The server is the real ``OwnerServices`` on loopback with its config read from a real file
(``start_api(config_file=True)``, as ``camera-app run --config`` reads it); the audit log, the
masks file and the config as the next start loads it are read back from disk.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml

from camera_app.config import load_service_config
from camera_app.config.changes import record_config_changes
from camera_app.config.owner_masks import read_owner_masks
from camera_app.masks import Masks
from firmware.frames import Frame
from privacy.audit import verify
from testkit.api import ApiFactory, Client, RunningApi
from testkit.recordings import CAMERA, audited

MASKS = f"/api/cameras/{CAMERA}/masks"
WINDOW = {"name": "neighbour's window", "points": [[0.1, 0.1], [0.4, 0.1], [0.4, 0.5]]}
TREE = {"name": "tree", "points": [[0.6, 0.0], [1.0, 0.0], [1.0, 0.3], [0.6, 0.3]]}
LEFT_HALF = {"name": "left half", "points": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}
STARTING = {
    "privacy_masks": {"color": [0, 0, 255], "areas": [WINDOW]},
    "motion": {"masks": [TREE], "threshold": 25},
    "events": {"trigger_frames": 4},
}


@pytest.fixture
def masks_api(start_api: ApiFactory) -> tuple[RunningApi, Client]:
    api = start_api(STARTING, config_file=True)
    conn = api.db()
    try:  # as camera-app run does at its start
        assert record_config_changes(conn, api.config, api.clock)
    finally:
        conn.close()
    return api, api.owner()


def _file(api: RunningApi) -> Path:
    assert api.config_file is not None
    return api.config_file


def _masks_file(api: RunningApi) -> Path:
    return api.paths.owner_masks


def _changes(api: RunningApi) -> list[tuple[str, str | None, dict]]:
    return audited(api, "config_changed")


def _body(privacy: list[dict], motion: list[dict], **extra: Any) -> dict[str, Any]:
    return {"privacy_masks": privacy, "motion_masks": motion, **extra}


def test_the_owner_sees_the_masks_of_the_config_in_frame_coordinates(
    masks_api: tuple[RunningApi, Client],
) -> None:
    api, owner = masks_api
    shown = owner.get(MASKS)
    assert shown.status == 200, shown.body
    assert shown.body == {
        "camera_id": CAMERA,
        "privacy_masks": [WINDOW],
        "motion_masks": [TREE],
        "color_bgr": [0, 0, 255],
        "frame": {"width": 640, "height": 480},  # capture.width/height until a picture comes
        "limits": {"masks": 16, "points": 64},
        "editable": True,
    }
    api.preview.put(Frame(np.zeros((90, 160, 3), np.uint8), 1.0, 1))
    assert owner.get(MASKS).body["frame"] == {"width": 160, "height": 90}
    assert owner.get("/api/cameras/elsewhere/masks").status == 404


def test_saving_writes_the_masks_file_atomically_and_audits(
    masks_api: tuple[RunningApi, Client],
) -> None:
    api, owner = masks_api
    path = _file(api)
    before = path.read_bytes()
    masks_file = _masks_file(api)
    assert not masks_file.exists()
    first_start = _changes(api)
    saved = owner.put(MASKS, _body([LEFT_HALF, WINDOW], [], color_bgr=[10, 20, 30]))
    assert saved.status == 200, saved.body
    assert saved.body["changed"] == ["motion", "privacy_masks"]
    assert saved.body["privacy_masks"] == [LEFT_HALF, WINDOW] and saved.body["motion_masks"] == []
    assert owner.get(MASKS).body["color_bgr"] == [10, 20, 30]

    # the config file is not touched; the masks file holds exactly the masks, read/write for
    # the service only (its group may read), nothing half-written left beside it
    assert path.read_bytes() == before
    assert not path.with_name(path.name + ".bak").exists()
    assert masks_file.stat().st_mode & 0o777 == 0o640
    assert not masks_file.with_name(masks_file.name + ".part").exists()
    text = masks_file.read_text()
    assert text.startswith("# The masks the owner saved in the owner app")
    assert yaml.safe_load(text) == {
        "privacy_masks": {"color": [10, 20, 30], "areas": [LEFT_HALF, WINDOW]},
        "motion": {"masks": []},
    }
    # the next start: the owner's masks over the file's, the rest of the file as it was
    loaded = load_service_config(path)
    reloaded = loaded.config
    assert [a.name for a in reloaded.privacy_masks.areas] == ["left half", "neighbour's window"]
    assert reloaded.privacy_masks.color == (10, 20, 30)
    assert reloaded.motion.masks == []
    assert reloaded.motion.threshold == 25 and reloaded.events.trigger_frames == 4
    assert Masks.of(reloaded) == api.masks.current
    assert loaded.replaced() == ["privacy_masks.color", "privacy_masks.areas", "motion.masks"]

    # audited with the owner's name, once; the next start finds nothing new to record
    records = _changes(api)[len(first_start) :]
    assert [(actor, cam) for actor, cam, _ in records] == [("owner", CAMERA)]
    assert records[0][2]["changed"] == ["motion", "privacy_masks"]
    conn = api.db()
    try:
        assert record_config_changes(conn, reloaded, api.clock) == []
        assert verify(conn).ok
    finally:
        conn.close()

    # in force at once: the masker the capture feed will be given
    masker = api.masks.current.masker()
    image = np.full((10, 20, 3), 200, np.uint8)
    masker.apply(image)
    assert tuple(image[5, 2]) == (10, 20, 30) and tuple(image[5, 15]) == (200, 200, 200)

    # the same masks again: nothing to write, nothing to audit
    inode = masks_file.stat().st_ino
    again = owner.put(MASKS, _body([LEFT_HALF, WINDOW], [], color_bgr=[10, 20, 30]))
    assert again.status == 200 and again.body["changed"] == []
    assert len(_changes(api)) == len(first_start) + 1
    assert masks_file.stat().st_ino == inode

    # a second save replaces the file by a rename (a new inode), the config file still as it was
    assert owner.put(MASKS, _body([WINDOW], [TREE])).status == 200
    assert masks_file.stat().st_ino != inode
    assert Masks.of(load_service_config(path).config) == api.masks.current
    assert path.read_bytes() == before


@pytest.fixture
def read_only_config(masks_api: tuple[RunningApi, Client]) -> Iterator[Path]:
    """The config file 0444 in a 0555 directory, as on an installed device where the service
    may not write /etc/camera-app (its data directory lives elsewhere and stays writable)."""
    api, _ = masks_api
    path = _file(api)
    folder = path.parent
    modes = (path.stat().st_mode, folder.stat().st_mode)
    path.chmod(0o444)
    folder.chmod(0o555)
    try:
        yield path
    finally:
        folder.chmod(modes[1])
        path.chmod(modes[0])


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Each file directly in ``folder`` (the data directories beside it aside): (inode, mtime);
    the folder's own mtime (it changes when an entry is made, removed or renamed) under ""."""
    out = {
        e.name: (e.stat().st_ino, e.stat().st_mtime_ns)
        for e in os.scandir(folder)
        if not e.is_dir()
    }
    out[""] = (0, folder.stat().st_mtime_ns)
    return out


def test_a_read_only_config_file_and_folder_still_let_the_owner_save(
    masks_api: tuple[RunningApi, Client], read_only_config: Path
) -> None:
    api, owner = masks_api
    path = read_only_config
    before, listing = path.read_bytes(), _listing(path.parent)
    saved = owner.put(MASKS, _body([LEFT_HALF], [TREE], color_bgr=[1, 2, 3]))
    assert saved.status == 200, saved.body
    assert saved.body["editable"] is True
    # nothing in the config's folder was written, created or renamed (even where the tests run
    # as root, whom the modes do not stop)
    assert path.read_bytes() == before and _listing(path.parent) == listing
    # the next start, loading the config as the service does, runs the owner's masks
    loaded = load_service_config(path).config
    assert [a.name for a in loaded.privacy_masks.areas] == ["left half"]
    assert loaded.privacy_masks.color == (1, 2, 3)
    assert [m.name for m in loaded.motion.masks] == ["tree"]
    assert Masks.of(loaded) == api.masks.current
    conn = api.db()
    try:
        assert record_config_changes(conn, loaded, api.clock) == []
    finally:
        conn.close()


def test_a_config_file_edited_since_the_start_is_not_put_on_the_owner(
    masks_api: tuple[RunningApi, Client],
) -> None:
    api, owner = masks_api
    path = _file(api)
    data = yaml.safe_load(path.read_text())
    data["events"]["trigger_frames"] = 9
    data["privacy_masks"]["areas"] = []  # the owner's masks will win over this edit
    path.write_text(yaml.safe_dump(data))
    edited = path.read_bytes()
    saved = owner.put(MASKS, _body([LEFT_HALF], []))
    assert saved.status == 200, saved.body
    assert saved.body["changed"] == ["motion", "privacy_masks"]  # not "events"
    assert path.read_bytes() == edited
    # the next start runs the hand edit and the owner's masks, and records the edit as the
    # file's, not the owner's
    loaded = load_service_config(path)
    assert loaded.config.events.trigger_frames == 9
    assert [a.name for a in loaded.config.privacy_masks.areas] == ["left half"]
    conn = api.db()
    try:
        assert record_config_changes(conn, loaded.config, api.clock) == ["events"]
    finally:
        conn.close()
    assert [actor for actor, _, _ in _changes(api)] == ["config-file", "owner", "config-file"]


BAD_BODIES: list[tuple[str, Any, str]] = [
    ("two points", _body([{"name": "a", "points": [[0, 0], [1, 1]]}], []), "privacy_masks.0"),
    ("65 points", _body([], [{"name": "a", "points": [[0.5, 0.5]] * 65}]), "motion_masks.0"),
    ("x beyond 1", _body([{"name": "a", "points": [[0, 0], [1.5, 0], [1, 1]]}], []), "points.1.0"),
    ("negative y", _body([{"name": "a", "points": [[0, 0], [1, -0.1], [1, 1]]}], []), "points.1.1"),
    (
        "on one line",
        _body([{"name": "a", "points": [[0, 0], [0.5, 0.5], [1, 1]]}], []),
        "no area",
    ),
    (
        "a sliver",
        _body([{"name": "a", "points": [[0, 0], [1, 0], [1, 0.00005]]}], []),
        "no area",
    ),
    (
        "a figure eight",
        _body([{"name": "a", "points": [[0, 0], [1, 1], [1, 0], [0, 1]]}], []),
        "cross",
    ),
    ("17 masks", _body([WINDOW] * 17, []), "privacy_masks"),
    ("no name", _body([{**WINDOW, "name": "  "}], []), "privacy_masks.0.name"),
    ("a long name", _body([{**WINDOW, "name": "x" * 65}], []), "privacy_masks.0.name"),
    ("unknown key", _body([], [], colour=[0, 0, 0]), "colour"),
    ("colour out of range", _body([], [], color_bgr=[0, 0, 256]), "color_bgr"),
    ("one list missing", {"privacy_masks": [WINDOW]}, "motion_masks"),
    ("text for numbers", _body([{**WINDOW, "points": [["0.1", "0.1"]] * 3}], []), "points"),
    ("not a number", _body([{**WINDOW, "points": [[float("nan"), 0.1]] * 3}], []), "points"),
    ("not a list", _body({"name": "a"}, []), "privacy_masks"),  # type: ignore[arg-type]
]


def test_bad_masks_are_refused_and_change_nothing(masks_api: tuple[RunningApi, Client]) -> None:
    api, owner = masks_api
    path = _file(api)
    before, shown, records = path.read_bytes(), owner.get(MASKS).body, _changes(api)
    masks_file = _masks_file(api)
    current = api.masks.current
    for case, body, named in BAD_BODIES:
        for method, route in (("PUT", MASKS), ("POST", MASKS + "/preview")):
            refused = owner.call(method, route, body)
            assert refused.status == 422, (case, refused.body)
            assert refused.error == "invalid_input", (case, refused.body)
            assert named in refused.body["reason"], (case, refused.body)
        assert path.read_bytes() == before, case
        assert not masks_file.exists(), case
        assert owner.get(MASKS).body == shown, case
        assert _changes(api) == records, case
        assert api.masks.current is current, case
    assert owner.put(MASKS, _body([LEFT_HALF], [])).status == 200  # a good one is taken


def test_a_body_that_is_not_json_is_refused(masks_api: tuple[RunningApi, Client]) -> None:
    api, owner = masks_api
    before = _file(api).read_bytes()
    assert owner.call("PUT", MASKS, raw=b"{privacy").status == 400
    assert owner.call("PUT", MASKS, raw=b"x", content_type="text/plain").status == 415
    assert _file(api).read_bytes() == before
    assert not _masks_file(api).exists()


def test_a_config_not_read_from_a_file_saves_into_the_data_directory(
    start_api: ApiFactory,
) -> None:
    api = start_api(STARTING)  # built in memory, as camera-app run without --config
    owner = api.owner()
    assert owner.get(MASKS).body["editable"] is True
    saved = owner.put(MASKS, _body([LEFT_HALF], []))
    assert saved.status == 200, saved.body
    kept = read_owner_masks(_masks_file(api))
    assert kept is not None and [a.name for a in kept.privacy_masks.areas] == ["left half"]
    assert Masks.of(kept.over(api.config)) == api.masks.current


def test_a_masks_file_that_cannot_be_written_refuses_cleanly(
    masks_api: tuple[RunningApi, Client],
) -> None:
    api, owner = masks_api
    path = _file(api)
    before = path.read_bytes()
    records = _changes(api)
    masks_file = _masks_file(api)
    # where the new text would be written first: a directory, which no one (not even root, as
    # tests may run) can open as a file; a full or read-only data disk fails alike
    blocker = masks_file.with_name(masks_file.name + ".part")
    blocker.mkdir()
    refused = owner.put(MASKS, _body([LEFT_HALF], []))
    assert refused.status == 409 and refused.error == "masks_not_writable", refused.body
    assert str(masks_file) in refused.body["reason"]
    assert path.read_bytes() == before and _changes(api) == records
    assert not masks_file.exists()
    assert owner.get(MASKS).body["privacy_masks"] == [WINDOW]
    assert api.masks.current.privacy[0].name == WINDOW["name"]
    assert load_service_config(path).owner_masks is None  # the next start: the file's masks
    blocker.rmdir()
    assert owner.put(MASKS, _body([LEFT_HALF], [])).status == 200  # and once it can, it does


def test_without_a_data_directory_the_masks_are_not_editable(
    masks_api: tuple[RunningApi, Client],
) -> None:
    api, owner = masks_api
    records = _changes(api)
    moved = api.paths.root.with_name(api.paths.root.name + "-moved")
    api.paths.root.rename(moved)
    try:
        assert owner.get(MASKS).body["editable"] is False
        refused = owner.put(MASKS, _body([LEFT_HALF], []))
        assert refused.status == 409 and refused.error == "masks_not_writable", refused.body
        assert api.masks.current.privacy[0].name == WINDOW["name"]
    finally:
        moved.rename(api.paths.root)
    assert _changes(api) == records
    assert owner.get(MASKS).body["editable"] is True


def test_concurrent_saves_leave_one_whole_config(masks_api: tuple[RunningApi, Client]) -> None:
    api, owner = masks_api
    proposals = [
        _body(
            [{"name": f"mask {i}", "points": [[0, 0], [0.1 + i / 20, 0], [0, 0.5]]}],
            [TREE] if i % 2 else [],
        )
        for i in range(8)
    ]
    replies: list[Any] = [None] * len(proposals)

    def save(i: int) -> None:
        replies[i] = owner.put(MASKS, proposals[i])

    threads = [threading.Thread(target=save, args=(i,)) for i in range(len(proposals))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [r.status for r in replies] == [200] * len(proposals), [r.body for r in replies]
    final = read_owner_masks(_masks_file(api))  # a whole, valid file
    assert final is not None
    names = [a.name for a in final.privacy_masks.areas]
    assert len(names) == 1 and names[0] in {p["privacy_masks"][0]["name"] for p in proposals}
    assert owner.get(MASKS).body["privacy_masks"][0]["name"] == names[0]
    assert api.masks.current.privacy[0].name == names[0]
    assert Masks.of(load_service_config(_file(api)).config) == api.masks.current
    assert len([r for r in _changes(api) if r[0] == "owner"]) == len(proposals)
    conn = api.db()
    try:
        assert verify(conn).ok
    finally:
        conn.close()


def test_the_preview_burns_in_the_proposal_and_saves_nothing(
    masks_api: tuple[RunningApi, Client],
) -> None:
    api, owner = masks_api
    path = _file(api)
    before = path.read_bytes()
    body = _body([LEFT_HALF], [TREE], color_bgr=[255, 0, 0])
    waiting = owner.post(MASKS + "/preview", body)
    assert waiting.status == 503 and waiting.error == "no_picture"
    image = np.full((120, 160, 3), 128, np.uint8)
    image.flags.writeable = False
    api.preview.put(Frame(image, 1.0, 1))
    shot = owner.post(MASKS + "/preview", body)
    assert shot.status == 200 and shot.headers["Content-Type"] == "image/jpeg"
    seen = cv2.imdecode(np.frombuffer(shot.raw, np.uint8), cv2.IMREAD_COLOR)
    assert seen.shape == (120, 160, 3)
    assert seen[60, 30, 0] > 230 and seen[60, 30, 2] < 30  # the proposed mask, in blue
    assert np.abs(seen[100, 120].astype(int) - 128).max() < 12  # untouched
    # the tree is outlined in yellow along its lower edge (y = 0.3), not filled
    edge = seen[round(0.3 * 119), 110]
    assert edge[1] > 200 and edge[2] > 200 and edge[0] < 80
    assert np.abs(seen[15, 130].astype(int) - 128).max() < 12
    assert api.preview.get() is not None and api.preview.get().image is image  # not changed
    assert path.read_bytes() == before and not _masks_file(api).exists()
    assert owner.get(MASKS).body["privacy_masks"] == [WINDOW]
    assert [(a, cam, d) for a, cam, d in audited(api, "preview_viewed")] == [
        ("owner", CAMERA, {"masks": "proposed"})
    ]


def test_no_other_role_reaches_the_masks(masks_api: tuple[RunningApi, Client]) -> None:
    api, owner = masks_api
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
    before = _file(api).read_bytes()
    body = _body([LEFT_HALF], [])
    for method, route in (("GET", MASKS), ("PUT", MASKS), ("POST", MASKS + "/preview")):
        refused = family.call(method, route, None if method == "GET" else body)
        assert refused.status == 404 and refused.error == "not_found", route
        assert anonymous.call(method, route, None if method == "GET" else body).status == 401
    assert _file(api).read_bytes() == before and not _masks_file(api).exists()
