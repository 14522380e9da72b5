"""SedonaAPI 2.0: a client for one tenant, and the extraction of one billing period with a watermark.

Everything SedonaOffice does not publish (API_FACTS.md: auth scheme, error body, paging) stays
inside `SedonaApiClient`, driven by `SedonaApiConfig`, so a real tenant that differs from the
sandbox's guesses needs settings, not code:

    SEDONA_API_BASE_URL     https://<tenant>api.sedonaoffice.com/api/   (required)
    SEDONA_API_USERNAME     SEDONA_API_PASSWORD     SEDONA_API_KEY       (secrets: never logged)
    SEDONA_API_AUTH         token (default) | basic | api_key
                            token: POST <base>/<SEDONA_API_TOKEN_PATH> (default "token") with
                            grant_type=password, username, password (+ the key header when a key
                            is set), then "Authorization: Bearer"; basic: HTTP Basic on every
                            request; api_key: the key in SEDONA_API_KEY_HEADER (default X-API-Key)
    SEDONA_API_PAGING       page (page/pageSize, default) | skip (skip/take)
    SEDONA_API_PAGE_SIZE    200      SEDONA_API_TIMEOUT_S 30      SEDONA_API_MAX_ATTEMPTS 5

What the client promises, whatever the tenant does:
- a 401 on a token is met by fetching a new token and sending the same request once more; a second
  401 is an error (a user without rights, not an expiry);
- a 5xx, a 429 or a dropped connection is retried with exponential backoff and jitter (Retry-After
  honoured) by the kit's paced client (`destinations.kit.http`); a page is asked again with the
  same parameters, so nothing is read twice or skipped;
- a list is read until a page comes back empty (or the envelope's TotalCount is reached), because
  a server may silently cut the page size; a server that ignores the paging parameters is caught
  (a page holding only records already read) instead of looping forever;
- answers are a bare JSON array or an object holding the array (Items, Data, Results, value);
- an error names the request and what to do, never a password, key or token.

The period extraction and its watermark are in `extract.py`; what was read is kept by `store.py`.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import time
from decimal import Decimal
from typing import Any, Callable, Iterator, Mapping

import httpx

from bridge_assets.destinations.kit.http import Backoff, GaveUp, PacedClient, Platform, Retry
from bridge_assets.destinations.kit.secrets import redact
from bridge_assets.sources.sedona_api.config import (
    ENV,
    SedonaApiAnswerError,
    SedonaApiAuthError,
    SedonaApiConfig,
    SedonaApiError,
    SedonaApiUnavailable,
)
from bridge_assets.sources.sedona_api.records import (
    RECORD_IDS,
    AccountingPeriod,
    parse_record,
    sedona_date_text,
)

logger = logging.getLogger(__name__)

# Unconfirmed names of the query parameters and list envelopes; the sandbox uses the same spellings.
QUERY_PARAMETERS = {
    "start": "startDate", "end": "endDate", "modified_since": "modifiedSince", "customer_id": "customerId",
    "customer_number": "customerNumber", "page": "page", "page_size": "pageSize", "skip": "skip", "take": "take",
}
LIST_KEYS = ("Items", "items", "Data", "data", "Results", "results", "value", "Value")
TOTAL_KEYS = ("TotalCount", "totalCount", "Total", "total")
TOKEN_RENEW_MARGIN_S = 30.0


# --- the client ----------------------------------------------------------------------------------

class SedonaApiClient:
    """One tenant's SedonaAPI. Use as a context manager, or call `close()`."""

    def __init__(self, config: SedonaApiConfig, *, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        # One request at a time, so a 429's pause needs no hold on other requests.
        retry = Retry(tries=config.max_attempts, throttle_holds_all=False,
                      backoff=Backoff(first_s=config.backoff_s, max_s=max(config.backoff_max_s, config.backoff_s),
                                      floor_share=0.5))
        platform = Platform("SedonaAPI", retry=retry, describe=self._error_text, give_up=self._unavailable)
        self._http = PacedClient(platform, base_url=config.base_url, timeout=config.timeout_s, transport=transport,
                                 sleep=sleep, headers={"Accept": "application/json"}, follow_redirects=False)
        self._auth = _SedonaAuth(self)
        self._token: str | None = None
        self._token_renew_at: float | None = None
        self.token_requests = 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> "SedonaApiClient":
        return cls(SedonaApiConfig.from_env(environ), **kwargs)

    def __repr__(self) -> str:
        return f"SedonaApiClient({self.config.base_url!r}, auth={self.config.auth_scheme!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "SedonaApiClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- secrets ---------------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        return redact(text, (*self.config.secrets(), self._token))

    def _error_text(self, response: httpx.Response) -> str:
        """The server's own words, from whichever error body it uses (the format is not public)."""
        message = ""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            parts = [str(body[k]) for k in ("error", "error_description", "Message", "message", "title", "detail",
                                            "ExceptionMessage") if body.get(k)]
            message = ": ".join(dict.fromkeys(parts))
        if not message:
            text = response.text.strip()
            message = "an HTML error page" if text.lower().startswith(("<html", "<!doctype")) else text[:300]
        return self._scrub(f"HTTP {response.status_code}" + (f" {message}" if message else ""))

    # --- authentication --------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        config = self.config
        headers: dict[str, str] = {}
        if config.api_key:
            headers[config.api_key_header] = config.api_key
        if config.auth_scheme == "basic":
            pair = f"{config.username}:{config.password}".encode("utf-8")
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        elif config.auth_scheme == "token":
            if self._token is None or (self._token_renew_at is not None and time.monotonic() >= self._token_renew_at):
                self._fetch_token()
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _fetch_token(self) -> None:
        config = self.config
        self._token = None
        headers = {config.api_key_header: config.api_key} if config.api_key else {}
        form = {"grant_type": "password", "username": config.username, "password": config.password}
        response = self._send("POST", config.token_path, data=form, headers=headers, what="token request")
        self.token_requests += 1
        if response.status_code in (400, 401, 403):
            raise SedonaApiAuthError(
                f"SedonaAPI refused the credentials ({self._error_text(response)}); check {ENV['username']} and "
                f"{ENV['password']}" + (f" and {ENV['api_key']}" if config.api_key else "")
                + f", or {ENV['auth_scheme']} if this tenant does not use tokens")
        if response.status_code != 200:
            raise SedonaApiError(f"SedonaAPI token request failed ({self._error_text(response)})")
        try:
            body = response.json()
            token = str(body["access_token"])
        except (ValueError, KeyError, TypeError):
            raise SedonaApiAnswerError("the SedonaAPI token answer has no access_token; check "
                                       f"{ENV['token_path']} (now {config.token_path!r})") from None
        self._token = token
        lifetime = body.get("expires_in")
        self._token_renew_at = (time.monotonic() + max(float(lifetime) - TOKEN_RENEW_MARGIN_S, 0.0)
                                if isinstance(lifetime, (int, float, Decimal)) else None)

    # --- one request -----------------------------------------------------------------------------

    def _send(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
              data: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
              what: str | None = None, auth: "_SedonaAuth | None" = None) -> httpx.Response:
        """One request, retried on 5xx / 429 / a dropped connection. Returns any other answer."""
        return self._http.send(method, path, params=params, data=data, headers=headers, what=what, auth=auth)

    def _unavailable(self, gave_up: GaveUp) -> SedonaApiUnavailable:
        if gave_up.failure is not None:
            return SedonaApiUnavailable(
                f"SedonaAPI {gave_up.what} failed {gave_up.tries} times, last with {type(gave_up.failure).__name__}: "
                f"{self._scrub(str(gave_up.failure))}; check {ENV['base_url']} and the network, then run again")
        return SedonaApiUnavailable(
            f"SedonaAPI {gave_up.what} still answered {gave_up.problem} after {gave_up.tries} tries; "
            "the tenant is down or overloaded, run again later (nothing was half-read)")

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET with credentials; one fresh token on a 401 when tokens are in use."""
        response = self._send("GET", path, params=params, auth=self._auth)
        if response.status_code == 401:
            hint = ("a fresh token was refused too: the API user may lack rights to this model"
                    if self.config.auth_scheme == "token" else
                    f"check {ENV['username']}/{ENV['password']}" if self.config.auth_scheme == "basic" else
                    f"check {ENV['api_key']} and {ENV['api_key_header']}")
            raise SedonaApiAuthError(f"SedonaAPI GET {path} was refused ({self._error_text(response)}); {hint}")
        if response.status_code != 200:
            raise SedonaApiError(f"SedonaAPI GET {path} with {_describe(params)} answered "
                                 f"{self._error_text(response)}")
        try:
            return response.json(parse_float=Decimal)
        except ValueError:
            raise SedonaApiAnswerError(f"SedonaAPI GET {path} did not answer JSON ({response.text[:80]!r})") from None

    # --- lists -----------------------------------------------------------------------------------

    @staticmethod
    def _items(payload: Any, path: str) -> tuple[list[dict[str, Any]], int | None]:
        if isinstance(payload, list):
            return payload, None
        if isinstance(payload, dict):
            total = next((payload[k] for k in TOTAL_KEYS if isinstance(payload.get(k), int)), None)
            for key in LIST_KEYS:
                if isinstance(payload.get(key), list):
                    return payload[key], total
            lists = [v for v in payload.values() if isinstance(v, list)]
            if len(lists) == 1:
                return lists[0], total
        raise SedonaApiAnswerError(f"SedonaAPI GET {path} answered neither a list nor an object holding one; "
                                   "add the list's key to LIST_KEYS")

    def _query(self, filters: Mapping[str, Any]) -> dict[str, str]:
        params: dict[str, str] = {}
        for name, value in filters.items():
            if value is None:
                continue
            if name not in QUERY_PARAMETERS:
                raise TypeError(f"unknown filter {name!r}; known: {sorted(QUERY_PARAMETERS)}")
            params[QUERY_PARAMETERS[name]] = sedona_date_text(value) if isinstance(value, dt.date) else str(value)
        return params

    def pages(self, model: str, **filters: Any) -> Iterator[list[dict[str, Any]]]:
        """Every page of a list, in the server's order; filters: start, end, modified_since, customer_id,
        customer_number."""
        params = self._query(filters)
        size = self.config.page_size
        id_field = RECORD_IDS.get(model)
        seen: set[str] = set()
        page, offset = 1, 0
        while True:
            if self.config.paging == "page":
                window = {QUERY_PARAMETERS["page"]: str(page), QUERY_PARAMETERS["page_size"]: str(size)}
            else:
                window = {QUERY_PARAMETERS["skip"]: str(offset), QUERY_PARAMETERS["take"]: str(size)}
            items, total = self._items(self.get_json(model, {**params, **window}), model)
            if not items:
                return
            if id_field:
                ids = {str(item.get(id_field)) for item in items}
                if ids <= seen:
                    raise SedonaApiAnswerError(
                        f"SedonaAPI GET {model} returned the same records for the next page: it ignores the "
                        f"{self.config.paging!r} paging parameters; set {ENV['paging']} to the other style")
                seen |= ids
            yield items
            page += 1
            offset += len(items)
            if total is not None and offset >= total:
                return

    def list(self, model: str, **filters: Any) -> list[dict[str, Any]]:
        return [item for page in self.pages(model, **filters) for item in page]

    def get(self, model: str, record_id: int | str) -> dict[str, Any]:
        return self.get_json(f"{model}/{record_id}")

    def accounting_periods(self) -> list[AccountingPeriod]:
        periods = []
        for raw in self.list("AccountingPeriod"):
            record = parse_record("AccountingPeriod", raw)
            start, end = record.fields.get("StartDate"), record.fields.get("EndDate")
            if not isinstance(start, dt.date) or not isinstance(end, dt.date):
                raise SedonaApiAnswerError(f"AccountingPeriod {record.record_id} has no readable StartDate/EndDate")
            periods.append(AccountingPeriod(f"{start:%Y-%m}", start, end, str(record.fields.get("Status"))))
        return sorted(periods, key=lambda p: p.start)

    def customer_payments(self, customer_number: str, start: dt.date, end: dt.date,
                          modified_since: str | None = None) -> list[dict[str, Any]]:
        """CustomerPayment is searched by customer number and date range (API_FACTS)."""
        return self.list("CustomerPayment", customer_number=customer_number, start=start, end=end,
                         modified_since=modified_since)


class _SedonaAuth:
    """The tenant's credentials for the kit; a 401 on a token fetches a new token once (other schemes cannot renew)."""

    def __init__(self, client: SedonaApiClient) -> None:
        self.client = client

    def headers(self) -> Mapping[str, str]:
        return self.client._auth_headers()

    def renew(self, rejected: Mapping[str, str]) -> bool:
        if self.client.config.auth_scheme != "token":
            return False
        logger.info("SedonaAPI: token refused (expired?); fetching a new one")
        self.client._token = None
        return True


def _describe(params: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (params or {}).items()) or "no parameters"
