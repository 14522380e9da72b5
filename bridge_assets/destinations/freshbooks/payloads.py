"""FreshBooks' fields for the canonical document, and back; its error numbers as sentences.

Tax. FreshBooks takes a tax as a name and a percentage (at most 3 decimals) on a line and computes the
money itself. The bridge carries the source's tax per line as the percentage that gives exactly that
amount on that line (`tax_percent`); when no such percentage exists the document is refused with a
sentence, never posted with another tax.

Rates. Money amounts in FreshBooks have cents; a rate with more (Sedona keeps 4 places) goes as quantity
1 at the line's amount, with the quantity and rate in the description.

A body is written in the shape `read` gives it back (strings for numbers, lines in order), so a document
already holding it is recognised without sending (kit/cloud.py).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bridge_assets.destinations.kit.changes import signed_base64_hmac
from bridge_assets.destinations.kit.cloud import Refused
from bridge_assets.destinations.kit.tax import percent_for
from bridge_assets.model.document import AccountingDocument, DocumentLine, decimal_text, money

EASTERN = ZoneInfo("America/New_York")

# errno -> what a person does (freshbooks.com/api/errors); the platform's own message is added.
ERRORS = {
    1001: "a required field is missing",
    1003: "the connected FreshBooks user may not do this in this account; check FRESHBOOKS_ACCOUNT_ID and the "
          "user's role",
    1004: "FreshBooks refused a value",
    1005: "FreshBooks could not read the request",
    1011: "it was deleted in FreshBooks; restore it there or enter the change by hand",
    1012: "FreshBooks does not know the document or client it refers to",
    1017: "a value is longer than FreshBooks allows",
    1018: "a tax percentage is not one FreshBooks accepts",
}


def refusal(status: int, errors: list[dict[str, Any]] | dict[str, Any]) -> Refused:
    first = (errors[0] if isinstance(errors, list) and errors else errors) or {}
    errno = int(first.get("errno") or status)
    what = ERRORS.get(errno, "FreshBooks refused it")
    field = f" ({first['field']})" if first.get("field") else ""
    return Refused(f"{what}{field}: {first.get('message') or 'no message'}", code=str(errno), http_status=status)


def tax_percent(line: DocumentLine) -> Decimal | None:
    """The percentage with at most 3 decimals that FreshBooks turns into exactly this line's tax."""
    return percent_for(line.amount, line.tax_amount, places=3, platform="FreshBooks", line_no=line.line_no)


def line_fields(line: DocumentLine, tax_name: str) -> dict[str, Any]:
    qty, rate = Decimal(line.qty), Decimal(line.unit_price)
    if rate != rate.quantize(Decimal("0.01")) or money(qty * rate) != money(line.amount):
        description = f"{line.description} ({decimal_text(qty)} x {decimal_text(rate)})".strip()
        qty, rate = Decimal(1), money(line.amount)
    else:
        description = line.description
    fields = {"name": line.item_code, "description": description, "qty": decimal_text(qty),
              "unit_cost": f"{money(rate):.2f}"}
    percent = tax_percent(line)
    if percent is not None:
        fields.update(taxName1=tax_name, taxAmount1=decimal_text(percent))
    return fields


def document_body(document: AccountingDocument, client_id: int, tax_name: str) -> dict[str, Any]:
    """An invoice's or a credit note's fields, in the shape `held_body` reads them back."""
    number_field, client_field = (("invoice_number", "customerid") if document.doc_type == "invoice"
                                  else ("credit_number", "clientid"))
    return {client_field: int(client_id), number_field: document.doc_number,
            "create_date": document.txn_date.isoformat(), "po_number": document.po_number or "",
            "notes": document.memo or "",
            "lines": [line_fields(line, tax_name) for line in sorted(document.lines, key=lambda l: l.line_no)]}


def held_body(kind: str, wire: dict[str, Any]) -> dict[str, Any]:
    number_field, client_field = ("invoice_number", "customerid") if kind == "invoice" else ("credit_number", "clientid")
    lines = []
    for line in wire.get("lines") or []:
        fields = {"name": line.get("name") or "", "description": line.get("description") or "",
                  "qty": decimal_text(Decimal(str(line.get("qty") or 0))),
                  "unit_cost": f"{Decimal(str(line['unit_cost']['amount'])):.2f}"}
        if line.get("taxAmount1") not in (None, "", 0):
            fields.update(taxName1=line.get("taxName1") or "", taxAmount1=decimal_text(Decimal(str(line["taxAmount1"]))))
        lines.append(fields)
    return {client_field: int(wire[client_field]), number_field: wire.get(number_field),
            "create_date": wire.get("create_date"), "po_number": wire.get("po_number") or "",
            "notes": wire.get("notes") or "", "lines": lines}


def send_body(body: dict[str, Any], currency: str) -> dict[str, Any]:
    """`body` as FreshBooks takes it: money as {"amount", "code"}, every line a normal line (type 0)."""
    lines = [{**line, "type": 0, "unit_cost": {"amount": line["unit_cost"], "code": currency}}
             for line in body["lines"]]
    return {**body, "currency_code": currency, "lines": lines}


def amount(value: Any) -> Decimal:
    return Decimal(str(value.get("amount") if isinstance(value, dict) else value or 0))


def updated_at(wire: dict[str, Any]) -> dt.datetime | None:
    """FreshBooks' `updated` (US/Eastern) as naive UTC."""
    text = wire.get("updated")
    if not text:
        return None
    local = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=EASTERN)
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def eastern_day(moment: dt.datetime) -> str:
    """A naive-UTC moment as the US/Eastern date FreshBooks' `updated_min` filter takes."""
    return moment.replace(tzinfo=dt.timezone.utc).astimezone(EASTERN).date().isoformat()


def delivery_signed(verifier: str, fields: dict[str, str], header: str | None) -> bool:
    """Whether a FreshBooks webhook delivery is FreshBooks': `X-FreshBooks-Hmac-SHA256` is base64 of
    HMAC-SHA256 keyed by the callback's verifier over `json.dumps` of the form fields, in their order."""
    return signed_base64_hmac(verifier, json.dumps(fields).encode("utf-8"), header)


def payment_note(number: str) -> str:
    return f"Bridge payment {number}"


def payment_number(note: str) -> str | None:
    prefix = payment_note("")
    return note[len(prefix):] if note and note.startswith(prefix) else None
