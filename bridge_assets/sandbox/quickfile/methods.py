"""QuickFile's rules behind each v1.2 method the emulator serves: `Body` in, `Body` out, `Refused` for what
QuickFile refuses (answered `{"Errors": {"Error": [...]}}`). Internal names are the emulator's own."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from bridge_assets.sandbox.kit.money import line_amount, money
from bridge_assets.sandbox.quickfile.store import Store


class Refused(Exception):
    def __init__(self, *errors: str, status: int = 400) -> None:
        super().__init__("; ".join(errors))
        self.errors, self.status = list(errors), status


def _number(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise Refused(f"{field} must be a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise Refused(f"{field} must be a number") from None
    if not number.is_finite():
        raise Refused(f"{field} must be a number")
    return number


def _text(data: dict, field: str, low: int = 0, high: int = 10_000, *, required: bool = False) -> str | None:
    value = data.get(field)
    if value is None or value == "":
        if required:
            raise Refused(f"The element '{field}' is required")
        return None
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise Refused(f"The element '{field}' must be text of {low} to {high} characters")
    return value


def _date(value: Any, field: str) -> str:
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise Refused(f"The element '{field}' must be a date YYYY-MM-DD") from None


def client_create(store: Store, acc: str, body: dict) -> dict:
    details = body.get("ClientDetails") or {}
    name = _text(details, "CompanyName", 1, 100, required=True)
    doc = {"CompanyName": name, "AccountReference": _text(details, "AccountReference", 0, 30)}
    record = store.insert("Client", acc, doc, _serial(store, "Client"))
    return {"ClientID": int(record["id"])}


def client_search(store: Store, acc: str, body: dict, max_count: int) -> dict:
    params = _search_params(body, max_count, ("CompanyName", "AccountReference"))
    records = [r for r in store.listed("Client", acc)
               if all(params.get(f) in (None, r.get(f)) for f in ("CompanyName", "AccountReference"))]
    chosen = records[params["Offset"]: params["Offset"] + params["ReturnCount"]]
    return {"RecordsetCount": len(records), "ReturnCount": len(chosen),
            "Record": [{"ClientID": int(r["id"]), "CompanyName": r["CompanyName"],
                        "AccountReference": r.get("AccountReference")} for r in chosen]}


def _search_params(body: dict, max_count: int, optional: tuple[str, ...]) -> dict:
    params = body.get("SearchParameters")
    if not isinstance(params, dict):
        raise Refused("The element 'SearchParameters' is required")
    for field in ("ReturnCount", "Offset", "OrderResultsBy", "OrderDirection"):
        if params.get(field) is None:
            raise Refused(f"The element '{field}' is required")
    count, offset = int(_number(params["ReturnCount"], "ReturnCount")), int(_number(params["Offset"], "Offset"))
    if not 1 <= count <= max_count or offset < 0:
        raise Refused(f"ReturnCount must be between 1 and {max_count}, Offset at least 0")
    if params["OrderDirection"] not in ("ASC", "DESC"):
        raise Refused("OrderDirection must be ASC or DESC")
    return {**{f: params.get(f) for f in optional}, **params, "ReturnCount": count, "Offset": offset}


def _lines(data: dict) -> list[dict]:
    lines = (((data.get("InvoiceLines") or {}).get("ItemLines") or {}).get("ItemLine"))
    if not isinstance(lines, list) or not lines:
        raise Refused("An invoice needs at least one ItemLine")
    built = []
    for n, line in enumerate(lines, start=1):
        name = _text(line, "ItemName", 1, 50, required=True)
        qty, cost = _number(line.get("Qty"), f"ItemLine {n} Qty"), _number(line.get("UnitCost"), f"ItemLine {n} UnitCost")
        if qty <= 0:
            raise Refused(f"ItemLine {n}: Qty must be greater than zero")
        tax = line.get("Tax1") or {}
        percentage = _number(tax.get("TaxPercentage", 0), f"ItemLine {n} TaxPercentage")
        amount = (money(_number(tax["TaxAmount"], f"ItemLine {n} TaxAmount")) if tax.get("TaxAmount") is not None
                  else money(line_amount(qty, cost) * percentage / 100))
        built.append({"ItemName": name, "ItemDescription": line.get("ItemDescription") or "", "Qty": str(qty),
                      "UnitCost": str(cost), "NominalCode": str(line.get("ItemNominalCode") or "4000"),
                      "TaxName": tax.get("TaxName") or "VAT", "TaxPercentage": str(percentage), "TaxAmount": str(amount)})
    return built


def invoice_create(store: Store, acc: str, body: dict) -> dict:
    """Create (no InvoiceID) or replace (InvoiceID) an invoice: the data supplied replaces what it held."""
    data = body.get("InvoiceData") or {}
    if data.get("CreditNotes"):
        raise Refused("CreditNotes are not served by this emulator")
    if data.get("InvoiceType", "INVOICE") != "INVOICE":
        raise Refused("InvoiceType must be INVOICE")
    client_id = str(int(_number(data.get("ClientID"), "ClientID")))
    if store.get("Client", client_id, acc) is None:
        raise Refused(f"ClientID {client_id} does not exist")
    scheduling = ((data.get("Scheduling") or {}).get("SingleInvoiceData")) or {}
    existing = None
    if data.get("InvoiceID") is not None:
        existing = store.get("Invoice", str(int(_number(data["InvoiceID"], "InvoiceID"))), acc)
        if existing is None or existing["Status"] == "DELETED":
            raise Refused(f"InvoiceID {data['InvoiceID']} does not exist")
    lines = _lines(data)
    number = _text(scheduling, "InvoiceNumber", 1, 20) or (existing or {}).get("InvoiceNumber") or _next_number(store, acc)
    if any(r["InvoiceNumber"] == number and r["id"] != (existing or {}).get("id") for r in store.listed("Invoice", acc)):
        raise Refused(f"Invoice number {number} is already in use")
    description = _text(data, "InvoiceDescription", 2, 35) or lines[0]["ItemName"][:35].ljust(2, ".")
    doc = {"InvoiceNumber": number, "ClientID": client_id, "Status": (existing or {}).get("Status", "DRAFT"),
           "IssueDate": _date(scheduling.get("IssueDate") or dt.date.today().isoformat(), "IssueDate"),
           "TermDays": int(_number(data.get("TermDays", 30), "TermDays")), "Currency": data.get("Currency") or "GBP",
           "InvoiceDescription": description, "Notes": data.get("Notes") or "", "Lines": lines, "Paid": "0"}
    if existing is not None:
        if Decimal(existing.get("Paid", "0")):
            raise Refused(f"Invoice {number} has payments allocated and cannot be changed")
        record = store.update("Invoice", existing["id"], doc)
    else:
        record = store.insert("Invoice", acc, doc, _serial(store, "Invoice"))
    return {"InvoiceID": int(record["id"]), "InvoiceNumber": number}


def _next_number(store: Store, acc: str) -> str:
    numbers = [int(r["InvoiceNumber"]) for r in store.listed("Invoice", acc) if r["InvoiceNumber"].isdigit()]
    return str(max(numbers, default=0) + 1)


def _serial(store: Store, kind: str) -> str:
    row = store.fetchone("SELECT last FROM counters WHERE kind = ?", (kind,))
    serial = (row["last"] if row else 1000) + 1
    store.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT (kind) DO UPDATE SET last = excluded.last", (kind, serial))
    return str(serial)


def totals(record: dict) -> tuple[Decimal, Decimal]:
    net = sum((line_amount(Decimal(l["Qty"]), Decimal(l["UnitCost"])) for l in record["Lines"]), Decimal(0))
    vat = sum((Decimal(l["TaxAmount"]) for l in record["Lines"]), Decimal(0))
    return money(net), money(vat)


def _summary(store: Store, record: dict) -> dict:
    net, vat = totals(record)
    client = store.get("Client", record["ClientID"]) or {}
    return {"InvoiceID": int(record["id"]), "InvoiceNumber": record["InvoiceNumber"], "ClientID": int(record["ClientID"]),
            "ClientName": client.get("CompanyName"), "IssueDate": record["IssueDate"], "Status": record["Status"],
            "NetAmount": net, "VatAmount": vat, "GrossAmount": net + vat,
            "OutstandingAmount": net + vat - Decimal(record.get("Paid", "0")), "Currency": record["Currency"]}


def invoice_get(store: Store, acc: str, body: dict) -> dict:
    record = store.get("Invoice", str(int(_number(body.get("InvoiceID"), "InvoiceID"))), acc)
    if record is None:
        raise Refused(f"InvoiceID {body.get('InvoiceID')} does not exist")
    return {"InvoiceDetails": {**_summary(store, record), "ItemLines": {"ItemLine": record["Lines"]}}}


def invoice_search(store: Store, acc: str, body: dict, max_count: int) -> dict:
    params = _search_params(body, max_count, ("InvoiceNumber", "ShowDeleted"))
    if params.get("InvoiceType") not in ("INVOICE", "ESTIMATE", "RECURRING"):
        raise Refused("The element 'InvoiceType' is required (INVOICE, ESTIMATE or RECURRING)")
    records = [r for r in store.listed("Invoice", acc)
               if (params.get("ShowDeleted") or r["Status"] != "DELETED")
               and params.get("InvoiceNumber") in (None, r["InvoiceNumber"])]
    records.sort(key=lambda r: (r["InvoiceNumber"].zfill(20), r["id"]), reverse=params["OrderDirection"] == "DESC")
    chosen = records[params["Offset"]: params["Offset"] + params["ReturnCount"]]
    return {"RecordsetCount": len(records), "ReturnCount": len(chosen), "Record": [_summary(store, r) for r in chosen]}


def invoice_delete(store: Store, acc: str, body: dict) -> dict:
    ids = (body.get("InvoiceDetails") or {}).get("InvoiceID")
    for value in ids if isinstance(ids, list) else [ids]:
        record = store.get("Invoice", str(int(_number(value, "InvoiceID"))), acc)
        if record is None or record["Status"] == "DELETED":
            raise Refused(f"InvoiceID {value} does not exist")
        store.update("Invoice", record["id"], {**{k: v for k, v in record.items() if k not in (
            "id", "business_id", "created_at", "modified_at")}, "Status": "DELETED"})
    return {"InvoicesDeleted": len(ids) if isinstance(ids, list) else 1}


def account_details(store: Store, acc: str, body: dict) -> dict:
    account = store.get("Account", acc) or {}
    return {"AccountDetails": {"AccountNumber": acc, "CompanyName": account.get("name")}}


METHODS: dict[str, Callable[..., dict]] = {
    "Client_Create": client_create, "Client_Search": client_search, "Invoice_Create": invoice_create,
    "Invoice_Get": invoice_get, "Invoice_Search": invoice_search, "Invoice_Delete": invoice_delete,
    "System_GetAccountDetails": account_details,
}
SEARCHES = frozenset({"Client_Search", "Invoice_Search"})
