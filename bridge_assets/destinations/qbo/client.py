"""The HTTP side of the QuickBooks Online adapter: Intuit's limits, retries and auth, nothing about documents.

Limits (developer.intuit.com "limits and throttles", API_FACTS.md): 500 requests a minute per
company, 40 batch requests a minute per company and app, 10 requests in flight, 30 items a batch.
The kit's pacer spaces requests evenly at those rates instead of bursting and waiting for 429s:
Intuit's 429 carries no Retry-After and asks for a 60-second pause, so a 429 costs far more than the
spacing. A `time_scale` shortens the minute to match the sandbox emulator's fast clock.

Retries (`QBO_PLATFORM`, run by `destinations.kit.http`): 429, 500, 502, 503, 504 and dropped
connections are retried with exponential backoff and jitter, a bounded number of tries, a throttle
waiting longer (Intuit: wait 60 s); writes always carry a `requestid`, so a retry of a write whose
answer was lost gets the original answer back instead of a second document. After the last try
`QboUnavailable` is raised and the adapter reports the outcome as unknown (RETRY).

Auth: a 401 triggers one token refresh and one more try; a second 401 is a configuration problem
(`QboAuthError`), not something to retry.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from decimal import Decimal
from typing import Any, Callable, Mapping

import httpx

from bridge_assets.destinations.kit.http import (
    DEFAULT_TIMEOUT,
    Backoff,
    GaveUp,
    PacedClient,
    Platform,
    Retry,
)
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.qbo.auth import (
    OAuthSession,
    QboAuthError,
    QboTokenEndpointUnavailable,
)

DEFAULT_MAX_TRIES = 5
USER_AGENT = "invoice-bridge/0.1 (+QuickBooks Online adapter)"
PLATFORM = "QuickBooks Online"


@dataclasses.dataclass(frozen=True)
class QboLimits(Limits):
    """Intuit's published limits per company; `time_scale` > 1 makes a minute shorter (sandbox only)."""

    requests_per_minute: int | None = 500
    batch_requests_per_minute: int | None = 40
    concurrent_requests: int | None = 10
    batch_max_items: int | None = 30


# A throttle waits 10 s doubling to a minute (half to all of it); anything else 0.1 s to 1 s doubling to 30 s.
QBO_RETRY = Retry(tries=DEFAULT_MAX_TRIES, backoff=Backoff(first_s=1.0, max_s=30.0, floor_s=0.1),
                  throttle_backoff=Backoff(first_s=10.0, max_s=60.0, floor_share=0.5))


class QboUnavailable(Exception):
    """No usable answer after every try (throttled, 5xx, or the connection dropped): outcome unknown."""

    def __init__(self, problem: str, tries: int, http_status: int | None = None) -> None:
        super().__init__(f"QuickBooks Online did not answer ({problem}) after {tries} tries")
        self.problem = problem
        self.tries = tries
        self.http_status = http_status


@dataclasses.dataclass(frozen=True)
class QboFault:
    code: str
    message: str
    detail: str
    element: str | None = None

    def text(self) -> str:
        detail = self.detail or self.message
        return detail if not self.element or self.element in detail else f"{detail} (field {self.element})"


@dataclasses.dataclass(frozen=True)
class QboAnswer:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return self.status == 200 and not faults_of(self.body)

    @property
    def faults(self) -> list[QboFault]:
        found = faults_of(self.body)
        if not found and self.status != 200:
            return [QboFault(str(self.status), f"HTTP {self.status}", f"QuickBooks answered HTTP {self.status}")]
        return found


def faults_of(body: Any) -> list[QboFault]:
    """The errors of a `Fault` (or the lowercase 401 `fault`) body; [] when there are none."""
    if not isinstance(body, dict):
        return []
    fault = body.get("Fault") or body.get("fault")
    if not isinstance(fault, dict):
        return []
    errors = fault.get("Error") or fault.get("error") or []
    out = []
    for error in errors if isinstance(errors, list) else [errors]:
        if isinstance(error, dict):
            out.append(QboFault(
                code=str(error.get("code", "")),
                message=str(error.get("Message") or error.get("message") or ""),
                detail=str(error.get("Detail") or error.get("detail") or ""),
                element=error.get("element"),
            ))
    return out


