"""The canonical accounting document: one model for every source and every destination.

Money is `Decimal` quantized to the cent (or integer cents inside data frames), never float.
`content_hash` is the sha256 of `canonical_json(document)`: sorted keys, decimals and dates as
strings, lines in `line_no` order. The same serialization is produced in SQL by
`model.hash_sql` (from the stored columns, so it is never stored itself); tests keep the two in agreement.

This module imports nothing of ours and nothing of Dagster.
"""

from __future__ import annotations

import dataclasses
import functools
import datetime as dt
import hashlib
import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal


CENT = Decimal("0.01")

DocType = Literal["invoice", "credit_memo", "payment"]
LineKind = Literal["rmr", "ticket_labor", "ticket_part", "fee", "other"]
DOC_TYPES: tuple[str, ...] = ("invoice", "credit_memo", "payment")
LINE_KINDS: tuple[str, ...] = ("rmr", "ticket_labor", "ticket_part", "fee", "other")


def money(value: Decimal | int | str) -> Decimal:
    """A Decimal rounded half-up to the cent (never "-0.00")."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP) + 0


def line_amount(qty: Decimal, unit_price: Decimal) -> Decimal:
    """`qty × unit_price` rounded half-up to the cent: the only amount QuickBooks accepts (6070)."""
    return money(Decimal(qty) * Decimal(unit_price))


def doc_key(source: str, doc_type: str, source_id: str) -> str:
    return f"{source}:{doc_type}:{source_id}"


@dataclasses.dataclass(frozen=True)
class DocumentLine:
    line_no: int
    kind: str
    item_code: str
    description: str
    qty: Decimal
    unit_price: Decimal
    amount: Decimal
    taxable: bool
    tax_amount: Decimal = Decimal("0.00")
    service_start: dt.date | None = None
    service_end: dt.date | None = None


@dataclasses.dataclass(frozen=True)
class Application:
    """A credit or payment applied to another document of the same source."""

    doc_key: str
    doc_number: str
    amount: Decimal


@dataclasses.dataclass(frozen=True)
class AccountingDocument:
    doc_key: str
    source: str
    doc_type: str
    source_id: str
    doc_number: str
    txn_date: dt.date
    period: str
    due_date: dt.date | None
    customer_key: str
    customer_name: str
    master_account: str
    site: str
    terms: str
    po_number: str
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    currency: str
    memo: str
    source_ref: str
    lines: tuple[DocumentLine, ...] = ()
    applies_to: tuple[Application, ...] = ()
    content_hash: str = ""

    def with_hash(self) -> "AccountingDocument":
        return dataclasses.replace(self, content_hash=content_hash(self))


# Fields that are identity or lineage, not content: changing them must not look like an edit.
_NOT_CONTENT = {"content_hash", "source_ref"}


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(money(value))
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    return value


def canonical_dict(document: AccountingDocument) -> dict:
    """The document as plain JSON types, decimals and dates as strings, without hash or lineage."""
    out: dict = {}
    for field in dataclasses.fields(document):
        if field.name in _NOT_CONTENT:
            continue
        value = getattr(document, field.name)
        if field.name == "lines":
            out["lines"] = [_line_dict(line) for line in sorted(value, key=lambda l: l.line_no)]
        elif field.name == "applies_to":
            out["applies_to"] = [
                {"amount": str(money(a.amount)), "doc_key": a.doc_key, "doc_number": a.doc_number}
                for a in sorted(value, key=lambda a: a.doc_key)
            ]
        else:
            out[field.name] = _plain(value)
    return out


def _line_dict(line: DocumentLine) -> dict:
    return {
        "amount": str(money(line.amount)),
        "description": line.description,
        "item_code": line.item_code,
        "kind": line.kind,
        "line_no": line.line_no,
        "qty": decimal_text(line.qty),
        "service_end": line.service_end.isoformat() if line.service_end else None,
        "service_start": line.service_start.isoformat() if line.service_start else None,
        "tax_amount": str(money(line.tax_amount)),
        "taxable": line.taxable,
        "unit_price": decimal_text(line.unit_price),
    }


def decimal_text(value: Decimal | int | str) -> str:
    """Quantities and rates keep up to 4 places (Sedona's precision) with trailing zeros removed."""
    text = format(Decimal(value).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP), "f")
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return text if text not in ("-0", "") else "0"


