"""A SQLite connection that several threads can share without stepping into each other.

The device and the site each keep one connection that the event loop, the camera threads, the
MQTT tick and the live feeds all use. SQLite keeps transactions per *connection*, not per
thread, so a bare shared connection lets one thread's statements land inside another thread's
``BEGIN IMMEDIATE`` (rolled back with it, or refused: "cannot start a transaction within a
transaction"), and a half-read ``SELECT`` on one thread keeps a read snapshot open under a write
from another: when a second connection (the MQTT outbox's) has written since, that write fails at
once with "database is locked" (SQLite's busy time-out does not apply to a stale snapshot).

So every statement takes the connection's turn, a re-entrant lock: a query outside a
transaction is read to the end while it holds the turn (its rows are kept in the cursor), and a
thread that opens a transaction keeps the turn until it commits or rolls back. Waiting for the
turn has a time-out, as SQLite's own busy wait does.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self

#: How long a statement waits for another thread's transaction (SQLite's busy time-out is the same).
TURN_TIMEOUT_S = 10.0


class SharedConnection(sqlite3.Connection):
    """A connection whose statements and transactions are taken one thread at a time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turn = threading.RLock()
        self._holding = False  # the thread inside a transaction holds one more count of _turn

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the connection for a statement (while a transaction is open: until it ends)."""
        if not self._turn.acquire(timeout=TURN_TIMEOUT_S):
            raise sqlite3.OperationalError(
                f"database is locked: another thread held a transaction for {TURN_TIMEOUT_S:.0f} s"
            )
        try:
            yield
        finally:
            self._settle()
            self._turn.release()

    def _settle(self) -> None:
        """Keep the turn while a transaction is open; give it back when it has ended."""
        try:
            open_now = self.in_transaction
        except sqlite3.ProgrammingError:  # closed
            open_now = False
        if open_now and not self._holding:
            self._turn.acquire()
            self._holding = True
        elif not open_now and self._holding:
            self._holding = False
            self._turn.release()

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or SharedCursor)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        cursor: sqlite3.Cursor = self.cursor()
        return cursor.execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        cursor: sqlite3.Cursor = self.cursor()
        return cursor.executemany(sql, parameters)

    def executescript(self, sql_script: str, /) -> sqlite3.Cursor:
        cursor: sqlite3.Cursor = self.cursor()
        return cursor.executescript(sql_script)

    def commit(self) -> None:
        with self.turn():
            super().commit()

    def rollback(self) -> None:
        with self.turn():
            super().rollback()

    def close(self) -> None:
        with self.turn():
            super().close()

    def __exit__(self, *exc: Any) -> Any:
        with self.turn():
            return super().__exit__(*exc)


class SharedCursor(sqlite3.Cursor):
    """A cursor of a :class:`SharedConnection`: outside a transaction, a query's rows are read
    while the statement holds the turn and then served from memory."""

    _rows: deque[Any] | None = None

    def _shared(self) -> SharedConnection:
        conn = self.connection
        assert isinstance(conn, SharedConnection)
        return conn

    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        conn = self._shared()
        with conn.turn():
            self._rows = None
            super().execute(sql, parameters)
            if not conn.in_transaction:
                self._rows = deque(super().fetchall())
        return self

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Self:
        with self._shared().turn():
            self._rows = None
            super().executemany(sql, seq_of_parameters)
        return self

    def executescript(self, sql_script: str, /) -> Self:
        with self._shared().turn():
            self._rows = None
            super().executescript(sql_script)
        return self

    def fetchone(self) -> Any:
        if self._rows is None:
            return super().fetchone()
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        if self._rows is None:
            return super().fetchmany(self.arraysize if size is None else size)
        count = self.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(count, len(self._rows)))]

    def fetchall(self) -> list[Any]:
        if self._rows is None:
            return super().fetchall()
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Any:
        if self._rows is None:
            return super().__next__()
        if not self._rows:
            raise StopIteration
        return self._rows.popleft()
