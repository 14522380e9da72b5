"""`/api/service.asmx`: the WSDL (`?WSDL`) and every SOAP call.

1. injected faults (latency, a 5xx answered before anything is done);
2. the envelope parsed; not SOAP 1.1 or not KashFlow's namespace -> soap:Fault (500);
3. `UserName` and `Password` checked on every call (no session): wrong -> soap:Fault "Invalid username or
   password" (500, u), and the API must be enabled for the account;
4. the operation, in one transaction; a refusal is Status NO with StatusDetail (200);
5. the journal: operation, status, outcome, account (never a password).
"""

from __future__ import annotations

import asyncio
import hmac
import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bridge_assets.sandbox.kashflow import methods, soap
from bridge_assets.sandbox.kashflow.wsdl import wsdl
from bridge_assets.sandbox.kit.emulator import Parts

logger = logging.getLogger(__name__)
SERVICE = "/api/service.asmx"


class KashFlowApi:
    def __init__(self, parts: Parts) -> None:
        self.parts, self.store, self.faults = parts, parts.store, parts.faults

    def routes(self) -> list[BaseRoute]:
        return [Route(SERVICE, self.describe, methods=["GET"]), Route(SERVICE, self.serve, methods=["POST"])]

    async def describe(self, request: Request) -> Response:
        location = str(request.base_url).rstrip("/") + SERVICE
        return Response(wsdl(location), media_type="text/xml; charset=utf-8")

    async def serve(self, request: Request) -> Response:
        decision = self.faults.decide(method=request.method, path=request.url.path)
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        if decision.status:
            return self._journal(self.faults.rules.response(decision.status), "injected", "", "")
        operation, account = "", ""
        try:
            operation, values = soap.parse(await request.body())
            if operation not in methods.OPERATIONS:
                raise soap.Fault(f"Server did not recognize the value of HTTP Header SOAPAction: {operation}.")
            account = self._authenticate(values)
            with self.store.transaction():
                result = methods.OPERATIONS[operation](self.store, account, values)
        except soap.Fault as failure:
            return self._journal(soap.fault(str(failure)), "fault", operation, account)
        except methods.No as refused:
            return self._journal(soap.answer(operation, ok=False, detail=str(refused)), "refused", operation, account)
        except Exception:
            logger.exception("KashFlow emulator failed on %s", operation)
            return self._journal(soap.fault("Server was unable to process request."), "error", operation, account)
        order = soap.INVOICE if operation == "GetInvoice" else soap.CUSTOMER if operation == "GetCustomer" else ()
        return self._journal(soap.answer(operation, result, order=order), "processed", operation, account)

    def _authenticate(self, values: dict) -> str:
        username, password = str(values.get("UserName") or ""), str(values.get("Password") or "")
        account = next((a for a in self.store.fetchall("SELECT id, doc FROM records WHERE kind = 'Account'")
                        if a["id"] == username), None)
        record = self.store.get("Account", username) if account else None
        if record is None or not hmac.compare_digest(record["password"].encode(), password.encode()):
            raise soap.Fault("Invalid username or password")
        if not record.get("api_enabled", True):
            raise soap.Fault("API access is not enabled for this account (Apps > API Settings)")
        return username

    def _journal(self, response: Response, outcome: str, operation: str, account: str) -> Response:
        self.store.journal_append("POST", SERVICE, "", response.status_code, outcome, operation=operation,
                                  account=account)
        return response
