"""The queue between the destination and the Web Connector service: one SQLite file both processes open.

QuickBooks Desktop is reached the other way round from every other platform: the bridge does not call
it, the QuickBooks Web Connector (a Windows program beside QuickBooks) calls our SOAP service on its
schedule and asks for work. So the destination (in a bridge run) writes qbXML message sets here and waits
for their answers; the service (`bridge webconnector`, its own process: it never opens DuckDB) hands them
out and stores what QuickBooks answered.

A message set's life: `queued` -> `handed_out` (written and committed BEFORE the service returns it to the
Web Connector, with the session's ticket) -> `answered` (the response, or the error QuickBooks reported).
A destination that stops waiting withdraws what is still `queued` (never handed out, so never applied);
what was handed out and never answered is in doubt: the ledger keeps those documents `sending` and the
next run finds them by number (an InvoiceQuery on RefNumber), never adding them blindly a second time.
A session whose Web Connector never closed it is over once a newer session starts (the Web Connector runs
one session at a time, on its schedule): a set handed out to it and never answered is then in doubt at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS message_sets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    company TEXT NOT NULL,
    purpose TEXT NOT NULL,              -- what the destination asks, for the log ("post 30 documents")
    qbxml TEXT NOT NULL,
    state TEXT NOT NULL,                -- queued | handed_out | answered | withdrawn
    queued_at REAL NOT NULL,
    ticket TEXT, handed_out_at REAL,
    response TEXT, error TEXT, answered_at REAL
);
CREATE INDEX IF NOT EXISTS message_sets_state ON message_sets (company, state, id);
CREATE TABLE IF NOT EXISTS sessions (
    ticket TEXT PRIMARY KEY,
    company TEXT NOT NULL,
    user_name TEXT NOT NULL,
    started_at REAL NOT NULL,
    company_file TEXT, host_versions TEXT,
    handed_out INTEGER NOT NULL DEFAULT 0, answered INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    closed_at REAL, closed_because TEXT
);
"""


@dataclasses.dataclass(frozen=True)
class MessageSet:
    id: int
    company: str
    purpose: str
    qbxml: str
    state: str
    ticket: str | None
    response: str | None
    error: str | None
    handed_out_at: float | None


