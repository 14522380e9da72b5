"""Sales invoices and credit memos as Business Central keeps them: drafts, the post action, cancel.

- created `Draft` (lines by deep insert or `.../salesInvoiceLines`), numbered from the No. Series
  (S-INV1001); `Microsoft.NAV.post` makes it `Open` with the posted number (PS-INV103001), the same API id;
- a draft is changed by PATCH and deleted by DELETE, both with `If-Match`; a posted document refuses both
  and its lines refuse changes: it is corrected by `Microsoft.NAV.cancel` (an invoice: a corrective credit
  memo is posted and the invoice becomes `Canceled`; a credit memo: a corrective invoice) or a credit memo;
- nothing is posted outside the allowed posting range of General Ledger Setup (`allowPostingFrom`,
  `allowPostingTo`; "0001-01-01" means no bound);
- a credit memo naming `invoiceId`/`invoiceNumber` is applied to that invoice when posted;
- totals: BC computes tax from tax codes; the emulator has none, so tax is 0 (RULES in __init__.py).
"""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

from bridge_assets.sandbox.business_central.odata import ODataError
from bridge_assets.sandbox.business_central.store import Store

CENT = Decimal("0.01")
NO_DATE = "0001-01-01"
KINDS = {"salesInvoices": ("salesInvoiceLines", "invoiceDate", "S-INV", "PS-INV"),
         "salesCreditMemos": ("salesCreditMemoLines", "creditMemoDate", "S-CR", "PS-CR")}
HEADER_FIELDS = {"salesInvoices": {"id", "number", "externalDocumentNumber", "invoiceDate", "postingDate", "dueDate",
                                   "customerId", "customerNumber", "currencyCode", "salesInvoiceLines"},
                 "salesCreditMemos": {"id", "number", "externalDocumentNumber", "creditMemoDate", "postingDate",
                                      "dueDate", "customerId", "customerNumber", "currencyCode", "invoiceId",
                                      "invoiceNumber", "salesCreditMemoLines"}}
LINE_FIELDS = {"id", "sequence", "lineType", "itemId", "lineObjectNumber", "description", "quantity", "unitPrice",
               "taxCode", "discountAmount", "discountPercent", "unitOfMeasureCode"}


