"""Recording grants: who may see which camera's recordings (a pure decision), and the store that
keeps the owner's grants in the device database (real SQLite on disk), audited per camera."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from camera_app.monitor.grants import GrantError, RecordingGrants, check_grant, readable_cameras
from firmware.db import open_database
from privacy.audit import AuditLog, verify
from privacy.gates.roles import Role
from privacy.gates.schedule import Schedule
from privacy.gates.viewers import CameraInfo, Viewer, ViewerStore
from testkit.clock import FakeClock

CAMERAS = {
    c.id: c
    for c in (
        CameraInfo("porch", "Porch", None, "home"),
        CameraInfo("garden", "Garden", "Back", "home"),
        CameraInfo("shed", "Shed", None, "home"),
        CameraInfo("kg", "Sunflower room", "Sunflower", "kindergarten"),
    )
}
SCHOOL_HOURS = Schedule.model_validate(
    {"windows": [{"days": ["mon"], "start": "08:00", "end": "17:00"}]}
)


def family(**changes: object) -> Viewer:
    viewer = Viewer(
        id="v1",
        username="grandma",
        role=Role.FAMILY,
        cameras=("porch",),
        rooms=("Back",),  # covers garden
        schedule=None,
        watermark=True,
        expires_at=None,
        invited_by="owner",
        invited_at=0.0,
        accepted_at=1.0,
        consent_at=1.0,
        revoked_at=None,
        revoke_reason=None,
    )
    return dataclasses.replace(viewer, **changes)  # type: ignore[arg-type]


def test_a_family_viewer_reads_the_granted_cameras_of_their_invitation() -> None:
    granted = ["porch", "garden", "shed", "kg", "gone"]
    assert readable_cameras(family(), granted, CAMERAS, now=100.0) == {"porch", "garden"}
    assert readable_cameras(family(), [], CAMERAS, now=100.0) == frozenset()


@pytest.mark.parametrize(
    "viewer",
    [
        None,
        family(revoked_at=50.0),
        family(expires_at=100.0),  # ends the moment it expires
        family(role=Role.PARENT, schedule=SCHOOL_HOURS, expires_at=1e12),
    ],
    ids=["nobody", "revoked", "expired", "parent"],
)
def test_nobody_else_reads_any_recording(viewer: Viewer | None) -> None:
    assert readable_cameras(viewer, ["porch", "garden", "kg"], CAMERAS, now=100.0) == frozenset()


def test_a_camera_that_leaves_the_home_profile_leaves_the_grant() -> None:
    moved = {**CAMERAS, "porch": CameraInfo("porch", "Porch", None, "merchant")}
    assert readable_cameras(family(), ["porch", "garden"], moved, now=100.0) == {"garden"}


@pytest.mark.parametrize(
    ("viewer", "cameras", "code"),
    [
        (family(role=Role.PARENT), [], "wrong_role"),
        (family(revoked_at=5.0), [], "viewer_inactive"),
        (family(expires_at=50.0), ["porch"], "viewer_inactive"),
        (family(), ["shed"], "invalid_input"),  # not in the invitation
        (family(), ["kg"], "invalid_input"),
        (family(), ["porch", "nowhere"], "invalid_input"),
    ],
)
def test_grants_that_cannot_be_given(viewer: Viewer, cameras: list[str], code: str) -> None:
    with pytest.raises(GrantError) as refused:
        check_grant(viewer, cameras, CAMERAS, now=100.0)
    assert refused.value.code == code and refused.value.reason


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_database(tmp_path / "camera.db")
    yield connection
    connection.close()


def _audit(conn: sqlite3.Connection) -> list[tuple[str, str, str, dict]]:
    rows = conn.execute("SELECT event, actor, camera_id, details FROM audit ORDER BY seq")
    return [(r[0], r[1], r[2], json.loads(r[3])) for r in rows]


def test_the_store_keeps_grants_and_audits_each_change(conn: sqlite3.Connection) -> None:
    clock = FakeClock()
    audit = AuditLog(conn, clock)
    viewers = ViewerStore(conn, clock, audit)
    grandma, _ = viewers.invite(
        "grandma",
        Role.FAMILY,
        cameras=["porch", "garden"],
        rooms=[],
        schedule=None,
        watermark=True,
        expires_at=None,
        actor="owner",
    )
    grants = RecordingGrants(conn, clock, audit)
    before = len(_audit(conn))
    assert grants.cameras(grandma.id) == () and grants.all() == {}
    assert grants.readable(grandma, CAMERAS) == frozenset()

    assert grants.replace(grandma, ["porch", "garden"], CAMERAS, actor="owner") == (
        "garden",
        "porch",
    )
    assert grants.replace(grandma, ["garden", "porch"], CAMERAS, actor="owner")  # no change
    assert grants.replace(grandma, ["garden"], CAMERAS, actor="owner") == ("garden",)
    assert grants.all() == {grandma.id: ("garden",)}
    assert grants.readable(grandma, CAMERAS) == {"garden"}
    assert grants.readable(None, CAMERAS) == frozenset()
    with pytest.raises(GrantError):
        grants.replace(grandma, ["garden", "shed"], CAMERAS, actor="owner")
    assert grants.cameras(grandma.id) == ("garden",)  # the refused grant changed nothing

    assert _audit(conn)[before:] == [
        ("recordings_granted", "owner", "garden", {"viewer": "grandma"}),
        ("recordings_granted", "owner", "porch", {"viewer": "grandma"}),
        ("recordings_revoked", "owner", "porch", {"viewer": "grandma"}),
    ]
    assert verify(conn).ok

    viewers.revoke(grandma.id, "moved out", actor="owner")
    revoked = viewers.get(grandma.id)
    assert revoked is not None and grants.readable(revoked, CAMERAS) == frozenset()
    assert grants.cameras(grandma.id) == ("garden",)  # kept as given; it no longer opens anything


def test_a_grant_names_a_viewer_that_exists(conn: sqlite3.Connection) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO recording_grants (viewer_id, camera_id, granted_by, granted_at)"
            " VALUES ('nobody', 'porch', 'owner', 0)"
        )
