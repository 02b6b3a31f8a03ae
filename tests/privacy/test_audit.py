"""The audit log is append-only, and edits, deletions and reordering are detected on a real DB."""

from __future__ import annotations

import io
import itertools
import json
import multiprocessing
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from camera_app.cli import EXIT_TAMPERED, main
from firmware.db import open_database
from privacy.audit import (
    GENESIS_HASH,
    AuditEvent,
    AuditLog,
    export,
    page,
    record_hash,
    verify,
)
from testkit.clock import FakeClock

ALL_TRIGGERS = (
    "audit_no_update",
    "audit_no_delete",
    "audit_head_no_delete",
    "audit_head_forward_only",
)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "camera.db"


@pytest.fixture
def conn(db_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_database(db_path)
    yield connection
    connection.close()


def _fill(conn: sqlite3.Connection, n: int = 10) -> AuditLog:
    audit = AuditLog(conn, FakeClock(tick=1.0))
    events = list(AuditEvent)
    for i in range(n):
        audit.append(
            events[i % len(events)],
            actor="owner" if i % 2 else "system",
            camera_id="front" if i % 3 else None,
            details={"n": i, "reason": f"step {i}", "tags": ["a", "b"]},
        )
    return audit


def _tamper(db_path: Path, *statements: str) -> None:
    """What an attacker with the file can do: drop the triggers and rewrite rows.

    The triggers are put back afterwards so that only the hash chain can give the tampering away.
    """
    raw = sqlite3.connect(db_path, isolation_level=None)
    try:
        placeholders = ", ".join("?" * len(ALL_TRIGGERS))
        triggers = raw.execute(
            f"SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({placeholders})",
            ALL_TRIGGERS,
        ).fetchall()
        assert len(triggers) == len(ALL_TRIGGERS)
        for trigger in ALL_TRIGGERS:
            raw.execute(f"DROP TRIGGER {trigger}")
        for sql in statements:
            raw.execute(sql)
        for (sql,) in triggers:
            raw.execute(sql)
    finally:
        raw.close()


def _mentions(problems: list[str], seq: int) -> bool:
    return any(p.startswith(f"seq {seq}:") for p in problems)


def test_chain_of_records_verifies(conn: sqlite3.Connection) -> None:
    _fill(conn, 10)
    result = verify(conn)
    assert result.ok and result.records == 10 and result.problems == []

    rows = conn.execute("SELECT * FROM audit ORDER BY seq").fetchall()
    assert [r["seq"] for r in rows] == list(range(1, 11))
    assert rows[0]["prev_hash"] == GENESIS_HASH
    for before, after in itertools.pairwise(rows):
        assert after["prev_hash"] == before["hash"]
        assert after["at"] == before["at"] + 1.0  # the injected clock
    head = conn.execute("SELECT seq, hash FROM audit_head").fetchone()
    assert tuple(head) == (10, rows[-1]["hash"])


def test_append_returns_what_is_stored_and_hashed(conn: sqlite3.Connection) -> None:
    audit = AuditLog(conn, FakeClock(100, tick=1.0))  # an int-ish time still hashes as stored
    record = audit.append(
        "opt_in", actor="owner", camera_id="yard", details={"mode": "kindergarten", "ids": (1, 2)}
    )
    assert record.seq == 1 and record.event == AuditEvent.OPT_IN and record.at == 101.0
    assert record.details == {"mode": "kindergarten", "ids": [1, 2]}
    assert record.hash == record_hash(
        1, 101.0, "owner", "opt_in", "yard", record.details, GENESIS_HASH
    )
    assert verify(conn).ok


def test_empty_log_verifies(conn: sqlite3.Connection) -> None:
    assert verify(conn).ok and verify(conn).records == 0


@pytest.mark.parametrize(
    ("seq", "change"),
    [
        (4, """details = '{"n":4,"reason":"nothing happened","tags":["a","b"]}'"""),
        (7, "actor = 'intruder'"),
        (1, "event = 'opt_out'"),
        (5, "camera_id = 'back'"),
        (10, "at = at - 3600"),
    ],
)
def test_edited_record_is_detected_and_named(
    conn: sqlite3.Connection, db_path: Path, seq: int, change: str
) -> None:
    _fill(conn, 10)
    _tamper(db_path, f"UPDATE audit SET {change} WHERE seq = {seq}")
    result = verify(conn)
    assert not result.ok and result.records == 10
    assert any(p.startswith(f"seq {seq}:") and "edited" in p for p in result.problems)


def test_edited_record_with_recomputed_hash_breaks_the_next_link(
    conn: sqlite3.Connection, db_path: Path
) -> None:
    _fill(conn, 10)
    row = conn.execute("SELECT * FROM audit WHERE seq = 3").fetchone()
    at, event, camera, prev = row["at"], row["event"], row["camera_id"], row["prev_hash"]
    forged = record_hash(3, at, "intruder", event, camera, json.loads(row["details"]), prev)
    _tamper(db_path, f"UPDATE audit SET actor = 'intruder', hash = '{forged}' WHERE seq = 3")
    result = verify(conn)
    assert len(result.problems) == 1
    assert result.problems[0].startswith("seq 4: prev_hash does not match")


def test_deleted_middle_record_is_detected(conn: sqlite3.Connection, db_path: Path) -> None:
    _fill(conn, 10)
    _tamper(db_path, "DELETE FROM audit WHERE seq = 5")
    result = verify(conn)
    assert not result.ok and result.records == 9
    assert any(p.startswith("seq 6:") and "missing" in p for p in result.problems)


def test_deleted_last_record_is_detected_by_the_head(
    conn: sqlite3.Connection, db_path: Path
) -> None:
    audit = _fill(conn, 10)
    _tamper(db_path, "DELETE FROM audit WHERE seq = 10")
    result = verify(conn)
    assert not result.ok and result.records == 9
    assert any("head says the log ends at seq 10" in p for p in result.problems)

    # A later append chains to the head, so it does not paper over the cut-off record.
    audit.append(AuditEvent.LOGIN_OK, actor="owner")
    result = verify(conn)
    assert not result.ok
    assert any(p.startswith("seq 11:") and "missing" in p for p in result.problems)


def test_deleted_head_is_detected(conn: sqlite3.Connection, db_path: Path) -> None:
    _fill(conn, 3)
    _tamper(db_path, "DELETE FROM audit_head")
    assert any("head is missing" in p for p in verify(conn).problems)


def test_swapped_record_contents_are_detected(conn: sqlite3.Connection, db_path: Path) -> None:
    _fill(conn, 10)
    cols = "at, actor, event, camera_id, details, prev_hash, hash"
    _tamper(
        db_path,
        "CREATE TEMP TABLE keep AS SELECT * FROM audit WHERE seq IN (3, 6)",
        f"UPDATE audit SET ({cols}) = (SELECT {cols} FROM keep WHERE keep.seq = 6) WHERE seq = 3",
        f"UPDATE audit SET ({cols}) = (SELECT {cols} FROM keep WHERE keep.seq = 3) WHERE seq = 6",
    )
    result = verify(conn)
    assert not result.ok
    assert _mentions(result.problems, 3) and _mentions(result.problems, 6)


def test_swapped_seq_numbers_are_detected(conn: sqlite3.Connection, db_path: Path) -> None:
    _fill(conn, 10)
    _tamper(
        db_path,
        "UPDATE audit SET seq = -1 WHERE seq = 3",
        "UPDATE audit SET seq = 3 WHERE seq = 6",
        "UPDATE audit SET seq = 6 WHERE seq = -1",
    )
    result = verify(conn)
    assert not result.ok
    assert _mentions(result.problems, 3) and _mentions(result.problems, 6)


def test_dropped_trigger_is_reported(conn: sqlite3.Connection) -> None:
    _fill(conn, 2)
    conn.execute("DROP TRIGGER audit_no_delete")
    assert verify(conn).problems == ["append-only trigger audit_no_delete is missing"]


def test_triggers_refuse_update_and_delete(conn: sqlite3.Connection) -> None:
    _fill(conn, 3)
    statements = [
        "UPDATE audit SET actor = 'someone else' WHERE seq = 2",
        "DELETE FROM audit WHERE seq = 3",
        "DELETE FROM audit",
        "DELETE FROM audit_head",
        "UPDATE audit_head SET seq = 2",
    ]
    for sql in statements:
        with pytest.raises(sqlite3.DatabaseError, match="audit log is append-only"):
            conn.execute(sql)
    assert verify(conn).ok and verify(conn).records == 3


@pytest.mark.parametrize(
    "details",
    [
        {"password": "hunter2"},
        {"new_Password": "hunter2"},
        {"api-token": "abc"},
        {"clientSecret": "abc"},
        {"viewer": {"name": "Anna", "ID Number": "123"}},
        {"viewers": [{"name": "Anna"}, {"resident_id": "X1"}]},
        {"idnumber": "123"},
    ],
)
def test_secrets_in_details_are_refused(conn: sqlite3.Connection, details: dict) -> None:
    audit = AuditLog(conn, FakeClock(tick=1.0))
    with pytest.raises(ValueError, match="secrets"):
        audit.append(AuditEvent.REGISTRATION_ADDED, actor="owner", details=details)
    assert conn.execute("SELECT count(*) FROM audit").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM audit_head").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("event", "kwargs"),
    [
        ("made_up", {"actor": "owner"}),
        (AuditEvent.SETUP, {"actor": ""}),
        (AuditEvent.SETUP, {"actor": "owner", "details": {"x": float("nan")}}),
        (AuditEvent.SETUP, {"actor": "owner", "details": {"x": {1, 2}}}),
        (AuditEvent.SETUP, {"actor": "owner", "details": {1: "x"}}),
    ],
)
def test_bad_appends_are_refused(conn: sqlite3.Connection, event: str, kwargs: dict) -> None:
    audit = AuditLog(conn, FakeClock(tick=1.0))
    with pytest.raises(ValueError):
        audit.append(event, **kwargs)
    assert conn.execute("SELECT count(*) FROM audit").fetchone()[0] == 0