class Queue:
    """Thread-safe and process-safe (SQLite WAL, short transactions, a busy timeout)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # --- the destination's side ----------------------------------------------------------------------

    def enqueue(self, company: str, purpose: str, qbxml: str) -> int:
        with self._tx() as con:
            cur = con.execute("INSERT INTO message_sets (company, purpose, qbxml, state, queued_at) "
                              "VALUES (?, ?, ?, 'queued', ?)", [company, purpose, qbxml, time.time()])
            return int(cur.lastrowid)

    def get(self, set_id: int) -> MessageSet:
        with self._lock:
            row = self._conn.execute("SELECT id, company, purpose, qbxml, state, ticket, response, error, handed_out_at "
                                     "FROM message_sets WHERE id = ?", [set_id]).fetchone()
        return MessageSet(*row)

    def withdraw(self, set_id: int) -> MessageSet:
        """Stop offering a message set that was never handed out; returns it as it stands."""
        with self._tx() as con:
            con.execute("UPDATE message_sets SET state = 'withdrawn' WHERE id = ? AND state = 'queued'", [set_id])
        return self.get(set_id)

    def wait(self, set_id: int, wait_s: float, answer_s: float, poll_s: float = 0.02) -> MessageSet:
        """The message set once answered; or withdrawn when no Web Connector asked for it within `wait_s`;
        or still `handed_out` when its answer did not come within `answer_s` of handing it out (in doubt)."""
        start = time.monotonic()
        while True:
            found = self.get(set_id)
            if found.state in ("answered", "withdrawn"):
                return found
            if found.state == "queued" and time.monotonic() - start >= wait_s:
                found = self.withdraw(set_id)
                if found.state == "withdrawn":
                    return found
            if found.state == "handed_out" and (time.time() - (found.handed_out_at or 0) >= answer_s
                                                or self.session_over(found.ticket)):
                return found
            time.sleep(poll_s)

    # --- the service's side --------------------------------------------------------------------------

    def open_session(self, company: str, user_name: str) -> str:
        ticket = str(uuid.uuid4())
        now = time.time()
        with self._tx() as con:
            con.execute("UPDATE sessions SET closed_at = ?, closed_because = 'a newer session started' "
                        "WHERE company = ? AND closed_at IS NULL", [now, company])
            con.execute("INSERT INTO sessions (ticket, company, user_name, started_at) VALUES (?, ?, ?, ?)",
                        [ticket, company, user_name, now])
        return ticket

    def session(self, ticket: str) -> sqlite3.Row | None:
        with self._lock:
            self._conn.row_factory = sqlite3.Row
            try:
                return self._conn.execute("SELECT * FROM sessions WHERE ticket = ?", [ticket]).fetchone()
            finally:
                self._conn.row_factory = None

    def session_over(self, ticket: str | None) -> bool:
        """The session ended (closed, or a newer one started: the Web Connector runs one at a time)."""
        with self._lock:
            row = self._conn.execute("SELECT closed_at FROM sessions WHERE ticket = ?", [ticket or ""]).fetchone()
        return row is not None and row[0] is not None

    def note_session(self, ticket: str, *, company_file: str | None = None, host_versions: str | None = None,
                     last_error: str | None = None) -> None:
        with self._tx() as con:
            con.execute("UPDATE sessions SET company_file = coalesce(?, company_file), "
                        "host_versions = coalesce(?, host_versions), last_error = coalesce(?, last_error) "
                        "WHERE ticket = ?", [company_file, host_versions, last_error, ticket])

    def close_session(self, ticket: str, because: str) -> None:
        with self._tx() as con:
            con.execute("UPDATE sessions SET closed_at = ?, closed_because = ? WHERE ticket = ? AND closed_at IS NULL",
                        [time.time(), because, ticket])

    def waiting(self, company: str) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM message_sets WHERE company = ? AND state = 'queued'",
                                      [company]).fetchone()[0]

    def hand_out(self, company: str, ticket: str) -> MessageSet | None:
        """The oldest queued message set, marked handed out to this session (committed before it leaves)."""
        with self._tx() as con:
            row = con.execute("SELECT id FROM message_sets WHERE company = ? AND state = 'queued' ORDER BY id LIMIT 1",
                              [company]).fetchone()
            if row is None:
                return None
            con.execute("UPDATE message_sets SET state = 'handed_out', ticket = ?, handed_out_at = ? WHERE id = ?",
                        [ticket, time.time(), row[0]])
            con.execute("UPDATE sessions SET handed_out = handed_out + 1 WHERE ticket = ?", [ticket])
        return self.get(row[0])

    def outstanding(self, ticket: str) -> MessageSet | None:
        """The message set this session holds and has not answered (at most one at a time)."""
        with self._lock:
            row = self._conn.execute("SELECT id FROM message_sets WHERE ticket = ? AND state = 'handed_out' "
                                     "ORDER BY id DESC LIMIT 1", [ticket]).fetchone()
        return None if row is None else self.get(row[0])

    def answer(self, set_id: int, *, response: str | None, error: str | None) -> None:
        with self._tx() as con:
            con.execute("UPDATE message_sets SET state = 'answered', response = ?, error = ?, answered_at = ? "
                        "WHERE id = ? AND state = 'handed_out'", [response, error, time.time(), set_id])
            con.execute("UPDATE sessions SET answered = answered + 1 WHERE ticket = "
                        "(SELECT ticket FROM message_sets WHERE id = ?)", [set_id])

    def session_progress(self, ticket: str, company: str) -> tuple[int, int]:
        """(answered in this session, still queued for the company)."""
        with self._lock:
            answered = self._conn.execute("SELECT count(*) FROM message_sets WHERE ticket = ? AND state = 'answered'",
                                          [ticket]).fetchone()[0]
        return answered, self.waiting(company)
