"""Exactly-once state: `ledger_postings` (one row per destination and document) and `ledger_events`
(append-only audit trail). Nothing else writes these tables.

Protocol (ARCHITECTURE section 5):
1. Plan compares the document's `content_hash` with the row's `content_hash` (what the destination
   holds as far as the ledger knows): same and `posted` -> skip.
2. Before any request, `mark_sending` writes state `sending`, the hash in flight and a deterministic
   request id, and commits.
3. `record_outcomes` writes `posted` / `failed` / `held` (or leaves `sending` when the outcome is
   unknown) with an event carrying the destination's state before and after.
4. Every run first resolves rows still `sending` (see posting.resolve_unknown_outcomes).

`generation` moves on when a document must be sent afresh (after a definitive failure, or a revert),
so a destination that replays responses by request id never replays an old failure forever.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import hashlib
from typing import Iterable, Sequence

import duckdb

from bridge_assets.model.outcome import BY_HAND_CODES, Action, Outcome, Status
from bridge_assets.runtime.frames import object_frame

STATES = ("sending", "posted", "failed", "held", "voided", "reverting", "reverted")

# Failures that sending the same content again can never fix: the plan waits for a person (or for
# the content to change) instead of failing again every night.
NEEDS_A_PERSON = tuple(BY_HAND_CODES.values())   # update, payment, void, restore: what a platform may lack



# Documents the ledger knows, in any state: a credit may apply to an invoice posted from an earlier export.
KNOWN_DOC_KEYS_SQL = "SELECT doc_key FROM ledger_postings"


def request_id(destination: str, doc_key: str, content_hash: str, generation: int) -> str:
    """Deterministic: the same document content and generation always gets the same id, shaped like a
    UUID (36 characters: inside QuickBooks' 50, and its 36 inside a batch). `REQUEST_ID_SQL` computes
    the same value in DuckDB so a plan of 400,000 documents needs no Python loop."""
    d = hashlib.sha256(f"{destination}|{doc_key}|{content_hash}|{generation}".encode()).hexdigest()
    return f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:32]}"


def request_id_sql(destination: str, doc_key: str, content_hash: str, generation: str) -> str:
    """SQL expression equal to `request_id` over the given column expressions."""
    digest = f"sha256({destination} || '|' || {doc_key} || '|' || {content_hash} || '|' || CAST({generation} AS VARCHAR))"
    return (f"(substr({digest}, 1, 8) || '-' || substr({digest}, 9, 4) || '-' || substr({digest}, 13, 4) || '-' "
            f"|| substr({digest}, 17, 4) || '-' || substr({digest}, 21, 12))")


@dataclasses.dataclass(frozen=True)
class Sending:
    doc_key: str
    period: str
    doc_type: str
    doc_number: str
    content_hash: str
    action: Action
    request_id: str


@dataclasses.dataclass(frozen=True)
class PostingRow:
    destination: str
    doc_key: str
    period: str
    doc_type: str
    doc_number: str
    content_hash: str | None
    sending_hash: str | None
    sending_action: str | None
    failed_hash: str | None
    state: str
    dest_id: str | None
    dest_doc_number: str | None
    sync_token: str | None
    request_id: str | None
    generation: int
    attempts: int
    last_error_code: str | None
    last_error: str | None
    reverted_hash: str | None = None


_ROW_COLUMNS = [f.name for f in dataclasses.fields(PostingRow)]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _json(value: dict | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def rows(con: duckdb.DuckDBPyConnection, destination: str, doc_keys: Iterable[str] | None = None,
         state: str | None = None) -> dict[str, PostingRow]:
    sql = f"SELECT {', '.join(_ROW_COLUMNS)} FROM ledger_postings WHERE destination = ?"
    params: list = [destination]
    if doc_keys is not None:
        sql += " AND doc_key IN (SELECT unnest(?))"
        params.append(list(doc_keys))
    if state is not None:
        sql += " AND state = ?"
        params.append(state)
    return {r[1]: PostingRow(*r) for r in con.execute(sql, params).fetchall()}


def _frame(con: duckdb.DuckDBPyConnection, name: str, columns: list[str], rows: list[list]) -> None:
    """Register rows as a relation: DuckDB writes a whole batch in one statement far faster than row by row."""
    con.register(name, object_frame(rows, columns))


def mark_sending(con: duckdb.DuckDBPyConnection, destination: str, run_id: str, items: Sequence[Sending]) -> None:
    """Step 2 of the protocol. Call inside a transaction and commit before sending anything."""
    if not items:
        return
    now = _now()
    _frame(con, "_sending", ["doc_key", "period", "doc_type", "doc_number", "content_hash", "action", "request_id"],
           [[s.doc_key, s.period, s.doc_type, s.doc_number, s.content_hash, s.action.value, s.request_id] for s in items])
    try:
        con.execute(
            """
            INSERT INTO ledger_postings (destination, doc_key, period, doc_type, doc_number, sending_hash, sending_action,
                                         state, request_id, attempts, last_run_id, updated_at)
            SELECT $destination, doc_key, period, doc_type, doc_number, content_hash, action, 'sending', request_id, 1,
                   $run_id, $now
            FROM _sending
            ON CONFLICT (destination, doc_key) DO UPDATE SET
                period = excluded.period, doc_type = excluded.doc_type, doc_number = excluded.doc_number,
                sending_hash = excluded.sending_hash, sending_action = excluded.sending_action, state = 'sending',
                request_id = excluded.request_id, attempts = ledger_postings.attempts + 1,
                last_run_id = excluded.last_run_id, updated_at = excluded.updated_at
            """,
            {"destination": destination, "run_id": run_id, "now": now},
        )
        con.execute(
            """INSERT INTO ledger_events (doc_key, destination, run_id, action, outcome, request_id, content_hash, "at")
               SELECT doc_key, $destination, $run_id, action, 'sending', request_id, content_hash, $now FROM _sending""",
            {"destination": destination, "run_id": run_id, "now": now},
        )
    finally:
        con.unregister("_sending")


def record_outcomes(
    con: duckdb.DuckDBPyConnection, destination: str, run_id: str,
    results: Sequence[tuple[Sending, Outcome]],
) -> None:
    """Step 3. One event per outcome; the posting row moves to the state the outcome implies:
    created/updated -> posted; failed/held -> failed/held with a new generation (so a destination that
    replays by request id never hands back the same refusal forever); retry (outcome unknown, or refused
    before processing) -> stays `sending`, resolved first on the next run."""
    if not results:
        return
    for sending, outcome in results:
        if outcome.status not in _STATE_AFTER:  # pragma: no cover - a new Status must be handled here first
            raise ValueError(f"unhandled outcome status {outcome.status}")
    now = _now()
    _frame(con, "_outcomes",
           ["doc_key", "action", "outcome", "request_id", "content_hash", "http_status", "error_code", "message",
            "before", "after", "dest_id", "dest_doc_number", "version", "new_state"],
           [[s.doc_key, s.action.value, o.status.value, s.request_id, s.content_hash, o.http_status, o.error_code,
             o.message, _json(o.before), _json(o.after), o.dest_id, o.dest_doc_number, o.version,
             _STATE_AFTER[o.status]] for s, o in results])
    params = {"destination": destination, "run_id": run_id, "now": now}
    try:
        con.execute(
            """INSERT INTO ledger_events (doc_key, destination, run_id, action, outcome, request_id, content_hash,
                                          http_status, error_code, message, before, after, "at")
               SELECT doc_key, $destination, $run_id, action, outcome, request_id, content_hash,
                      CAST(http_status AS INTEGER), error_code, message, before, after, $now FROM _outcomes""",
            params,
        )
        con.execute(
            """UPDATE ledger_postings p SET
                   state = o.new_state,
                   content_hash = CASE WHEN o.new_state = 'posted' THEN p.sending_hash ELSE p.content_hash END,
                   failed_hash = CASE WHEN o.new_state IN ('failed', 'held') THEN p.sending_hash ELSE p.failed_hash END,
                   sending_hash = CASE WHEN o.new_state = 'sending' THEN p.sending_hash END,
                   sending_action = CASE WHEN o.new_state = 'sending' THEN p.sending_action END,
                   -- a voided document that comes back is a new document to the destination: a fresh request id
                   generation = p.generation + CASE WHEN o.new_state IN ('failed', 'held', 'voided') THEN 1 ELSE 0 END,
                   dest_id = coalesce(o.dest_id, p.dest_id),
                   dest_doc_number = coalesce(o.dest_doc_number, p.dest_doc_number),
                   sync_token = coalesce(o.version, p.sync_token),
                   last_error_code = CASE WHEN o.new_state = 'posted' THEN NULL ELSE o.error_code END,
                   last_error = CASE WHEN o.new_state = 'posted' THEN NULL ELSE o.message END,
                   first_posted_at = CASE WHEN o.new_state = 'posted' THEN coalesce(p.first_posted_at, $now) ELSE p.first_posted_at END,
                   last_posted_at = CASE WHEN o.new_state = 'posted' THEN $now ELSE p.last_posted_at END,
                   last_run_id = $run_id, updated_at = $now
               FROM _outcomes o
               WHERE p.destination = $destination AND p.doc_key = o.doc_key""",
            params,
        )
    finally:
        con.unregister("_outcomes")


_STATE_AFTER = {
    Status.CREATED: "posted", Status.UPDATED: "posted", Status.VOIDED: "voided",
    Status.FAILED: "failed", Status.HELD: "held", Status.RETRY: "sending",
}


def mark_held(con: duckdb.DuckDBPyConnection, destination: str, run_id: str,
              items: Sequence[tuple[Sending, str] | tuple[Sending, str, str]]) -> int:
    """Documents the plan holds without sending anything: (sending, reason[, code]), the code
    `period_closed` (dated in a closed period: the credit queue shows them and the replay sensor finds
    them) unless given (`number_reused`: waits for a person). The row takes the held version's period.
    Rows already held for the same content and reason are left alone (no event per night)."""
    fresh = []
    current = rows(con, destination, [item[0].doc_key for item in items])
    for sending, reason, *given in items:
        code = given[0] if given else "period_closed"
        row = current.get(sending.doc_key)
        if (row is not None and row.state == "held" and row.failed_hash == sending.content_hash
                and row.last_error_code == code):
            continue
        fresh.append((sending, reason, code))
    if not fresh:
        return 0
    now = _now()
    for sending, reason, code in fresh:
        con.execute(
            """INSERT INTO ledger_postings (destination, doc_key, period, doc_type, doc_number, state, failed_hash,
                                            last_error_code, last_error, last_run_id, updated_at)
               VALUES (?, ?, ?, ?, ?, 'held', ?, ?, ?, ?, ?)
               ON CONFLICT (destination, doc_key) DO UPDATE SET state = 'held', failed_hash = excluded.failed_hash,
                   period = excluded.period, last_error_code = excluded.last_error_code, last_error = excluded.last_error,
                   last_run_id = excluded.last_run_id, updated_at = excluded.updated_at""",
            [destination, sending.doc_key, sending.period, sending.doc_type, sending.doc_number,
             sending.content_hash, code, reason, run_id, now],
        )
        con.execute(
            """INSERT INTO ledger_events (doc_key, destination, run_id, action, outcome, content_hash, error_code,
                                          message, "at") VALUES (?, ?, ?, 'hold', 'held', ?, ?, ?, ?)""",
            [sending.doc_key, destination, run_id, sending.content_hash, code, reason, now],
        )
    return len(fresh)


def record_decision(con: duckdb.DuckDBPyConnection, destination: str, run_id: str, doc_key: str, content_hash: str,
                    decision: str, outcome: str, message: str) -> None:
    """A person's decision about a held document (number_reuse.py), as an event. `reject`: the books keep
    what was posted, so the row is `posted` again (its content_hash is still what the destination holds);
    `release`: the row stays `held` until the next run sends the update."""
    now = _now()
    con.execute(
        """INSERT INTO ledger_events (doc_key, destination, run_id, action, outcome, content_hash, message, "at")
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        [doc_key, destination, run_id, decision, outcome, content_hash, message, now])
    if decision == "reject":
        con.execute(
            "UPDATE ledger_postings SET state = 'posted', last_error_code = NULL, last_error = NULL, last_run_id = ?, "
            "updated_at = ? WHERE destination = ? AND doc_key = ?", [run_id, now, destination, doc_key])