def _iso(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def document_from_dict(data: dict, source_ref: str = "", content_hash: str | None = None) -> AccountingDocument:
    """The exact inverse of `canonical_dict` (the hash is recomputed unless given)."""
    lines = tuple(
        DocumentLine(
            line_no=int(l["line_no"]), kind=l["kind"], item_code=l["item_code"], description=l["description"],
            qty=Decimal(l["qty"]), unit_price=Decimal(l["unit_price"]), amount=Decimal(l["amount"]),
            taxable=bool(l["taxable"]), tax_amount=Decimal(l.get("tax_amount") or "0"),
            service_start=_iso(l.get("service_start")), service_end=_iso(l.get("service_end")),
        )
        for l in data["lines"]
    )
    applies = tuple(Application(a["doc_key"], a["doc_number"], Decimal(a["amount"])) for a in data["applies_to"])
    document = AccountingDocument(
        doc_key=data["doc_key"], source=data["source"], doc_type=data["doc_type"], source_id=data["source_id"],
        doc_number=data["doc_number"], txn_date=dt.date.fromisoformat(data["txn_date"]), period=data["period"],
        due_date=_iso(data["due_date"]), customer_key=data["customer_key"], customer_name=data["customer_name"],
        master_account=data["master_account"], site=data["site"], terms=data["terms"], po_number=data["po_number"],
        subtotal=Decimal(data["subtotal"]), tax_total=Decimal(data["tax_total"]), total=Decimal(data["total"]),
        currency=data["currency"], memo=data["memo"], source_ref=source_ref, lines=lines, applies_to=applies,
    )
    return dataclasses.replace(document, content_hash=content_hash) if content_hash is not None else document.with_hash()


def canonical_json(document: AccountingDocument) -> str:
    return json.dumps(canonical_dict(document), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(document: AccountingDocument) -> str:
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


# --- pandera schemas for the data-frame form (money as integer cents, never float) ---------------
# One definition, built for two of pandera's backends: pandas (frames made in Python, as the tests and the
# ServiceTrade mapping make them) and polars (the checks over DuckDB's results: canonical/validation.py).
# A column: name, kind, its checks (each a function of pandera's `Check`), unique. A frame check: a
# function of `col` (a column by name), so the same expression is pandas' or polars' arithmetic. pandera (and
# with it pandas) is imported when a schema is first built, not with this module: every process that knows
# documents imports it, a company's code location too, and pandas is most of what that would hold in memory.

_DOCUMENT_COLUMNS = (
    ("doc_key", "str", (), True),
    ("source", "str", (lambda c: c.isin(["sedona", "servicetrade"]),), False),
    ("doc_type", "str", (lambda c: c.isin(list(DOC_TYPES)),), False),
    ("source_id", "str", (lambda c: c.str_length(min_value=1),), False),
    ("doc_number", "str", (lambda c: c.str_length(min_value=1, max_value=21),), False),
    ("txn_date", "datetime", (), False),
    ("period", "str", (lambda c: c.str_matches(r"^\d{4}-\d{2}$"),), False),
    ("customer_key", "str", (lambda c: c.str_length(min_value=1),), False),
    ("customer_name", "str", (lambda c: c.str_length(min_value=1),), False),
    ("subtotal_cents", "int64", (), False),
    ("tax_total_cents", "int64", (lambda c: c.ge(0),), False),
    ("total_cents", "int64", (), False),
    ("line_count", "int64", (lambda c: c.ge(0),), False),
    ("lines_amount_cents", "int64", (), False),
    ("lines_tax_cents", "int64", (), False),
    ("content_hash", "str", (lambda c: c.str_matches(r"^[0-9a-f]{64}$"),), False),
)
_DOCUMENT_CHECKS = {
    "total_is_subtotal_plus_tax": lambda col: col("total_cents") == col("subtotal_cents") + col("tax_total_cents"),
    # A payment has no lines: its total is the money received (applied to invoices or not).
    "invoices_and_credits_have_lines": lambda col: (col("doc_type") == "payment") | (col("line_count") >= 1),
    "subtotal_is_sum_of_lines": lambda col: (col("doc_type") == "payment") | (col("subtotal_cents") == col("lines_amount_cents")),
    "tax_is_sum_of_line_tax": lambda col: (col("doc_type") == "payment") | (col("tax_total_cents") == col("lines_tax_cents")),
    "payments_are_positive_and_have_no_lines":
        lambda col: (col("doc_type") != "payment") | ((col("line_count") == 0) & (col("total_cents") > 0)),
}
_LINE_COLUMNS = (
    ("doc_key", "str", (), False),
    ("line_no", "int64", (lambda c: c.ge(1),), False),
    ("kind", "str", (lambda c: c.isin(list(LINE_KINDS)),), False),
    ("item_code", "str", (lambda c: c.str_length(min_value=1),), False),
    ("amount_cents", "int64", (), False),
    ("tax_amount_cents", "int64", (lambda c: c.ge(0),), False),
    ("qty_x_price_cents", "int64", (), False),
)
_LINE_CHECKS = {"amount_is_qty_times_rate": lambda col: col("amount_cents") == col("qty_x_price_cents")}


def _schemas(pandera_module, kinds: dict, frame_check) -> tuple:
    """(documents, lines) schemas in `pandera_module` (pandera.pandas or pandera.polars); `kinds` maps a
    column kind to the backend's type; `frame_check(function)` makes a frame check's callable."""
    def build(columns, checks, name, **extra):
        return pandera_module.DataFrameSchema(
            {n: pandera_module.Column(kinds[k], [check(pandera_module.Check) for check in cs], unique=u,
                                      coerce=k == "datetime") for n, k, cs, u in columns},
            checks=[pandera_module.Check(frame_check(f), name=n) for n, f in checks.items()],
            strict=False, name=name, **extra)

    return (build(_DOCUMENT_COLUMNS, _DOCUMENT_CHECKS, "accounting_documents"),
            build(_LINE_COLUMNS, _LINE_CHECKS, "accounting_document_lines", unique=["doc_key", "line_no"]))


@functools.cache
def pandas_schemas() -> tuple:
    """The (documents, lines) schemas for pandera's pandas backend (frames made in Python)."""
    import pandera.pandas as pa

    return _schemas(pa, {"str": str, "int64": "int64", "datetime": "datetime64[us]"},
                    lambda f: lambda df: f(df.__getitem__))


def __getattr__(name: str):
    """DOCUMENTS_SCHEMA and LINES_SCHEMA, the pandas schemas, built on first use."""
    if name in ("DOCUMENTS_SCHEMA", "LINES_SCHEMA"):
        return pandas_schemas()[name == "LINES_SCHEMA"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def polars_schemas() -> tuple:
    """The same (documents, lines) schemas for pandera's polars backend (imported on first use)."""
    import pandera.polars as pp
    import polars as pl

    return _schemas(pp, {"str": pl.Utf8, "int64": pl.Int64, "datetime": pl.Datetime("us")},
                    lambda f: lambda data: data.lazyframe.select(f(pl.col)))
