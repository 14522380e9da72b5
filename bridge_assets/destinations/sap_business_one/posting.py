"""Posting into SAP Business One: documents post on add, so every create is preceded by a look-up by our number.

- invoice / credit memo: the live document (`NumAtCard` = our number, not cancelled) with the same content is
  adopted, one with other content refused, else the document is added (one POST: there is no draft to finish).
  A credit memo is then applied to the invoice it names through an incoming payment that lists both (the
  invoice positive, the credit note negative), unless it is applied already;
- update of a posted document: the Service Layer changes only remarks and user fields on it, so the correction
  is SAP's own: `Cancel` (a cancellation document reverses it) and a new document with our number; a credit
  memo's application is cancelled first. The ledger keeps the new DocEntry, the event's `before` the
  cancelled document and `after.correction` the cancellation;
- payment: an incoming payment (`CounterReference` = our number) listing the invoices it pays; an update
  cancels it and adds it again.
"""

from __future__ import annotations

from typing import Any

from bridge_assets.destinations.base import Action, DestinationError, Outcome, PostRequest, Status
from bridge_assets.destinations.kit.erp import document_label, not_sent
from bridge_assets.destinations.sap_business_one.client import B1Error, B1LoginRefused, B1Unavailable
from bridge_assets.model.document import AccountingDocument, money
from decimal import Decimal

ENTITY = {"invoice": "Invoices", "credit_memo": "CreditNotes", "payment": "IncomingPayments"}
LABEL = {"invoice": "Invoice", "credit_memo": "Credit memo", "payment": "Payment"}
LOCKED = -4013
APPLY_PREFIX = "apply "


def literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def decimal(value: Any) -> Decimal:
    return money(Decimal(str(value or 0)))


def document_body(document: AccountingDocument, tax_item: str) -> dict[str, Any]:
    lines = [{"ItemCode": l.item_code, "ItemDescription": (l.description or l.item_code)[:100],
              "Quantity": float(l.qty), "UnitPrice": float(l.unit_price)}
             for l in sorted(document.lines, key=lambda l: l.line_no)]
    if money(document.tax_total) != 0:
        lines.append({"ItemCode": tax_item, "ItemDescription": "Sales tax (as billed at the source)", "Quantity": 1.0,
                      "UnitPrice": float(money(document.tax_total))})
    return {"CardCode": document.customer_key, "DocDate": document.txn_date.isoformat(),
            "DocDueDate": (document.due_date or document.txn_date).isoformat(), "NumAtCard": document.doc_number,
            "Comments": f"{document.source} {document.doc_type.replace('_', ' ')} {document.doc_number}",
            "DocumentLines": lines}


def differences(body: dict[str, Any], record: dict[str, Any]) -> list[str]:
    changed = [label for field, label in (("CardCode", "customer"), ("DocDate", "date"), ("DocDueDate", "due date"))
               if str(record.get(field))[:10] != body[field]]
    theirs = sorted((l["ItemCode"], str(l.get("ItemDescription")), decimal(l["Quantity"]),
                     Decimal(str(l["UnitPrice"])).normalize()) for l in record.get("DocumentLines", []))
    ours = sorted((l["ItemCode"], l["ItemDescription"], decimal(l["Quantity"]), Decimal(str(l["UnitPrice"])).normalize())
                  for l in body["DocumentLines"])
    return changed + (["lines"] if theirs != ours else [])


