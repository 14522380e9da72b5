"""Documents kept as JSON, per book: what a small ledger emulator (FreshBooks, Zoho Books, Sage, FreeAgent,
MYOB) stores, so that its own modules hold only its rules and its wire format.

    store = DocumentStore(path)                       # a SqliteState with the kit's journal and these tables
    number = store.insert(book, "invoice", body, number="INV-1")   -> the new id (1, 2, ... per book and kind)
    store.get(book, "invoice", 7)                     -> {"id", "number", "state", "updated_at", "body"} or None
    store.find(book, "invoice", number="INV-1")       -> the same, or None
    store.rows(book, "invoice", since=epoch)          -> every one changed at or after `since`, oldest first
    store.replace(book, "invoice", 7, body, state="deleted", number=...)
    store.lock_date(book) / store.set_lock_date(book, "2026-09-30" | None)
    store.replay(book, key) / store.remember(book, key, status, answer)   an idempotency key's first answer

`book` is the platform's tenant (FreshBooks' account, Zoho's organization, MYOB's company file).
`state` is the emulator's word (active, deleted, voided...). Bodies are parsed with Decimal money
(`wire.loads`) and written with `wire.dumps`, so amounts stay exact. `updated_at` is epoch seconds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bridge_assets.sandbox.kit import wire
from bridge_assets.sandbox.kit.state import SqliteState, journal_schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    book TEXT NOT NULL,
    kind TEXT NOT NULL,
    id INTEGER NOT NULL,
    number TEXT,
    state TEXT NOT NULL DEFAULT 'active',
    updated_at REAL NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (book, kind, id)
);
CREATE INDEX IF NOT EXISTS documents_number ON documents (book, kind, number);
CREATE TABLE IF NOT EXISTS books (
    book TEXT PRIMARY KEY,
    lock_date TEXT
);
CREATE TABLE IF NOT EXISTS idempotency (
    book TEXT NOT NULL,
    key TEXT NOT NULL,
    status INTEGER NOT NULL,
    answer TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (book, key)
);
"""


class DocumentStore(SqliteState):
    schema = journal_schema("book TEXT") + SCHEMA

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._last = 0.0

    def _now(self) -> float:
        """Strictly increasing times, so two writes in one clock tick still order by `updated_at`."""
        with self._lock:
            self._last = max(time.time(), self._last + 1e-6)
            return self._last

    @staticmethod
    def _row(row: Any) -> dict[str, Any] | None:
        if row is None:
            return None
        return {"id": row["id"], "number": row["number"], "state": row["state"], "updated_at": row["updated_at"],
                "body": wire.loads(row["body"])}

    def insert(self, book: str, kind: str, body: dict[str, Any], *, number: str | None = None,
               state: str = "active") -> int:
        with self.transaction():
            row = self.fetchone("SELECT coalesce(max(id), 0) + 1 AS n FROM documents WHERE book = ? AND kind = ?",
                                (book, kind))
            new_id = int(row["n"])
            self.execute("INSERT INTO documents (book, kind, id, number, state, updated_at, body) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (book, kind, new_id, number, state, self._now(), wire.dumps(body).decode("utf-8")))
        return new_id

    def replace(self, book: str, kind: str, doc_id: int, body: dict[str, Any], *, state: str | None = None,
                number: str | None = None) -> None:
        self.execute("UPDATE documents SET body = ?, updated_at = ?, state = coalesce(?, state), "
                     "number = coalesce(?, number) WHERE book = ? AND kind = ? AND id = ?",
                     (wire.dumps(body).decode("utf-8"), self._now(), state, number, book, kind, doc_id))

    def get(self, book: str, kind: str, doc_id: int | str) -> dict[str, Any] | None:
        try:
            doc_id = int(doc_id)
        except (TypeError, ValueError):
            return None
        return self._row(self.fetchone("SELECT * FROM documents WHERE book = ? AND kind = ? AND id = ?",
                                       (book, kind, doc_id)))

    def find(self, book: str, kind: str, *, number: str, state: str | None = None) -> dict[str, Any] | None:
        """The document of that number (the newest, when the platform lets numbers repeat)."""
        sql = "SELECT * FROM documents WHERE book = ? AND kind = ? AND number = ?"
        params: tuple = (book, kind, number)
        if state is not None:
            sql, params = sql + " AND state = ?", params + (state,)
        return self._row(self.fetchone(sql + " ORDER BY id DESC LIMIT 1", params))

    def rows(self, book: str, kind: str, *, since: float | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM documents WHERE book = ? AND kind = ?", (book, kind)
        if since is not None:
            sql, params = sql + " AND updated_at >= ?", params + (since,)
        return [self._row(row) for row in self.fetchall(sql + " ORDER BY updated_at, id", params)]

    def count(self, book: str, kind: str) -> int:
        return int(self.fetchone("SELECT count(*) AS n FROM documents WHERE book = ? AND kind = ?",
                                 (book, kind))["n"])

    # --- the book's lock date ------------------------------------------------------------------------

    def lock_date(self, book: str) -> str | None:
        row = self.fetchone("SELECT lock_date FROM books WHERE book = ?", (book,))
        return row["lock_date"] if row else None

    def set_lock_date(self, book: str, day: str | None) -> None:
        self.execute("INSERT INTO books (book, lock_date) VALUES (?, ?) ON CONFLICT (book) DO UPDATE SET "
                     "lock_date = excluded.lock_date", (book, day))

    # --- idempotency keys ----------------------------------------------------------------------------

    def replay(self, book: str, key: str, window_s: float) -> tuple[int, Any] | None:
        """The first answer given under `key` within `window_s` real seconds, or None."""
        row = self.fetchone("SELECT status, answer, at FROM idempotency WHERE book = ? AND key = ?", (book, key))
        if row is None or time.time() - row["at"] > window_s:
            return None
        return int(row["status"]), wire.loads(row["answer"])

    def remember(self, book: str, key: str, status: int, answer: Any) -> None:
        self.execute("INSERT OR REPLACE INTO idempotency (book, key, status, answer, at) VALUES (?, ?, ?, ?, ?)",
                     (book, key, status, wire.dumps(answer).decode("utf-8"), time.time()))

    def forget_everything(self) -> None:
        with self.transaction():
            for table in ("documents", "books", "idempotency", "journal"):
                self.execute(f"DELETE FROM {table}")
