"""`POST /1_2/<category>/<method>`: the path every request takes.

1. injected faults (latency, a 5xx/429 answered before anything is done);
2. the envelope `{"payload": {"Header": {...}, "Body": {...}}}`, else 400;
3. the header: `MessageType` "Request", the account, `MD5Value = md5(AccNumber + APIKey + SubmissionNumber)`
   (hex), an `ApplicationID` registered on the account whose manifest ticks this method, and a
   `SubmissionNumber` the account has never used -> else 401/403/400 `{"Errors": {"Error": [...]}}`;
4. the account's calls a day (429 when spent);
5. the method, in one transaction; the answer `{"<Method>": {"Header": {...}, "Body": {...}}}`;
6. the journal: method, status, outcome, account (never a key or an MD5 value).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bridge_assets.sandbox.kit import wire
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.quickfile.methods import METHODS, SEARCHES, Refused

logger = logging.getLogger(__name__)
PATHS = {name.lower().replace("_", "/"): name for name in METHODS}     # "invoice/create" -> "Invoice_Create"


def errors(status: int, *messages: str) -> Response:
    return Response(wire.dumps({"Errors": {"Error": list(messages)}}), status_code=status, media_type="application/json")


def md5_value(acc_number: str, api_key: str, submission: str) -> str:
    return hashlib.md5(f"{acc_number}{api_key}{submission}".encode()).hexdigest()


class QuickFileApi:
    def __init__(self, parts: Parts) -> None:
        self.parts, self.store, self.settings, self.faults = parts, parts.store, parts.settings, parts.faults

    def routes(self) -> list[BaseRoute]:
        return [Route("/1_2/{category}/{method}", self.serve, methods=["POST"])]

    async def serve(self, request: Request) -> Response:
        category, method = request.path_params["category"], request.path_params["method"]
        name = PATHS.get(f"{category}/{method}".lower(), f"{category}/{method}")
        decision = self.faults.decide(method=request.method, path=request.url.path)
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        if decision.status:
            return self._answer(request, self.faults.rules.response(decision.status), "injected", name, "")
        raw = await request.body()
        try:
            payload = wire.loads(raw or b"null")["payload"]
            header, body = payload["Header"], payload.get("Body") or {}
            if not isinstance(header, dict) or not isinstance(body, dict):
                raise TypeError
        except (ValueError, TypeError, KeyError):
            return self._answer(request, errors(400, "The request must be {\"payload\": {\"Header\": ..., \"Body\": ...}}"),
                                "refused", name, "")
        if name not in METHODS:
            return self._answer(request, errors(404, f"Unknown method {category}/{method}"), "refused", name, "")
        try:
            acc = self._authenticate(header, name)
        except Refused as refused:
            return self._answer(request, errors(refused.status, *refused.errors), "unauthorized", name,
                                str((header.get("Authentication") or {}).get("AccNumber", "")))
        if self.faults.take_throttle() or not self.parts.throttle.admit({"account": acc}):
            return self._answer(request, errors(429, "The daily API call limit of this account has been reached"),
                                "throttled", name, acc)
        try:
            with self.store.transaction():
                work = METHODS[name]
                result = (work(self.store, acc, body, self.settings.max_return_count) if name in SEARCHES
                          else work(self.store, acc, body))
        except Refused as refused:
            return self._answer(request, errors(refused.status, *refused.errors), "refused", name, acc)
        except Exception:
            logger.exception("QuickFile emulator failed on %s", name)
            return self._answer(request, errors(500, "An internal error occurred"), "error", name, acc)
        finally:
            self.parts.throttle.release({"account": acc})
        answer = {name: {"Header": {"MessageType": "Response", "SubmissionNumber": header.get("SubmissionNumber")},
                         "Body": result}}
        return self._answer(request, Response(wire.dumps(answer), media_type="application/json"), "processed", name, acc)

    def _authenticate(self, header: dict[str, Any], name: str) -> str:
        auth = header.get("Authentication") or {}
        acc, given, app = str(auth.get("AccNumber") or ""), str(auth.get("MD5Value") or ""), str(auth.get("ApplicationID") or "")
        submission = str(header.get("SubmissionNumber") or "")
        if header.get("MessageType") != "Request" or not submission:
            raise Refused("The Header needs MessageType 'Request' and a SubmissionNumber")
        account = self.store.get("Account", acc)
        if account is None or not hmac.compare_digest(md5_value(acc, account["api_key"], submission), given.lower()):
            raise Refused("Authentication failed: check the account number, API key and MD5Value", status=401)
        apps = account.get("apps") or {}
        if app not in apps:
            raise Refused(f"ApplicationID {app or '(none)'} is not registered on this account", status=403)
        if name not in apps[app]:
            raise Refused(f"The application has no permission to call {name} (tick it in the app's manifest)",
                          status=403)
        if self.store.submission_used(acc, submission):
            raise Refused(f"SubmissionNumber {submission} has already been used")
        return acc

    def _answer(self, request: Request, response: Response, outcome: str, method: str, account: str) -> Response:
        self.store.journal_append(request.method, request.url.path, "", response.status_code, outcome,
                                  operation=method, account=account)
        return response
