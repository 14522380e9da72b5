"""KashFlow's rules behind each SOAP operation the emulator serves: values in, `(result, ok, detail)` out.
A refusal is `Status` NO with `StatusDetail` (HTTP 200), as KashFlow answers one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge_assets.sandbox.kit.money import line_amount, money
from bridge_assets.sandbox.kit.tenant_records import RecordStore


class No(Exception):
    """Status NO, with this StatusDetail."""


def _decimal(value: Any, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise No(f"{field} must be a number") from None
    if not number.is_finite():
        raise No(f"{field} must be a number")
    return number


def _int(value: Any, field: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise No(f"{field} must be a whole number") from None


def _date(value: Any, field: str) -> str:
    try:
        return dt.datetime.fromisoformat(str(value)).date().isoformat()
    except ValueError:
        raise No(f"{field} must be a date yyyy-mm-ddTHH:MM:SS") from None


def insert_customer(store: RecordStore, account: str, values: dict) -> int:
    custr = values.get("custr") or {}
    code, name = str(custr.get("Code") or "").strip(), str(custr.get("Name") or "").strip()
    if not code or not name or len(code) > 20:
        raise No("A customer needs a Code (at most 20 characters) and a Name")
    if any(c["Code"].casefold() == code.casefold() for c in store.listed("Customer", account)):
        raise No(f"Customer code {code} is already in use")
    return int(store.insert("Customer", account, {"Code": code, "Name": name}, _serial(store, "Customer"))["id"])


def get_customer(store: RecordStore, account: str, values: dict) -> dict:
    code = str(values.get("CustomerCode") or "")
    found = next((c for c in store.listed("Customer", account) if c["Code"].casefold() == code.casefold()), None)
    if found is None:
        raise No(f"No customer with code {code}")
    return {"CustomerID": int(found["id"]), "Code": found["Code"], "Name": found["Name"]}


def _invoice_doc(store: RecordStore, account: str, inv: dict) -> dict:
    number = _int(inv.get("InvoiceNumber", 0), "InvoiceNumber")
    customer = store.get("Customer", str(_int(inv.get("CustomerID", 0), "CustomerID")), account)
    if customer is None:
        raise No("CustomerID does not exist")
    lines = inv.get("Lines") or []
    if not isinstance(lines, list) or not lines:
        raise No("An invoice needs at least one line")
    built = []
    for n, line in enumerate(lines, start=1):
        vat_rate = _decimal(line.get("VatRate", 0), f"Line {n} VatRate")
        built.append({"Quantity": str(_decimal(line.get("Quantity"), f"Line {n} Quantity")),
                      "Description": str(line.get("Description") or ""),
                      "Rate": str(_decimal(line.get("Rate"), f"Line {n} Rate")),
                      "ChargeType": _int(line.get("ChargeType", 0), f"Line {n} ChargeType"),
                      "VatAmount": str(money(_decimal(line.get("VatAmount", 0), f"Line {n} VatAmount"))),
                      "VatRate": str(vat_rate), "Sort": _int(line.get("Sort", n), f"Line {n} Sort"), "ProductID": 0})
    invoice_date = _date(inv.get("InvoiceDate"), "InvoiceDate")
    due = _date(inv.get("DueDate") or inv.get("InvoiceDate"), "DueDate")
    if due < invoice_date:
        raise No("DueDate cannot be before InvoiceDate")
    return {"InvoiceNumber": number, "InvoiceDate": invoice_date, "DueDate": due, "CustomerID": customer["id"],
            "CustomerReference": str(inv.get("CustomerReference") or ""), "Lines": built, "AmountPaid": "0"}


def insert_invoice(store: RecordStore, account: str, values: dict) -> int:
    doc = _invoice_doc(store, account, values.get("Inv") or {})
    held = store.listed("Invoice", account)
    if doc["InvoiceNumber"] <= 0:
        doc["InvoiceNumber"] = max((i["InvoiceNumber"] for i in held), default=0) + 1
    if any(i["InvoiceNumber"] == doc["InvoiceNumber"] for i in held):
        raise No(f"Invoice number {doc['InvoiceNumber']} already exists")
    store.insert("Invoice", account, doc, _serial(store, "Invoice"))
    return doc["InvoiceNumber"]


def _by_number(store: RecordStore, account: str, number: int) -> dict:
    found = next((i for i in store.listed("Invoice", account) if i["InvoiceNumber"] == number), None)
    if found is None:
        raise No(f"Invoice {number} does not exist")
    return found


def update_invoice(store: RecordStore, account: str, values: dict) -> bool:
    doc = _invoice_doc(store, account, values.get("Inv") or {})
    held = _by_number(store, account, doc["InvoiceNumber"])
    if Decimal(held.get("AmountPaid", "0")):
        raise No(f"Invoice {doc['InvoiceNumber']} has payments and cannot be changed")
    store.update("Invoice", held["id"], doc)
    return True


def get_invoice(store: RecordStore, account: str, values: dict) -> dict:
    return render(store, _by_number(store, account, _int(values.get("InvoiceNumber"), "InvoiceNumber")))


def delete_invoice(store: RecordStore, account: str, values: dict) -> None:
    store.delete("Invoice", _by_number(store, account, _int(values.get("InvoiceNumber"), "InvoiceNumber"))["id"])


def render(store: RecordStore, record: dict) -> dict:
    net = money(sum((line_amount(Decimal(l["Quantity"]), Decimal(l["Rate"])) for l in record["Lines"]), Decimal(0)))
    vat = money(sum((Decimal(l["VatAmount"]) for l in record["Lines"]), Decimal(0)))
    return {"InvoiceDBID": int(record["id"]), "InvoiceNumber": record["InvoiceNumber"],
            "InvoiceDate": dt.date.fromisoformat(record["InvoiceDate"]), "DueDate": dt.date.fromisoformat(record["DueDate"]),
            "CustomerID": int(record["CustomerID"]), "CustomerReference": record["CustomerReference"],
            "NetAmount": net, "VatAmount": vat, "AmountPaid": Decimal(record.get("AmountPaid", "0")),
            "Lines": [{**line, "Quantity": Decimal(line["Quantity"]), "Rate": Decimal(line["Rate"]),
                       "VatAmount": Decimal(line["VatAmount"]), "VatRate": Decimal(line["VatRate"])}
                      for line in record["Lines"]]}


def _serial(store: RecordStore, kind: str) -> str:
    row = store.fetchone("SELECT last FROM counters WHERE kind = ?", (kind,))
    serial = (row["last"] if row else 100) + 1
    store.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT (kind) DO UPDATE SET last = excluded.last", (kind, serial))
    return str(serial)


OPERATIONS = {"InsertCustomer": insert_customer, "GetCustomer": get_customer, "InsertInvoice": insert_invoice,
              "UpdateInvoice": update_invoice, "GetInvoice": get_invoice, "DeleteInvoice": delete_invoice}
ORDERS = {"GetCustomer": ("CustomerID", "Code", "Name"), "GetInvoice": ()}
