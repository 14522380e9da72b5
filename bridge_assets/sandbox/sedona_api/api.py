"""The tenant's `/api/...` surface: read-only lists and single records of the SedonaAPI models.

    GET /api/{Model}?startDate=MM/DD/YYYY&endDate=MM/DD/YYYY&modifiedSince=<time stamp>
                    &customerId=..&customerNumber=..  + paging (page/pageSize or skip/take)
    GET /api/{Model}/{id}
    GET /api/AccountingPeriod[/{id}]

Lists come in (ModifiedDate, Id) order. `startDate`/`endDate` filter on the model's own date
(InvoiceDate, CreditDate, PaymentDate, TicketDate), both ends included; `modifiedSince` keeps
records modified at or after the stamp (`>=`, so records sharing it are returned again).
CustomerPayment is searched by customer number and date range: all three are required.
Query parameter names are matched without regard to case, as ASP.NET model binding does.

Order of events for one data request: the fault plan counts it (latency, tokens expired on this
ordinal), credentials are checked (401), an injected failure is answered, then the work is done.
Every answer goes into the journal.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bridge_assets.sandbox.sedona_api import wire
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.sedona_api.models import PERIOD_MODEL, Model, model_named
from bridge_assets.sandbox.sedona_api.settings import EmulatorSettings
from bridge_assets.sandbox.sedona_api.store import StoredRecord


class ApiError(Exception):
    def __init__(self, status: int, message: str, outcome: str = "bad_request") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.outcome = outcome


def present(settings: EmulatorSettings, record: StoredRecord) -> dict[str, Any]:
    """A stored record as the API serves it."""
    doc = dict(record.doc)
    if record.model == "CustomerInvoice" and settings.invoice_amount_includes_tax:
        doc["Amount"] = Decimal(str(doc["Amount"])) + Decimal(str(doc["TaxAmount"]))
    doc["ModifiedDate"] = wire.timestamp_text(record.modified, settings.timestamp_format)
    return doc


def present_period(row: Any) -> dict[str, Any]:
    return {
        "AccountingPeriodId": row["id"],
        "StartDate": wire.sedona_date(dt.date.fromisoformat(row["start_date"])),
        "EndDate": wire.sedona_date(dt.date.fromisoformat(row["end_date"])),
        "Status": row["status"],
    }


class TenantApi:
    def __init__(self, parts: Parts) -> None:
        self.store, self.settings, self.auth, self.faults = parts.store, parts.settings, parts.auth, parts.faults

    def routes(self) -> list[BaseRoute]:
        return [
            Route(self.settings.token_path, self._journaled_token, methods=["POST"]),
            Route("/api/{model}", self._guarded(self.list_records), methods=["GET"]),
            Route("/api/{model}/{record_id}", self._guarded(self.one_record), methods=["GET"]),
        ]

    async def _journaled_token(self, request: Request) -> Response:
        response = await self.auth.token_endpoint(request)
        self.store.journal_append(request.method, request.url.path, "", response.status_code,
                                  "token" if response.status_code == 200 else "token_refused", ordinal=None)
        return response

    def _guarded(self, work: Callable[[Request], Response]):
        async def call(request: Request) -> Response:
            decision = self.faults.decide()
            if decision.latency_s:
                await asyncio.sleep(decision.latency_s)
            if decision.expire_tokens:
                self.store.expire_tokens()
            allowed, why = self.auth.check(request)
            if not allowed:
                response, outcome = self.auth.denied(why), "unauthorized"
            elif decision.status is not None:
                response, outcome = self.faults.rules.response(decision.status), "injected"
            else:
                try:
                    response, outcome = work(request), "ok"
                except ApiError as problem:
                    response, outcome = wire.error_response(self.settings, problem.status, problem.message), problem.outcome
            self.store.journal_append(request.method, request.url.path, request.url.query, response.status_code,
                                      outcome, ordinal=decision.ordinal)
            return response

        return call

    # --- parameters ------------------------------------------------------------------------------

    @staticmethod
    def _params(request: Request) -> dict[str, str]:
        return {key.lower(): value for key, value in request.query_params.items()}

    @staticmethod
    def _date_param(params: dict[str, str], name: str) -> dt.date | None:
        text = params.get(name.lower())
        if text is None or text == "":
            return None
        try:
            return wire.parse_sedona_date(text)
        except ValueError:
            raise ApiError(400, f"The value '{text}' is not valid for {name}; dates are MM/DD/YYYY.") from None

    @staticmethod
    def _int_param(params: dict[str, str], name: str, default: int | None, minimum: int) -> int | None:
        text = params.get(name.lower())
        if text is None or text == "":
            return default
        try:
            value = int(text)
        except ValueError:
            raise ApiError(400, f"The value '{text}' is not valid for {name}.") from None
        if value < minimum:
            raise ApiError(400, f"{name} must be at least {minimum}.")
        return value

    def _window(self, params: dict[str, str]) -> tuple[int, int, dict[str, int]]:
        """(offset, limit, echo) from the configured paging style; a too-large size is cut silently."""
        settings = self.settings
        if settings.paging == "page":
            page = self._int_param(params, "page", 1, 1)
            size = min(self._int_param(params, "pageSize", settings.default_page_size, 1), settings.max_page_size)
            return (page - 1) * size, size, {"Page": page, "PageSize": size}
        skip = self._int_param(params, "skip", 0, 0)
        take = min(self._int_param(params, "take", settings.default_page_size, 1), settings.max_page_size)
        return skip, take, {"Skip": skip, "Take": take}

    def _answer(self, items: list[dict[str, Any]], total: int, echo: dict[str, int]) -> Response:
        if self.settings.envelope == "object":
            return wire.json_response({"Items": items, **echo, "TotalCount": total})
        return wire.json_response(items)

    # --- endpoints -------------------------------------------------------------------------------

    def _model(self, request: Request) -> Model | None:
        name = request.path_params["model"]
        model = model_named(name)
        if model is None and name.lower() != PERIOD_MODEL.lower():
            raise ApiError(404, f"No HTTP resource was found that matches the request URI '{request.url.path}'.",
                           "not_found")
        return model

    def list_records(self, request: Request) -> Response:
        model = self._model(request)
        params = self._params(request)
        offset, limit, echo = self._window(params)
        if model is None:
            rows = self.store.periods()
            return self._answer([present_period(r) for r in rows[offset:offset + limit]], len(rows), echo)
        start = self._date_param(params, "startDate")
        end = self._date_param(params, "endDate")
        since_text = params.get("modifiedsince")
        since = None
        if since_text:
            try:
                since = wire.parse_timestamp(since_text)
            except ValueError:
                raise ApiError(400, f"The value '{since_text}' is not valid for modifiedSince.") from None
        customer_number = params.get("customernumber") or None
        if model.name == "CustomerPayment" and (customer_number is None or start is None or end is None):
            raise ApiError(400, "CustomerPayment is searched by customer number and date range: "
                                "customerNumber, startDate and endDate are required.")
        if (start or end) and model.date_field is None:
            raise ApiError(400, f"{model.name} has no date to filter on; leave out startDate and endDate.")
        records, total = self.store.query(
            model, start=start, end=end, modified_since=since,
            customer_id=self._int_param(params, "customerId", None, 0), customer_number=customer_number,
            offset=offset, limit=limit,
        )
        return self._answer([present(self.settings, r) for r in records], total, echo)

    def one_record(self, request: Request) -> Response:
        model = self._model(request)
        text = request.path_params["record_id"]
        try:
            record_id = int(text)
        except ValueError:
            raise ApiError(400, f"The value '{text}' is not a valid id.") from None
        if model is None:
            row = next((r for r in self.store.periods() if r["id"] == record_id), None)
            if row is None:
                raise ApiError(404, f"No AccountingPeriod with id {record_id}.", "not_found")
            return wire.json_response(present_period(row))
        record = self.store.get(model, record_id)
        if record is None:
            raise ApiError(404, f"No {model.name} with id {record_id}.", "not_found")
        return wire.json_response(present(self.settings, record))

