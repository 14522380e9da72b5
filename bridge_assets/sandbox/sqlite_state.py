"""The SQLite plumbing under every emulator's `Store`: one file, one connection, one lock.

Each emulator's `store.py` subclasses `SqliteState` with its own `SCHEMA` and its own queries; what
is the same for all of them is how the file is opened, how a transaction behaves and how a statement
is run from many threads.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path


class SqliteState:
    """All persistent state of one emulator. Thread-safe: one connection behind a re-entrant lock.

    uvicorn answers requests from a thread pool and tests call in from their own thread, so every
    use of the connection holds `_lock`. It is re-entrant because a transaction holds it while the
    statements inside take it again. The connection is in autocommit mode (`isolation_level=None`)
    so that `transaction` alone decides where a transaction starts and ends.

    Subclasses set `schema` (run on open; `CREATE ... IF NOT EXISTS`, so reopening a file after a
    restart keeps its data) and, if they must, `savepoints` (see `transaction`).
    """

    schema: str = ""
    # Nested `transaction()`: a savepoint of its own (True) or simply part of the outer one (False).
    savepoints: bool = True

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._depth = 0
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        # WAL + NORMAL survives a killed process (not a power cut), which is the crash we emulate.
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._conn.executescript(self.schema)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing. BEGIN IMMEDIATE takes the write lock up front, so a transaction that reads
        and then writes cannot fail half-way on a lock another connection took in between.

        Nested use, with `savepoints`, becomes a savepoint: an inner failure rolls back the inner
        block alone (one batch item can fail while the rest commit). Without, it joins the outer
        transaction: nothing is committed or rolled back until the outermost block ends.
        """
        with self._lock:
            depth = self._depth
            nested = depth > 0
            self._depth += 1
            if not nested:
                self._conn.execute("BEGIN IMMEDIATE")
            elif self.savepoints:
                self._conn.execute(f"SAVEPOINT sp{depth}")
            try:
                yield
            except BaseException:
                if not nested:
                    self._conn.execute("ROLLBACK")
                elif self.savepoints:
                    self._conn.execute(f"ROLLBACK TO sp{depth}")
                    self._conn.execute(f"RELEASE sp{depth}")
                raise
            else:
                if not nested:
                    self._conn.execute("COMMIT")
                elif self.savepoints:
                    self._conn.execute(f"RELEASE sp{depth}")
            finally:
                self._depth -= 1

    def execute(self, sql: str, params: tuple | dict = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    def fetchall(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def fetchone(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()