def last_sent(con: duckdb.DuckDBPyConnection, destination: str, doc_keys: Iterable[str]) -> dict[str, dict]:
    """What the destination was last given for each document (the `after` of its last success)."""
    keys = list(doc_keys)
    if not keys:
        return {}
    found = con.execute(
        """SELECT doc_key, after FROM (
               SELECT doc_key, after, row_number() OVER (PARTITION BY doc_key ORDER BY event_id DESC) AS n
               FROM ledger_events
               WHERE destination = ? AND outcome IN ('created', 'updated') AND after IS NOT NULL
                 AND doc_key IN (SELECT unnest(?)))
           WHERE n = 1""",
        [destination, keys],
    ).fetchall()
    return {k: json.loads(v) for k, v in found}


def state_counts(con: duckdb.DuckDBPyConnection, periods: Sequence[str] | None = None) -> list[tuple]:
    sql = "SELECT destination, state, count(*) FROM ledger_postings"
    params: list = []
    if periods:
        sql += " WHERE period IN (SELECT unnest(?))"
        params.append(list(periods))
    return con.execute(sql + " GROUP BY ALL ORDER BY ALL", params).fetchall()


# --- writing back to the source ------------------------------------------------------------------

def record_source_writeback(con: duckdb.DuckDBPyConnection, source: str, run_id: str | None,
                            items: Sequence[tuple[str, str, str | None, str, dict | None]]) -> None:
    """One event per write-back to a source system (`destination` = the source's name, action
    `writeback`): (doc_key, outcome such as processed / failed / noted / waiting, content_hash, message, after)."""
    if not items:
        return
    now = _now()
    for doc_key, outcome, digest, message, after in items:
        con.execute(
            """INSERT INTO ledger_events (doc_key, destination, run_id, action, outcome, content_hash, message, after, "at")
               VALUES (?, ?, ?, 'writeback', ?, ?, ?, ?, ?)""",
            [doc_key, source, run_id, outcome, digest, message, _json(after), now],
        )


