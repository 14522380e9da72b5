"""One Xero organisation's API, paced under Xero's limits, retried, authorised, answers as JSON.

Every call carries `Authorization: Bearer`, `xero-tenant-id` and `Accept: application/json` (Xero
answers XML otherwise). Writes carry an `Idempotency-Key` (never empty, at most 128 characters), the
same on every retry of that call. 429 (with `Retry-After`, `X-Rate-Limit-Problem`), 5xx and dropped
connections are retried; a spent daily limit is not waited out inside a run (`DailyLimitSpent`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from decimal import Decimal
from typing import Any, Callable, Mapping

import httpx

from bridge_assets.destinations.kit.http import DEFAULT_TIMEOUT, Backoff, GaveUp, PacedClient, Platform, Retry
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.xero.auth import XeroAuthError, XeroTokenEndpointUnavailable

DEFAULT_MAX_TRIES = 5
PLATFORM = "Xero"
USER_AGENT = "invoice-bridge/0.1 (+Xero adapter)"
IDEMPOTENCY_KEY_MAX = 128


@dataclasses.dataclass(frozen=True)
class XeroLimits(Limits):
    """Xero's published limits per organisation and app; `time_scale` > 1 only against the emulator."""

    requests_per_minute: int | None = 60
    requests_per_day: int | None = 5000
    concurrent_requests: int | None = 5
    batch_max_items: int | None = 50        # "about 50 elements per request" (developer.xero.com)


# A throttle waits Retry-After (at least 5 s, up to a minute); anything else 0.5 s doubling to 30 s.
XERO_RETRY = Retry(tries=DEFAULT_MAX_TRIES, backoff=Backoff(first_s=1.0, max_s=30.0, floor_s=0.1),
                   throttle_backoff=Backoff(first_s=5.0, max_s=60.0, floor_share=0.5))


class XeroUnavailable(Exception):
    """No usable answer after every try (throttled, 5xx, dropped): whether a write landed is unknown."""

    def __init__(self, problem: str, tries: int, http_status: int | None = None) -> None:
        super().__init__(f"Xero did not answer ({problem}) after {tries} tries")
        self.problem, self.tries, self.http_status = problem, tries, http_status


@dataclasses.dataclass(frozen=True)
class XeroAnswer:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return self.status == 200 and isinstance(self.body, dict)

    def messages(self) -> list[str]:
        """The sentences of a refusal (ValidationErrors of every element, or the Message / Detail)."""
        body = self.body if isinstance(self.body, dict) else {}
        found = [str(e.get("Message")) for element in body.get("Elements") or []
                 for e in element.get("ValidationErrors") or [] if e.get("Message")]
        return found or [str(body.get("Message") or body.get("Detail") or f"HTTP {self.status}")]


def loads(raw: bytes) -> Any:
    return json.loads(raw, parse_float=Decimal)


def _describe(response: httpx.Response) -> str:
    problem = response.headers.get("x-rate-limit-problem")
    text = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    return f"{text} (the {problem} limit)" if problem else text


def _unavailable(gave_up: GaveUp) -> XeroUnavailable:
    return XeroUnavailable(gave_up.problem, gave_up.tries, gave_up.status)


class _Bearer:
    """The bearer token from the session (refresh-token store or client credentials); 401 renews it."""

    def __init__(self, session: Any, tenant_id: Callable[[], str]) -> None:
        self.session, self.tenant_id = session, tenant_id

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self._token(None)}", "xero-tenant-id": self.tenant_id()}

    def renew(self, rejected: Mapping[str, str]) -> bool:
        self._token(rejected.get("Authorization", "").removeprefix("Bearer "))
        return True

    def _token(self, rejected: str | None) -> str:
        try:
            return self.session.access_token() if rejected is None else self.session.refresh(rejected)
        except XeroTokenEndpointUnavailable as failure:
            raise XeroUnavailable("the token endpoint did not answer", 1) from failure


class XeroClient:
    def __init__(self, api_url: str, session: Any, tenant_id: Callable[[], str], *, limits: XeroLimits = XeroLimits(),
                 timeout: httpx.Timeout | float = DEFAULT_TIMEOUT, max_tries: int = DEFAULT_MAX_TRIES,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.api_url = api_url.rstrip("/")
        self.limits = limits
        platform = Platform(PLATFORM, limits, dataclasses.replace(XERO_RETRY, tries=max_tries), describe=_describe,
                            give_up=_unavailable)
        self._auth = _Bearer(session, tenant_id)
        self._http = PacedClient(platform, timeout=timeout, transport=transport, sleep=sleep,
                                 headers={"Accept": "application/json", "User-Agent": USER_AGENT})
        self.stats = self._http.stats

    def __repr__(self) -> str:
        return f"XeroClient({self.api_url!r})"

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None, *,
            headers: Mapping[str, str] | None = None) -> XeroAnswer:
        return self.send("GET", path, params=params, headers=headers)

    def write(self, method: str, path: str, body: Any, key: str, params: Mapping[str, Any] | None = None,
              ) -> XeroAnswer:
        if not key or len(key) > IDEMPOTENCY_KEY_MAX:
            raise ValueError(f"an Idempotency-Key is 1 to {IDEMPOTENCY_KEY_MAX} characters")
        content = json.dumps(body, default=_number).encode("utf-8")
        return self.send(method, path, params=params, content=content,
                         headers={"Content-Type": "application/json", "Idempotency-Key": key})

    def send(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, content: bytes | None = None,
             headers: Mapping[str, str] | None = None, url: str | None = None) -> XeroAnswer:
        response = self._http.send(method, url or self.api_url + path, params=params, content=content,
                                   headers=headers, auth=self._auth, what=f"{method} {path}")
        if response.status_code in (401, 403):
            raise XeroAuthError(
                f"Xero refused the bridge (HTTP {response.status_code} on {method} {path}) even after a fresh token: "
                f"the connection may have been removed, or XERO_TENANT_ID names an organisation this app is not "
                f"connected to. Connect the app to the organisation again (and set XERO_REFRESH_TOKEN) or fix "
                f"XERO_TENANT_ID.")
        try:
            body = loads(response.content) if response.content else None
        except ValueError:
            body = None
        return XeroAnswer(response.status_code, body)


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    raise TypeError(f"cannot send {type(value).__name__}")
