"""The emulator's own control panel under `/_emulator/...`: what a SedonaOffice user does in the
application (edit or delete an invoice, close a period) and what a test needs to see or break.

No authentication and no faults here: the emulator listens on loopback. Bodies are JSON objects.

Changes to invoices, credits and payments follow SedonaOffice's rule: only in a period that is Open
(or Re-Open). `?force=true` skips the rule, for a test that needs a change where none is allowed.
A change is stamped with the emulator's clock unless the body carries `ModifiedDate` (either
time-stamp style), which is how a test makes a change share a stamp with records already read.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from bridge_assets.sandbox.kit.admin import AdminError, AdminPanel
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.serving import ADMIN_PREFIX as PREFIX
from bridge_assets.sandbox.sedona_api import wire
from bridge_assets.sandbox.sedona_api.api import present, present_period
from bridge_assets.sandbox.sedona_api.models import (
    BILL_CYCLES, CUSTOMER_STATUSES, INVOICE_TYPES, MODELS, PERIOD_STATUSES, POSTED_MODELS, POSTING_STATUSES,
    TICKET_STATUSES, Model, model_named,
)
from bridge_assets.sandbox.sedona_api.seed import SeedData, seed_from_book
from bridge_assets.sandbox.sedona_api.store import Store


def _json(payload: Any, status: int = 200) -> Response:
    return wire.json_response(payload, status)


def load_seed(store: Store, seed: SeedData) -> dict[str, Any]:
    """Replace the company's records and periods with `seed` (issued tokens stay valid)."""
    with store.transaction():
        store.reset(keep_tokens=True)
        for record in seed.records:
            store.put(MODELS[record.model], record.doc, record.modified)
        for period in seed.periods:
            store.put_period(period.period, period.period_id, period.start, period.end, period.status)
        if seed.records:
            store.set_meta("clock", max(r.modified for r in seed.records).isoformat())
        if seed.book_seed is not None:
            store.set_meta("book_seed", str(seed.book_seed))
    return {"seeded": store.counts(), "periods": [present_period(r) for r in store.periods()],
            "book_seed": seed.book_seed}


