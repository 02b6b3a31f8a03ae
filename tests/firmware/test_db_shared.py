"""The device's one database connection, shared by its threads (firmware.shared_conn), on a real
SQLite file in WAL mode beside a second connection, as the MQTT outbox keeps one."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware import shared_conn
from firmware.db import Migration, open_database

TABLE = (Migration(1, "0001_t.sql", "CREATE TABLE t (x INTEGER);"),)


@pytest.fixture
def conns(tmp_path: Path) -> Iterator[tuple[sqlite3.Connection, sqlite3.Connection]]:
    shared = open_database(tmp_path / "camera.db", TABLE)
    other = open_database(tmp_path / "camera.db", TABLE)
    shared.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(10)])
    yield shared, other
    shared.close()
    other.close()


def _xs(conn: sqlite3.Connection) -> list[int]:
    return [x for (x,) in conn.execute("SELECT x FROM t ORDER BY x")]


def test_a_half_read_query_does_not_lock_out_a_write_after_another_connection_wrote(
    conns: tuple[sqlite3.Connection, sqlite3.Connection],
) -> None:
    # CI's "database is locked": the API was reading on the shared connection when the MQTT
    # tick put a reminder in the outbox (the other connection) and marked it sent (this one). A
    # plain connection fails the update at once: its pending read holds a stale snapshot.
    shared, other = conns
    reading = shared.execute("SELECT x FROM t ORDER BY x")
    assert reading.fetchone()[0] == 0
    other.execute("INSERT INTO t VALUES (99)")
    assert shared.execute("UPDATE t SET x = 100 WHERE x = 0").rowcount == 1
    assert reading.fetchone()[0] == 1  # the rest of the rows, as they were read
    assert [r[0] for r in reading.fetchmany(3)] == [2, 3, 4]
    assert len(reading.fetchall()) == 5 and reading.fetchone() is None
    assert _xs(other) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 99, 100]


def test_another_threads_statement_waits_for_a_transaction_instead_of_joining_it(
    conns: tuple[sqlite3.Connection, sqlite3.Connection],
) -> None:
    shared, _ = conns
    shared.execute("BEGIN IMMEDIATE")
    shared.execute("INSERT INTO t VALUES (50)")
    done = threading.Event()

    def insert() -> None:
        shared.execute("INSERT INTO t VALUES (60)")
        done.set()

    thread = threading.Thread(target=insert)
    thread.start()
    assert not done.wait(0.3)  # held back while the transaction is open
    shared.execute("ROLLBACK")  # a bare connection would roll the other thread's row back too
    thread.join(timeout=10)
    assert done.is_set()
    assert 60 in _xs(shared) and 50 not in _xs(shared)


def test_with_block_transactions_and_queries_inside_them_keep_the_turn(
    conns: tuple[sqlite3.Connection, sqlite3.Connection],
) -> None:
    shared, other = conns
    with shared:
        shared.execute("BEGIN IMMEDIATE")
        rows = shared.execute("SELECT x FROM t WHERE x < 3 ORDER BY x")  # read lazily, inside
        shared.execute("DELETE FROM t WHERE x = 9")
        assert [x for (x,) in rows] == [0, 1, 2]
    assert 9 not in _xs(other)
    # the turn is free again: another thread gets it at once
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.extend(_xs(shared)))
    thread.start()
    thread.join(timeout=5)
    assert result == list(range(9))


def test_a_transaction_held_too_long_is_an_error_for_the_thread_that_waits(
    conns: tuple[sqlite3.Connection, sqlite3.Connection], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared_conn, "TURN_TIMEOUT_S", 0.2)
    shared, _ = conns
    shared.execute("BEGIN IMMEDIATE")
    errors: list[Exception] = []

    def read() -> None:
        try:
            shared.execute("SELECT COUNT(*) FROM t")
        except sqlite3.OperationalError as err:
            errors.append(err)

    thread = threading.Thread(target=read)
    started = time.monotonic()
    thread.start()
    thread.join(timeout=10)
    assert time.monotonic() - started < 5
    shared.execute("COMMIT")
    assert len(errors) == 1 and "database is locked" in str(errors[0])
    assert shared.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 10


def test_a_failed_statement_in_a_transaction_leaves_it_to_its_thread(
    conns: tuple[sqlite3.Connection, sqlite3.Connection],
) -> None:
    shared, _ = conns
    shared.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError):
        shared.execute("INSERT INTO nowhere VALUES (1)")
    assert shared.in_transaction
    shared.execute("ROLLBACK")
    thread = threading.Thread(target=lambda: shared.execute("INSERT INTO t VALUES (7)"))
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive()