# --- revert: `posted -> reverting -> reverted` ------------------------------------------------------

REVERT_OPERATIONS = ("void", "delete", "restore")


@dataclasses.dataclass(frozen=True)
class Reverting:
    """One document on its way back: what is done to it and what the ledger says afterwards."""

    doc_key: str
    operation: str                   # void | delete | restore
    previous_state: str              # the state it returns to when the destination refuses
    restored_hash: str | None = None  # restore: the content the destination holds again (None: unknown)
    source_hash: str | None = None   # the source's content now: not posted again until it changes


def mark_reverting(con: duckdb.DuckDBPyConnection, destination: str, run_id: str, items: Sequence[Reverting]) -> None:
    """Before any undo request: the row says `reverting` (the operation in `sending_action`) and an event
    says so. Call inside a transaction and commit before calling the destination; a row left `reverting`
    by a crash is settled first by the next revert, and a normal run leaves it alone meanwhile."""
    if not items:
        return
    for item in items:
        if item.operation not in REVERT_OPERATIONS:  # pragma: no cover - revert.py only builds these
            raise ValueError(f"unknown revert operation {item.operation!r}")
    now = _now()
    _frame(con, "_reverting", ["doc_key", "operation"], [[i.doc_key, i.operation] for i in items])
    params = {"destination": destination, "run_id": run_id, "now": now}
    try:
        con.execute(
            """INSERT INTO ledger_events (doc_key, destination, run_id, action, outcome, content_hash, message, "at")
               SELECT r.doc_key, $destination, $run_id, 'revert', 'reverting', p.content_hash, r.operation, $now
               FROM _reverting r JOIN ledger_postings p ON p.destination = $destination AND p.doc_key = r.doc_key""",
            params,
        )
        con.execute(
            """UPDATE ledger_postings p SET state = 'reverting', sending_action = r.operation,
                   attempts = p.attempts + 1, last_run_id = $run_id, updated_at = $now
               FROM _reverting r WHERE p.destination = $destination AND p.doc_key = r.doc_key""",
            params,
        )
    finally:
        con.unregister("_reverting")