class Admin:
    def __init__(self, parts: Parts) -> None:
        self.store, self.settings, self.faults = parts.store, parts.settings, parts.faults
        self.panel = AdminPanel(
            self.store, _json, wire.loads, self.faults, settings_view=self.settings.public_mapping, reset=self.reset,
            health=lambda: {"records": self.store.counts(), "book_seed": self.store.meta("book_seed")})

    def routes(self) -> list[BaseRoute]:
        return self.panel.routes([
            ("/seed", self.seed, ["POST"]),
            ("/records/{model}", self.dump, ["GET"]),
            ("/records/{model}", self.create, ["POST"]),
            ("/records/{model}/{record_id}", self.edit, ["PATCH", "POST"]),
            ("/records/{model}/{record_id}", self.delete, ["DELETE"]),
            ("/invoices", self.create_invoice, ["POST"]),
            ("/invoices/{number}", self.edit_invoice, ["PATCH", "POST"]),
            ("/invoices/{number}", self.delete_invoice, ["DELETE"]),
            ("/periods", self.list_periods, ["GET"]),
            ("/periods/{period}", self.set_period_status, ["POST"]),
            ("/tokens/expire", self.expire_tokens, ["POST"]),
        ])

    async def _body(self, request: Request) -> dict[str, Any]:
        return await self.panel.body(request)

    def reset(self, body: dict[str, Any]) -> str:
        self.store.reset()
        self.faults.restore_initial()
        return "all"

    @staticmethod
    def _model(name: str) -> Model:
        model = model_named(name)
        if model is None:
            raise AdminError(f"unknown model {name}; known: {sorted(MODELS)}", 404)
        return model

    @staticmethod
    def _forced(request: Request) -> bool:
        return request.query_params.get("force", "").lower() in ("1", "true", "yes")

    # --- set-up ----------------------------------------------------------------------------------

    async def seed(self, request: Request) -> Response:
        """{"book": Book.to_dict()} or {"seed", "lines", "first_period", "months"}; "open_periods" optional."""
        body = await self._body(request)
        open_periods = int(body.get("open_periods", self.settings.open_periods))
        if "book" in body:
            book = _plain_json(body["book"])
        else:
            from bridge_assets.sandbox.book import generate_book

            book = generate_book(int(body.get("seed", 7)), int(body.get("lines", 2000)),
                                 str(body.get("first_period", "2026-08")), int(body.get("months", 3)))
        return _json(load_seed(self.store, seed_from_book(book, open_periods=open_periods)))

    # --- records ---------------------------------------------------------------------------------

    async def dump(self, request: Request) -> Response:
        model = self._model(request.path_params["model"])
        records, _ = self.store.query(model, include_deleted=True)
        return _json({
            "records": [present(self.settings, r) for r in records if r.deleted_at is None],
            "deleted": [{**present(self.settings, r), "DeletedAt": r.deleted_at} for r in records if r.deleted_at],
        })

    def _stamp(self, body: dict[str, Any]) -> dt.datetime:
        text = body.pop("ModifiedDate", None)
        return self.store.stamp(wire.parse_timestamp(str(text)) if text else None)

    def _check_period(self, model: Model, doc: dict[str, Any], forced: bool) -> None:
        if forced or model.name not in POSTED_MODELS:
            return
        period = _period_of(doc.get(model.date_field))
        status = self.store.period_status(period) if period else None
        if status not in POSTING_STATUSES:
            raise AdminError(
                f"period {period} is {status or 'not set up'}; SedonaOffice refuses to post into a period that is "
                f"not Open (set it to Re-Open with POST {PREFIX}/periods/{period}, or add ?force=true)", 409)

    def _next_id(self, model: Model) -> int:
        row = self.store.fetchone("SELECT max(id) AS top FROM records WHERE model = ?", (model.name,))
        return (row["top"] or 0) + 1

    def _next_document_number(self) -> int:
        row = self.store.fetchone("SELECT max(CAST(number AS INTEGER)) AS top FROM records "
                                  "WHERE model IN ('CustomerInvoice', 'CustomerCredit')")
        return (row["top"] or 100000) + 1

    async def create(self, request: Request) -> Response:
        return _json(self._create(self._model(request.path_params["model"]), await self._body(request),
                                  self._forced(request)))

    def _create(self, model: Model, body: dict[str, Any], forced: bool) -> dict[str, Any]:
        modified = self._stamp(body)
        with self.store.transaction():
            doc = dict(body)
            doc.setdefault(model.id_field, self._next_id(model))
            if self.store.get(model, int(doc[model.id_field]), include_deleted=True) is not None:
                raise AdminError(f"{model.name} {doc[model.id_field]} exists already", 409)
            if model.name in ("CustomerInvoice", "CustomerCredit") and model.number_field not in doc:
                doc[model.number_field] = self._next_document_number()
            _recompute_totals(model, doc, items_changed=True, given=body)
            _validate(model, doc)
            self._check_period(model, doc, forced)
            self._check_number_free(model, doc)
            self.store.put(model, doc, modified)
            record = self.store.get(model, int(doc[model.id_field]))
        return present(self.settings, record)

    def _check_number_free(self, model: Model, doc: dict[str, Any]) -> None:
        if model.name not in ("CustomerInvoice", "CustomerCredit"):
            return
        number = str(doc[model.number_field])
        for other in (MODELS["CustomerInvoice"], MODELS["CustomerCredit"]):
            found = self.store.by_number(other, number)
            if found is not None and not (other is model and found.id == int(doc[model.id_field])):
                raise AdminError(f"document number {number} is already used by {other.name} {found.id}", 409)

    async def edit(self, request: Request) -> Response:
        model = self._model(request.path_params["model"])
        return _json(self._edit(model, int(request.path_params["record_id"]), await self._body(request),
                                self._forced(request)))

    def _edit(self, model: Model, record_id: int, changes: dict[str, Any], forced: bool) -> dict[str, Any]:
        modified = self._stamp(changes)
        with self.store.transaction():
            record = self.store.get(model, record_id)
            if record is None:
                raise AdminError(f"no {model.name} {record_id}", 404)
            if model.id_field in changes and int(changes[model.id_field]) != record_id:
                raise AdminError(f"{model.id_field} cannot change")
            self._check_period(model, record.doc, forced)
            doc = {**record.doc, **changes}
            _recompute_totals(model, doc, items_changed="Items" in changes, given=changes)
            _validate(model, doc)
            self._check_period(model, doc, forced)
            self._check_number_free(model, doc)
            self.store.put(model, doc, modified)
            record = self.store.get(model, record_id)
        return present(self.settings, record)

    async def delete(self, request: Request) -> Response:
        model = self._model(request.path_params["model"])
        return _json(self._delete(model, int(request.path_params["record_id"]), self._forced(request)))

    def _delete(self, model: Model, record_id: int, forced: bool) -> dict[str, Any]:
        with self.store.transaction():
            record = self.store.get(model, record_id)
            if record is None:
                raise AdminError(f"no {model.name} {record_id}", 404)
            self._check_period(model, record.doc, forced)
            self.store.delete(model, record_id)
        return {"deleted": {"model": model.name, "id": record_id}}

    # invoices by number: the bookkeeper's handle on them

    def _invoice_id(self, number: str) -> int:
        record = self.store.by_number(MODELS["CustomerInvoice"], number)
        if record is None:
            raise AdminError(f"no invoice number {number}", 404)
        return record.id

    async def create_invoice(self, request: Request) -> Response:
        return _json(self._create(MODELS["CustomerInvoice"], await self._body(request), self._forced(request)))

    async def edit_invoice(self, request: Request) -> Response:
        record_id = self._invoice_id(request.path_params["number"])
        return _json(self._edit(MODELS["CustomerInvoice"], record_id, await self._body(request), self._forced(request)))

    async def delete_invoice(self, request: Request) -> Response:
        record_id = self._invoice_id(request.path_params["number"])
        return _json(self._delete(MODELS["CustomerInvoice"], record_id, self._forced(request)))

    # --- periods, tokens, faults, journal --------------------------------------------------------

    async def list_periods(self, request: Request) -> Response:
        return _json({"periods": [{"period": r["period"], **present_period(r)} for r in self.store.periods()]})

    async def set_period_status(self, request: Request) -> Response:
        period = request.path_params["period"]
        body = await self._body(request)
        status = body.get("Status")
        if status not in PERIOD_STATUSES:
            raise AdminError(f"Status must be one of {PERIOD_STATUSES}, not {status!r}")
        start = dt.date.fromisoformat(f"{period}-01")
        end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        self.store.put_period(period, start.year * 100 + start.month, start, end, status)
        return _json({"period": period, "Status": status})

    async def expire_tokens(self, request: Request) -> Response:
        return _json({"expired": self.store.expire_tokens()})


