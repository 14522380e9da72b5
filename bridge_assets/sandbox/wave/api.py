"""`POST /graphql/public`: the path every request takes, and Wave's OAuth endpoints.

Order of events for one request:
1. injected faults (latency, then a 5xx/429 answered before anything is done), like a gateway;
2. the bearer token (kit OAuth provider): none, unknown, expired or revoked -> 401 with a GraphQL error
   whose `extensions.code` is `UNAUTHENTICATED`;
3. the limits: per access token per minute, per application per day -> 429 with `Retry-After` and a
   GraphQL error `RATE_LIMITED`;
4. the document parsed and validated against the schema (graphql-core): a syntax or validation error
   is 400 with `errors` and nothing runs; else executed, each mutation in its own transaction;
5. the journal: method, path, operations, status, outcome, who called (never a token).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from graphql import GraphQLError, GraphQLSchema, execute, parse, validate
from graphql.language import OperationDefinitionNode
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bridge_assets.sandbox.kit import wire
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.wave.resolvers import Context

logger = logging.getLogger(__name__)

GRAPHQL_PATH = "/graphql/public"
TOKEN_PATH = "/oauth2/token/"
AUTHORIZE_PATH = "/oauth2/authorize/"
SCOPES = "invoice:write"


def graphql_answer(status: int, errors: list[dict] | None = None, data: Any = None,
                   headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"data": data}
    if errors:
        body["errors"] = errors
    return Response(wire.dumps(body, ascii_only=False), status_code=status, media_type="application/json",
                    headers=headers)


def error(message: str, code: str) -> dict:
    return {"message": message, "extensions": {"code": code}}


class WaveApi:
    def __init__(self, parts: Parts, schema: GraphQLSchema) -> None:
        self.parts, self.schema = parts, schema
        self.store, self.settings, self.faults, self.oauth = parts.store, parts.settings, parts.faults, parts.auth

    def routes(self) -> list[BaseRoute]:
        return [Route(GRAPHQL_PATH, self.graphql, methods=["POST"]),
                Route(TOKEN_PATH, self.oauth.token_endpoint, methods=["POST"]),
                Route(AUTHORIZE_PATH, self.oauth.consent_endpoint(scope=SCOPES, subject_param="businessId",
                                                                  default_subject=""), methods=["GET"])]

    async def graphql(self, request: Request) -> Response:
        decision = self.faults.decide(method=request.method, path=request.url.path)
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        if decision.status:
            return self._answer(request, self.faults.rules.response(decision.status), "injected", "", "")
        raw = await request.body()
        header = request.headers.get("authorization", "")
        token = self.oauth.access(header[7:].strip()) if header[:7].lower() == "bearer " else None
        if token is None or token.state != "valid":
            why = "No valid access token was given" if token is None else f"The access token is {token.state}"
            return self._answer(request, graphql_answer(401, [error(f"{why}.", "UNAUTHENTICATED")]),
                                "unauthorized", "", "")
        principal = f"{token.client_id}#{token.serial}"
        caller = {"token": token.serial, "app": token.client_id}
        if self.faults.take_throttle() or not self.parts.throttle.admit(caller):
            answer = graphql_answer(429, [error("Too many requests; slow down.", "RATE_LIMITED")],
                                    headers={"Retry-After": str(self.settings.retry_after_s)})
            return self._answer(request, answer, "throttled", principal, "")
        try:
            return self._execute(request, raw, Context(self.store, token.subject, self.settings), principal)
        finally:
            self.parts.throttle.release(caller)

    def _execute(self, request: Request, raw: bytes, context: Context, principal: str) -> Response:
        try:
            body = wire.loads(raw or b"null")
            query, variables = body["query"], body.get("variables") or {}
            operation = body.get("operationName")
            if not isinstance(query, str) or not isinstance(variables, dict):
                raise TypeError
        except (ValueError, TypeError, KeyError):
            answer = graphql_answer(400, [error("The body must be JSON {query, variables?, operationName?}.",
                                                "BAD_USER_INPUT")])
            return self._answer(request, answer, "refused", principal, "")
        try:
            document = parse(query)
        except GraphQLError as failure:
            return self._answer(request, graphql_answer(400, [{**failure.formatted, "extensions": {
                "code": "GRAPHQL_PARSE_FAILED"}}]), "refused", principal, "")
        names = ",".join(sorted({f.name.value for d in document.definitions if isinstance(d, OperationDefinitionNode)
                                 for f in d.selection_set.selections if hasattr(f, "name")}))
        problems = validate(self.schema, document)
        if problems:
            errors = [{**p.formatted, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}} for p in problems]
            return self._answer(request, graphql_answer(400, errors), "refused", principal, names)
        try:
            result = execute(self.schema, document, variable_values=variables, operation_name=operation,
                             context_value=context)
        except Exception:   # a bug in the emulator: answer like a server error, keep the traceback
            logger.exception("Wave emulator failed on %s", names)
            return self._answer(request, graphql_answer(500, [error("Internal server error", "INTERNAL")]),
                                "error", principal, names)
        errors = [{**e.formatted, "extensions": {"code": "BAD_USER_INPUT" if e.original_error is None
                                                 or isinstance(e.original_error, (ValueError, GraphQLError))
                                                 else "INTERNAL_SERVER_ERROR"}} for e in result.errors or []]
        return self._answer(request, graphql_answer(200, errors, result.data),
                            "refused" if errors else "processed", principal, names)

    def _answer(self, request: Request, response: Response, outcome: str, principal: str, operations: str) -> Response:
        self.store.journal_append(request.method, request.url.path, request.url.query, response.status_code,
                                  outcome, operations=operations, principal=principal)
        return response
