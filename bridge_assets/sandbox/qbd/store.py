"""The QuickBooks Desktop company file of the emulator: lists, transactions, payment links, preferences.

Money in integer cents. A transaction's lines are kept as JSON ([{id, item, desc, qty, rate, cents}]).
`applications` links a payment to the invoices it pays (and the credit memos it sets against them).
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from decimal import Decimal
from typing import Any

from bridge_assets.sandbox.kit.state import SqliteState, journal_schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS names (
    list_id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, name_key TEXT NOT NULL,
    namespace TEXT NOT NULL, edit_sequence TEXT NOT NULL, created REAL NOT NULL, modified REAL NOT NULL,
    price_cents INTEGER, account TEXT,
    UNIQUE (namespace, name_key)
);
CREATE TABLE IF NOT EXISTS txns (
    txn_id TEXT PRIMARY KEY, txn_type TEXT NOT NULL, txn_number INTEGER NOT NULL, ref_number TEXT,
    customer_id TEXT NOT NULL, txn_date TEXT NOT NULL, due_date TEXT, po_number TEXT, memo TEXT,
    total_cents INTEGER NOT NULL, lines TEXT NOT NULL, edit_sequence TEXT NOT NULL,
    created REAL NOT NULL, modified REAL NOT NULL, voided INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS txns_ref ON txns (txn_type, ref_number);
CREATE TABLE IF NOT EXISTS applications (
    payment_id TEXT NOT NULL, invoice_id TEXT NOT NULL, amount_cents INTEGER NOT NULL,
    credit_id TEXT, credit_cents INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS preferences (key TEXT PRIMARY KEY, value TEXT);
""" + journal_schema("request TEXT", "ref TEXT", "status_code INTEGER", "message TEXT")


def cents(value: Decimal | str) -> int:
    return int((Decimal(value) * 100).to_integral_value())