def _period_of(date_text: Any) -> str | None:
    if not date_text:
        return None
    day = wire.parse_sedona_date(str(date_text))
    return None if day is None else f"{day:%Y-%m}"


def _recompute_totals(model: Model, doc: dict[str, Any], *, items_changed: bool, given: dict[str, Any]) -> None:
    """New items give new totals unless the change states them (a test may want them to disagree)."""
    if model.name not in ("CustomerInvoice", "CustomerCredit") or not items_changed:
        return
    items = doc.get("Items") or []
    if "Amount" not in given:
        doc["Amount"] = sum((Decimal(str(i.get("Amount", 0))) for i in items), Decimal("0.00"))
    if "TaxAmount" not in given:
        doc["TaxAmount"] = sum((Decimal(str(i.get("TaxAmount", 0))) for i in items), Decimal("0.00"))


def _validate(model: Model, doc: dict[str, Any]) -> None:
    """The codes and date format SedonaOffice itself enforces."""
    checks = {
        ("Customer", "StatusCode"): CUSTOMER_STATUSES,
        ("ServiceTicket", "StatusCode"): TICKET_STATUSES,
        ("CustomerInvoice", "InvoiceType"): INVOICE_TYPES,
        ("CustomerRecurring", "BillCycle"): BILL_CYCLES,
    }
    for (name, field), allowed in checks.items():
        if model.name == name and field in doc and doc[field] not in allowed:
            raise AdminError(f"{field} must be one of {allowed}, not {doc[field]!r}")
    _check_dates(doc, model.name)
    for item in doc.get("Items") or []:
        if item.get("BillCycle") not in (None, "", *BILL_CYCLES):
            raise AdminError(f"BillCycle must be one of {BILL_CYCLES}, not {item['BillCycle']!r}")
        _check_dates(item, f"{model.name} item")


def _check_dates(doc: dict[str, Any], where: str) -> None:
    for field, value in doc.items():
        if field.endswith("Date") and field != "ModifiedDate" and value is not None:
            try:
                wire.parse_sedona_date(str(value))
            except ValueError:
                raise AdminError(f"{where} {field} {value!r} is not MM/DD/YYYY (12/30/1899 for no date)") from None


def _plain_json(value: Any) -> Any:
    """Decimals (from the JSON parser) back to the strings `Book.to_dict()` uses."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return [_plain_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain_json(v) for k, v in value.items()}
    return value

