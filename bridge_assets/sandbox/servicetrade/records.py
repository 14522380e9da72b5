"""ServiceTrade's records in the emulator: customers, locations, jobs, invoices with items, comments.

Stored in an internal form (see store.py) and rendered to the wire through the field map:

    invoice  {id, status, customer_id, location_id, job_id, transaction_date, created, updated,
              invoice_number, type, notes, po_number, due_date, tax_amount,
              items: [{id, code, description, quantity, price, taxable, tax_amount}]}

Money is Decimal (strings at rest); an item's total is quantity x price rounded half-up to the cent;
an invoice's total is its items plus `tax_amount` (or the items alone when the field map says
`totalPrice` excludes tax).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import time
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge_assets.sandbox.kit.money import line_amount, money
from bridge_assets.sandbox.servicetrade import wire
from bridge_assets.sandbox.servicetrade.fields import WireFields, day_start
from bridge_assets.sandbox.servicetrade.statuses import STATUSES, TransitionTable
from bridge_assets.sandbox.servicetrade.store import Store, dump_json, load_json

ENTITY_TYPES = ("invoice", "job", "location", "customer")
INVOICE_NUMBER_MAX = 50  # unconfirmed
WRITABLE_BY_API = ("status", "invoiceNumber")


# --- reference records -----------------------------------------------------------------------------

def create_customer(store: Store, name: str, *, external: dict[str, Any] | None = None,
                    customer_id: int | None = None) -> int:
    customer_id = customer_id or store.next_id("customer")
    store.execute("INSERT INTO customers (id, name, doc) VALUES (?, ?, ?)",
                  (customer_id, name, dump_json(external or {})))
    return customer_id


def create_location(store: Store, customer_id: int, name: str, *, location_id: int | None = None) -> int:
    location_id = location_id or store.next_id("location")
    store.execute("INSERT INTO locations (id, customer_id, name, doc) VALUES (?, ?, ?, '{}')",
                  (location_id, customer_id, name))
    return location_id


def create_job(store: Store, customer_id: int, location_id: int | None, number: str,
               *, job_id: int | None = None) -> int:
    job_id = job_id or store.next_id("job")
    store.execute("INSERT INTO jobs (id, customer_id, location_id, doc) VALUES (?, ?, ?, ?)",
                  (job_id, customer_id, location_id, dump_json({"number": number})))
    return job_id


def find_or_create_customer(store: Store, spec: Any) -> int:
    if isinstance(spec, dict) and spec.get("id") is not None:
        customer_id = int(spec["id"])
        if store.fetchone("SELECT id FROM customers WHERE id = ?", (customer_id,)) is None:
            raise ValueError(f"no customer {customer_id}")
        return customer_id
    name = str((spec or {}).get("name") if isinstance(spec, dict) else spec or "Sandbox Customer")
    row = store.fetchone("SELECT id FROM customers WHERE name = ? ORDER BY id LIMIT 1", (name,))
    return row["id"] if row else create_customer(store, name)


def find_or_create_location(store: Store, customer_id: int, spec: Any) -> int | None:
    if spec is None:
        return None
    if isinstance(spec, dict) and spec.get("id") is not None:
        return int(spec["id"])
    name = str(spec.get("name") if isinstance(spec, dict) else spec)
    row = store.fetchone("SELECT id FROM locations WHERE customer_id = ? AND name = ? LIMIT 1", (customer_id, name))
    return row["id"] if row else create_location(store, customer_id, name)


# --- invoices --------------------------------------------------------------------------------------

def _decimal_text(value: Any, what: str) -> str:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError(f"{what} must be a number, not {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"{what} must be a finite number")
    return str(number)


def _unix(value: Any, zone: dt.tzinfo) -> int:
    """Unix seconds from an int or an ISO date (local midnight in the account's zone)."""
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return int(value)
    text = str(value)
    if text.lstrip("-").isdigit():
        return int(text)
    return day_start(dt.date.fromisoformat(text), zone)


def normalise_items(store: Store, items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    items = list(items)
    if not items:
        raise ValueError("an invoice needs at least one item")
    first = store.next_id("item", len(items))
    out = []
    for offset, item in enumerate(items):
        quantity = _decimal_text(item.get("quantity", 1), "item quantity")
        price = _decimal_text(item.get("price", 0), "item price")
        tax = item.get("tax_amount")
        out.append({
            "id": int(item.get("id") or first + offset),
            "code": str(item.get("code") or "SERVICE"),
            "description": str(item.get("description") or ""),
            "quantity": quantity,
            "price": price,
            "taxable": bool(item.get("taxable", False)),
            "tax_amount": None if tax is None else _decimal_text(tax, "item tax_amount"),
        })
    return out


def build_invoice(store: Store, spec: dict[str, Any], fields: WireFields, *,
                  now: float | None = None) -> dict[str, Any]:
    """An invoice record from an admin spec (internal names; customer/location by id or name)."""
    now = int(now or time.time())
    customer_id = find_or_create_customer(store, spec.get("customer"))
    location_id = find_or_create_location(store, customer_id, spec.get("location"))
    job = spec.get("job")
    job_id = int(job["id"]) if isinstance(job, dict) and job.get("id") else None
    if job_id is None and isinstance(job, dict) and job.get("number"):
        row = store.fetchone("SELECT id FROM jobs WHERE customer_id = ? AND json_extract(doc, '$.number') = ?",
                             (customer_id, str(job["number"])))
        job_id = row["id"] if row else create_job(store, customer_id, location_id, str(job["number"]))
    status = str(spec.get("status") or "pending_accounting")
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}")
    items = normalise_items(store, spec.get("items") or [{"code": "SERVICE", "quantity": 1, "price": "100.00"}])
    tax = spec.get("tax_amount")
    if tax is None and all(i["tax_amount"] is not None for i in items):
        tax = sum((Decimal(i["tax_amount"]) for i in items), Decimal(0))
    invoice_id = int(spec.get("id") or store.next_id("invoice"))
    transaction_date = _unix(spec.get("transaction_date") or now, fields.zone)
    created = _unix(spec.get("created") or now, fields.zone)
    return {
        "id": invoice_id, "status": status, "customer_id": customer_id, "location_id": location_id,
        "job_id": job_id, "transaction_date": transaction_date, "created": created,
        "updated": _unix(spec.get("updated") or created, fields.zone),
        "invoice_number": str(spec.get("invoice_number") or invoice_id), "type": str(spec.get("type") or "invoice"),
        "notes": str(spec.get("notes") or ""), "po_number": str(spec.get("po_number") or ""),
        "due_date": None if spec.get("due_date") in (None, "") else _unix(spec["due_date"], fields.zone),
        "tax_amount": _decimal_text(tax or 0, "tax_amount"), "items": items,
    }


DOC_KEYS = ("invoice_number", "type", "notes", "po_number", "due_date", "tax_amount", "items")


def insert_invoices(store: Store, records: Iterable[dict[str, Any]]) -> int:
    rows = [(r["id"], r["status"], r["customer_id"], r["location_id"], r["job_id"], r["transaction_date"],
             r["created"], r["updated"], dump_json({k: r[k] for k in DOC_KEYS})) for r in records]
    store.executemany("INSERT INTO invoices (id, status, customer_id, location_id, job_id, transaction_date, "
                      "created, updated, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def save_invoice(store: Store, record: dict[str, Any]) -> None:
    store.execute("UPDATE invoices SET status = ?, customer_id = ?, location_id = ?, job_id = ?, transaction_date = ?, "
                  "created = ?, updated = ?, doc = ? WHERE id = ?",
                  (record["status"], record["customer_id"], record["location_id"], record["job_id"],
                   record["transaction_date"], record["created"], record["updated"],
                   dump_json({k: record[k] for k in DOC_KEYS}), record["id"]))


def _record(row) -> dict[str, Any]:
    return {"id": row["id"], "status": row["status"], "customer_id": row["customer_id"],
            "location_id": row["location_id"], "job_id": row["job_id"], "transaction_date": row["transaction_date"],
            "created": row["created"], "updated": row["updated"], **load_json(row["doc"])}


def get_invoice(store: Store, invoice_id: Any) -> dict[str, Any] | None:
    try:
        key = int(invoice_id)
    except (TypeError, ValueError):
        return None
    row = store.fetchone("SELECT * FROM invoices WHERE id = ?", (key,))
    return None if row is None else _record(row)


@dataclasses.dataclass
class InvoiceFilter:
    statuses: list[str] = dataclasses.field(default_factory=list)
    created_after: int | None = None
    created_before: int | None = None
    updated_after: int | None = None
    updated_before: int | None = None
    transaction_date_after: int | None = None
    transaction_date_before: int | None = None
    customer_id: int | None = None
    job_id: int | None = None

    def where(self) -> tuple[str, list[Any]]:
        # Both bounds are inclusive (unconfirmed); the bridge's client widens its window and
        # filters by calendar day itself, so either reading of "after"/"before" is safe.
        clauses, params = [], []
        if self.statuses:
            clauses.append(f"status IN ({','.join('?' * len(self.statuses))})")
            params += self.statuses
        for column, low, high in (("created", self.created_after, self.created_before),
                                  ("updated", self.updated_after, self.updated_before),
                                  ("transaction_date", self.transaction_date_after, self.transaction_date_before)):
            if low is not None:
                clauses.append(f"{column} >= ?")
                params.append(low)
            if high is not None:
                clauses.append(f"{column} <= ?")
                params.append(high)
        for column, value in (("customer_id", self.customer_id), ("job_id", self.job_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def list_invoices(store: Store, where: InvoiceFilter, page: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    sql, params = where.where()
    total = store.fetchone(f"SELECT COUNT(*) AS n FROM invoices{sql}", tuple(params))["n"]
    rows = store.fetchall(f"SELECT * FROM invoices{sql} ORDER BY id LIMIT ? OFFSET ?",
                          (*params, limit, (page - 1) * limit))
    return [_record(row) for row in rows], total


def total_pages(total: int, limit: int) -> int:
    return math.ceil(total / limit) if total else 0


def apply_api_update(store: Store, record: dict[str, Any], body: Any, transitions: TransitionTable,
                     now: float | None = None) -> dict[str, Any]:
    """`PUT /api/invoice/{id}`: `status` (through the transition table) and `invoiceNumber`.

    Other fields are ignored (ServiceTrade accepts many more; the bridge writes only these two).
    """
    if not isinstance(body, dict):
        raise wire.invalid({"body": "The request body must be a JSON object"})
    problems: dict[str, str] = {}
    status = body.get("status")
    if status is not None:
        if status not in STATUSES:
            problems["status"] = f"Invalid status '{status}'; valid: {', '.join(STATUSES)}"
        elif not transitions.permits(record["status"], status):
            problems["status"] = transitions.refusal(record["status"], status)
    number = body.get("invoiceNumber")
    if number is not None:
        if not isinstance(number, (str, int)) or isinstance(number, bool) or not str(number).strip():
            problems["invoiceNumber"] = "invoiceNumber must be a non-empty string"
        elif len(str(number)) > INVOICE_NUMBER_MAX:
            problems["invoiceNumber"] = f"invoiceNumber may be at most {INVOICE_NUMBER_MAX} characters"
    if problems:
        raise wire.invalid(problems)
    changed = dict(record)
    if status is not None:
        changed["status"] = status
    if number is not None:
        changed["invoice_number"] = str(number).strip()
    if changed != record:
        changed["updated"] = int(now or time.time())
        save_invoice(store, changed)
    return changed


def apply_admin_edit(store: Store, record: dict[str, Any], changes: dict[str, Any], fields: WireFields,
                     now: float | None = None) -> dict[str, Any]:
    """What a person does in the ServiceTrade UI: any field, any status, no transition rules."""
    allowed = {"status", "invoice_number", "type", "notes", "po_number", "due_date", "tax_amount", "items",
               "transaction_date", "customer", "location", "touch"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValueError(f"unknown invoice fields {unknown}; editable: {sorted(allowed - {'touch'})}")
    changed = dict(record)
    if "status" in changes:
        if changes["status"] not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        changed["status"] = changes["status"]
    for key in ("invoice_number", "type", "notes", "po_number"):
        if key in changes:
            changed[key] = str(changes[key])
    if "due_date" in changes:
        changed["due_date"] = None if changes["due_date"] in (None, "") else _unix(changes["due_date"], fields.zone)
    if "transaction_date" in changes:
        changed["transaction_date"] = _unix(changes["transaction_date"], fields.zone)
    if "items" in changes:
        changed["items"] = normalise_items(store, changes["items"])
        if "tax_amount" not in changes and all(i["tax_amount"] is not None for i in changed["items"]):
            changed["tax_amount"] = str(sum((Decimal(i["tax_amount"]) for i in changed["items"]), Decimal(0)))
    if "tax_amount" in changes:
        changed["tax_amount"] = _decimal_text(changes["tax_amount"], "tax_amount")
    if "customer" in changes:
        changed["customer_id"] = find_or_create_customer(store, changes["customer"])
    if "location" in changes:
        changed["location_id"] = find_or_create_location(store, changed["customer_id"], changes["location"])
    if changes.get("touch", True):
        changed["updated"] = max(int(now or time.time()), record["updated"] + 1)
    save_invoice(store, changed)
    return changed


# --- rendering ---------------------------------------------------------------------------------------

@dataclasses.dataclass
class References:
    """Names of the customers, locations and jobs that a set of invoices points at."""

    customers: dict[int, str]
    locations: dict[int, str]
    jobs: dict[int, str]

    @classmethod
    def load(cls, store: Store, records: list[dict[str, Any]]) -> References:
        def names(table: str, ids: set[int], column: str) -> dict[int, str]:
            ids.discard(None)  # type: ignore[arg-type]
            if not ids:
                return {}
            marks = ",".join("?" * len(ids))
            rows = store.fetchall(f"SELECT id, {column} FROM {table} WHERE id IN ({marks})", tuple(ids))
            return {row["id"]: row[column] for row in rows}

        jobs = names("jobs", {r["job_id"] for r in records}, "doc")
        return cls(names("customers", {r["customer_id"] for r in records}, "name"),
                   names("locations", {r["location_id"] for r in records}, "name"),
                   {key: load_json(doc).get("number", "") for key, doc in jobs.items()})


def invoice_amounts(record: dict[str, Any]) -> tuple[list[Decimal], Decimal, Decimal]:
    amounts = [line_amount(Decimal(i["quantity"]), Decimal(i["price"])) for i in record["items"]]
    subtotal = money(sum(amounts, Decimal(0)))
    return amounts, subtotal, money(Decimal(record["tax_amount"]))


def render_invoice(record: dict[str, Any], refs: References, fields: WireFields, api_url: str, *,
                   include_items: bool = True, line_tax: bool = False) -> dict[str, Any]:
    f = fields
    amounts, subtotal, tax = invoice_amounts(record)
    total = subtotal + tax if f.total_includes_tax else subtotal
    answer: dict[str, Any] = {
        f.id: record["id"],
        f.uri: f"{api_url}/invoice/{record['id']}",
        f.invoice_number: record["invoice_number"],
        f.type: record["type"],
        f.status: record["status"],
        f.transaction_date: record["transaction_date"],
        f.created: record["created"],
        f.updated: record["updated"],
        f.customer: {f.ref_id: record["customer_id"], f.ref_name: refs.customers.get(record["customer_id"], ""),
                     "uri": f"{api_url}/company/{record['customer_id']}"},
        f.location: None if record["location_id"] is None else {
            f.ref_id: record["location_id"], f.ref_name: refs.locations.get(record["location_id"], ""),
            "uri": f"{api_url}/location/{record['location_id']}"},
        f.job: None if record["job_id"] is None else {
            f.ref_id: record["job_id"], "number": refs.jobs.get(record["job_id"], ""),
            "uri": f"{api_url}/job/{record['job_id']}"},
        f.notes: record["notes"],
        f.po_number: record["po_number"],
        f.due_date: record["due_date"],
        f.subtotal: subtotal,
        f.tax_total: tax,
        f.total: total,
    }
    if include_items:
        rendered = []
        for item, amount in zip(record["items"], amounts):
            line = {f.item_id: item["id"], f.item_code: item["code"], f.item_description: item["description"],
                    f.item_quantity: Decimal(item["quantity"]), f.item_price: Decimal(item["price"]),
                    f.item_total: amount, f.item_taxable: item["taxable"]}
            if line_tax:
                line[f.item_tax] = money(Decimal(item["tax_amount"] or 0))
            rendered.append(line)
        answer[f.items] = rendered
    return answer


# --- comments ----------------------------------------------------------------------------------------

def entity_exists(store: Store, entity_type: str, entity_id: int) -> bool:
    table = {"invoice": "invoices", "job": "jobs", "location": "locations", "customer": "customers"}[entity_type]
    return store.fetchone(f"SELECT id FROM {table} WHERE id = ?", (entity_id,)) is not None


def add_comment(store: Store, body: Any, author: str, now: float | None = None) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise wire.invalid({"body": "The request body must be a JSON object"})
    problems: dict[str, str] = {}
    entity_type = body.get("entityType")
    if entity_type not in ENTITY_TYPES:
        problems["entityType"] = f"entityType must be one of {', '.join(ENTITY_TYPES)}"
    try:
        entity_id = int(body.get("entityId"))
    except (TypeError, ValueError):
        problems["entityId"] = "entityId is required"
        entity_id = 0
    content = body.get("content")
    if not isinstance(content, str) or not content.strip():
        problems["content"] = "content is required"
    visibility = body.get("visibility", [])
    if not isinstance(visibility, list) or not all(isinstance(v, str) for v in visibility):
        problems["visibility"] = "visibility must be a list of audiences; an empty list makes the comment private"
    if problems:
        raise wire.invalid(problems)
    if not entity_exists(store, entity_type, entity_id):
        raise wire.not_found()
    comment = {"id": store.next_id("comment"), "entity_type": entity_type, "entity_id": entity_id,
               "content": content, "visibility": list(visibility), "author": author,
               "created": int(now or time.time())}
    store.execute("INSERT INTO comments (id, entity_type, entity_id, created, doc) VALUES (?, ?, ?, ?, ?)",
                  (comment["id"], entity_type, entity_id, comment["created"], dump_json(comment)))
    return comment


def list_comments(store: Store, entity_type: str | None = None, entity_id: int | None = None) -> list[dict[str, Any]]:
    sql, params = "SELECT doc FROM comments", []
    clauses = []
    if entity_type is not None:
        clauses.append("entity_type = ?")
        params.append(entity_type)
    if entity_id is not None:
        clauses.append("entity_id = ?")
        params.append(entity_id)
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    return [load_json(row["doc"]) for row in store.fetchall(sql + " ORDER BY id", tuple(params))]


def render_comment(comment: dict[str, Any], api_url: str) -> dict[str, Any]:
    return {"id": comment["id"], "uri": f"{api_url}/comment/{comment['id']}", "entityType": comment["entity_type"],
            "entityId": comment["entity_id"], "content": comment["content"], "visibility": comment["visibility"],
            "created": comment["created"], "author": {"username": comment["author"]}}