def record_reverted(con: duckdb.DuckDBPyConnection, destination: str, run_id: str,
                    results: Sequence[tuple[Reverting, Outcome]]) -> None:
    """The destination's answer to each undo, with an event (action `revert`, before/after).

    Done (voided, deleted, restored) -> `reverted` with a new generation, so posting it again later is
    a fresh request; a voided or deleted document keeps no destination id (a later post creates it anew),
    a restored one keeps its id and the content it holds again. Refused or held -> back to the state it
    had, with the reason. Unknown (RETRY) -> stays `reverting`, settled first by the next revert."""
    if not results:
        return
    now = _now()
    rows_ = []
    for item, outcome in results:
        if outcome.status in (Status.VOIDED, Status.UPDATED):
            new_state, label = "reverted", "reverted"
        elif outcome.status is Status.RETRY:
            new_state, label = "reverting", "retry"
        elif outcome.status is Status.HELD:
            new_state, label = item.previous_state, "held"
        else:
            new_state, label = item.previous_state, "failed"
        message = f"{item.operation}: {outcome.message}" if outcome.message else item.operation
        rows_.append([item.doc_key, item.operation, label, new_state, item.restored_hash, item.source_hash,
                      outcome.http_status, outcome.error_code, message, _json(outcome.before), _json(outcome.after),
                      outcome.version])
    _frame(con, "_reverted", ["doc_key", "operation", "outcome", "new_state", "restored_hash", "source_hash",
                              "http_status", "error_code", "message", "before", "after", "version"], rows_)
    params = {"destination": destination, "run_id": run_id, "now": now}
    try:
        con.execute(
            """INSERT INTO ledger_events (doc_key, destination, run_id, action, outcome, content_hash, http_status,
                                          error_code, message, before, after, "at")
               SELECT r.doc_key, $destination, $run_id, 'revert', r.outcome, p.content_hash,
                      CAST(r.http_status AS INTEGER), r.error_code, r.message, r.before, r.after, $now
               FROM _reverted r JOIN ledger_postings p ON p.destination = $destination AND p.doc_key = r.doc_key""",
            params,
        )
        con.execute(
            """UPDATE ledger_postings p SET
                   state = r.new_state,
                   reverted_hash = CASE WHEN r.new_state = 'reverted'
                                        THEN coalesce(r.source_hash, p.content_hash) ELSE p.reverted_hash END,
                   content_hash = CASE WHEN r.new_state <> 'reverted' THEN p.content_hash
                                       WHEN r.operation = 'restore' THEN r.restored_hash END,
                   dest_id = CASE WHEN r.new_state = 'reverted' AND r.operation <> 'restore' THEN NULL ELSE p.dest_id END,
                   dest_doc_number = CASE WHEN r.new_state = 'reverted' AND r.operation <> 'restore' THEN NULL
                                          ELSE p.dest_doc_number END,
                   sync_token = CASE WHEN r.new_state <> 'reverted' THEN p.sync_token
                                     WHEN r.operation = 'restore' THEN coalesce(r.version, p.sync_token) END,
                   generation = p.generation + CASE WHEN r.new_state = 'reverted' THEN 1 ELSE 0 END,
                   sending_action = CASE WHEN r.new_state = 'reverting' THEN p.sending_action END,
                   last_error_code = CASE WHEN r.new_state = 'reverted' THEN NULL ELSE r.error_code END,
                   last_error = CASE WHEN r.new_state = 'reverted' THEN NULL ELSE r.message END,
                   last_run_id = $run_id, updated_at = $now
               FROM _reverted r WHERE p.destination = $destination AND p.doc_key = r.doc_key""",
            params,
        )
    finally:
        con.unregister("_reverted")