def dollars(value: int) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}{abs(value) // 100}.{abs(value) % 100:02d}"


def stamp(at: float) -> str:
    """A qbXML date-time: local wall time with its offset (the emulator keeps UTC)."""
    return dt.datetime.fromtimestamp(int(at), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class CompanyStore(SqliteState):
    schema = SCHEMA

    def __init__(self, path) -> None:
        super().__init__(path)
        self.on_close: list = []
        self.iterators: dict[str, tuple[list[str], int]] = {}   # iterator -> (TxnIDs left, page size); not kept on restart

    def close(self) -> None:
        for stop in self.on_close:
            stop()
        super().close()

    # --- preferences and sequences ----------------------------------------------------------------

    def preference(self, key: str, default: str | None = None) -> str | None:
        row = self.fetchone("SELECT value FROM preferences WHERE key = ?", (key,))
        return default if row is None else row["value"]

    def set_preference(self, key: str, value: str | None) -> None:
        self.execute("INSERT INTO preferences (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = ?",
                     (key, value, value))

    def next_number(self, key: str) -> int:
        with self.transaction():
            value = int(self.preference(key, "0")) + 1
            self.set_preference(key, str(value))
            return value

    def closing_date(self) -> dt.date | None:
        value = self.preference("closing_date")
        return dt.date.fromisoformat(value) if value else None

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{self.next_number('ids'):X}-{uuid.uuid4().hex[:10].upper()}"

    def edit_sequence(self) -> str:
        return str(1_700_000_000 + self.next_number("edit_sequence"))

    # --- lists --------------------------------------------------------------------------------------

    def name_by(self, namespace: str, name: str) -> Any:
        return self.fetchone("SELECT * FROM names WHERE namespace = ? AND name_key = ?", (namespace, name.casefold()))

    def name_by_id(self, list_id: str) -> Any:
        return self.fetchone("SELECT * FROM names WHERE list_id = ?", (list_id,))

    def add_name(self, kind: str, namespace: str, name: str, price_cents: int | None, account: str | None) -> Any:
        now = time.time()
        list_id = self.new_id("80000")
        self.execute("INSERT INTO names (list_id, kind, name, name_key, namespace, edit_sequence, created, modified, "
                     "price_cents, account) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (list_id, kind, name, name.casefold(), namespace, self.edit_sequence(), now, now, price_cents,
                      account))
        return self.name_by_id(list_id)

    # --- transactions -------------------------------------------------------------------------------

    def txn(self, txn_id: str, txn_type: str | None = None) -> Any:
        row = self.fetchone("SELECT * FROM txns WHERE txn_id = ?", (txn_id,))
        return row if row is not None and (txn_type is None or row["txn_type"] == txn_type) else None

    def txns(self, txn_type: str, *, ids=(), refs=(), modified_from: float | None = None) -> list[Any]:
        sql, params = "SELECT * FROM txns WHERE txn_type = ?", [txn_type]
        if ids:
            sql += f" AND txn_id IN ({','.join('?' * len(ids))})"
            params += list(ids)
        if refs:
            sql += f" AND ref_number IN ({','.join('?' * len(refs))})"
            params += list(refs)
        if modified_from is not None:
            sql += " AND modified >= ?"
            params.append(modified_from)
        return self.fetchall(sql + " ORDER BY txn_number", tuple(params))

    def insert_txn(self, txn_type: str, values: dict[str, Any]) -> Any:
        now = time.time()
        txn_id = self.new_id(f"{self.next_number('txn_number'):X}-")
        self.execute("INSERT INTO txns (txn_id, txn_type, txn_number, ref_number, customer_id, txn_date, due_date, "
                     "po_number, memo, total_cents, lines, edit_sequence, created, modified) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (txn_id, txn_type, int(self.preference("txn_number")), values.get("ref_number"),
                      values["customer_id"], values["txn_date"], values.get("due_date"), values.get("po_number"),
                      values.get("memo"), values["total_cents"], json.dumps(values.get("lines", [])),
                      self.edit_sequence(), now, now))
        return self.txn(txn_id)

    def update_txn(self, txn_id: str, values: dict[str, Any]) -> Any:
        values = dict(values)
        if "lines" in values:
            values["lines"] = json.dumps(values["lines"])
        values["edit_sequence"] = self.edit_sequence()
        values["modified"] = time.time()
        columns = ", ".join(f"{k} = ?" for k in values)
        self.execute(f"UPDATE txns SET {columns} WHERE txn_id = ?", (*values.values(), txn_id))
        return self.txn(txn_id)

    def delete_txn(self, txn_id: str) -> None:
        self.execute("DELETE FROM applications WHERE payment_id = ?", (txn_id,))
        self.execute("DELETE FROM txns WHERE txn_id = ?", (txn_id,))

    def touch(self, txn_id: str) -> None:
        self.execute("UPDATE txns SET modified = ?, edit_sequence = ? WHERE txn_id = ?",
                     (time.time(), self.edit_sequence(), txn_id))

    # --- links --------------------------------------------------------------------------------------

    def paid_to(self, invoice_id: str) -> int:
        row = self.fetchone("SELECT coalesce(sum(amount_cents + credit_cents), 0) AS c FROM applications "
                            "WHERE invoice_id = ?", (invoice_id,))
        return int(row["c"])

    def credit_used(self, credit_id: str) -> int:
        row = self.fetchone("SELECT coalesce(sum(credit_cents), 0) AS c FROM applications WHERE credit_id = ?",
                            (credit_id,))
        return int(row["c"])

    def applied_of(self, payment_id: str) -> list[Any]:
        return self.fetchall("SELECT * FROM applications WHERE payment_id = ?", (payment_id,))

    def links_to(self, txn_id: str) -> list[Any]:
        return self.fetchall("SELECT * FROM applications WHERE invoice_id = ? OR credit_id = ?", (txn_id, txn_id))

    def add_application(self, payment_id: str, invoice_id: str, amount: int, credit_id: str | None,
                        credit: int) -> None:
        self.execute("INSERT INTO applications (payment_id, invoice_id, amount_cents, credit_id, credit_cents) "
                     "VALUES (?, ?, ?, ?, ?)", (payment_id, invoice_id, amount, credit_id, credit))

    def totals_per_customer(self) -> dict[str, Any]:
        """What a bookkeeper compares before and after a revert: live documents and totals per customer."""
        rows = self.fetchall("SELECT n.name, t.txn_type, count(*) AS n, sum(t.total_cents) AS c FROM txns t "
                             "JOIN names n ON n.list_id = t.customer_id WHERE t.voided = 0 "
                             "GROUP BY n.name, t.txn_type ORDER BY n.name, t.txn_type")
        out: dict[str, Any] = {}
        for row in rows:
            out.setdefault(row["name"], {})[row["txn_type"]] = {"count": row["n"], "total": dollars(row["c"])}
        return out