def cents(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


def dialog(message: str, status: int = 400) -> ODataError:
    return ODataError(status, "Application_DialogException", message)


class Documents:
    def __init__(self, store: Store, stamp: Callable[[], str]) -> None:
        self.store = store
        self.stamp = stamp

    def touch(self, kind: str, record: dict[str, Any]) -> dict[str, Any]:
        record["_etag"] = record.get("_etag", 0) + 1
        record["lastModifiedDateTime"] = self.stamp()
        self.store.put(kind, record)
        return record

    # --- posting range ----------------------------------------------------------------------------

    def setup(self) -> dict[str, Any]:
        return self.store.all("generalLedgerSetup")[0]

    def check_posting_date(self, day: str) -> None:
        setup = self.setup()
        low, high = setup["allowPostingFrom"], setup["allowPostingTo"]
        if (low != NO_DATE and day < low) or (high != NO_DATE and day > high):
            raise dialog("The Posting Date is not within your range of allowed posting dates.")

    # --- customers, items -------------------------------------------------------------------------

    def customer(self, body: dict[str, Any]) -> dict[str, Any]:
        found = None
        if body.get("customerId"):
            found = self.store.get("customers", body["customerId"])
        elif body.get("customerNumber"):
            found = next((c for c in self.store.all("customers") if c["number"] == body["customerNumber"]), None)
        else:
            raise ODataError(400, "Application_InvalidArgument",
                             "A customerNumber or a customerID must be provided.")
        if found is None:
            raise ODataError(400, "Internal_RecordNotFound", "The Customer does not exist. Identification fields and "
                                                             f"values: No.='{body.get('customerNumber') or ''}'")
        return found

    def item(self, line: dict[str, Any]) -> dict[str, Any]:
        if line.get("itemId"):
            found = self.store.get("items", line["itemId"])
        else:
            found = next((i for i in self.store.all("items") if i["number"] == line.get("lineObjectNumber")), None)
        if found is None:
            raise ODataError(400, "Internal_RecordNotFound",
                             f"The Item does not exist. Identification fields and values: No.='{line.get('lineObjectNumber')}'")
        return found

    # --- headers ----------------------------------------------------------------------------------

    def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        unknown = set(body) - HEADER_FIELDS[kind]
        if unknown:
            raise ODataError(400, "BadRequest_PropertyNotFound",
                             f"Could not find a property named '{sorted(unknown)[0]}' on type 'Microsoft.NAV.{kind[:-1]}'.")
        if body.get("number"):
            raise dialog("You may not enter numbers manually. If you want to enter numbers manually, please activate "
                         "Manual Nos. in No. Series S-INV.")
        lines_kind, date_field, draft_prefix, _ = KINDS[kind]
        record_id = str(body.get("id") or uuid.uuid4())
        if self.store.get(kind, record_id) is not None:
            raise ODataError(400, "Internal_EntityWithSameKeyExists",
                             f"The record in table Sales Header already exists. Identification fields and values: "
                             f"Id='{record_id}'")
        customer = self.customer(body)
        day = body.get(date_field) or self.stamp()[:10]
        record = {"id": record_id, "number": f"{draft_prefix}{1000 + self.store.next_value(draft_prefix)}",
                  "externalDocumentNumber": body.get("externalDocumentNumber") or "", date_field: day,
                  "postingDate": body.get("postingDate") or day, "dueDate": body.get("dueDate") or day,
                  "customerId": customer["id"], "customerNumber": customer["number"],
                  "customerName": customer["displayName"], "currencyCode": body.get("currencyCode") or "USD",
                  "status": "Draft", "totalAmountExcludingTax": 0, "totalTaxAmount": 0, "totalAmountIncludingTax": 0,
                  "remainingAmount": 0, "discountAmount": 0}
        if kind == "salesCreditMemos":
            record.update(self._invoice_link(body, customer))
        self.touch(kind, record)
        for line in body.get(lines_kind) or []:
            self.add_line(kind, record, line)
        return self.store.get(kind, record_id)

    def _invoice_link(self, body: dict[str, Any], customer: dict[str, Any]) -> dict[str, Any]:
        invoice = None
        if body.get("invoiceId"):
            invoice = self.store.get("salesInvoices", body["invoiceId"])
        elif body.get("invoiceNumber"):
            invoice = next((i for i in self.store.all("salesInvoices") if i["number"] == body["invoiceNumber"]), None)
        if (body.get("invoiceId") or body.get("invoiceNumber")) and (invoice is None or invoice["status"] == "Draft"):
            raise ODataError(400, "Internal_RecordNotFound", "The posted sales invoice the credit memo names does not exist.")
        if invoice is not None and invoice["customerId"] != customer["id"]:
            raise dialog("The sales invoice the credit memo is linked to belongs to another customer.")
        return {"invoiceId": invoice["id"] if invoice else "00000000-0000-0000-0000-000000000000",
                "invoiceNumber": invoice["number"] if invoice else ""}

    def update(self, kind: str, record: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        if record["status"] != "Draft":
            raise dialog(f"You cannot change {record['number']}: it is posted. Cancel it or issue a credit memo.")
        editable = HEADER_FIELDS[kind] - {"id", "number", KINDS[kind][0], "invoiceId", "invoiceNumber"}
        unknown = set(body) - editable
        if unknown:
            raise ODataError(400, "BadRequest_PropertyNotFound", f"'{sorted(unknown)[0]}' cannot be changed here.")
        if "customerId" in body or "customerNumber" in body:
            customer = self.customer(body)
            record.update(customerId=customer["id"], customerNumber=customer["number"],
                          customerName=customer["displayName"])
        record.update({k: v for k, v in body.items() if k not in ("customerId", "customerNumber")})
        return self.touch(kind, record)

    def delete(self, kind: str, record: dict[str, Any]) -> None:
        if record["status"] != "Draft":
            raise dialog(f"You cannot delete {record['number']}: it is posted. Cancel it instead.")
        for line in self.lines(kind, record["id"]):
            self.store.remove(KINDS[kind][0], line["id"])
        self.store.remove(kind, record["id"])

    # --- lines ------------------------------------------------------------------------------------

    def lines(self, kind: str, document_id: str) -> list[dict[str, Any]]:
        return [l for l in self.store.all(KINDS[kind][0]) if l["documentId"] == document_id]

    def add_line(self, kind: str, record: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        if record["status"] != "Draft":
            raise dialog(f"You cannot add lines to {record['number']}: it is posted.")
        unknown = set(body) - LINE_FIELDS
        if unknown:
            raise ODataError(400, "BadRequest_PropertyNotFound", f"Could not find a property named '{sorted(unknown)[0]}'.")
        if body.get("lineType", "Item") != "Item":
            raise ODataError(400, "Unknown", f"'{body.get('lineType')}' is not supported by the emulator; use Item.")
        item = self.item(body)
        quantity, price = Decimal(str(body.get("quantity", 1))), Decimal(str(body.get("unitPrice", item["unitPrice"])))
        amount = cents(quantity * price)
        existing = self.lines(kind, record["id"])
        line = {"id": str(body.get("id") or uuid.uuid4()), "documentId": record["id"],
                "sequence": body.get("sequence") or 10000 * (len(existing) + 1), "lineType": "Item",
                "itemId": item["id"], "lineObjectNumber": item["number"],
                "description": body.get("description") or item["displayName"], "quantity": float(quantity),
                "unitPrice": float(price), "amountExcludingTax": float(amount), "totalTaxAmount": 0,
                "amountIncludingTax": float(amount), "taxCode": body.get("taxCode") or ""}
        self.touch(KINDS[kind][0], line)
        self._totals(kind, record)
        return line

    def _totals(self, kind: str, record: dict[str, Any]) -> None:
        total = sum((cents(l["amountIncludingTax"]) for l in self.lines(kind, record["id"])), Decimal(0))
        record.update(totalAmountExcludingTax=float(total), totalAmountIncludingTax=float(total),
                      remainingAmount=float(total) if record["status"] != "Draft" else 0)
        self.touch(kind, record)

    # --- actions ----------------------------------------------------------------------------------

    def post(self, kind: str, record: dict[str, Any]) -> None:
        if record["status"] != "Draft":
            raise dialog(f"{record['number']} is already posted.")
        if not self.lines(kind, record["id"]):
            raise dialog("There is nothing to post.")
        self.check_posting_date(record["postingDate"])
        posted_prefix = KINDS[kind][3]
        record["number"] = f"{posted_prefix}{103000 + self.store.next_value(posted_prefix)}"
        record["status"] = "Open"
        record["remainingAmount"] = record["totalAmountIncludingTax"]
        self.touch(kind, record)
        if kind == "salesCreditMemos" and record.get("invoiceNumber"):
            invoice = self.store.get("salesInvoices", record["invoiceId"])
            self.apply(invoice, record, min(cents(invoice["remainingAmount"]), cents(record["remainingAmount"])))

    def apply(self, invoice: dict[str, Any], credit: dict[str, Any], amount: Decimal) -> None:
        for record, kind in ((invoice, "salesInvoices"), (credit, "salesCreditMemos")):
            record["remainingAmount"] = float(cents(record["remainingAmount"]) - amount)
            if cents(record["remainingAmount"]) == 0 and record["status"] == "Open":
                record["status"] = "Paid"
            record.setdefault("_applied", []).append([credit["id"] if kind == "salesInvoices" else invoice["id"],
                                                      float(amount)])
            self.touch(kind, record)

    def cancel(self, kind: str, record: dict[str, Any]) -> None:
        if record["status"] not in ("Open", "Paid"):
            raise dialog(f"{record['number']} cannot be canceled: its status is {record['status']}.")
        self.check_posting_date(record["postingDate"])
        if kind == "salesInvoices":
            if cents(record["remainingAmount"]) != cents(record["totalAmountIncludingTax"]):
                raise dialog(f"You cannot cancel {record['number']} because it is (partly) paid or credited. Unapply "
                             f"the entries applied to it first.")
            self._corrective("salesCreditMemos", record, "invoiceId")
        else:
            for invoice_id, amount in record.get("_applied", []):
                invoice = self.store.get("salesInvoices", invoice_id)
                invoice["remainingAmount"] = float(cents(invoice["remainingAmount"]) + cents(amount))
                invoice["status"] = "Open" if invoice["status"] == "Paid" else invoice["status"]
                invoice["_applied"] = [a for a in invoice.get("_applied", []) if a[0] != record["id"]]
                self.touch("salesInvoices", invoice)
            self._corrective("salesInvoices", record, None)
        record.update(status="Canceled", remainingAmount=0, _applied=record.get("_applied", []))
        self.touch(kind, record)

    def _corrective(self, kind: str, original: dict[str, Any], link: str | None) -> None:
        lines_kind, date_field, _, posted_prefix = KINDS[kind]
        source_kind = "salesInvoices" if kind == "salesCreditMemos" else "salesCreditMemos"
        corrective = {k: original[k] for k in ("customerId", "customerNumber", "customerName", "currencyCode",
                                               "postingDate", "dueDate", "externalDocumentNumber")}
        corrective.update({"id": str(uuid.uuid4()), date_field: original["postingDate"], "status": "Corrective",
                           "number": f"{posted_prefix}{103000 + self.store.next_value(posted_prefix)}",
                           "totalAmountExcludingTax": original["totalAmountExcludingTax"], "totalTaxAmount": 0,
                           "totalAmountIncludingTax": original["totalAmountIncludingTax"], "remainingAmount": 0,
                           "discountAmount": 0})
        if link:
            corrective.update(invoiceId=original["id"], invoiceNumber=original["number"])
        self.touch(kind, corrective)
        for line in self.lines(source_kind, original["id"]):
            self.touch(lines_kind, {**{k: v for k, v in line.items() if not k.startswith("_")},
                                    "id": str(uuid.uuid4()), "documentId": corrective["id"]})
