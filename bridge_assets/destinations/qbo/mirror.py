"""QuickBooks Online read back into DuckDB, so the books can be queried with SQL beside the source.

Invoice, CreditMemo, Payment, Customer and Item of one company (realm) land in `qbo_mirror`, one row
per entity and Id, with the columns a bookkeeper asks about (number, date, customer, total, balance,
SyncToken, last change, status) and the object's JSON as QuickBooks gave it. `qbo_mirror_state`
keeps, per entity, how far the mirror is known to be complete.

How it stays current (API_FACTS.md, "Limits" and "Webhooks"):
- First run: a full read per entity, paged (`STARTPOSITION`/`MAXRESULTS 1000`, the query maximum).
  Name lists are asked for `Active IN (true, false)`: a plain query returns only active ones.
- Then change data capture, one `GET /cdc` per entity, from the last watermark less a small overlap
  (re-reading an object is harmless, missing one is not). One request per entity because CDC
  answers at most 1,000 objects: asked together, a busy entity could crowd out another's changes.
- A full read instead whenever CDC cannot be trusted to be complete: the watermark is older than
  CDC's 30-day look-back (with a day of margin for clocks), QuickBooks refuses the `changedSince`,
  or an entity's answer reaches the 1,000-object cap.
- Deletes are noticed: CDC reports them with status `Deleted`; a full read marks what it no longer
  sees, after asking for those Ids once more (a deletion during a paged read shifts later pages,
  so absence from a page alone proves nothing). A deleted row keeps its last known content.
  Voided transactions (QuickBooks keeps their number with TotalAmt 0 and "Voided" in the note)
  are `voided`; customers and items made inactive are `inactive` (name lists are never deleted).

The watermark is the server's own `time` stamp of the first answer of a read, so our clock and
Intuit's never need to agree; `covers_until` is our clock just before that read started, which
reconciliation compares with the ledger's posting times to know the mirror saw every posting.

No database connection is open while QuickBooks is being asked: every page is written in its own
short transaction (DuckDB allows one writing process per file).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from decimal import Decimal
from typing import Any, Callable, Iterable, Protocol, Sequence

import duckdb

from bridge_assets.destinations.qbo.client import QboAnswer, QboUnavailable
from bridge_assets.destinations.qbo.payloads import dumps, is_voided, query_literal, ref_value
from bridge_assets.runtime.storage import Database
from bridge_assets.runtime.schema_once import made_once
from bridge_assets.runtime.frames import object_frame

log = logging.getLogger(__name__)

ENTITIES = ("Invoice", "CreditMemo", "Payment", "Customer", "Item")
TRANSACTIONS = ("Invoice", "CreditMemo", "Payment")
NAME_LISTS = ("Customer", "Item")
PAGE_SIZE = 1000                              # QuickBooks' MAXRESULTS ceiling
CDC_CAP = 1000                                # CDC answers at most this many objects
CDC_LOOKBACK = dt.timedelta(days=30)
CDC_MARGIN = dt.timedelta(days=1)             # clocks and time zones never push us past the look-back
DEFAULT_OVERLAP = dt.timedelta(minutes=5)
ID_CHUNK = 100                                # Ids per `Id IN (...)` confirmation query

SCHEMA_DDL = """
CREATE TABLE IF NOT EXISTS qbo_mirror (
    realm_id VARCHAR NOT NULL, entity VARCHAR NOT NULL, id VARCHAR NOT NULL,
    doc_number VARCHAR,              -- DocNumber; a payment's PaymentRefNum
    name VARCHAR,                    -- a customer's DisplayName, an item's Name
    txn_date DATE, period VARCHAR,   -- transactions: TxnDate and its YYYY-MM
    customer_id VARCHAR, customer_name VARCHAR,
    total DECIMAL(18,2),             -- TotalAmt (an item's UnitPrice is not money owed: NULL)
    balance DECIMAL(18,2),           -- open Balance; a payment's UnappliedAmt
    sync_token VARCHAR, last_updated TIMESTAMP,   -- MetaData.LastUpdatedTime, UTC
    status VARCHAR NOT NULL,         -- active | voided | deleted | inactive
    raw VARCHAR,                     -- the object as QuickBooks returned it (last known, for deleted ones)
    mirrored_at TIMESTAMP NOT NULL,
    PRIMARY KEY (realm_id, entity, id)
);
CREATE TABLE IF NOT EXISTS qbo_mirror_state (
    realm_id VARCHAR NOT NULL, entity VARCHAR NOT NULL,
    watermark TIMESTAMP NOT NULL,    -- QuickBooks' time (UTC) when the last complete read began
    covers_until TIMESTAMP NOT NULL, -- our time (UTC) just before that read: every change before it is in
    last_mode VARCHAR NOT NULL, last_reason VARCHAR, last_full_read_at TIMESTAMP,
    refreshed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (realm_id, entity)
);
"""


class MirrorError(Exception):
    """QuickBooks refused a read the mirror needs; the message says which and what to do."""


class QboReader(Protocol):
    """What the mirror needs of a QuickBooks Online connection (`QboClient` is one)."""

    def get(self, path: str, params: dict[str, str] | None = None) -> QboAnswer: ...

    def query(self, text: str) -> QboAnswer: ...


@dataclasses.dataclass(frozen=True)
class MirrorChange:
    """One object that is new or different in the mirror after a refresh."""

    entity: str
    id: str
    label: str                      # number or name, as a bookkeeper would look for it
    period: str | None
    change: str                     # created | updated | voided | deleted | inactive | reactivated


@dataclasses.dataclass
class EntityRead:
    entity: str
    mode: str                       # full | cdc
    reason: str
    objects: int = 0                # objects QuickBooks returned
    requests: int = 0
    changes: list[MirrorChange] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class MirrorReport:
    realm_id: str
    reads: list[EntityRead]

    @property
    def changes(self) -> list[MirrorChange]:
        return [c for r in self.reads for c in r.changes]

    @property
    def changed_periods(self) -> list[str]:
        return sorted({c.period for c in self.changes if c.period})

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for change in self.changes:
            bucket = out.setdefault(change.entity, {})
            bucket[change.change] = bucket.get(change.change, 0) + 1
        return out


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """`qbo_mirror` and its read marks exist in `con`'s database (made once per process, runtime/schema_once.py)."""
    made_once(con, "qbo_mirror", lambda made: made.execute(SCHEMA_DDL))


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def utc(text: Any) -> dt.datetime | None:
    """A QuickBooks time stamp ("2026-09-01T10:33:39-07:00") as naive UTC; None when absent or unreadable."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _iso(moment: dt.datetime) -> str:
    return moment.replace(tzinfo=dt.timezone.utc).isoformat(timespec="seconds")


# --- rows -----------------------------------------------------------------------------------------


_COLUMNS = ["id", "doc_number", "name", "txn_date", "period", "customer_id", "customer_name", "total", "balance",
            "sync_token", "last_updated", "status", "raw"]


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _money(value: Any) -> str | None:
    return None if value is None or value == "" else str(Decimal(str(value)))


def row_of(entity: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The mirror's columns for one object as QuickBooks returns it (money as exact text)."""
    meta = obj.get("MetaData") or {}
    row: dict[str, Any] = dict.fromkeys(_COLUMNS)
    row.update(id=str(obj["Id"]), sync_token=_text(obj.get("SyncToken")), raw=dumps(obj).decode("utf-8"),
               last_updated=utc(meta.get("LastUpdatedTime")))
    if entity in TRANSACTIONS:
        txn_date = _text(obj.get("TxnDate"))
        customer = obj.get("CustomerRef") or {}
        row.update(
            doc_number=_text(obj.get("PaymentRefNum" if entity == "Payment" else "DocNumber")),
            txn_date=txn_date[:10] if txn_date else None, period=txn_date[:7] if txn_date else None,
            customer_id=ref_value(customer), customer_name=_text(customer.get("name")) if isinstance(customer, dict) else None,
            total=_money(obj.get("TotalAmt")),
            balance=_money(obj.get("UnappliedAmt" if entity == "Payment" else "Balance")),
            status="voided" if is_voided(obj) else "active",
        )
    else:
        name = _text(obj.get("DisplayName" if entity == "Customer" else "Name"))
        row.update(name=name, status="inactive" if obj.get("Active") is False else "active")
        if entity == "Customer":
            row.update(customer_id=str(obj["Id"]), customer_name=name, balance=_money(obj.get("Balance")))
    return row


def _label(entity: str, row: dict[str, Any]) -> str:
    return row.get("doc_number") or row.get("name") or f"Id {row['id']}"


def _write(con: duckdb.DuckDBPyConnection, realm_id: str, entity: str, objects: Sequence[dict[str, Any]],
           deleted: Sequence[tuple[str, dt.datetime | None]] = ()) -> list[MirrorChange]:
    """Upsert objects and mark deletions (inside the caller's transaction); returns what changed."""
    rows = [row_of(entity, o) for o in objects]
    ids = [r["id"] for r in rows] + [i for i, _ in deleted]
    if not ids:
        return []
    now = _utc_now()
    changes: list[MirrorChange] = []
    known = {r[0]: r[1:] for r in con.execute(
        "SELECT id, sync_token, status, doc_number, name, period FROM qbo_mirror "
        "WHERE realm_id = ? AND entity = ? AND id IN (SELECT unnest(?))", [realm_id, entity, ids]).fetchall()}
    for row in rows:
        before = known.get(row["id"])
        change = None
        if before is None:
            change = "created"
        elif before[1] != row["status"]:
            change = {"voided": "voided", "inactive": "inactive"}.get(row["status"], "reactivated")
        elif before[0] != row["sync_token"]:
            change = "updated"
        if change:
            changes.append(MirrorChange(entity, row["id"], _label(entity, row), row["period"], change))
    if rows:
        frame = object_frame([[r[c] for c in _COLUMNS] for r in rows], _COLUMNS)
        con.register("_mirror_rows", frame)
        try:
            con.execute(
                """INSERT INTO qbo_mirror BY NAME
                   SELECT $realm AS realm_id, $entity AS entity, id, doc_number, name,
                          CAST(txn_date AS DATE) AS txn_date, period, customer_id, customer_name,
                          CAST(total AS DECIMAL(18,2)) AS total, CAST(balance AS DECIMAL(18,2)) AS balance,
                          sync_token, CAST(last_updated AS TIMESTAMP) AS last_updated, status, raw,
                          $now AS mirrored_at
                   FROM _mirror_rows
                   ON CONFLICT (realm_id, entity, id) DO UPDATE SET
                       doc_number = excluded.doc_number, name = excluded.name, txn_date = excluded.txn_date,
                       period = excluded.period, customer_id = excluded.customer_id,
                       customer_name = excluded.customer_name, total = excluded.total,
                       balance = excluded.balance, sync_token = excluded.sync_token,
                       last_updated = excluded.last_updated, status = excluded.status, raw = excluded.raw,
                       mirrored_at = excluded.mirrored_at""",
                {"realm": realm_id, "entity": entity, "now": now},
            )
        finally:
            con.unregister("_mirror_rows")
    # Name lists are never deleted in QuickBooks: one reported as deleted has been made inactive.
    gone = "inactive" if entity in NAME_LISTS else "deleted"
    for entity_id, when in deleted:
        before = known.get(entity_id)
        if before is not None and before[1] == gone:
            continue
        con.execute(
            """INSERT INTO qbo_mirror (realm_id, entity, id, status, last_updated, mirrored_at)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (realm_id, entity, id) DO UPDATE SET status = excluded.status,
                   last_updated = coalesce(excluded.last_updated, qbo_mirror.last_updated),
                   mirrored_at = excluded.mirrored_at""",
            [realm_id, entity, entity_id, gone, when, now],
        )
        label = (before[2] or before[3]) if before is not None else None
        changes.append(MirrorChange(entity, entity_id, label or f"Id {entity_id}",
                                    before[4] if before is not None else None, gone))
    return changes


def _save_state(con: duckdb.DuckDBPyConnection, realm_id: str, entity: str, *, watermark: dt.datetime,
                covers_until: dt.datetime, mode: str, reason: str) -> None:
    """The entity's new watermark, committed with the rows it vouches for (same transaction)."""
    now = _utc_now()
    con.execute(
        """INSERT INTO qbo_mirror_state (realm_id, entity, watermark, covers_until, last_mode, last_reason,
                                         last_full_read_at, refreshed_at)
           VALUES ($realm, $entity, $watermark, $covers, $mode, $reason, CASE WHEN $mode = 'full' THEN $now END, $now)
           ON CONFLICT (realm_id, entity) DO UPDATE SET watermark = excluded.watermark,
               covers_until = excluded.covers_until, last_mode = excluded.last_mode,
               last_reason = excluded.last_reason,
               last_full_read_at = coalesce(excluded.last_full_read_at, qbo_mirror_state.last_full_read_at),
               refreshed_at = excluded.refreshed_at""",
        {"realm": realm_id, "entity": entity, "watermark": watermark, "covers": covers_until, "mode": mode,
         "reason": reason, "now": now},
    )


def state(con: duckdb.DuckDBPyConnection, realm_id: str) -> dict[str, tuple[dt.datetime, dt.datetime]]:
    """{entity: (watermark, covers_until)} for one company; empty before the first read."""
    return {e: (w, c) for e, w, c in con.execute(
        "SELECT entity, watermark, covers_until FROM qbo_mirror_state WHERE realm_id = ?", [realm_id]).fetchall()}


# --- reading QuickBooks ---------------------------------------------------------------------------


def _fault_text(answer: QboAnswer) -> str:
    return answer.faults[0].text() if answer.faults else f"HTTP {answer.status}"


def _server_time(answer: QboAnswer, fallback: dt.datetime) -> dt.datetime:
    stamp = utc(answer.body.get("time")) if isinstance(answer.body, dict) else None
    return stamp or fallback


def _select(entity: str, where: str | None = None) -> str:
    conditions = [where] if where else []
    if entity in NAME_LISTS:
        conditions.append("Active IN (true, false)")
    clause = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT * FROM {entity}{clause} ORDERBY Id"


def _query_page(reader: QboReader, entity: str, text: str) -> tuple[QboAnswer, list[dict[str, Any]]]:
    answer = reader.query(text)
    if not answer.ok or not isinstance(answer.body, dict):
        raise MirrorError(f"QuickBooks Online refused to list {entity} objects for the mirror ({_fault_text(answer)}); "
                          f"check the connection (QBO_* settings) and run the quickbooks_mirror asset again")
    return answer, (answer.body.get("QueryResponse") or {}).get(entity) or []


def _full_read(db: Database, reader: QboReader, realm_id: str, entity: str, reason: str) -> EntityRead:
    """Every object of the entity, page by page, each page written in its own short transaction."""
    read = EntityRead(entity, "full", reason)
    covers_until = _utc_now()
    watermark = None
    seen: set[str] = set()
    position = 1
    while True:
        answer, page = _query_page(
            reader, entity, f"{_select(entity)} STARTPOSITION {position} MAXRESULTS {PAGE_SIZE}")
        read.requests += 1
        watermark = watermark or _server_time(answer, covers_until)
        read.objects += len(page)
        seen.update(str(o["Id"]) for o in page)
        if page:
            with db.transaction() as con:
                read.changes += _write(con, realm_id, entity, page)
        if len(page) < PAGE_SIZE:
            break
        position += PAGE_SIZE
    with db.connect() as con:
        vanished = [r[0] for r in con.execute(
            "SELECT id FROM qbo_mirror WHERE realm_id = ? AND entity = ? AND status <> 'deleted' "
            "AND id NOT IN (SELECT unnest(?))", [realm_id, entity, sorted(seen)]).fetchall()]
    # Absent from the pages is not proof (a deletion during the read shifts later pages): ask for
    # exactly those Ids once more before calling them deleted.
    still_there: list[dict[str, Any]] = []
    for start in range(0, len(vanished), ID_CHUNK):
        ids = ", ".join(query_literal(i) for i in vanished[start:start + ID_CHUNK])
        _, found = _query_page(reader, entity, f"{_select(entity, f'Id IN ({ids})')} MAXRESULTS {PAGE_SIZE}")
        read.requests += 1
        still_there += found
    present = {str(o["Id"]) for o in still_there}
    read.objects += len(still_there)
    with db.transaction() as con:
        read.changes += _write(con, realm_id, entity, still_there,
                               deleted=[(i, None) for i in vanished if i not in present])
        _save_state(con, realm_id, entity, watermark=watermark, covers_until=covers_until, mode="full", reason=reason)
    return read


class _NeedsFullRead(Exception):
    pass


@dataclasses.dataclass
class _Changes:
    """What one change-data-capture answer brought back, not yet written."""

    read: EntityRead
    present: list[dict[str, Any]]
    deleted: list[tuple[str, dt.datetime | None]]
    watermark: dt.datetime
    covers_until: dt.datetime


def _cdc_fetch(reader: QboReader, entity: str, since: dt.datetime) -> _Changes:
    read = EntityRead(entity, "cdc", f"changes since {_iso(since)}")
    covers_until = _utc_now()
    answer = reader.get("/cdc", {"entities": entity, "changedSince": _iso(since)})
    read.requests += 1
    if not answer.ok or not isinstance(answer.body, dict):
        faults = answer.faults
        if answer.status == 400 and any(f.element == "changedSince" or "changedSince" in f.detail for f in faults):
            raise _NeedsFullRead(f"QuickBooks refused changes since {_iso(since)} ({_fault_text(answer)})")
        raise MirrorError(f"QuickBooks Online refused change data capture for {entity} ({_fault_text(answer)}); "
                          f"check the connection (QBO_* settings) and run the quickbooks_mirror asset again")
    objects: list[dict[str, Any]] = []
    for block in answer.body.get("CDCResponse") or []:
        for response in block.get("QueryResponse") or []:
            objects += response.get(entity) or []
    if len(objects) >= CDC_CAP:
        raise _NeedsFullRead(f"change data capture returned {len(objects)} {entity} objects, its cap of {CDC_CAP}: "
                             f"more may have changed")
    read.objects = len(objects)
    present, deleted = [], []
    for obj in objects:
        if str(obj.get("status", "")).lower() == "deleted":
            deleted.append((str(obj["Id"]), utc((obj.get("MetaData") or {}).get("LastUpdatedTime"))))
        else:
            present.append(obj)
    return _Changes(read, present, deleted, _server_time(answer, covers_until), covers_until)


def refresh(db: Database, reader: QboReader, realm_id: str, *, entities: Iterable[str] = ENTITIES,
            full: bool = False, overlap: dt.timedelta = DEFAULT_OVERLAP,
            progress: Callable[[str], None] = lambda _: None) -> MirrorReport:
    """Bring the mirror of one company up to date: a full read where needed, change data capture otherwise.

    Change data capture asks QuickBooks for every entity first (no database connection open), then
    writes all the answers and their new watermarks in one short transaction: rows and the watermark
    that vouches for them are committed together or not at all."""
    entities = list(entities)
    unknown = [e for e in entities if e not in ENTITIES]
    if unknown:
        raise ValueError(f"the mirror keeps {', '.join(ENTITIES)}, not {', '.join(unknown)}")
    with db.transaction() as con:
        ensure_schema(con)
        known = state(con, realm_id)
    now = _utc_now()
    fetched: list[_Changes] = []
    full_reads: list[tuple[str, str]] = []
    current = ""
    try:
        for entity in entities:
            current = entity
            previous = known.get(entity)
            if full:
                full_reads.append((entity, "a full read was asked for"))
            elif previous is None:
                full_reads.append((entity, "first read of this company"))
            elif now - previous[0] > CDC_LOOKBACK - CDC_MARGIN:
                full_reads.append((entity, f"last read {previous[0]:%Y-%m-%d %H:%M} UTC is beyond change data "
                                           f"capture's {CDC_LOOKBACK.days}-day look-back"))
            else:
                try:
                    fetched.append(_cdc_fetch(reader, entity, previous[0] - overlap))
                except _NeedsFullRead as why:
                    full_reads.append((entity, str(why)))
        if fetched:
            with db.transaction() as con:
                for answer in fetched:
                    answer.read.changes = _write(con, realm_id, answer.read.entity, answer.present, answer.deleted)
                    _save_state(con, realm_id, answer.read.entity, watermark=answer.watermark,
                                covers_until=answer.covers_until, mode="cdc", reason=answer.read.reason)
            for answer in fetched:
                progress(f"{answer.read.entity}: {answer.read.objects} changed object(s), {answer.read.reason}")
        done = [answer.read for answer in fetched]
        for entity, reason in full_reads:
            current = entity
            progress(f"{entity}: full read ({reason})")
            done.append(_full_read(db, reader, realm_id, entity, reason))
    except QboUnavailable as outage:
        # A watermark only moves with the rows it vouches for, so the next refresh covers this gap.
        raise MirrorError(f"QuickBooks Online did not answer while the mirror read {current} objects ({outage}); "
                          f"nothing is lost: run the quickbooks_mirror asset again later") from outage
    order = {entity: n for n, entity in enumerate(ENTITIES)}
    return MirrorReport(realm_id, sorted(done, key=lambda r: order[r.entity]))


# --- reading the mirror ---------------------------------------------------------------------------


def load_raw(text: str | None) -> dict[str, Any] | None:
    return None if not text else json.loads(text, parse_float=Decimal)


def entity_counts(con: duckdb.DuckDBPyConnection, realm_id: str) -> list[tuple]:
    """(entity, status, objects, total) for the UI."""
    return con.execute(
        "SELECT entity, status, count(*), CAST(sum(total) AS VARCHAR) FROM qbo_mirror WHERE realm_id = ? "
        "GROUP BY ALL ORDER BY ALL", [realm_id]).fetchall()


__all__ = ["ENTITIES", "MirrorChange", "MirrorError", "MirrorReport", "QboReader", "ensure_schema", "entity_counts",
           "load_raw", "refresh", "row_of", "state", "utc"]
