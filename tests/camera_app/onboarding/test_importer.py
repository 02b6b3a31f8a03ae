"""Importing a checked class list into a real device database: every family becomes a pending
parent invitation (rooms, schedule, end date, watermark, nothing else), audited per invitation
and once for the import, and a failure half-way leaves neither invitations nor audit records."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from camera_app.onboarding import ImportRefused, import_class_list, read_class_list
from firmware.db import open_database
from privacy.audit import AuditLog, verify
from privacy.gates.roles import Role
from privacy.gates.viewers import INVITE_TTL_S, ViewerStore
from testkit.clock import FakeClock

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 16, 10, 0, tzinfo=TZ).timestamp()
LIST = (
    "家庭,用户名,教室,观看时段,截止日期,语言\n"
    "王小明家,wang.xm,向日葵,周一至周五 08:00-17:00,2027-07-15,中文\n"
    "Emma's family,emma.p,Rainbow,mon 14:00-16:00,2027-01-31,en\n"
).encode("gb18030")


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_database(tmp_path / "camera.db")
    yield connection
    connection.close()


def store(conn: sqlite3.Connection) -> ViewerStore:
    clock = FakeClock(NOW)
    return ViewerStore(conn, clock, AuditLog(conn, clock))


def checked(taken: set[str] = frozenset()):  # type: ignore[assignment]
    return read_class_list(
        LIST,
        rooms={"向日葵", "Rainbow"},
        schedules={},
        taken=lambda u: u in taken,
        today=date(2026, 11, 16),
        default_lang="zh",
    )


def audit_rows(conn: sqlite3.Connection) -> list[tuple[str, str, dict]]:
    rows = conn.execute("SELECT event, actor, details FROM audit ORDER BY seq").fetchall()
    return [(r[0], r[1], json.loads(r[2])) for r in rows]


def test_every_family_becomes_a_pending_parent_invitation_audited(conn) -> None:
    viewers = store(conn)
    issued = import_class_list(checked(), viewers, TZ, actor="director")
    assert [i.viewer.username for i in issued] == ["wang.xm", "emma.p"]
    wang = viewers.by_username("wang.xm")
    assert wang is not None and wang.role == Role.PARENT
    assert wang.rooms == ("向日葵",) and wang.cameras == () and wang.watermarked
    assert wang.schedule is not None and wang.schedule.describe("zh") == "周一至周五 08:00–17:00"
    assert datetime.fromtimestamp(wang.expires_at or 0, TZ).date() == date(2027, 7, 15)
    assert datetime.fromtimestamp(wang.expires_at or 0, TZ).hour == 23  # the whole last day
    # the codes work like any invitation's, and expire as they do
    assert viewers.pending_invite(issued[0].code) == wang
    assert issued[0].code_expires_at == NOW + INVITE_TTL_S
    # nothing but the invitation is stored: no label, no language
    stored = conn.execute("SELECT * FROM viewers WHERE username = 'wang.xm'").fetchone()
    assert "王小明" not in json.dumps([str(v) for v in tuple(stored)], ensure_ascii=False)
    events = audit_rows(conn)
    assert [e[0] for e in events] == ["viewer_invited", "viewer_invited", "viewers_imported"]
    assert all(actor == "director" for _, actor, _ in events)
    assert events[0][2]["viewer"] == "wang.xm" and events[0][2]["rooms"] == ["向日葵"]
    assert events[2][2] == {"count": 2, "encoding": "gb18030", "rooms": ["Rainbow", "向日葵"]}
    assert "王小明" not in json.dumps(events, ensure_ascii=False)
    assert verify(conn).ok


def test_a_list_with_a_problem_imports_nothing(conn) -> None:
    viewers = store(conn)
    with pytest.raises(ImportRefused):
        import_class_list(checked(taken={"emma.p"}), viewers, TZ, actor="director")
    assert viewers.all() == [] and audit_rows(conn) == []


def test_a_username_taken_after_the_check_rolls_everything_back(conn) -> None:
    viewers = store(conn)
    class_list = checked()
    assert class_list.ok
    # someone else invites emma.p between the check and the import
    viewers.invite(
        "emma.p",
        Role.FAMILY,
        cameras=["cam1"],
        rooms=[],
        schedule=None,
        watermark=True,
        expires_at=None,
        actor="director",
    )
    before = audit_rows(conn)
    with pytest.raises(ImportRefused):
        import_class_list(class_list, viewers, TZ, actor="director")
    # wang.xm was inserted first in the same transaction: rolled back with its audit record
    assert [v.username for v in viewers.all()] == ["emma.p"]
    assert audit_rows(conn) == before
    assert verify(conn).ok
    # and the log goes on from where it was: wang.xm alone imports now
    import_class_list(only_wang(), viewers, TZ, actor="director")
    assert verify(conn).ok and len(audit_rows(conn)) == len(before) + 2


def only_wang():
    header, wang, _ = LIST.decode("gb18030").splitlines()
    return read_class_list(
        f"{header}\n{wang}\n".encode("gb18030"),
        rooms={"向日葵"},
        schedules={},
        taken=lambda u: False,
        today=date(2026, 11, 16),
        default_lang="zh",
    )
