"""The `/api.xro/2.0/...` surface, `GET /connections`, and the path every API call takes.

Order of events for one call:
1. bearer token (401), then `xero-tenant-id` naming an organisation the grant reaches (403);
2. limits: forced 429s, then concurrent / per-minute / per-day / app-minute (429, `Retry-After`,
   `X-Rate-Limit-Problem`); a refused call is not counted;
3. injected latency and injected 500/502/503/429 (nothing done);
4. `Idempotency-Key` on PUT/POST: at most 128 characters, never empty; seen before with the same
   method, path, query and body: the first answer again, byte for byte, nothing done; with another
   request: refused (400). Only an answer that refused nothing is remembered;
5. the work, in one SQLite transaction with the key's record;
6. a dropped answer if the fault plan says so (the write stays committed, its key recorded).
Every call goes into the journal (tenant, key, outcome: processed|replayed|throttled|injected|
unauthorized|forbidden|dropped:<mode>).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.faults import request_drop
from bridge_assets.sandbox.xero import errors, limits, oauth, query, wire
from bridge_assets.sandbox.xero.books import RESOURCES, Books
from bridge_assets.sandbox.xero.names import account_rows
from bridge_assets.sandbox.xero.webhooks import WebhookSender

logger = logging.getLogger(__name__)

PREFIX = "/api.xro/2.0"
IDEMPOTENCY_KEY_MAX = 128
Work = Callable[[Books, Request, Any], Awaitable[tuple[dict[str, Any], int]] | tuple[dict[str, Any], int]]


class AccountingApi:
    def __init__(self, parts: Parts, webhooks: WebhookSender | None = None) -> None:
        self.store, self.settings, self.faults = parts.store, parts.settings, parts.faults
        self.oauth, self.throttle, self.webhooks = parts.auth, parts.throttle, webhooks

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/connections", self.connections, methods=["GET"]),
            Route(PREFIX + "/Organisation", self.read(self._organisation), methods=["GET"]),
            Route(PREFIX + "/TaxRates", self.read(self._tax_rates), methods=["GET"]),
            Route(PREFIX + "/Accounts", self.read(self._accounts), methods=["GET"]),
            Route(PREFIX + "/CreditNotes/{ref}/Allocations", self.write(self._allocate), methods=["PUT"]),
            Route(PREFIX + "/CreditNotes/{ref}/Allocations/{allocation}", self.write(self._unallocate),
                  methods=["DELETE"]),
            Route(PREFIX + "/{collection}", self.read(self._list), methods=["GET"]),
            Route(PREFIX + "/{collection}/{ref}", self.read(self._one), methods=["GET"]),
            Route(PREFIX + "/{collection}", self.write(self._write), methods=["PUT", "POST"]),
            Route(PREFIX + "/{collection}/{ref}", self.write(self._write), methods=["POST"]),
        ]

    # --- the pipeline ------------------------------------------------------------------------------

    def read(self, work: Work):
        async def endpoint(request: Request) -> Response:
            return await self.serve(request, work, write=False)
        return endpoint

    def write(self, work: Work):
        async def endpoint(request: Request) -> Response:
            return await self.serve(request, work, write=True)
        return endpoint

    async def connections(self, request: Request) -> Response:
        try:
            access = oauth.caller(self.oauth, request)
        except errors.XeroError as refusal:
            return self._answer(request, None, refusal.response(request), None, "unauthorized")
        rows = [{"id": c["connection_id"], "tenantId": c["tenant_id"], "tenantType": "ORGANISATION",
                 "tenantName": c["name"], "createdDateUtc": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(
                     c["created_at"])), "updatedDateUtc": None} for c in self.store.connections(access.subject)]
        return self._answer(request, None, Response(wire.dumps(rows), 200, media_type=wire.JSON_MEDIA_TYPE),
                            None, "processed")

    async def serve(self, request: Request, work: Work, *, write: bool) -> Response:
        key = request.headers.get("idempotency-key") if write else None
        try:
            access = oauth.caller(self.oauth, request)
        except errors.XeroError as refusal:
            return self._answer(request, None, refusal.response(request), key, "unauthorized")
        try:
            tenant_id = oauth.tenant_of(self.store, access, request)
        except errors.XeroError as refusal:
            return self._answer(request, None, refusal.response(request), key, "forbidden", access.client_id)
        who = limits.caller(tenant_id, access.client_id)
        refusal = None if not self.faults.take_throttle(tenant_id) else errors.rate_limited("minute", 60)
        if refusal is None:
            refused = self.throttle.refusal(who)
            if refused is not None:
                wait = refused.wait_s * self.settings.time_scale      # Retry-After in Xero's own seconds
                refusal = errors.rate_limited(limits.PROBLEM.get(refused.window, refused.window), wait)
        if refusal is not None:
            return self._answer(request, tenant_id, refusal.response(request), key, "throttled", access.client_id)
        try:
            return await self._admitted(request, work, write, tenant_id, key, access.client_id)
        finally:
            self.throttle.release(who)

    async def _admitted(self, request: Request, work: Work, write: bool, tenant_id: str, key: str | None,
                        client_id: str) -> Response:
        decision = self.faults.decide(tenant_id, request.method, request.url.path)
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        if decision.status:
            response = self.faults.rules.response(decision.status)
            return self._answer(request, tenant_id, response, key, "injected", client_id)
        raw = await request.body()
        fingerprint = hashlib.sha256(b"|".join([request.method.encode(), request.url.path.encode(),
                                                request.url.query.encode(), raw])).hexdigest()
        if key is not None:
            early = self._key_answer(request, tenant_id, key, fingerprint)
            if early is not None:
                return self._answer(request, tenant_id, early[0], key, early[1], client_id)
        unitdp = 4 if request.query_params.get("unitdp") == "4" else 2
        books = Books(self.store, self.settings, tenant_id, unitdp=unitdp)
        try:
            with self.store.transaction():
                try:
                    body, status = work(books, request, wire.loads(raw) if raw.strip() else None)
                    response = wire.respond(request, body, status)
                except errors.XeroError as refusal:
                    response = refusal.response(request)
                if key is not None and response.status_code == 200 and b'"ValidationErrors"' not in response.body \
                        and b"<ValidationErrors>" not in response.body:
                    # Only an answer that refused nothing is remembered: a refused element changed nothing,
                    # so the same request again is judged again (RULES.md)
                    self.store.record(tenant_id, key, fingerprint, response.status_code, response.media_type,
                                      bytes(response.body))
        except ValueError as problem:                               # a body that is not JSON
            response = errors.bad_request(f"The request body could not be read: {problem}").response(request)
        except Exception:  # a bug in the emulator: answer as Xero's own 500
            logger.exception("Xero emulator failed on %s %s", request.method, request.url.path)
            return self._answer(request, tenant_id, errors.internal_error(), key, "processed", client_id)
        if write and books.touched:
            if self.webhooks is not None:
                try:
                    self.webhooks.after_write(tenant_id, books.touched)
                except Exception:   # a notification is never worth the answer to the write itself
                    logger.exception("Xero emulator could not queue a webhook")
            mode = self.faults.take_drop(tenant_id, books.touched, self.settings.drop_mode)
            if mode:
                request_drop(request.scope, mode)
                return self._answer(request, tenant_id, response, key, f"dropped:{mode}", client_id)
        return self._answer(request, tenant_id, response, key, "processed", client_id)

    def _key_answer(self, request: Request, tenant_id: str, key: str, fingerprint: str):
        if not key.strip() or len(key) > IDEMPOTENCY_KEY_MAX:
            refusal = errors.bad_request(f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} characters")
            return refusal.response(request), "processed"
        ttl = self.settings.idempotency_ttl_s
        since = None if ttl is None else time.time() - self.settings.real_seconds(ttl)
        recorded = self.store.recorded(tenant_id, key, since)
        if recorded is None:
            return None
        if recorded["fingerprint"] != fingerprint:
            refusal = errors.bad_request(f"Idempotency-Key {key} was already used for a different request; "
                                         f"use a new key for a new request")
            return refusal.response(request), "processed"
        return Response(recorded["body"], recorded["status"], media_type=recorded["media_type"]), "replayed"

    def _answer(self, request: Request, tenant_id: str | None, response: Response, key: str | None, outcome: str,
                client_id: str | None = None) -> Response:
        self.store.journal_append(request.method, request.url.path, request.url.query, response.status_code, outcome,
                                  tenant_id=tenant_id, idempotency_key=key, client_id=client_id)
        return response

    # --- the work ----------------------------------------------------------------------------------

    @staticmethod
    def _resource(request: Request):
        resource = RESOURCES.get(request.path_params["collection"])
        if resource is None:
            raise errors.not_found(f"The resource {request.path_params['collection']} is not emulated")
        return resource

    def _organisation(self, books: Books, request: Request, body: Any):
        org = books.organisation
        row = {"OrganisationID": books.tenant_id, "Name": org.get("name"), "BaseCurrency": "USD",
               "CountryCode": "US", "Version": "US", "OrganisationStatus": "ACTIVE", "IsDemoCompany": False,
               "PeriodLockDate": org.get("period_lock_date"), "EndOfYearLockDate": org.get("end_of_year_lock_date")}
        return wire.envelope("Organisations", [{k: v for k, v in row.items() if v is not None}]), 200

    def _tax_rates(self, books: Books, request: Request, body: Any):
        rows = [{"Name": f"{name} ({rate * 100:.2f}%)", "TaxType": name, "Status": "ACTIVE",
                 "EffectiveRate": rate * 100, "DisplayTaxRate": rate * 100, "CanApplyToRevenue": True}
                for name, rate in self.settings.tax_rates.items()]
        return wire.envelope("TaxRates", rows), 200

    def _accounts(self, books: Books, request: Request, body: Any):
        return wire.envelope("Accounts", account_rows(books.tenant_id)), 200

    def _list(self, books: Books, request: Request, body: Any):
        resource = self._resource(request)
        since = query.modified_since(request.headers.get("if-modified-since"))
        chosen = query.select(books.all(resource), request.query_params, since, id_field=resource.id_field,
                              number_field=resource.number_field)
        page, block = query.page_of(chosen, request.query_params, self.settings.page_size,
                                    summary_without=resource.lines)
        extra = {"pagination": block} if block else {}
        return wire.envelope(request.path_params["collection"], page, **extra), 200

    def _one(self, books: Books, request: Request, body: Any):
        resource = self._resource(request)
        found = books.get(resource, request.path_params["ref"])
        if found is None:
            raise errors.not_found()
        return wire.envelope(request.path_params["collection"], [found]), 200

    def _write(self, books: Books, request: Request, body: Any):
        resource = self._resource(request)
        collection, path_id = request.path_params["collection"], request.path_params.get("ref")
        elements = self._elements(body, collection)
        results = books.write_all(elements, books.writer(resource, request.method, path_id))
        return self._summarised(request, collection, results, single=path_id is not None)

    def _allocate(self, books: Books, request: Request, body: Any):
        credit = books.get(RESOURCES["CreditNotes"], request.path_params["ref"])
        if credit is None:
            raise errors.not_found()
        results = books.write_all(self._elements(body, "Allocations"), lambda sent: books.settle.allocate(
            books.get(RESOURCES["CreditNotes"], credit["CreditNoteID"]), sent))
        return self._summarised(request, "Allocations", results, single=False)

    def _unallocate(self, books: Books, request: Request, body: Any):
        credit = books.get(RESOURCES["CreditNotes"], request.path_params["ref"])
        if credit is None:
            raise errors.not_found()
        results = books.write_all([{}], lambda sent: books.settle.unallocate(credit,
                                                                              request.path_params["allocation"]))
        return self._summarised(request, "Allocations", results, single=True)

    @staticmethod
    def _elements(body: Any, collection: str) -> list[dict[str, Any]]:
        if isinstance(body, dict) and isinstance(body.get(collection), list):
            return body[collection]
        if isinstance(body, dict) and body:
            return [body]
        raise errors.bad_request(f"The request body must be {{\"{collection}\": [...]}} or one object")

    @staticmethod
    def _summarised(request: Request, collection: str, results, *, single: bool):
        """summarizeErrors=false: 200, refused elements carry ValidationErrors. Otherwise (Xero's default,
        and always for a call on one id) any refusal answers 400 for the whole call, though the elements
        that were valid stay saved."""
        refused = any(problem for _, problem in results)
        rows = [errors.invalid_element(obj, problem) if problem else {**wire.render(obj), "StatusAttributeString": "OK"}
                for obj, problem in results]
        summarize = (request.query_params.get("summarizeErrors") or "true").lower() != "false"
        if refused and (summarize or single):
            raise errors.validation(rows)
        body = wire.envelope()
        body[collection] = rows
        return body, 200