def loads(raw: bytes) -> Any:
    """JSON with every number as Decimal-or-int: money read back must compare exactly."""
    return json.loads(raw, parse_float=Decimal)


def _unavailable(gave_up: GaveUp) -> "QboUnavailable":
    return QboUnavailable(gave_up.problem, gave_up.tries, gave_up.status)


class _QboAuth:
    """The bearer token from the shared session; a 401 refreshes it (see qbo_tokens)."""

    def __init__(self, session: OAuthSession) -> None:
        self.session = session

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self._token(None)}"}

    def renew(self, rejected: Mapping[str, str]) -> bool:
        self._token(rejected.get("Authorization", "").removeprefix("Bearer "))
        return True

    def _token(self, refresh_after: str | None) -> str:
        try:
            if refresh_after is None:
                return self.session.access_token()
            return self.session.refresh(rejected_access_token=refresh_after)
        except QboTokenEndpointUnavailable as failure:
            raise QboUnavailable("the token endpoint did not answer", 1) from failure


class QboClient:
    """One company's API (`company_url` = .../v3/company/{realmId}), paced, retried and authorised."""

    def __init__(self, company_url: str, session: OAuthSession, *, limits: QboLimits = QboLimits(),
                 minor_version: int = 75, timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
                 max_tries: int = DEFAULT_MAX_TRIES, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None) -> None:
        if max_tries < 1:
            raise ValueError("max_tries must be at least 1")
        self.company_url = company_url.rstrip("/")
        self.session = session
        self.limits = limits
        self.minor_version = minor_version
        self.max_tries = max_tries
        platform = Platform(PLATFORM, limits, dataclasses.replace(QBO_RETRY, tries=max_tries),
                            give_up=_unavailable)
        self._auth = _QboAuth(session)
        self._http = PacedClient(platform, timeout=timeout, transport=transport, sleep=sleep, rng=rng,
                                 headers={"Accept": "application/json", "User-Agent": USER_AGENT})
        self.pacer = self._http.pacer
        self.stats = self._http.stats

    def __repr__(self) -> str:
        return f"QboClient({self.company_url!r})"

    def close(self) -> None:
        self._http.close()

    # --- calls ------------------------------------------------------------------------------------

    def get(self, path: str, params: dict[str, str] | None = None) -> QboAnswer:
        return self.send("GET", path, params=params)

    def post(self, path: str, body: bytes, params: dict[str, str] | None = None, *, batch: bool = False) -> QboAnswer:
        return self.send("POST", path, params=params, content=body, content_type="application/json", batch=batch)

    def query(self, text: str) -> QboAnswer:
        # POST with a text body: no URL-length ceiling on long IN (...) lists.
        return self.send("POST", "/query", content=text.encode("utf-8"), content_type="application/text")

    def send(self, method: str, path: str, *, params: dict[str, str] | None = None, content: bytes | None = None,
             content_type: str | None = None, batch: bool = False) -> QboAnswer:
        query = {**(params or {}), "minorversion": str(self.minor_version)}
        response = self._http.send(method, self.company_url + path, params=query, content=content, batch=batch,
                                   headers={"Content-Type": content_type} if content_type else None,
                                   auth=self._auth, what=f"{method} {path}")
        if response.status_code == 401:
            raise QboAuthError(
                "QuickBooks Online refused the bridge's access token even after refreshing it (HTTP 401 "
                f"on {method} {path}); the connection may have been revoked or made for another company. "
                "Reconnect the bridge to this QuickBooks company (QBO_REALM_ID / QBO_BASE_URL) and set "
                "QBO_REFRESH_TOKEN to the new refresh token."
            )
        return QboAnswer(response.status_code, _body(response))


def _body(response: httpx.Response) -> Any:
    try:
        return loads(response.content)
    except ValueError:
        return None   # HTML from a gateway, XML from the throttle: no JSON to give