class PostingMixin:
    def _post_one(self, request: PostRequest) -> Outcome:
        document = request.document
        label = document_label(document, LABEL)
        if document.doc_type not in ENTITY or Action(request.action) not in (Action.CREATE, Action.UPDATE):
            return not_sent(request, label, "SAP Business One")
        try:
            problem = self._references(document)
            if problem:
                return Outcome(Status.FAILED, error_code="reference_unresolved", message=f"{label}: {problem}.")
            if document.doc_type == "payment":
                return self._payment(request, label)
            return self._document(request, label)
        except B1LoginRefused:
            raise
        except B1Error as error:
            if error.code == LOCKED:
                close = self.book_close_date()
                return Outcome(Status.HELD, error_code="period_locked",
                               message=f"{label}: dated {document.txn_date:%m/%d/%Y}, in a locked SAP Business One posting "
                                       f"period{f' (locked through {close:%m/%d/%Y})' if close else ''}; it is held and "
                                       f"posts once the period is unlocked")
            return Outcome(Status.FAILED, error_code=str(error.code), http_status=error.status,
                           message=f"{label}: SAP Business One refused {error.call}: {error.value} ({error.code}).")
        except B1Unavailable as failure:
            return Outcome(Status.RETRY, error_code="unavailable", http_status=failure.http_status,
                           message=f"{label}: {failure}; whether it reached SAP Business One is unknown, so it is "
                                   f"looked up before anything is sent again on the next run")

    def _live(self, entity: str, number: str, card: str | None = None) -> list[dict[str, Any]]:
        field = "CounterReference" if entity == "IncomingPayments" else "NumAtCard"
        query = f"{field} eq {literal(number)} and Cancelled eq 'tNO'"
        if entity != "IncomingPayments":
            query += " and CancelStatus eq 'csNo'"
        if card:
            query += f" and CardCode eq {literal(card)}"
        return self.client.rows(entity, query)

    def _document(self, request: PostRequest, label: str) -> Outcome:
        document = request.document
        entity, body = ENTITY[document.doc_type], document_body(document, self.tax_item)
        before = None
        if request.action == Action.UPDATE and request.dest_id:
            current = self.client.call("GET", f"{entity}({int(request.dest_id)})", missing_ok=True)
            if current and current["Cancelled"] == "tNO" and not differences(body, current):
                return self._done(Status.UPDATED, current, before=request.previous or current,
                                  note=f"{label}: SAP Business One already holds this version, so nothing was sent")
            if current and current["Cancelled"] == "tNO":
                self._unapply(entity, current)
                self.client.call("POST", f"{entity}({current['DocEntry']})/Cancel")
            before = current
        live = self._live(entity, document.doc_number, document.customer_key)
        same = [r for r in live if not differences(body, r)]
        status = Status.UPDATED if before is not None else Status.CREATED
        if same:
            record = same[0]
            note = f"{label}: it was already in SAP Business One (DocNum {record['DocNum']}), so nothing was sent"
        elif live:
            return Outcome(Status.FAILED, error_code="number_taken",
                           message=f"{label}: SAP Business One already has {entity} DocNum {live[0]['DocNum']} with "
                                   f"customer reference {document.doc_number} and other content "
                                   f"({', '.join(differences(body, live[0]))}); cancel it there if it is this document. "
                                   f"Nothing was sent.")
        else:
            record, note = self.client.call("POST", entity, json=body), None
        self._apply_credit(document, record)
        if before is not None:
            correction = {"cancelled": before["DocNum"], "cancelled_entry": before["DocEntry"]}
            return self._done(status, record, before=before, after={**record, "correction": correction},
                              note=f"{label}: SAP Business One does not change a posted document, so DocNum "
                                   f"{before['DocNum']} was cancelled and re-issued as DocNum {record['DocNum']}")
        return self._done(status, record, note=note)

    def _apply_credit(self, document: AccountingDocument, credit: dict[str, Any]) -> None:
        if document.doc_type != "credit_memo" or not document.applies_to:
            return
        credit = self.client.call("GET", f"CreditNotes({credit['DocEntry']})")
        left = decimal(credit["DocTotal"]) - decimal(credit["PaidToDate"])
        rows = []
        for application in document.applies_to:
            invoices = self._live("Invoices", application.doc_number, document.customer_key)
            if not invoices or left <= 0:
                continue
            invoice = invoices[0]
            amount = min(money(application.amount), left, decimal(invoice["DocTotal"]) - decimal(invoice["PaidToDate"]))
            if amount > 0:
                rows += [{"DocEntry": invoice["DocEntry"], "SumApplied": float(amount), "InvoiceType": "it_Invoice"},
                         {"DocEntry": credit["DocEntry"], "SumApplied": float(-amount), "InvoiceType": "it_CredItnote"}]
                left -= amount
        if rows:
            self.client.call("POST", "IncomingPayments", json={
                "CardCode": credit["CardCode"], "DocDate": credit["DocDate"][:10], "TransferSum": 0,
                "CounterReference": f"{APPLY_PREFIX}{credit['DocNum']}"[:100],
                "Remarks": f"Credit note {credit['DocNum']} applied by the invoice bridge", "PaymentInvoices": rows})

    def _unapply(self, entity: str, record: dict[str, Any]) -> None:
        if entity != "CreditNotes" or decimal(record["PaidToDate"]) == 0:
            return
        for payment in self._live("IncomingPayments", f"{APPLY_PREFIX}{record['DocNum']}", record["CardCode"]):
            self.client.call("POST", f"IncomingPayments({payment['DocEntry']})/Cancel")

    def _payment(self, request: PostRequest, label: str) -> Outcome:
        document = request.document
        if request.action == Action.UPDATE and request.dest_id:
            current = self.client.call("GET", f"IncomingPayments({int(request.dest_id)})", missing_ok=True)
            if current and current["Cancelled"] == "tNO":
                if decimal(current["TransferSum"]) == money(document.total) and \
                        str(current["DocDate"])[:10] == document.txn_date.isoformat():
                    return self._done(Status.UPDATED, current, note=f"{label}: SAP Business One already holds this version")
                self.client.call("POST", f"IncomingPayments({current['DocEntry']})/Cancel")
        live = self._live("IncomingPayments", document.doc_number, document.customer_key)
        status = Status.UPDATED if request.action == Action.UPDATE else Status.CREATED
        if live:
            return self._done(status, live[0], note=f"{label}: it was already in SAP Business One (DocNum "
                                                    f"{live[0]['DocNum']}), so nothing was sent")
        rows, left = [], money(document.total)
        for application in document.applies_to:
            invoices = self._live("Invoices", application.doc_number, document.customer_key)
            if not invoices:
                return Outcome(Status.FAILED, error_code="invoice_not_posted",
                               message=f"{label}: it pays invoice {application.doc_number}, which is not in SAP Business "
                                       f"One yet; it is tried again on the next run")
            invoice = invoices[0]
            amount = min(money(application.amount), left, decimal(invoice["DocTotal"]) - decimal(invoice["PaidToDate"]))
            if amount > 0:
                rows.append({"DocEntry": invoice["DocEntry"], "SumApplied": float(amount), "InvoiceType": "it_Invoice"})
                left -= amount
        record = self.client.call("POST", "IncomingPayments", json={
            "CardCode": document.customer_key, "DocDate": document.txn_date.isoformat(),
            "TransferSum": float(money(document.total)), "TransferAccount": self.transfer_account,
            "TransferDate": document.txn_date.isoformat(), "CounterReference": document.doc_number,
            "Remarks": f"{document.source} payment {document.doc_number}", "PaymentInvoices": rows})
        return self._done(status, record)

    def _done(self, status: Status, record: dict[str, Any], *, before: dict | None = None, after: dict | None = None,
              note: str | None = None) -> Outcome:
        return Outcome(status, dest_id=str(record["DocEntry"]), dest_doc_number=str(record["DocNum"]),
                       version=f"{record.get('UpdateDate')} {record.get('UpdateTime')}", http_status=201, message=note,
                       before=before if status is Status.UPDATED else None, after=after or record)


__all__ = ["PostingMixin", "DestinationError"]