def test_concurrent_appends_from_threads_keep_one_chain(
    conn: sqlite3.Connection, db_path: Path
) -> None:
    clock = FakeClock(tick=1.0)
    shared = AuditLog(conn, clock)
    extra = [open_database(db_path) for _ in range(3)]
    logs = [shared, shared, shared, *(AuditLog(c, clock) for c in extra)]
    per_thread = 25
    errors: list[BaseException] = []
    start = threading.Barrier(len(logs))

    def work(i: int, audit: AuditLog) -> None:
        try:
            start.wait()
            for n in range(per_thread):
                audit.append(AuditEvent.LOGIN_OK, actor=f"t{i}", details={"n": n})
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i, a)) for i, a in enumerate(logs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in extra:
        c.close()
    assert errors == []
    result = verify(conn)
    assert result.ok, result.problems
    assert result.records == len(logs) * per_thread


def _append_in_process(db_path: str, worker: int, count: int) -> None:
    conn = open_database(Path(db_path))
    audit = AuditLog(conn, FakeClock(tick=1.0))
    for n in range(count):
        audit.append(AuditEvent.CONFIG_CHANGED, actor=f"p{worker}", details={"n": n})
    conn.close()


def test_concurrent_appends_from_processes_keep_one_chain(
    conn: sqlite3.Connection, db_path: Path
) -> None:
    ctx = multiprocessing.get_context("spawn")  # separate processes: only BEGIN IMMEDIATE helps
    procs = [ctx.Process(target=_append_in_process, args=(str(db_path), i, 20)) for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    result = verify(conn)
    assert result.ok, result.problems
    assert result.records == 60


def test_export_writes_every_record_as_json_lines(conn: sqlite3.Connection) -> None:
    _fill(conn, 5)
    out = io.StringIO()
    assert export(conn, out) == 5
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["seq"] for r in lines] == [1, 2, 3, 4, 5]
    assert lines[2]["details"] == {"n": 2, "reason": "step 2", "tags": ["a", "b"]}
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    # An export is enough to re-check the chain off the device.
    for r in lines:
        assert r["hash"] == record_hash(
            r["seq"], r["at"], r["actor"], r["event"], r["camera_id"], r["details"], r["prev_hash"]
        )


def test_cli_audit_verify_and_export(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"storage:\n  data_dir: {db_path.parent}\n")
    setup = open_database(db_path)
    _fill(setup, 10)
    setup.close()

    assert main(["audit", "verify", "--config", str(config)]) == 0
    assert capsys.readouterr().out == "audit log OK: 10 records\n"

    assert main(["audit", "export", "--config", str(config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, 11))

    exported = tmp_path / "audit.jsonl"
    assert main(["audit", "export", "--config", str(config), "--output", str(exported)]) == 0
    assert "10 audit records" in capsys.readouterr().err
    assert [json.loads(line) for line in exported.read_text().splitlines()] == [
        json.loads(line) for line in lines
    ]
    assert stat.S_IMODE(exported.stat().st_mode) == 0o600

    _tamper(db_path, "UPDATE audit SET actor = 'intruder' WHERE seq = 4")
    assert main(["audit", "verify", "--config", str(config)]) == EXIT_TAMPERED == 5
    out = capsys.readouterr().out
    assert out.startswith("audit log TAMPERED")
    assert "seq 4:" in out


def test_cli_audit_verify_without_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"storage:\n  data_dir: {tmp_path / 'nothing'}\n")
    assert main(["audit", "verify", "--config", str(config)]) == 4
    assert "no database" in capsys.readouterr().err


def test_page_is_newest_first_with_an_opaque_cursor(conn: sqlite3.Connection) -> None:
    _fill(conn, 10)
    first = page(conn, limit=4)
    assert [r.seq for r in first.records] == [10, 9, 8, 7]
    assert first.cursor is not None and "7" not in first.cursor
    second = page(conn, limit=4, cursor=first.cursor)
    assert [r.seq for r in second.records] == [6, 5, 4, 3]
    last = page(conn, limit=4, cursor=second.cursor)
    assert [r.seq for r in last.records] == [2, 1] and last.cursor is None
    # records read back as stored, details parsed
    assert last.records[-1].details == {"n": 0, "reason": "step 0", "tags": ["a", "b"]}
    assert last.records[-1].prev_hash == GENESIS_HASH


def test_page_filters_by_event_actor_and_time(conn: sqlite3.Connection) -> None:
    _fill(conn, 10)  # FakeClock(tick=1): record n is at DEFAULT_WALL + n
    events = list(AuditEvent)
    by_event = page(conn, event=events[1])
    assert [r.seq for r in by_event.records] == [2]
    by_actor = page(conn, actor="owner")
    assert [r.seq for r in by_actor.records] == [10, 8, 6, 4, 2]
    assert page(conn, actor="own").records == []  # exact, not a prefix
    ats = [r.at for r in page(conn).records]
    window = page(conn, since=ats[6], until=ats[3])  # seq 4 <= seq < 7
    assert [r.seq for r in window.records] == [6, 5, 4]
    both = page(conn, actor="owner", since=ats[6], limit=1)
    assert [r.seq for r in both.records] == [10] and both.cursor is not None
    rest = page(conn, actor="owner", since=ats[6], cursor=both.cursor)
    assert [r.seq for r in rest.records] == [8, 6, 4]


@pytest.mark.parametrize("cursor", ["", "x", "!!!", "YXVkaXQ6", "YXVkaXQ6LTE", "ZXZlbnQ6Mw"])
def test_page_refuses_a_cursor_it_did_not_give(conn: sqlite3.Connection, cursor: str) -> None:
    _fill(conn, 3)
    with pytest.raises(ValueError, match="cursor"):
        page(conn, cursor=cursor)


def test_page_refuses_an_unknown_event(conn: sqlite3.Connection) -> None:
    with pytest.raises(ValueError):
        page(conn, event="not_an_event")  # type: ignore[arg-type]


def test_a_transaction_commits_changes_and_records_together_or_neither(conn) -> None:
    audit = _fill(conn, 3)
    with audit.transaction() as tx:
        tx.execute("CREATE TABLE things (name TEXT)")
        tx.execute("INSERT INTO things VALUES ('a')")
        audit.append(AuditEvent.VIEWER_INVITED, actor="owner", details={"viewer": "a"})
    assert conn.execute("SELECT count(*) FROM audit").fetchone()[0] == 4
    with pytest.raises(RuntimeError), audit.transaction() as tx:
        tx.execute("INSERT INTO things VALUES ('b')")
        audit.append(AuditEvent.VIEWER_INVITED, actor="owner", details={"viewer": "b"})
        raise RuntimeError("the second change fails")
    assert [row[0] for row in conn.execute("SELECT name FROM things")] == ["a"]
    assert conn.execute("SELECT count(*) FROM audit").fetchone()[0] == 4
    assert not conn.in_transaction
    audit.append(AuditEvent.VIEWERS_IMPORTED, actor="owner", details={"count": 1})
    result = verify(conn)
    assert result.ok and result.records == 5, result.problems


def test_another_thread_s_append_waits_for_a_transaction_and_chains_after_it(conn) -> None:
    audit = _fill(conn, 1)
    inside, done = threading.Event(), threading.Event()

    def other() -> None:
        assert inside.wait(5)
        audit.append(AuditEvent.LOGIN_OK, actor="other")
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    with audit.transaction():
        audit.append(AuditEvent.VIEWER_INVITED, actor="owner")
        inside.set()
        # the other append may not join this transaction (it would fail on BEGIN): it waits
    thread.join(5)
    assert done.is_set()
    actors = [r[0] for r in conn.execute("SELECT actor FROM audit ORDER BY seq")]
    assert actors == ["system", "owner", "other"]
    assert verify(conn).ok
