"""What the emulated QuickBooks Desktop does with one qbXML message set: every request checked for shape
first (a malformed set is refused whole, nothing applied), then each applied in its own transaction and
answered with its `...Rs` (statusCode, statusSeverity, statusMessage, the `...Ret`). Rules: `rules.py`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import xml.etree.ElementTree as ET
from decimal import Decimal, ROUND_HALF_UP
from typing import Any, Callable

from bridge_assets.sandbox.qbd import rules
from bridge_assets.sandbox.qbd.rules import MessageRefused, StatusError
from bridge_assets.sandbox.qbd.store import CompanyStore, cents, dollars, stamp

_QBXML_PI = re.compile(r"<\?qbxml\s+version=\"(\d+\.\d+)\"\s*\?>")


def _el(tag: str, text: Any = None, **attrs: str) -> ET.Element:
    element = ET.Element(tag, attrs)
    if text is not None:
        element.text = str(text)
    return element


def _sub(parent: ET.Element, tag: str, text: Any = None) -> ET.Element:
    child = _el(tag, text)
    parent.append(child)
    return child


def _get(element: ET.Element, path: str) -> str | None:
    found = element.find(path)
    return None if found is None or found.text is None else found.text.strip()


def _money(element: ET.Element, path: str) -> int | None:
    value = _get(element, path)
    if value is None:
        return None
    try:
        return cents(Decimal(value))
    except Exception:
        raise StatusError(3020, f'There was an error when converting the amount "{value}" in the field "{path}".') from None


def _date(element: ET.Element, path: str, default: dt.date | None = None) -> dt.date | None:
    value = _get(element, path)
    if value is None:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise StatusError(3020, f'There was an error when converting the date value "{value}" in the field "{path}".') from None


def process(store: CompanyStore, document: str) -> str:
    """The response document for one request document (raises MessageRefused for an unreadable one)."""
    version = _QBXML_PI.search(document or "")
    if version is None:
        raise MessageRefused('the <?qbxml version="..."?> processing instruction is missing')
    try:
        root = ET.fromstring(document.split("?>", 2)[-1] if document.lstrip().startswith("<?xml") else document)
    except ET.ParseError as problem:
        raise MessageRefused(str(problem)) from None
    msgs = root.find("QBXMLMsgsRq") if root.tag == "QBXML" else None
    if msgs is None:
        raise MessageRefused("<QBXML><QBXMLMsgsRq> is missing")
    on_error = msgs.get("onError")
    if on_error not in ("stopOnError", "continueOnError"):
        raise MessageRefused(f"onError must be stopOnError or continueOnError, not {on_error!r}")
    for request in msgs:
        if request.tag not in HANDLERS:
            raise MessageRefused(f"<{request.tag}> is not a request this QuickBooks knows")
        inner = request.find(request.tag[:-2]) if request.tag[:-2] in rules.ORDER else None
        if request.tag[:-2] in rules.ORDER and inner is None:
            raise MessageRefused(f"<{request.tag}> has no <{request.tag[:-2]}>")
        rules.check_shape(inner if inner is not None else request)
    out = _el("QBXMLMsgsRs")
    for request in msgs:
        rs = _el(request.tag[:-2] + "Rs", requestID=request.get("requestID", ""))
        try:
            with store.transaction():
                inner = request.find(request.tag[:-2])
                rets = HANDLERS[request.tag](store, request if inner is None else inner)
            if isinstance(rets, tuple):                   # a query page: (rets, iterator attributes)
                rets, paging = rets
                for key, value in paging.items():
                    rs.set(key, value)
            code, severity, message = (0, "Info", "Status OK") if rets else (
                1, "Info", "A query request did not find a matching object in QuickBooks")
        except StatusError as refusal:
            code, severity, message, rets = refusal.code, refusal.severity, refusal.message, []
        rs.set("statusCode", str(code))
        rs.set("statusSeverity", severity)
        rs.set("statusMessage", message)
        for ret in rets:
            rs.append(ret)
        out.append(rs)
        store.journal_append("qbXML", request.tag, "", 200, "processed" if code in (0, 1) else "refused",
                             request=request.tag, ref=_get(request, ".//RefNumber") or _get(request, ".//TxnID"),
                             status_code=code, message=message)
        if code not in (0, 1) and on_error == "stopOnError":
            break
    body = ET.tostring(_wrap(out), encoding="unicode")
    return f'<?xml version="1.0" ?>{body}'


def _wrap(msgs: ET.Element) -> ET.Element:
    root = _el("QBXML")
    root.append(msgs)
    return root


# --- lists -----------------------------------------------------------------------------------------------


def _name_ret(kind: str, row: Any) -> ET.Element:
    ret = _el(f"{kind}Ret")
    for tag, value in (("ListID", row["list_id"]), ("TimeCreated", stamp(row["created"])),
                       ("TimeModified", stamp(row["modified"])), ("EditSequence", row["edit_sequence"]),
                       ("Name", row["name"]), ("FullName", row["name"]), ("IsActive", "true")):
        _sub(ret, tag, value)
    if kind == "ItemService":
        sales = _sub(ret, "SalesOrPurchase")
        _sub(sales, "Price", dollars(row["price_cents"] or 0))
        _sub(_sub(sales, "AccountRef"), "FullName", row["account"])
    return ret


def _name_add(kind: str, namespace: str) -> Callable[[CompanyStore, ET.Element], list[ET.Element]]:
    def add(store: CompanyStore, element: ET.Element) -> list[ET.Element]:
        name = _get(element, "Name") or ""
        if len(name) > rules.NAME_MAX[kind]:
            raise StatusError(3070, f'The string "{name}" in the field "Name" is too long.')
        if store.name_by(namespace, name) is not None:
            raise StatusError(3100, f'The name "{name}" of the list element is already in use.')
        price = _money(element, "SalesOrPurchase/Price") if kind == "ItemService" else None
        account = _get(element, "SalesOrPurchase/AccountRef/FullName") if kind == "ItemService" else None
        return [_name_ret(kind, store.add_name(kind, namespace, name, price, account))]
    return add


def _name_query(kind: str, namespace: str) -> Callable[[CompanyStore, ET.Element], list[ET.Element]]:
    def query(store: CompanyStore, element: ET.Element) -> list[ET.Element]:
        rows = [store.name_by(namespace, n.text or "") for n in element.findall("FullName")]
        rows += [store.name_by_id(n.text or "") for n in element.findall("ListID")]
        if not element.findall("FullName") and not element.findall("ListID"):
            rows = store.fetchall("SELECT * FROM names WHERE kind = ? ORDER BY name", (kind,))
        return [_name_ret(kind, r) for r in rows if r is not None and r["kind"] == kind]
    return query


# --- transactions ----------------------------------------------------------------------------------------


def _customer(store: CompanyStore, element: ET.Element, txn_type: str) -> Any:
    name, list_id = _get(element, "CustomerRef/FullName"), _get(element, "CustomerRef/ListID")
    row = store.name_by_id(list_id) if list_id else store.name_by("name", name or "")
    if row is None or row["kind"] != "Customer":
        raise StatusError(3140, f'There is an invalid reference to QuickBooks Customer "{name or list_id}" in the '
                                f'{txn_type}. QuickBooks error message: Invalid argument. The specified record does '
                                f'not exist in the list.')
    return row


def _lines(store: CompanyStore, element: ET.Element, tag: str, txn_type: str, old: list | None = None) -> list[dict]:
    lines, known = [], {line["id"]: line for line in (old or [])}
    for number, line in enumerate(element.findall(tag), start=1):
        line_id = _get(line, "TxnLineID")
        base = dict(known[line_id]) if line_id and line_id != "-1" and line_id in known else {}
        if line_id and line_id != "-1" and not base:
            raise StatusError(3120, f'Object "{line_id}" specified in the request cannot be found.')
        item_name = _get(line, "ItemRef/FullName") or base.get("item")
        if item_name is None or store.name_by("item", item_name) is None:
            raise StatusError(3140, f'There is an invalid reference to QuickBooks Item "{item_name}" in the {txn_type} line.')
        qty, rate = _get(line, "Quantity"), _get(line, "Rate")
        amount = _money(line, "Amount")
        if amount is None and qty is not None and rate is not None:
            amount = cents((Decimal(qty) * Decimal(rate)).quantize(Decimal("0.01"), ROUND_HALF_UP))
        if amount is not None and qty is not None and rate is not None:
            expected = cents((Decimal(qty) * Decimal(rate)).quantize(Decimal("0.01"), ROUND_HALF_UP))
            if expected != amount:
                raise StatusError(3210, f'The "Amount" field has an invalid value "{dollars(amount)}". QuickBooks error '
                                        f'message: the amount is not the quantity times the rate ({dollars(expected)}).')
        lines.append({"id": base.get("id") or f"L{number}-{store.next_number('line')}", "item": item_name,
                      "desc": _get(line, "Desc") if line.find("Desc") is not None else base.get("desc"),
                      "qty": qty if qty is not None else base.get("qty"),
                      "rate": rate if rate is not None else base.get("rate"),
                      "cents": amount if amount is not None else base.get("cents", 0)})
    return lines


def _open_books(store: CompanyStore, day: dt.date, txn_type: str) -> None:
    closed = store.closing_date()
    if closed is not None and day <= closed:
        raise StatusError(3180, f"There was an error when saving a {txn_type}. QuickBooks error message: The date "
                                f"{day.isoformat()} is on or before the closing date of this company file "
                                f"({closed.isoformat()}).")


def _ref_number(element: ET.Element, txn_type: str) -> str | None:
    ref = _get(element, "RefNumber")
    if ref is not None and len(ref) > rules.REF_NUMBER_MAX[txn_type]:
        raise StatusError(3070, f'The string "{ref}" in the field "RefNumber" is too long.')
    return ref


def _sales_add(txn_type: str, line_tag: str) -> Callable[[CompanyStore, ET.Element], list[ET.Element]]:
    def add(store: CompanyStore, element: ET.Element) -> list[ET.Element]:
        customer = _customer(store, element, txn_type)
        day = _date(element, "TxnDate", dt.date.today())
        _open_books(store, day, txn_type)
        lines = _lines(store, element, line_tag, txn_type)
        row = store.insert_txn(txn_type, {
            "ref_number": _ref_number(element, txn_type), "customer_id": customer["list_id"],
            "txn_date": day.isoformat(), "due_date": _get(element, "DueDate"), "po_number": _get(element, "PONumber"),
            "memo": _get(element, "Memo"), "total_cents": sum(l["cents"] for l in lines), "lines": lines})
        return [txn_ret(store, row)]
    return add


def invoice_mod(store: CompanyStore, element: ET.Element) -> list[ET.Element]:
    row = store.txn(_get(element, "TxnID") or "", "Invoice")
    if row is None:
        raise StatusError(3120, f'Object "{_get(element, "TxnID")}" specified in the request cannot be found.')
    sequence = _get(element, "EditSequence") or ""
    if sequence != row["edit_sequence"]:
        raise StatusError(3200, f'The provided edit sequence "{sequence}" is out-of-date.')
    if row["voided"]:
        raise StatusError(3180, "There was an error when saving a Invoice. QuickBooks error message: a voided "
                                "transaction cannot be changed.")
    _open_books(store, dt.date.fromisoformat(row["txn_date"]), "Invoice")
    values: dict[str, Any] = {}
    if element.find("CustomerRef") is not None:
        values["customer_id"] = _customer(store, element, "Invoice")["list_id"]
    if element.find("TxnDate") is not None:
        values["txn_date"] = _date(element, "TxnDate").isoformat()
        _open_books(store, dt.date.fromisoformat(values["txn_date"]), "Invoice")
    if element.find("RefNumber") is not None:
        values["ref_number"] = _ref_number(element, "Invoice")
    for tag, column in (("DueDate", "due_date"), ("PONumber", "po_number"), ("Memo", "memo")):
        if element.find(tag) is not None:
            values[column] = _get(element, tag)
    if element.find("InvoiceLineMod") is not None:
        lines = _lines(store, element, "InvoiceLineMod", "Invoice", json.loads(row["lines"]))
        values.update(lines=lines, total_cents=sum(l["cents"] for l in lines))
        if values["total_cents"] < store.paid_to(row["txn_id"]):
            raise StatusError(3180, "There was an error when saving a Invoice. QuickBooks error message: the new "
                                    "total is below what payments and credits already applied to it.")
    return [txn_ret(store, store.update_txn(row["txn_id"], values))]


def payment_add(store: CompanyStore, element: ET.Element) -> list[ET.Element]:
    customer = _customer(store, element, "ReceivePayment")
    day = _date(element, "TxnDate", dt.date.today())
    _open_books(store, day, "ReceivePayment")
    total = _money(element, "TotalAmount") or 0
    applications, applied = [], 0
    for a in element.findall("AppliedToTxnAdd"):
        invoice = store.txn(_get(a, "TxnID") or "", "Invoice")
        if invoice is None:
            raise StatusError(3140, f'There is an invalid reference to QuickBooks Invoice "{_get(a, "TxnID")}".')
        amount = _money(a, "PaymentAmount") or 0
        credit_id, credit = _get(a, "SetCredit/CreditTxnID"), _money(a, "SetCredit/AppliedAmount") or 0
        if invoice["customer_id"] != customer["list_id"] or invoice["voided"]:
            raise StatusError(3210, f'The "AppliedToTxnAdd TxnID" field has an invalid value "{invoice["txn_id"]}". '
                                    f'QuickBooks error message: the invoice is not open for this customer.')
        if credit_id is not None:
            memo = store.txn(credit_id, "CreditMemo")
            if memo is None or memo["customer_id"] != customer["list_id"]:
                raise StatusError(3140, f'There is an invalid reference to QuickBooks CreditMemo "{credit_id}".')
            if credit > memo["total_cents"] - store.credit_used(credit_id):
                raise StatusError(3210, f'The "SetCredit AppliedAmount" field has an invalid value "{dollars(credit)}". '
                                        f'QuickBooks error message: the credit has less left to apply.')
        due = invoice["total_cents"] - store.paid_to(invoice["txn_id"])
        if amount + credit > due:
            raise StatusError(3210, f'The "AppliedToTxnAdd payment amount" field has an invalid value '
                                    f'"{dollars(amount)}". QuickBooks error message: You cannot pay more than the '
                                    f'amount due.')
        applications.append((invoice["txn_id"], amount, credit_id, credit))
        applied += amount
    if applied > total:
        raise StatusError(3210, f'The "TotalAmount" field has an invalid value "{dollars(total)}". QuickBooks error '
                                f'message: the amounts applied are more than the payment.')
    row = store.insert_txn("ReceivePayment", {
        "ref_number": _ref_number(element, "ReceivePayment"), "customer_id": customer["list_id"],
        "txn_date": day.isoformat(), "memo": _get(element, "Memo"), "total_cents": total, "lines": []})
    for invoice_id, amount, credit_id, credit in applications:
        store.add_application(row["txn_id"], invoice_id, amount, credit_id, credit)
        store.touch(invoice_id)
        if credit_id:
            store.touch(credit_id)
    return [txn_ret(store, store.txn(row["txn_id"]))]


def _txn_query(txn_type: str) -> Callable[[CompanyStore, ET.Element], Any]:
    def query(store: CompanyStore, element: ET.Element) -> Any:
        lines = (_get(element, "IncludeLineItems") or "false") == "true"
        iterator = element.get("iterator")
        if iterator == "Continue":
            kept = store.iterators.get(element.get("iteratorID") or "")
            if kept is None:
                raise StatusError(3020, f'The iteratorID "{element.get("iteratorID")}" is not valid or has expired.')
            txn_ids, started_size = kept
        else:
            since = _get(element, "ModifiedDateRangeFilter/FromModifiedDate")
            since_at = dt.datetime.fromisoformat(since).timestamp() if since else None
            rows = store.txns(txn_type, ids=[e.text for e in element.findall("TxnID")],
                              refs=[e.text for e in element.findall("RefNumber")], modified_from=since_at)
            if iterator != "Start":
                return [txn_ret(store, r, lines=lines) for r in rows]
            txn_ids, started_size = [r["txn_id"] for r in rows], None
        page_size = int(_get(element, "MaxReturned") or started_size or len(txn_ids) or 1)
        page, rest = txn_ids[:page_size], txn_ids[page_size:]
        iterator_id = element.get("iteratorID") or f"{{{store.new_id('IT')}}}"
        store.iterators[iterator_id] = (rest, page_size)
        rets = [txn_ret(store, store.txn(t), lines=lines) for t in page if store.txn(t) is not None]
        return rets, {"iteratorRemainingCount": str(len(rest)), "iteratorID": iterator_id}
    return query


def txn_void(store: CompanyStore, element: ET.Element) -> list[ET.Element]:
    kind, row = _target(store, element, "TxnVoidType")
    if not row["voided"]:
        if store.links_to(row["txn_id"]):
            raise StatusError(3180, f"There was an error when saving a {kind}. QuickBooks error message: payments or "
                                    f"credits are applied to it; delete or un-apply them first.")
        _open_books(store, dt.date.fromisoformat(row["txn_date"]), kind)
        lines = [dict(line, cents=0, qty="0") for line in json.loads(row["lines"])]
        store.update_txn(row["txn_id"], {"voided": 1, "total_cents": 0, "lines": lines,
                                          "memo": "VOID: " + (row["memo"] or "")})
    return _txn_ref("TxnVoidType", kind, row["txn_id"])


def txn_del(store: CompanyStore, element: ET.Element) -> list[ET.Element]:
    kind, row = _target(store, element, "TxnDelType")
    if store.links_to(row["txn_id"]):
        raise StatusError(3180, f"There was an error when deleting a {kind}. QuickBooks error message: it is applied "
                                f"to another transaction; delete the payment that applies it first.")
    _open_books(store, dt.date.fromisoformat(row["txn_date"]), kind)
    for link in store.applied_of(row["txn_id"]):
        store.touch(link["invoice_id"])
    store.delete_txn(row["txn_id"])
    return [*_txn_ref("TxnDelType", kind, row["txn_id"]), _el("TimeDeleted", stamp(time.time()))]


def _target(store: CompanyStore, element: ET.Element, type_tag: str) -> tuple[str, Any]:
    kind, txn_id = _get(element, type_tag) or "", _get(element, "TxnID") or ""
    if kind not in rules.VOID_TYPES:
        raise StatusError(3010, f'"{kind}" is not a valid {type_tag}.')
    row = store.txn(txn_id, kind)
    if row is None:
        raise StatusError(3120, f'Object "{txn_id}" specified in the request cannot be found.')
    return kind, row


def _txn_ref(type_tag: str, kind: str, txn_id: str) -> list[ET.Element]:
    """What TxnVoidRs / TxnDelRs carry: the type and the TxnID (no Ret aggregate)."""
    return [_el(type_tag, kind), _el("TxnID", txn_id)]


def preferences_query(store: CompanyStore, element: ET.Element) -> list[ET.Element]:
    ret = _el("PreferencesRet")
    accounting = _sub(ret, "AccountingPreferences")
    _sub(accounting, "IsUsingAccountNumbers", "false")
    closed = store.closing_date()
    if closed is not None:
        _sub(accounting, "ClosingDate", closed.isoformat())
    return [ret]


def txn_ret(store: CompanyStore, row: Any, *, lines: bool = True) -> ET.Element:
    kind = row["txn_type"]
    ret = _el(f"{kind}Ret")
    customer = store.name_by_id(row["customer_id"])
    for tag, value in (("TxnID", row["txn_id"]), ("TimeCreated", stamp(row["created"])),
                       ("TimeModified", stamp(row["modified"])), ("EditSequence", row["edit_sequence"]),
                       ("TxnNumber", row["txn_number"])):
        _sub(ret, tag, value)
    ref = _sub(ret, "CustomerRef")
    _sub(ref, "ListID", customer["list_id"])
    _sub(ref, "FullName", customer["name"])
    _sub(ret, "TxnDate", row["txn_date"])
    if row["ref_number"] is not None:
        _sub(ret, "RefNumber", row["ref_number"])
    paid = store.paid_to(row["txn_id"]) if kind == "Invoice" else 0
    if kind == "ReceivePayment":
        applied = store.applied_of(row["txn_id"])
        _sub(ret, "TotalAmount", dollars(row["total_cents"]))
        if row["memo"]:
            _sub(ret, "Memo", row["memo"])
        _sub(ret, "UnusedPayment", dollars(row["total_cents"] - sum(a["amount_cents"] for a in applied)))
        for a in applied:
            link = _sub(ret, "AppliedToTxnRet")
            invoice = store.txn(a["invoice_id"])
            for tag, value in (("TxnID", a["invoice_id"]), ("TxnType", "Invoice"),
                               ("RefNumber", invoice["ref_number"] if invoice else None),
                               ("Amount", dollars(a["amount_cents"]))):
                if value is not None:
                    _sub(link, tag, value)
        return ret
    for tag, column in (("DueDate", "due_date"), ("PONumber", "po_number")):
        if row[column]:
            _sub(ret, tag, row[column])
    _sub(ret, "Subtotal", dollars(row["total_cents"]))
    _sub(ret, "SalesTaxTotal", "0.00")
    if kind == "Invoice":
        _sub(ret, "AppliedAmount", dollars(-paid))
        _sub(ret, "BalanceRemaining", dollars(row["total_cents"] - paid))
    else:
        _sub(ret, "TotalAmount", dollars(row["total_cents"]))
        _sub(ret, "CreditRemaining", dollars(row["total_cents"] - store.credit_used(row["txn_id"])))
    if row["memo"]:
        _sub(ret, "Memo", row["memo"])
    if kind == "Invoice":
        _sub(ret, "IsPaid", "true" if row["total_cents"] - paid <= 0 else "false")
    if lines:
        for line in json.loads(row["lines"]):
            out = _sub(ret, f"{kind}LineRet")
            _sub(out, "TxnLineID", line["id"])
            _sub(_sub(out, "ItemRef"), "FullName", line["item"])
            for tag, key in (("Desc", "desc"), ("Quantity", "qty"), ("Rate", "rate")):
                if line.get(key) is not None:
                    _sub(out, tag, line[key])
            _sub(out, "Amount", dollars(line["cents"]))
    return ret


HANDLERS: dict[str, Callable[[CompanyStore, ET.Element], Any]] = {
    "CustomerAddRq": _name_add("Customer", "name"), "ItemServiceAddRq": _name_add("ItemService", "item"),
    "CustomerQueryRq": _name_query("Customer", "name"), "ItemServiceQueryRq": _name_query("ItemService", "item"),
    "InvoiceAddRq": _sales_add("Invoice", "InvoiceLineAdd"),
    "CreditMemoAddRq": _sales_add("CreditMemo", "CreditMemoLineAdd"),
    "InvoiceModRq": invoice_mod, "ReceivePaymentAddRq": payment_add,
    "InvoiceQueryRq": _txn_query("Invoice"), "CreditMemoQueryRq": _txn_query("CreditMemo"),
    "ReceivePaymentQueryRq": _txn_query("ReceivePayment"),
    "TxnVoidRq": txn_void, "TxnDelRq": txn_del, "PreferencesQueryRq": preferences_query,
}
