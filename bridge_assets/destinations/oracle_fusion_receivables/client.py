"""The wire side of the Oracle Fusion Receivables adapter: Basic auth over the kit's paced HTTP, the framework's
collections (`q`, `limit`, `offset`, `hasMore`) and error bodies, nothing about documents.

A read is retried on 429, 5xx and dropped connections; a write is sent again only when the answer proves the pod
never took it (429, 503), otherwise its outcome is unknown and the adapter looks before writing again. The
password never appears in a message or log line (it rides in the Authorization header only).
"""

from __future__ import annotations

from typing import Any, Mapping

import httpx

from bridge_assets.destinations.base import DestinationError
from bridge_assets.destinations.kit.erp import send_unless_doubled
from bridge_assets.destinations.kit.http import Backoff, PacedClient, Platform, Retry
from bridge_assets.destinations.kit.limits import Limits

PLATFORM = "Oracle Fusion Receivables"
ROOT = "/fscmRestApi/resources/11.13.18.05"


class ArRefused(Exception):
    def __init__(self, status: int, code: str, detail: str, call: str) -> None:
        self.status, self.code, self.detail, self.call = status, code, detail, call
        super().__init__(f"{call}: {code} {detail}")


class ArUnavailable(Exception):
    def __init__(self, problem: str, call: str, http_status: int | None = None) -> None:
        super().__init__(f"Oracle Fusion did not answer {call} ({problem})")
        self.problem, self.http_status = problem, http_status


class ArClient:
    def __init__(self, url: str, user: str, password: str, *, limits: Limits = Limits(), tries: int = 5,
                 timeout: httpx.Timeout | float = 60.0, transport: httpx.BaseTransport | None = None) -> None:
        self.user, self.tries = user, tries
        self.http = PacedClient(Platform(PLATFORM, limits=limits, retry=Retry(tries=tries, backoff=Backoff(0.5, 20.0))),
                                base_url=url.rstrip("/") + ROOT, timeout=timeout, transport=transport,
                                headers={"Accept": "application/json", "REST-Framework-Version": "4"})
        self.http.http.auth = httpx.BasicAuth(user, password)

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
             missing_ok: bool = False) -> Any:
        write, what = method != "GET", f"{method} {path.split('?')[0]}"
        headers = {"Content-Type": "application/vnd.oracle.adf.action+json" if "/action/" in path
                   else "application/vnd.oracle.adf.resourceitem+json"} if write else None
        response = send_unless_doubled(self.http, method, path, write=write, what=what, tries=self.tries, json=json,
                                       params=params, headers=headers,
                                       unavailable=lambda problem, status, sent: ArUnavailable(problem, what, status))
        if response.status_code == 401:
            raise DestinationError(f"Oracle Fusion refused the user {self.user!r} (HTTP 401); check ORACLE_USERNAME "
                                   f"and ORACLE_PASSWORD (and that the password has not expired)")
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 400:
            try:
                detail = (response.json().get("o:errorDetails") or [{}])[0]
            except ValueError:
                detail = {"detail": response.text[:200]}
            raise ArRefused(response.status_code, str(detail.get("o:errorCode") or response.status_code),
                            str(detail.get("detail") or ""), what)
        return response.json() if response.content else None

    def items(self, resource: str, q: str | None = None) -> list[dict[str, Any]]:
        out, offset = [], 0
        while True:
            page = self.call("GET", resource, params={"limit": 500, "offset": offset, **({"q": q} if q else {})})
            out += page.get("items", [])
            if not page.get("hasMore"):
                return out
            offset += len(page.get("items", [])) or 500
