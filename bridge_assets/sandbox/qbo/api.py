"""The `/v3/company/{realmId}/...` surface and the path every API request takes through it.

Order of events for one request, the order QuickBooks shows its failures in:
1. bearer token (401 lowercase fault);
2. throttles: forced 429s, then concurrent / per-minute / batch windows (429 XML);
3. injected latency and injected 500/502/503 (nothing is done);
4. `requestid` (writes only): too long is 6000; seen before is the recorded answer, replayed
   byte for byte, and nothing changes;
5. the work, in one SQLite transaction together with the requestid record;
6. a dropped response, if the fault plan says so (the write stays committed).
Every answer goes into the company's journal, which tests read to count what reached "Intuit".
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.faults import request_drop
from bridge_assets.sandbox.kit.limits import RateLimiter
from bridge_assets.sandbox.qbo import documents, errors, limits, reports, wire
from bridge_assets.sandbox.qbo.books import ENTITY_BY_PATH, WRITABLE_ENTITIES, Books, is_sparse
from bridge_assets.sandbox.qbo.oauth import OAuthServer
from bridge_assets.sandbox.qbo.store import EntityRow
from bridge_assets.sandbox.qbo.webhooks import WebhookSender

logger = logging.getLogger(__name__)

REQUEST_ID_MAX = 50
BATCH_REQUEST_ID_MAX = 36
BATCH_ID_MAX = 10
CDC_LOOKBACK_DAYS = 30
CDC_MAX_OBJECTS = 1000
CDC_ENTITIES = ("Invoice", "CreditMemo", "Payment", "Customer", "Item", "Account", "Preferences")

Handler = Callable[[Books, bytes], dict[str, Any]]


def parse_body(raw: bytes) -> Any:
    try:
        return wire.loads(raw or b"null")
    except ValueError as problem:
        raise errors.invalid_property(f"Request body is not valid JSON: {problem}") from None


def entity_for_path(segment: str) -> str:
    entity = ENTITY_BY_PATH.get(segment.lower())
    if entity is None:
        raise errors.unsupported_operation(f"on resource '{segment}'")
    return entity


def include_flags(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [flag for flag in raw.split(",") if flag]
    return [str(flag) for flag in raw]


class CompanyApi:
    def __init__(self, parts: Parts, webhooks: WebhookSender | None = None) -> None:
        self.store, self.settings, self.faults = parts.store, parts.settings, parts.faults
        self.oauth: OAuthServer = parts.auth
        self.throttle: RateLimiter = parts.throttle
        self.webhooks = webhooks

    def routes(self) -> list[BaseRoute]:
        prefix = "/v3/company/{realm_id}"
        return [
            Route(prefix + "/preferences", self.read_preferences, methods=["GET"]),
            Route(prefix + "/preferences", self.update_preferences, methods=["POST"]),
            Route(prefix + "/companyinfo/{company_id}", self.read_company_info, methods=["GET"]),
            Route(prefix + "/query", self.query, methods=["GET", "POST"]),
            Route(prefix + "/batch", self.batch, methods=["POST"]),
            Route(prefix + "/cdc", self.cdc, methods=["GET"]),
            Route(prefix + "/reports/{report}", self.report, methods=["GET"]),
            Route(prefix + "/{entity}/{entity_id}/pdf", self.pdf, methods=["GET"]),
            Route(prefix + "/{entity}/{entity_id}/send", self.send, methods=["POST"]),
            Route(prefix + "/{entity}/{entity_id}", self.read, methods=["GET"]),
            Route(prefix + "/{entity}", self.write, methods=["POST"]),
            Route(prefix + "/{rest:path}", self.unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]

    # --- the pipeline ----------------------------------------------------------------------------

    async def serve(self, request: Request, handler: Handler, *, write: bool, batch: bool = False) -> Response:
        realm_id = request.path_params["realm_id"]
        request_id = request.query_params.get("requestid") if write else None
        caller = self.oauth.authenticate(request.headers.get("authorization"), realm_id)
        if isinstance(caller, Response):
            return self._answer(request, realm_id, caller, request_id, "unauthorized")
        who = limits.caller(realm_id, caller.client_id)
        if self.faults.take_throttle(realm_id) or not self.throttle.admit(who, {"batch"} if batch else ()):
            return self._answer(request, realm_id, errors.throttle_exceeded(), request_id, "throttled")
        try:
            decision = self.faults.decide(realm_id)
            if decision.latency_s:
                await asyncio.sleep(decision.latency_s)
            if decision.status:
                response = self.faults.rules.response(decision.status)
                return self._answer(request, realm_id, response, request_id, "injected")
            minor = request.query_params.get("minorversion", "").strip()
            if minor and not minor.isdigit():      # below 75 is read as 75; a value that is no number is refused
                return self._answer(request, realm_id, errors.invalid_minor_version(minor).response(), request_id,
                                    "processed")
            if request_id is not None:
                limit = BATCH_REQUEST_ID_MAX if batch else REQUEST_ID_MAX
                if len(request_id) > limit:
                    fault = errors.business_validation(
                        f"Request Id can not be more than {limit} characters long.", element="requestid")
                    return self._answer(request, realm_id, fault.response(), request_id, "processed")
                recorded = self._recorded(realm_id, request_id)
                if recorded is not None:
                    replay = Response(recorded.body, recorded.status, media_type=recorded.media_type)
                    return self._answer(request, realm_id, replay, request_id, "replayed")
            raw = await request.body()
            books = Books(self.store, self.settings, realm_id)
            started = time.time()
            try:
                with self.store.transaction():
                    produced = handler(books, raw)         # a dict answered as JSON, or a finished Response
                    body = produced.body if isinstance(produced, Response) else wire.dumps(produced)
                    if request_id is not None:
                        self.store.record_response(realm_id, request_id, 200, wire.JSON_MEDIA_TYPE, body)
                if write and self.webhooks is not None:
                    self.webhooks.after_write(realm_id, started, books.touched)
            except errors.QboFault as fault:
                response = fault.response()
                if request_id is not None and self.settings.requestid_replays_faults and fault.http_status == 400:
                    self.store.record_response(realm_id, request_id, response.status_code, wire.JSON_MEDIA_TYPE,
                                               bytes(response.body))
                return self._answer(request, realm_id, response, request_id, "processed")
            except Exception:  # a bug in the emulator: answer like QuickBooks' own SystemFault
                logger.exception("QBO emulator failed on %s %s", request.method, request.url.path)
                return self._answer(request, realm_id, errors.system_failure().response(), request_id, "processed")
            response = produced if isinstance(produced, Response) else Response(body, 200, media_type=wire.JSON_MEDIA_TYPE)
            if write:
                mode = self.faults.take_drop(realm_id, books.touched, self.settings.drop_mode)
                if mode:
                    request_drop(request.scope, mode)
                    return self._answer(request, realm_id, response, request_id, f"dropped:{mode}")
            return self._answer(request, realm_id, response, request_id, "processed")
        finally:
            self.throttle.release(who)

    def _recorded(self, realm_id: str, request_id: str):
        recorded = self.store.recorded_response(realm_id, request_id)
        ttl = self.settings.requestid_ttl_s
        if recorded is not None and ttl is not None and time.time() - recorded.created_at > self.settings.real_seconds(ttl):
            self.store.forget_response(realm_id, request_id)
            return None
        return recorded

    def _answer(self, request: Request, realm_id: str, response: Response, request_id: str | None,
                outcome: str) -> Response:
        self.store.journal_append(request.method, request.url.path, request.url.query, response.status_code,
                                  outcome, realm_id=realm_id, request_id=request_id)
        return response

    # --- endpoints -------------------------------------------------------------------------------

    async def read(self, request: Request) -> Response:
        def handler(books: Books, raw: bytes) -> dict[str, Any]:
            entity = entity_for_path(request.path_params["entity"])
            return {entity: books.read(entity, request.path_params["entity_id"]), "time": wire.response_time()}

        return await self.serve(request, handler, write=False)

    async def write(self, request: Request) -> Response:
        params = request.query_params

        def handler(books: Books, raw: bytes) -> dict[str, Any]:
            entity = entity_for_path(request.path_params["entity"])
            body = parse_body(raw)
            document = books.write(entity, body, operation=params.get("operation"),
                                   include=include_flags(params.get("include")))
            return {entity: document, "time": wire.response_time()}

        return await self.serve(request, handler, write=True)

    async def report(self, request: Request) -> Response:
        def handler(books: Books, raw: bytes) -> dict[str, Any]:
            name = next((r for r in reports.REPORTS if r.lower() == request.path_params["report"].lower()), None)
            if name is None:
                raise errors.unsupported_operation(f"report {request.path_params['report']}")
            return reports.report(name, request.query_params, books.open_documents(),
                                  {c["Id"]: c.get("DisplayName", "") for c in books.query_all("Customer")})

        return await self.serve(request, handler, write=False)

    async def pdf(self, request: Request) -> Response:
        def handler(books: Books, raw: bytes) -> Response:
            entity = documents.printable(entity_for_path(request.path_params["entity"]), "pdf")
            doc = books.read(entity, request.path_params["entity_id"])
            return Response(documents.pdf_of(entity, doc), 200, media_type=documents.PDF_MEDIA_TYPE)

        return await self.serve(request, handler, write=False)

    async def send(self, request: Request) -> Response:
        def handler(books: Books, raw: bytes) -> dict[str, Any]:
            entity = documents.printable(entity_for_path(request.path_params["entity"]), "send")
            return {entity: books.send(entity, request.path_params["entity_id"], request.query_params.get("sendTo")),
                    "time": wire.response_time()}

        return await self.serve(request, handler, write=True)

    async def unknown(self, request: Request) -> Response:
        def handler(books: Books, raw: bytes) -> dict[str, Any]:
            raise errors.unsupported_operation(f"{request.method} on {request.path_params['rest']}")

        return await self.serve(request, handler, write=False)

    async def read_preferences(self, request: Request) -> Response:
        return await self.serve(
            request, lambda books, raw: {"Preferences": books.preferences(), "time": wire.response_time()},
            write=False)

    async def update_preferences(self, request: Request) -> Response:
        def handler(books: Books, raw: bytes) -> dict[str, Any]:
            return {"Preferences": books.update_preferences(parse_body(raw)), "time": wire.response_time()}

        return await self.serve(request, handler, write=True)

    async def read_company_info(self, request: Request) -> Response:
        def handler(books: Books, raw: bytes) -> dict[str, Any]:
            if request.path_params["company_id"] != books.realm_id:
                raise errors.object_deleted("object")
            return {"CompanyInfo": books.company_info(), "time": wire.response_time()}

        return await self.serve(request, handler, write=False)

    async def query(self, request: Request) -> Response:
        def handler(books: Books, raw: bytes) -> dict[str, Any]:
            text = request.query_params.get("query")
            if text is None:
                text = raw.decode("utf-8", "replace")
            return {"QueryResponse": books.query(text), "time": wire.response_time()}

        return await self.serve(request, handler, write=False)

    async def batch(self, request: Request) -> Response:
        request_id = request.query_params.get("requestid")
        url_includes = include_flags(request.query_params.get("include"))

        def handler(books: Books, raw: bytes) -> dict[str, Any]:
            body = parse_body(raw)
            items = body.get("BatchItemRequest") if isinstance(body, dict) else None
            if not isinstance(items, list) or not items:
                raise errors.required_param("BatchItemRequest")
            if len(items) > self.settings.batch_max_items:
                raise errors.business_validation(
                    f"The batch has {len(items)} items; a batch may carry at most "
                    f"{self.settings.batch_max_items}.", element="BatchItemRequest")
            created_earlier: set[tuple[str, str]] = set()
            answers = []
            for item in items:
                bid = item.get("bId") if isinstance(item, dict) else None
                item_books = Books(self.store, self.settings, books.realm_id, hidden=created_earlier)
                try:
                    if not isinstance(item, dict):
                        raise errors.invalid_property("Property Name:BatchItemRequest specified is unsupported")
                    if bid in (None, ""):
                        raise errors.required_param("bId")
                    if request_id is not None and len(str(bid)) > BATCH_ID_MAX:
                        raise errors.business_validation(
                            f"bId can not be more than {BATCH_ID_MAX} characters long when requestid is used.",
                            element="bId")
                    with self.store.transaction():  # a savepoint: a failed item leaves no trace
                        answer = self._batch_item(item_books, item, url_includes)
                    created_earlier.update(item_books.created)
                    books.touched |= item_books.touched
                    answers.append({"bId": bid, **answer})
                except errors.QboFault as fault:
                    answers.append({"bId": bid, "Fault": fault.fault()})
            return {"BatchItemResponse": answers, "time": wire.response_time()}

        return await self.serve(request, handler, write=True, batch=True)

    def _batch_item(self, books: Books, item: dict[str, Any], url_includes: list[str]) -> dict[str, Any]:
        if "Query" in item:
            return {"QueryResponse": books.query(str(item["Query"]))}
        entities = [key for key in item if key in WRITABLE_ENTITIES]
        if len(entities) != 1:
            raise errors.invalid_property("A batch item carries exactly one of Invoice, CreditMemo, Payment, "
                                          "Customer, Item, Account, or a Query")
        entity = entities[0]
        operation = item.get("operation")
        if operation not in ("create", "update", "delete"):
            raise errors.required_param("operation") if not operation else errors.unsupported_operation(operation)
        includes = url_includes + include_flags(item.get("optionsData"))
        if "void" in {flag.lower() for flag in includes} and entity == "Invoice":
            operation, includes = "void", [flag for flag in includes if flag.lower() != "void"]
        body = item[entity]
        if operation == "create" and isinstance(body, dict) and is_sparse(body):
            raise errors.invalid_property("sparse is only meaningful on update", "sparse")
        return {entity: books.write(entity, body, operation=operation, include=includes)}

    async def cdc(self, request: Request) -> Response:
        params = request.query_params

        def handler(books: Books, raw: bytes) -> dict[str, Any]:
            names_param, since_param = params.get("entities"), params.get("changedSince")
            if not names_param:
                raise errors.required_param("entities")
            if not since_param:
                raise errors.required_param("changedSince")
            names = []
            for name in names_param.split(","):
                entity = next((e for e in CDC_ENTITIES if e.lower() == name.strip().lower()), None)
                if entity is None:
                    raise errors.invalid_property(f"Property Name:entities specified is unsupported or invalid: "
                                                  f"{name}", "entities")
                names.append(entity)
            since = wire.parse_timestamp(since_param)
            if since is None:
                raise errors.invalid_property(f"Property Name:changedSince specified is unsupported or invalid: "
                                              f"{since_param}", "changedSince")
            if since < time.time() - CDC_LOOKBACK_DAYS * 86400:
                raise errors.business_validation(
                    f"changedSince can not be more than {CDC_LOOKBACK_DAYS} days in the past.", element="changedSince")
            rows = self.store.changed_since(books.realm_id, names, since)[:CDC_MAX_OBJECTS]
            balances = books.customer_balances() if "Customer" in names else None
            responses = []
            for name in names:
                objects = [_cdc_object(books, row, balances) for row in rows if row.entity == name]
                responses.append({name: objects, "startPosition": 1, "maxResults": len(objects),
                                  "totalCount": len(objects)} if objects else {})
            return {"CDCResponse": [{"QueryResponse": responses}], "time": wire.response_time()}

        return await self.serve(request, handler, write=False)


def _cdc_object(books: Books, row: EntityRow, balances) -> dict[str, Any]:
    if row.deleted:
        return {"domain": "QBO", "status": "Deleted", "Id": row.id,
                "MetaData": {"LastUpdatedTime": wire.meta_time(row.updated_at)}}
    return books.present(row, balances)

