"""The SQLite plumbing under every emulator's `Store`: one file, one connection, one lock.

Each emulator's `store.py` subclasses `SqliteState` with its own `SCHEMA` and its own queries; what
is the same for all of them is how the file is opened, how a transaction behaves, how a statement
is run from many threads, and the journal of API requests every emulator keeps (`journal_append`,
`journal_rows`: the columns `at, method, path, query, status, outcome` plus the emulator's own).
A restart (or a kill -9) loses nothing committed: state is the file, never the process.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Every emulator's journal: one row per API request, as it was answered. `outcome` is the emulator's
# word for what happened (processed, throttled, injected, unauthorized...); its own columns follow.
JOURNAL_COLUMNS = ("seq INTEGER PRIMARY KEY AUTOINCREMENT", "at REAL NOT NULL", "method TEXT NOT NULL",
                   "path TEXT NOT NULL", "query TEXT NOT NULL", "status INTEGER NOT NULL", "outcome TEXT NOT NULL")


def journal_schema(*own_columns: str) -> str:
    """CREATE TABLE journal: the kit's columns, then the emulator's own (SQL column definitions)."""
    return "CREATE TABLE IF NOT EXISTS journal (\n    " + ",\n    ".join((*JOURNAL_COLUMNS, *own_columns)) + "\n);\n"


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

    def executescript(self, script: str) -> None:
        """DDL of a part that owns its own tables (the kit's OAuth provider); commits what is pending."""
        with self._lock:
            self._conn.executescript(script)

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

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        with self._lock:
            self._conn.executemany(sql, rows)

    def columns(self, table: str) -> set[str]:
        """The column names of `table` (empty when it does not exist); `table` is a name from our code."""
        return {row["name"] for row in self.fetchall(f"PRAGMA table_info({table})")}

    # --- the journal: every API request, as the emulator answered it -------------------------------

    def journal_append(self, method: str, path: str, query: str, status: int, outcome: str,
                       **extra: Any) -> None:
        """One row of the `journal` table; `extra` are the emulator's own columns (realm_id, principal...)."""
        values = {"at": time.time(), "method": method, "path": path, "query": query, "status": status,
                  "outcome": outcome, **extra}
        names = ", ".join(values)
        marks = ", ".join("?" * len(values))
        self.execute(f"INSERT INTO journal ({names}) VALUES ({marks})", tuple(values.values()))

    def journal_rows(self, column: str | None = None, value: Any = None, *, since: int = 0) -> list[dict[str, Any]]:
        """The journal in order, after `since`, optionally only where `column` (a name from our code) is `value`."""
        where, params = "seq > ?", [since]
        if column is not None:
            where, params = f"{where} AND {column} = ?", params + [value]
        return [dict(row) for row in self.fetchall(f"SELECT * FROM journal WHERE {where} ORDER BY seq", tuple(params))]