def release_reverted(con: duckdb.DuckDBPyConnection, destination: str, run_id: str, doc_keys: Iterable[str]) -> int:
    """The bookkeeper wants reverted documents posted again: the next normal run posts them (a voided or
    deleted one is created anew, a restored one is updated). Returns how many were released."""
    keys = list(doc_keys)
    if not keys:
        return 0
    now = _now()
    released = [k for (k,) in con.execute(
        """SELECT doc_key FROM ledger_postings WHERE destination = ? AND state = 'reverted'
               AND reverted_hash IS NOT NULL AND doc_key IN (SELECT unnest(?)) ORDER BY doc_key""",
        [destination, keys]).fetchall()]
    if not released:
        return 0
    con.execute(
        """INSERT INTO ledger_events (doc_key, destination, run_id, action, outcome, content_hash, message, "at")
           SELECT doc_key, ?, ?, 'release', 'released', reverted_hash,
                  'released after a revert: the next run posts it again', ?
           FROM ledger_postings WHERE destination = ? AND doc_key IN (SELECT unnest(?))""",
        [destination, run_id, now, destination, released],
    )
    con.execute(
        "UPDATE ledger_postings SET reverted_hash = NULL, last_run_id = ?, updated_at = ? "
        "WHERE destination = ? AND doc_key IN (SELECT unnest(?))",
        [run_id, now, destination, released],
    )
    return len(released)
