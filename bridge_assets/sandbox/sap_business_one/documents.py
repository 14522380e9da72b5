"""A/R invoices, A/R credit notes and incoming payments as Service Layer keeps them.

- documents post on add (no draft on `Invoices`); `DocEntry` is the key, `DocNum` the series number, our
  number rides in `NumAtCard`; only non-posting fields (`Comments`, `NumAtCard`, user fields `U_*`) may be
  PATCHed on an added document;
- `Invoices(n)/Cancel` adds a cancellation document (CancelStatus csCancellation) and closes the original
  (Cancelled tYES, CancelStatus csCancelled), refused while anything is paid or credited on it;
- a credit note with `BaseType` 13 lines is applied to that invoice; otherwise it stays open on the account
  and is applied through an incoming payment listing it (`InvoiceType` it_CredItnote, negative `SumApplied`);
- an incoming payment applies `SumApplied` to each listed invoice; what its transfer/cash sum leaves over
  stays on account; `IncomingPayments(n)/Cancel` undoes its applications;
- nothing is added or cancelled in a period whose status is not ltUnlocked: -4013.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

from bridge_assets.sandbox.sap_business_one.errors import B1Error, no_match, period_locked
from bridge_assets.sandbox.sap_business_one.store import Store

CENT = Decimal("0.01")
DOCS = ("Invoices", "CreditNotes")
HEADER = {"CardCode", "DocDate", "DocDueDate", "TaxDate", "NumAtCard", "Comments", "DocCurrency", "DocumentLines",
          "Series", "JournalMemo"}
LINE = {"ItemCode", "ItemDescription", "Quantity", "UnitPrice", "Price", "TaxCode", "VatGroup", "AccountCode",
        "BaseType", "BaseEntry", "BaseLine", "WarehouseCode", "DiscountPercent"}
PAYMENT = {"CardCode", "DocDate", "TransferSum", "TransferAccount", "TransferDate", "TransferReference", "CashSum",
           "CashAccount", "CounterReference", "Remarks", "PaymentInvoices", "JournalRemarks"}


def cents(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


class Documents:
    def __init__(self, store: Store, now: Callable[[], dt.datetime]) -> None:
        self.store, self.now = store, now

    def save(self, kind: str, record: dict[str, Any]) -> dict[str, Any]:
        moment = self.now()
        record["UpdateDate"], record["UpdateTime"] = moment.date().isoformat(), moment.strftime("%H:%M:%S")
        self.store.put(kind, record)
        return record

    def check_period(self, day: str) -> None:
        for period in self.store.all("FinancePeriods"):
            if period["PostingDateFrom"] <= day <= period["PostingDateTo"]:
                if period["PeriodStatus"] != "ltUnlocked":
                    raise period_locked()
                return
        raise B1Error(-4014, f"Date deviates from permissible range [{day}]")

    def partner(self, code: Any) -> dict[str, Any]:
        found = self.store.get("BusinessPartners", code) if code else None
        if found is None:
            raise B1Error(-10, f"Invalid BP code '{code}'")
        return found

    def add_document(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        unknown = set(body) - HEADER
        if unknown:
            raise B1Error(-1000, f"Property '{sorted(unknown)[0]}' of 'Document' is invalid")
        partner = self.partner(body.get("CardCode"))
        day = body.get("DocDate") or self.now().date().isoformat()
        self.check_period(day)
        lines, base = [], []
        for index, line in enumerate(body.get("DocumentLines") or []):
            unknown = set(line) - LINE
            if unknown:
                raise B1Error(-1000, f"Property '{sorted(unknown)[0]}' of 'DocumentLine' is invalid")
            if self.store.get("Items", line.get("ItemCode")) is None:
                raise B1Error(-10, f"Invalid item code '{line.get('ItemCode')}' [DocumentLines.ItemCode][line: {index + 1}]")
            quantity, price = Decimal(str(line.get("Quantity", 1))), Decimal(str(line.get("UnitPrice", line.get("Price", 0))))
            total = cents(quantity * price)
            lines.append({"LineNum": index, "ItemCode": line["ItemCode"], "ItemDescription": line.get("ItemDescription")
                          or self.store.get("Items", line["ItemCode"])["ItemName"], "Quantity": float(quantity),
                          "UnitPrice": float(price), "LineTotal": float(total), "TaxCode": line.get("TaxCode") or ""})
            if kind == "CreditNotes" and line.get("BaseType") == 13:
                base.append((int(line["BaseEntry"]), total))
        if not lines:
            raise B1Error(-5002, "Enter at least one row in the document")
        total = sum((cents(l["LineTotal"]) for l in lines), Decimal(0))
        entry = self.store.next_value(f"entry:{kind}")
        record = {"DocEntry": entry, "id": entry, "DocNum": 1000 + self.store.next_value(f"num:{kind}"),
                  "CardCode": partner["CardCode"], "CardName": partner["CardName"], "DocDate": day,
                  "DocDueDate": body.get("DocDueDate") or day, "NumAtCard": body.get("NumAtCard"),
                  "Comments": body.get("Comments"), "DocCurrency": body.get("DocCurrency") or "$", "DocTotal": float(total),
                  "VatSum": 0.0, "PaidToDate": 0.0, "DocumentStatus": "bost_Open", "Cancelled": "tNO",
                  "CancelStatus": "csNo", "DocumentLines": lines, "_applied": []}
        self.save(kind, record)
        for invoice_entry, amount in base:
            self.apply(("CreditNotes", entry), invoice_entry, amount)
        return self.store.get(kind, entry)

    def _settle(self, kind: str, record: dict[str, Any], amount: Decimal, other: tuple[str, int]) -> None:
        record["PaidToDate"] = float(cents(record["PaidToDate"]) + amount)
        record["DocumentStatus"] = "bost_Close" if cents(record["PaidToDate"]) >= cents(record["DocTotal"]) else "bost_Open"
        record["_applied"] = [a for a in record["_applied"] if tuple(a[:2]) != other] + (
            [[other[0], other[1], float(amount)]] if amount > 0 else [])
        self.save(kind, record)

    def apply(self, source: tuple[str, int], invoice_entry: int, amount: Decimal) -> Decimal:
        invoice = self.store.get("Invoices", invoice_entry)
        if invoice is None or invoice["Cancelled"] == "tYES":
            raise no_match(f"Invoices({invoice_entry})")
        amount = min(amount, cents(invoice["DocTotal"]) - cents(invoice["PaidToDate"]))
        if amount <= 0:
            raise B1Error(-5002, f"Invoice {invoice['DocNum']} is already fully paid")
        self._settle("Invoices", invoice, amount, source)
        if source[0] == "CreditNotes":
            credit = self.store.get("CreditNotes", source[1])
            self._settle("CreditNotes", credit, amount, ("Invoices", invoice_entry))
        return amount

    def patch(self, kind: str, record: dict[str, Any], body: dict[str, Any]) -> None:
        blocked = [k for k in body if k not in ("Comments", "NumAtCard", "JournalMemo") and not k.startswith("U_")]
        if blocked:
            raise B1Error(-5002, f"Field '{blocked[0]}' cannot be updated in a document that has been added; cancel "
                                 f"it or create a credit memo")
        record.update(body)
        self.save(kind, record)

    def cancel(self, kind: str, record: dict[str, Any]) -> None:
        if record["Cancelled"] == "tYES" or record["CancelStatus"] != "csNo":
            raise B1Error(-5002, "Document is already closed or canceled")
        if cents(record["PaidToDate"]) > 0:
            raise B1Error(-5002, "Cannot cancel a document that has payments or credits applied; cancel those first")
        self.check_period(record["DocDate"])
        entry = self.store.next_value(f"entry:{kind}")
        self.save(kind, {**{k: v for k, v in record.items() if k not in ("_applied",)}, "DocEntry": entry, "id": entry,
                         "DocNum": 1000 + self.store.next_value(f"num:{kind}"), "CancelStatus": "csCancellation",
                         "Cancelled": "tNO", "DocumentStatus": "bost_Close", "PaidToDate": record["DocTotal"],
                         "_applied": []})
        record.update(Cancelled="tYES", CancelStatus="csCancelled", DocumentStatus="bost_Close")
        self.save(kind, record)

    # --- incoming payments ------------------------------------------------------------------------

    def add_payment(self, body: dict[str, Any]) -> dict[str, Any]:
        unknown = set(body) - PAYMENT
        if unknown:
            raise B1Error(-1000, f"Property '{sorted(unknown)[0]}' of 'Payment' is invalid")
        partner = self.partner(body.get("CardCode"))
        day = body.get("DocDate") or self.now().date().isoformat()
        self.check_period(day)
        money = cents(body.get("TransferSum")) + cents(body.get("CashSum"))
        rows = body.get("PaymentInvoices") or []
        if sum((cents(r.get("SumApplied")) for r in rows), Decimal(0)) > money:
            raise B1Error(-5002, "Total amount applied exceeds the payment amount")
        entry = self.store.next_value("entry:IncomingPayments")
        payment = {"DocEntry": entry, "id": entry, "DocNum": 1000 + self.store.next_value("num:IncomingPayments"),
                   "CardCode": partner["CardCode"], "CardName": partner["CardName"], "DocDate": day,
                   "TransferSum": float(cents(body.get("TransferSum"))), "CashSum": float(cents(body.get("CashSum"))),
                   "TransferAccount": body.get("TransferAccount"), "CounterReference": body.get("CounterReference"),
                   "Remarks": body.get("Remarks"), "Cancelled": "tNO", "PaymentInvoices": [], "_applied": []}
        self.save("IncomingPayments", payment)
        for row in rows:
            kind = "CreditNotes" if row.get("InvoiceType") == "it_CredItnote" else "Invoices"
            amount = cents(row.get("SumApplied"))
            if kind == "Invoices":
                applied = self.apply(("IncomingPayments", entry), int(row["DocEntry"]), amount)
            else:
                credit = self.store.get("CreditNotes", int(row["DocEntry"]))
                if credit is None or credit["CardCode"] != partner["CardCode"]:
                    raise no_match(f"CreditNotes({row['DocEntry']})")
                applied = -amount
                if applied > cents(credit["DocTotal"]) - cents(credit["PaidToDate"]):
                    raise B1Error(-5002, f"Credit note {credit['DocNum']} has less left to apply")
                self._settle("CreditNotes", credit, applied, ("IncomingPayments", entry))
            payment["PaymentInvoices"].append({"LineNum": len(payment["PaymentInvoices"]), "DocEntry": int(row["DocEntry"]),
                                               "SumApplied": float(amount), "InvoiceType": row.get("InvoiceType", "it_Invoice")})
        payment["_applied"] = payment["PaymentInvoices"]
        return self.save("IncomingPayments", payment)

    def cancel_payment(self, payment: dict[str, Any]) -> None:
        if payment["Cancelled"] == "tYES":
            raise B1Error(-5002, "Document is already closed or canceled")
        self.check_period(payment["DocDate"])
        for row in payment["PaymentInvoices"]:
            kind = "CreditNotes" if row["InvoiceType"] == "it_CredItnote" else "Invoices"
            record = self.store.get(kind, row["DocEntry"])
            back = abs(cents(row["SumApplied"]))
            self._settle(kind, record, -back, ("IncomingPayments", payment["DocEntry"]))
            record["_applied"] = [a for a in record["_applied"] if tuple(a[:2]) != ("IncomingPayments", payment["DocEntry"])]
            self.save(kind, record)
        payment["Cancelled"] = "tYES"
        self.save("IncomingPayments", payment)
