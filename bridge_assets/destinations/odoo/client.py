"""The wire side of the Odoo adapter: XML-RPC `execute_kw` over the kit's paced HTTP, nothing about documents.

Odoo's external RPC API is stateless: `common.authenticate(db, login, key, {})` gives the user's id once,
then every `object.execute_kw(db, uid, key, model, method, args, kwargs)` carries the key again. Bodies
are built and read with the standard library's `xmlrpc.client` (dumps/loads); HTTP goes through
`kit.http.PacedClient`, so pacing, backoff with jitter and Retry-After are the kit's.

Retries. A read is retried on 429, 5xx and dropped connections. A write is sent once more only when the
answer proves Odoo never received it (429 or 503 from the proxy in front of it); a 502/504 or a dropped
connection after a write leaves its outcome unknown (`OdooUnavailable` with `sent=True`), and the adapter
looks the document up before doing anything again. Odoo publishes no rate limit: `ODOO_REQUESTS_PER_MINUTE`
sets one if the host has one.

An Odoo exception arrives as an XML-RPC Fault (HTTP 200): `OdooFault` with the code (1 application error,
2 UserError, 3 access denied, 4 AccessError) and Odoo's message. The key never appears in a message, a
log line or an exception: only the login and the database name do.
"""

from __future__ import annotations

import dataclasses
import xmlrpc.client
from typing import Any

import httpx

from bridge_assets.destinations.kit.erp import send_unless_doubled
from bridge_assets.destinations.kit.http import Backoff, PacedClient, Platform, Retry
from bridge_assets.destinations.kit.limits import Limits

PLATFORM = "Odoo"
READ_METHODS = frozenset({"search", "search_read", "search_count", "read", "fields_get"})
FAULT_APPLICATION, FAULT_WARNING, FAULT_ACCESS_DENIED, FAULT_ACCESS_ERROR = 1, 2, 3, 4


class OdooFault(Exception):
    """Odoo refused the call (an exception inside Odoo); `code` is the XML-RPC fault code."""

    def __init__(self, code: int, message: str, call: str) -> None:
        first = message.strip().splitlines()[-1] if code == FAULT_APPLICATION and message.strip() else message.strip()
        super().__init__(first)
        self.code = code
        self.message = first
        self.call = call


class OdooUnavailable(Exception):
    """No usable answer: `sent` says whether a write may have reached Odoo (its outcome is then unknown)."""

    def __init__(self, problem: str, call: str, sent: bool, http_status: int | None = None) -> None:
        super().__init__(f"Odoo did not answer {call} ({problem})")
        self.problem = problem
        self.sent = sent
        self.http_status = http_status


class OdooAccessDenied(Exception):
    """The login or API key was refused (a configuration problem, never retried)."""


def _retryable(response: httpx.Response) -> bool:
    return response.status_code in (429, 500, 502, 503, 504)


def odoo_platform(limits: Limits, tries: int) -> Platform:
    return Platform(PLATFORM, limits=limits, retry=Retry(tries=tries, backoff=Backoff(first_s=0.5, max_s=20.0)),
                    retryable=_retryable)


@dataclasses.dataclass
class OdooClient:
    url: str
    database: str
    login: str
    key: str = dataclasses.field(repr=False)
    limits: Limits = Limits()
    tries: int = 5
    timeout: httpx.Timeout | float = 60.0
    transport: httpx.BaseTransport | None = None

    def __post_init__(self) -> None:
        self.http = PacedClient(odoo_platform(self.limits, self.tries), base_url=self.url.rstrip("/"),
                                headers={"Content-Type": "text/xml", "User-Agent": "invoice-bridge/0.1 (+Odoo adapter)"},
                                timeout=self.timeout, transport=self.transport)
        self._uid: int | None = None

    def close(self) -> None:
        self.http.close()

    @property
    def uid(self) -> int:
        if self._uid is None:
            uid = self._rpc("common", "authenticate", [self.database, self.login, self.key, {}], write=False,
                            call="authenticate")
            if not uid:
                raise OdooAccessDenied(
                    f"Odoo database {self.database!r} at {self.url} refused the login {self.login!r} with the API key "
                    f"given (ODOO_USERNAME, ODOO_API_KEY): check both, and that the key has not expired (Odoo keys "
                    f"last at most three months)")
            self._uid = int(uid)
        return self._uid

    def execute(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """`execute_kw(model, method, args, kwargs)`; a write is sent again only when Odoo never received it."""
        call = f"{model}.{method}"
        params = [self.database, self.uid, self.key, model, method, list(args), kwargs]
        return self._rpc("object", "execute_kw", params, write=method not in READ_METHODS, call=call)

    def _rpc(self, service: str, method: str, params: list, *, write: bool, call: str) -> Any:
        body = xmlrpc.client.dumps(tuple(params), method, allow_none=False).encode("utf-8")
        path = f"/xmlrpc/2/{service}"
        response = send_unless_doubled(
            self.http, "POST", path, write=write, what=call, tries=self.tries, content=body,
            unavailable=lambda problem, status, sent: OdooUnavailable(problem, call, sent=sent, http_status=status))
        return self._result(response, call)

    def _result(self, response: httpx.Response, call: str) -> Any:
        if response.status_code != 200:
            raise OdooUnavailable(f"HTTP {response.status_code}", call, sent=False, http_status=response.status_code)
        try:
            (result,), _ = xmlrpc.client.loads(response.content, use_builtin_types=True)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode == FAULT_ACCESS_DENIED:
                self._uid = None
                raise OdooAccessDenied(
                    f"Odoo database {self.database!r} refused the login {self.login!r} on {call} (Access Denied): "
                    f"check ODOO_USERNAME and ODOO_API_KEY") from None
            raise OdooFault(int(fault.faultCode) if str(fault.faultCode).isdigit() else FAULT_APPLICATION,
                            str(fault.faultString), call) from None
        except Exception as problem:
            raise OdooUnavailable(f"an answer that is not XML-RPC ({type(problem).__name__})", call, sent=False,
                                  http_status=response.status_code) from None
        return result
