"""`GET /reports/CustomerBalance` and `GET /reports/AgedReceivables`: what a reconciliation can compare with.

Shapes from Intuit's report references (copied in abossenbroek/qbo-mcp qbo-api-docs/entities/customerbalance.md
and aragingsummary.md): `{"Header": {"ReportName", "Time", "DateMacro", "Currency", "Option": [{"Name":
"report_date"}, {"Name": "NoReportData"}]}, "Columns": {"Column": [{"ColType", "ColTitle"}]}, "Rows": {"Row":
[{"ColData": [{"id", "value": customer}, {"value": money}...]}, {"group": "GrandTotal", "type": "Section",
"Summary": {"ColData": [{"value": "TOTAL"}, ...]}}]}}`; money as strings with two decimals, an empty
bucket of a customer row as "" and of the total as "0.00". The aging columns are Current, 1 - 30,
31 - 60, 61 - 90, 91 and over, Total, aged by days past the DueDate at `report_date` (default today).

Unconfirmed, chosen here: unapplied credits and payments (negative) are aged as Current; `customer`
(comma list of Ids) filters; other parameters (date_macro, aging_method, department, sort_order) are
refused with 2010 rather than ignored, so a client never reads a report it did not ask for.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Mapping

from bridge_assets.sandbox.qbo import errors, wire

AGING_BUCKETS = ("Current", "1 - 30", "31 - 60", "61 - 90", "91 and over")
ACCEPTED_PARAMETERS = {"report_date", "customer", "minorversion"}
REPORTS = ("CustomerBalance", "AgedReceivables")


def _money(value: Decimal) -> str:
    return f"{wire.cents(value):.2f}"


def _bucket(days_late: int) -> int:
    if days_late <= 0:
        return 0
    return min(1 + (days_late - 1) // 30, 4)


def _parameters(params: Mapping[str, str]) -> tuple[dt.date, set[str] | None]:
    unknown = sorted(set(params) - ACCEPTED_PARAMETERS)
    if unknown:
        raise errors.invalid_property(f"Property Name:{unknown[0]} specified is unsupported or invalid", unknown[0])
    report_date = wire.today()
    if params.get("report_date"):
        try:
            report_date = dt.date.fromisoformat(params["report_date"])
        except ValueError:
            raise errors.invalid_property(f"Property Name:report_date specified is unsupported or invalid: "
                                          f"{params['report_date']}", "report_date") from None
    customers = {c.strip() for c in params["customer"].split(",") if c.strip()} if params.get("customer") else None
    return report_date, customers


def report(name: str, params: Mapping[str, str], open_documents: list[dict[str, Any]],
           customer_names: dict[str, str]) -> dict[str, Any]:
    """`open_documents`: {"customer", "amount" (signed: what the customer owes), "due" (date or None)}."""
    report_date, wanted = _parameters(params)
    aging = name == "AgedReceivables"
    width = len(AGING_BUCKETS) + 1 if aging else 1
    per_customer: dict[str, list[Decimal]] = {}
    for document in open_documents:
        customer = document["customer"]
        if wanted is not None and customer not in wanted:
            continue
        amounts = per_customer.setdefault(customer, [Decimal(0)] * width)
        if aging:
            due = document["due"] or report_date
            bucket = _bucket((report_date - due).days) if document["amount"] > 0 else 0
            amounts[bucket] += document["amount"]
        amounts[-1] += document["amount"]
    customers = sorted((c for c, a in per_customer.items() if a[-1] != 0),
                       key=lambda c: customer_names.get(c, "").casefold())
    rows: list[dict[str, Any]] = []
    for customer in customers:
        amounts = per_customer[customer]
        rows.append({"ColData": [{"value": customer_names.get(customer, ""), "id": customer},
                                 *({"value": _money(a) if a else ""} for a in amounts)]})
    totals = [sum((per_customer[c][i] for c in customers), Decimal(0)) for i in range(width)]
    rows.append({"group": "GrandTotal", "type": "Section",
                 "Summary": {"ColData": [{"value": "TOTAL"}, *({"value": _money(t)} for t in totals)]}})
    titles = [*AGING_BUCKETS, "Total"] if aging else ["Total"]
    return {
        "Header": {"Time": wire.response_time(), "ReportName": name, "DateMacro": "today", "Currency": "USD",
                   "Option": [{"Name": "report_date", "Value": report_date.isoformat()},
                              {"Name": "NoReportData", "Value": "false" if customers else "true"}]},
        "Columns": {"Column": [{"ColTitle": "", "ColType": "Customer"},
                               *({"ColTitle": t, "ColType": "Money"} for t in titles)]},
        "Rows": {"Row": rows},
    }


def open_documents(rows: list[Any]) -> list[dict[str, Any]]:
    """{customer, amount, due} of every open invoice (+Balance), credit memo (-RemainingCredit) and payment
    (-UnappliedAmt) among `rows` (the store's active Invoice, CreditMemo and Payment rows)."""
    found = []
    for row in rows:
        doc = row.doc
        field, sign = {"Invoice": ("Balance", 1), "CreditMemo": ("RemainingCredit", -1),
                       "Payment": ("UnappliedAmt", -1)}[row.entity]
        amount = Decimal(str(doc.get(field) or 0))
        if amount:
            due = doc.get("DueDate") if row.entity == "Invoice" else None
            found.append({"customer": str((doc.get("CustomerRef") or {}).get("value")), "amount": sign * amount,
                          "due": dt.date.fromisoformat(due[:10]) if due else None})
    return found
