"""NetSuite's records as the emulator keeps them, and the rules a write must pass.

- transactions (invoice, creditMemo, customerPayment) post on save: there is no draft. While their period is
  open they may be changed (PATCH; PUT on `eid:` upserts) and deleted; in a closed period nothing is saved,
  changed or deleted;
- `externalId` is unique per record type (a second record with it: DUP_RCRD); `PUT .../eid:<id>` creates the
  record or replaces it, so sending it again changes nothing;
- sublists (`item.items`, `apply.items`): on change, unkeyed lines are appended unless `replace=<sublist>`
  replaces the sublist (facts §4);
- a credit memo or payment applies amounts to invoices (`apply.items`, keyed by `doc`); what is applied lowers
  the invoice's `amountRemaining` (status "Paid In Full" at 0); a payment's unapplied rest stays on it;
- `invoice/{id}/!transform/creditMemo` credits the invoice in full, applied to it, `createdFrom` the invoice;
- an invoice something is applied to cannot be deleted.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

from bridge_assets.sandbox.netsuite.errors import NsError, invalid, user_error
from bridge_assets.sandbox.netsuite.store import Store

CENT = Decimal("0.01")
TRANSACTIONS = {"invoice": "INV", "creditMemo": "CM", "customerPayment": "PYMT"}
ENTITIES = ("customer", "serviceSaleItem", "accountingPeriod")
TYPES = (*TRANSACTIONS, *ENTITIES)
FIELDS = {
    "customer": {"entityId", "companyName", "externalId", "isPerson", "email", "subsidiary"},
    "serviceSaleItem": {"itemId", "displayName", "externalId", "description", "subsidiary"},
    "invoice": {"tranId", "externalId", "entity", "tranDate", "dueDate", "memo", "otherRefNum", "item", "subsidiary"},
    "creditMemo": {"tranId", "externalId", "entity", "tranDate", "memo", "otherRefNum", "item", "apply", "subsidiary"},
    "customerPayment": {"tranId", "externalId", "customer", "tranDate", "payment", "memo", "apply", "account",
                        "subsidiary"},
}


def cents(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


class Records:
    def __init__(self, store: Store, stamp: Callable[[], str]) -> None:
        self.store, self.stamp = store, stamp

    def save(self, kind: str, record: dict[str, Any]) -> dict[str, Any]:
        record["lastModifiedDate"] = self.stamp()
        self.store.put(kind, record)
        return record

    def by_key(self, kind: str, key: str) -> dict[str, Any] | None:
        if key.startswith("eid:"):
            return next((r for r in self.store.all(kind) if r.get("externalId") == key[4:]), None)
        return self.store.get(kind, key)

    def ref(self, kind: str, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict) or not (value.get("id") or value.get("externalId")):
            raise invalid(f"You have entered an Invalid Field Value {value!r} for the following field: {path}", path)
        found = self.store.get(kind, value["id"]) if value.get("id") else self.by_key(kind, f"eid:{value['externalId']}")
        if found is None:
            raise invalid(f"You have entered an Invalid Field Value {value.get('id') or value.get('externalId')} for "
                          f"the following field: {path}", path)
        return found

    # --- periods ----------------------------------------------------------------------------------

    def period_of(self, day: str) -> dict[str, Any]:
        for period in self.store.all("accountingPeriod"):
            if period["startDate"] <= day <= period["endDate"]:
                return period
        raise user_error(f"No accounting period is set up for {day}.")

    def check_open(self, day: str) -> dict[str, Any]:
        period = self.period_of(day)
        if period["closed"]:
            raise user_error(f"The accounting period {period['periodName']} is closed; transactions dated in it cannot "
                             f"be saved, changed or deleted.")
        return period

    # --- writes -----------------------------------------------------------------------------------

    def write(self, kind: str, body: dict[str, Any], existing: dict[str, Any] | None, replace: set[str]) -> dict:
        unknown = set(body) - FIELDS.get(kind, set())
        if unknown:
            raise NsError(400, "INVALID_KEY_OR_REF", f"Invalid field name {sorted(unknown)[0]}.")
        if body.get("externalId") is not None:
            other = self.by_key(kind, f"eid:{body['externalId']}")
            if other is not None and (existing is None or other["id"] != existing["id"]):
                raise NsError(400, "DUP_RCRD", "This record already exists.")
        record = dict(existing or {"id": str(self.store.next_value(f"id:{kind}"))})
        if kind in TRANSACTIONS:
            return self._transaction(kind, record, body, existing, replace)
        record.update(body)
        return self.save(kind, record)

    def _transaction(self, kind: str, record: dict, body: dict, existing: dict | None, replace: set[str]) -> dict:
        if existing is not None:
            self.check_open(existing["tranDate"])
        day = body.get("tranDate", record.get("tranDate"))
        if not day:
            raise invalid("Please enter value(s) for: Date", "tranDate")
        period = self.check_open(day)
        party = "customer" if kind == "customerPayment" else "entity"
        customer = self.ref("customer", body.get(party, record.get(party)), party)
        tran_id = body.get("tranId") or record.get("tranId") or f"{TRANSACTIONS[kind]}{1000 + self.store.next_value(kind)}"
        clash = [r for r in self.store.all(kind) if r.get("tranId") == tran_id and r["id"] != record["id"]]
        if clash:
            raise user_error(f"The transaction number {tran_id} is already used by another {kind}; enter another.")
        record.update({k: v for k, v in body.items() if k not in ("item", "apply", party)})
        record.update({party: {"id": customer["id"], "refName": customer["companyName"]}, "tranId": tran_id,
                       "tranDate": day, "postingPeriod": {"id": period["id"], "refName": period["periodName"]}})
        if kind != "customerPayment":
            record["item"] = {"items": self._lines(body.get("item"), record.get("item"), "item" in replace)}
            record["total"] = float(sum((cents(l["amount"]) for l in record["item"]["items"]), Decimal(0)))
        else:
            record["payment"] = float(cents(body.get("payment", record.get("payment"))))
            record["total"] = record["payment"]
        record.setdefault("createdFrom", None)
        self._unapply(record)
        wanted = self._applications(body.get("apply"), record.get("_apply") or [], "apply" in replace, customer["id"])
        self._apply(kind, record, wanted)
        return record

    def _lines(self, given: Any, current: Any, replace: bool) -> list[dict]:
        lines = [] if replace or current is None else list(current["items"])
        for index, line in enumerate(((given or {}).get("items") or []) if given is not None else []):
            item = self.ref("serviceSaleItem", line.get("item"), f"item.items[{index}].item")
            quantity, rate = Decimal(str(line.get("quantity", 1))), Decimal(str(line.get("rate", 0)))
            amount = cents(line["amount"]) if line.get("amount") is not None else cents(quantity * rate)
            entry = {"line": len(lines) + 1, "item": {"id": item["id"], "refName": item["itemId"]},
                     "description": line.get("description") or item.get("displayName") or "",
                     "quantity": float(quantity), "rate": float(rate), "amount": float(amount)}
            keyed = [n for n, l in enumerate(lines) if line.get("line") and l["line"] == line["line"]]
            if keyed:
                lines[keyed[0]] = {**entry, "line": line["line"]}
            else:
                lines.append(entry)
        if not lines:
            raise invalid("You must enter at least one line item for this transaction.", "item")
        return lines

    def _applications(self, given: Any, current: list, replace: bool, customer_id: str) -> list[list]:
        wanted = [] if replace else [list(a) for a in current]
        for index, item in enumerate((given or {}).get("items") or []):
            invoice = self.ref("invoice", item.get("doc"), f"apply.items[{index}].doc")
            if invoice["entity"]["id"] != customer_id:
                raise invalid(f"Invoice {invoice['tranId']} belongs to another customer.", f"apply.items[{index}].doc")
            wanted = [a for a in wanted if a[0] != invoice["id"]]
            if item.get("apply", True):
                wanted.append([invoice["id"], float(cents(item.get("amount")))])
        return wanted

    def _unapply(self, record: dict) -> None:
        for invoice_id, amount in record.get("_apply") or []:
            invoice = self.store.get("invoice", invoice_id)
            if invoice is not None:
                invoice["amountRemaining"] = float(cents(invoice["amountRemaining"]) + cents(amount))
                invoice["status"] = "Open"
                self.save("invoice", invoice)
        record["_apply"] = []

    def _apply(self, kind: str, record: dict, wanted: list[list]) -> None:
        applied = Decimal(0)
        for invoice_id, amount in wanted:
            invoice = self.store.get("invoice", invoice_id)
            amount = min(cents(amount), cents(invoice["amountRemaining"]))
            if amount <= 0:
                continue
            invoice["amountRemaining"] = float(cents(invoice["amountRemaining"]) - amount)
            invoice["status"] = "Paid In Full" if cents(invoice["amountRemaining"]) == 0 else "Open"
            self.save("invoice", invoice)
            record["_apply"].append([invoice_id, float(amount)])
            applied += amount
        if applied > cents(record["total"]):
            raise user_error(f"The amounts applied ({applied}) exceed the {kind}'s total ({record['total']}).")
        record["apply"] = {"items": [{"doc": {"id": i}, "apply": True, "amount": a} for i, a in record["_apply"]]}
        if kind == "invoice":
            taken = sum((cents(amount) for other in ("creditMemo", "customerPayment") for r in self.store.all(other)
                         for invoice_id, amount in r.get("_apply") or [] if invoice_id == record["id"]), Decimal(0))
            if taken > cents(record["total"]):
                raise user_error(f"Invoice {record['tranId']} would total less than the credits and payments applied "
                                 f"to it ({taken}); unapply them first.")
            record["amountRemaining"] = float(cents(record["total"]) - taken)
            record["status"] = "Paid In Full" if cents(record["amountRemaining"]) == 0 else "Open"
            record.pop("apply", None)
        elif kind == "customerPayment":
            record["unapplied"] = float(cents(record["total"]) - applied)
            record["status"] = "Not Deposited"
        else:
            record["unapplied"] = float(cents(record["total"]) - applied)
            record["amountRemaining"] = record["unapplied"]
            record["status"] = "Fully Applied" if cents(record["unapplied"]) == 0 else "Open"
        self.save(kind, record)

    def delete(self, kind: str, record: dict) -> None:
        if kind in TRANSACTIONS:
            self.check_open(record["tranDate"])
        if kind == "invoice" and cents(record["amountRemaining"]) != cents(record["total"]):
            raise user_error("This record cannot be deleted because it has dependent records.")
        self._unapply(record)
        self.store.remove(kind, record["id"])

    def transform(self, source: dict, target: str, body: dict) -> dict:
        if target != "creditMemo":
            raise NsError(400, "INVALID_TRANSFORM", f"Transform from invoice to {target} is not supported.")
        if cents(source["amountRemaining"]) <= 0:
            raise user_error(f"Invoice {source['tranId']} has nothing left to credit.")
        lines = [{"item": {"id": l["item"]["id"]}, "description": l["description"], "quantity": l["quantity"],
                  "rate": l["rate"], "amount": l["amount"]} for l in source["item"]["items"]]
        credit = {"entity": {"id": source["entity"]["id"]}, "tranDate": source["tranDate"], "item": {"items": lines},
                  "memo": f"Credit of invoice {source['tranId']}", **body,
                  "apply": {"items": [{"doc": {"id": source["id"]}, "apply": True, "amount": source["amountRemaining"]}]}}
        record = self.write("creditMemo", credit, None, set())
        record["createdFrom"] = {"id": source["id"], "refName": f"Invoice #{source['tranId']}"}
        return self.save("creditMemo", record)


def month_periods(first: str, months: int) -> list[dict[str, Any]]:
    year, month = map(int, first.split("-"))
    out = []
    for n in range(months):
        y, m = year + (month - 1 + n) // 12, (month - 1 + n) % 12 + 1
        start = dt.date(y, m, 1)
        end = (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1))
        out.append({"id": str(n + 1), "periodName": start.strftime("%b %Y"), "startDate": start.isoformat(),
                    "endDate": end.isoformat(), "closed": False, "isQuarter": False, "isYear": False})
    return out
