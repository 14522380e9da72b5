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

Extraction (`extract_period`) and its watermark

A watermark keeps, per model, the latest ModifiedDate seen *and* the records stamped exactly then
(id -> fingerprint of the record). The next run asks for `modifiedSince >= that stamp` (the server's
own text, sent back verbatim, so its format never has to be guessed) and drops only the records it
already holds at that stamp unchanged. So records sharing a stamp are never skipped, however the
stamp falls across pages or runs, and a record changed again within the same second is still taken
because its fingerprint differs. Records older than the stamp are dropped client-side too, in case a
server ignores `modifiedSince`. Each run is resumable: the watermark only moves forward when the
caller stores it, and `checkpoint` hands over each model's records with the watermark so far.

Limits, stated rather than hidden: a `modifiedSince` pull cannot see deletions (a cancelled invoice
just stops appearing), and offset paging over a collection that changes during the pull can shift a
record past a page boundary. Run a full pull (`watermark=None`) regularly, e.g. nightly for the open
periods; `save_records(..., full_pull_of=period)` then marks what disappeared as deleted.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import time
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import duckdb
import httpx
import pandas as pd

from bridge_assets.destinations.kit.http import Backoff, GaveUp, PacedClient, Platform, Retry
from bridge_assets.destinations.kit.secrets import redact

logger = logging.getLogger(__name__)

ENV = {
    "base_url": "SEDONA_API_BASE_URL",
    "username": "SEDONA_API_USERNAME",
    "password": "SEDONA_API_PASSWORD",
    "api_key": "SEDONA_API_KEY",
    "auth_scheme": "SEDONA_API_AUTH",
    "token_path": "SEDONA_API_TOKEN_PATH",
    "api_key_header": "SEDONA_API_KEY_HEADER",
    "paging": "SEDONA_API_PAGING",
    "page_size": "SEDONA_API_PAGE_SIZE",
    "timeout_s": "SEDONA_API_TIMEOUT_S",
    "max_attempts": "SEDONA_API_MAX_ATTEMPTS",
}
AUTH_SCHEMES = ("token", "basic", "api_key")
PAGING_STYLES = ("page", "skip")

# Unconfirmed names, kept in one place: query parameters, the time stamp, and what identifies and
# dates each model. The sandbox emulator uses the same spellings.
QUERY_PARAMETERS = {
    "start": "startDate", "end": "endDate", "modified_since": "modifiedSince", "customer_id": "customerId",
    "customer_number": "customerNumber", "page": "page", "page_size": "pageSize", "skip": "skip", "take": "take",
}
MODIFIED_FIELD = "ModifiedDate"
RECORD_IDS = {
    "Customer": "CustomerId", "CustomerSite": "CustomerSiteId", "CustomerRecurring": "CustomerRecurringId",
    "CustomerInvoice": "InvoiceId", "CustomerCredit": "CreditId", "CustomerPayment": "PaymentId",
    "ServiceTicket": "ServiceTicketId", "AccountingPeriod": "AccountingPeriodId",
}
RECORD_NUMBERS = {
    "Customer": "CustomerNumber", "CustomerInvoice": "InvoiceNumber", "CustomerCredit": "CreditNumber",
    "CustomerPayment": "PaymentNumber", "ServiceTicket": "TicketNumber",
}
RECORD_DATES = {
    "CustomerInvoice": "InvoiceDate", "CustomerCredit": "CreditDate", "CustomerPayment": "PaymentDate",
    "ServiceTicket": "TicketDate",
}
LIST_KEYS = ("Items", "items", "Data", "data", "Results", "results", "value", "Value")
TOTAL_KEYS = ("TotalCount", "totalCount", "Total", "total")

PERIOD_MODELS = ("CustomerInvoice", "CustomerCredit", "ServiceTicket", "CustomerPayment")
REFERENCE_MODELS = ("Customer", "CustomerSite", "CustomerRecurring")
DEFAULT_MODELS = REFERENCE_MODELS + PERIOD_MODELS

NULL_DATE = dt.date(1899, 12, 30)           # SedonaOffice's "no date" (12/30/1899)
TOKEN_RENEW_MARGIN_S = 30.0


# --- errors --------------------------------------------------------------------------------------

class SedonaApiError(Exception):
    """A SedonaAPI call failed; the message says which call and what to do."""


class SedonaApiConfigError(SedonaApiError):
    pass


class SedonaApiAuthError(SedonaApiError):
    pass


class SedonaApiUnavailable(SedonaApiError):
    """Still failing after every retry."""


class SedonaApiAnswerError(SedonaApiError):
    """An answer the client cannot read (shape, paging, time stamps)."""


# --- configuration -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SedonaApiConfig:
    base_url: str
    username: str = ""
    password: str = dataclasses.field(default="", repr=False)
    api_key: str = dataclasses.field(default="", repr=False)
    auth_scheme: str = "token"
    token_path: str = "token"
    api_key_header: str = "X-API-Key"
    paging: str = "page"
    page_size: int = 200
    timeout_s: float = 30.0
    max_attempts: int = 5
    backoff_s: float = 0.5
    backoff_max_s: float = 20.0

    def __post_init__(self) -> None:
        if not self.base_url:
            raise SedonaApiConfigError(f"no SedonaAPI address: set {ENV['base_url']} to the tenant's API base URL, "
                                       "e.g. https://<tenant>api.sedonaoffice.com/api/")
        if self.auth_scheme not in AUTH_SCHEMES:
            raise SedonaApiConfigError(f"{ENV['auth_scheme']} is {self.auth_scheme!r}; use one of {', '.join(AUTH_SCHEMES)}")
        if self.paging not in PAGING_STYLES:
            raise SedonaApiConfigError(f"{ENV['paging']} is {self.paging!r}; use one of {', '.join(PAGING_STYLES)}")
        if self.auth_scheme in ("token", "basic") and not (self.username and self.password):
            raise SedonaApiConfigError(f"SedonaAPI {self.auth_scheme} authentication needs {ENV['username']} and "
                                       f"{ENV['password']}; set both (the password is never logged)")
        if self.auth_scheme == "api_key" and not self.api_key:
            raise SedonaApiConfigError(f"SedonaAPI api_key authentication needs {ENV['api_key']}")
        if self.page_size < 1 or self.max_attempts < 1:
            raise SedonaApiConfigError(f"{ENV['page_size']} and {ENV['max_attempts']} must be at least 1")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/") + "/")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "SedonaApiConfig":
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field, name in ENV.items():
            text = environ.get(name, "").strip()
            if text:
                values[field] = text
        try:
            for field, kind in (("page_size", int), ("max_attempts", int), ("timeout_s", float)):
                if field in values:
                    values[field] = kind(values[field])
        except ValueError as problem:
            raise SedonaApiConfigError(f"a numeric SEDONA_API_* setting is not a number: {problem}") from None
        values.setdefault("base_url", "")
        return cls(**{**values, **overrides})

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.password, self.api_key) if s)


@dataclasses.dataclass(frozen=True)
class AccountingPeriod:
    period: str             # YYYY-MM
    start: dt.date
    end: dt.date
    status: str             # Future | Open | Closed | Re-Open

    @property
    def accepts_posting(self) -> bool:
        """SedonaOffice posts only into an Open period; a re-opened one is taken as open again."""
        return self.status in ("Open", "Re-Open")


# --- wire values ---------------------------------------------------------------------------------

def sedona_date_text(day: dt.date) -> str:
    return f"{day.month:02d}/{day.day:02d}/{day.year:04d}"


def parse_sedona_time(text: str) -> dt.date | dt.datetime | None:
    """`MM/DD/YYYY` -> date, with a time -> datetime, ISO forms too; the null date -> None.

    Raises ValueError for anything else.
    """
    text = text.strip()
    value: dt.date | dt.datetime
    for pattern, is_date in (("%m/%d/%Y", True), ("%m/%d/%Y %H:%M:%S", False), ("%m/%d/%Y %H:%M", False),
                             ("%m/%d/%Y %I:%M:%S %p", False)):
        try:
            moment = dt.datetime.strptime(text, pattern)
        except ValueError:
            continue
        value = moment.date() if is_date else moment
        break
    else:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        value = moment.date() if len(text) == 10 else moment.replace(tzinfo=None)
    day = value.date() if isinstance(value, dt.datetime) else value
    return None if day == NULL_DATE else value


def _typed(key: str, value: Any, problems: list[str], where: str) -> Any:
    if isinstance(value, dict):
        return {k: _typed(k, v, problems, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(key, v, problems, where) for v in value]
    if isinstance(value, str) and key.endswith("Date"):
        try:
            parsed = parse_sedona_time(value)
        except ValueError:
            problems.append(f"{where} {key} {value!r} is not a SedonaOffice date")
            return value
        if key != MODIFIED_FIELD and isinstance(parsed, dt.datetime) and parsed.time() == dt.time():
            return parsed.date()
        return parsed
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def period_bounds(period: str) -> tuple[dt.date, dt.date]:
    try:
        start = dt.datetime.strptime(period, "%Y-%m").date()
    except ValueError:
        raise ValueError(f"a period looks like 2026-08, not {period!r}") from None
    following = dt.date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return start, following - dt.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class SedonaRecord:
    """One record as read: the raw JSON (what the API said) beside typed fields (what we read in it)."""

    model: str
    record_id: str
    period: str | None
    modified: dt.datetime | None
    modified_text: str | None           # ModifiedDate exactly as the server wrote it
    fields: Mapping[str, Any]           # dates as date (None for 12/30/1899), numbers as Decimal
    raw_json: str
    fingerprint: str
    problems: tuple[str, ...] = ()      # values that could not be read; kept as text in `fields`

    @property
    def number(self) -> str | None:
        value = self.fields.get(RECORD_NUMBERS.get(self.model, ""))
        return None if value is None else str(value)


def parse_record(model: str, raw: Mapping[str, Any], period: str | None = None) -> SedonaRecord:
    """A record from the API (parsed with Decimal numbers) as a SedonaRecord."""
    id_field = RECORD_IDS.get(model)
    if id_field is None or raw.get(id_field) is None:
        raise SedonaApiAnswerError(f"a {model} record has no {id_field or 'id field'}; the client's RECORD_IDS "
                                   "table must name the field this tenant uses")
    raw_json = json.dumps(raw, default=_json_default, ensure_ascii=False, separators=(",", ":"))
    canonical = json.dumps(raw, default=_json_default, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    problems: list[str] = []
    record_id = str(raw[id_field])
    fields = _typed("", dict(raw), problems, f"{model} {record_id}")
    modified = fields.get(MODIFIED_FIELD)
    modified_text = raw.get(MODIFIED_FIELD)
    if modified_text is not None and not isinstance(modified, dt.datetime):
        if isinstance(modified, dt.date):
            modified = dt.datetime.combine(modified, dt.time())
        else:
            raise SedonaApiAnswerError(f"{model} {record_id} has {MODIFIED_FIELD} {modified_text!r}, which is not a "
                                       "time stamp the client can compare; incremental extraction cannot go on")
    if period is None and model in RECORD_DATES:
        day = fields.get(RECORD_DATES[model])
        period = f"{day:%Y-%m}" if isinstance(day, dt.date) else None
    return SedonaRecord(model, record_id, period, modified, modified_text, fields, raw_json,
                        hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:20], tuple(problems))


def record_from_json(model: str, raw_json: str, period: str | None = None) -> SedonaRecord:
    return parse_record(model, json.loads(raw_json, parse_float=Decimal), period)


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


# --- the watermark -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ModelMark:
    """Where one model's reading stopped: the latest stamp, and what was read at exactly that stamp."""

    modified: dt.datetime
    modified_text: str                   # sent back verbatim as modifiedSince
    seen: Mapping[str, str]              # record id -> fingerprint, for records stamped `modified`


@dataclasses.dataclass(frozen=True)
class Watermark:
    period: str
    marks: Mapping[str, ModelMark] = dataclasses.field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"period": self.period, "marks": {
            model: {"modified": m.modified.isoformat(), "modified_text": m.modified_text, "seen": dict(sorted(m.seen.items()))}
            for model, m in sorted(self.marks.items())
        }}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Watermark":
        data = json.loads(text)
        return cls(data["period"], {
            model: ModelMark(dt.datetime.fromisoformat(m["modified"]), m["modified_text"], dict(m["seen"]))
            for model, m in data["marks"].items()
        })


def _take_new(mark: ModelMark | None, records: Sequence[SedonaRecord]) -> tuple[list[SedonaRecord], ModelMark | None]:
    """Drop what the mark says was read already; move the mark to the latest stamp read."""
    taken: dict[str, SedonaRecord] = {}
    for record in records:
        if mark is not None and record.modified is not None:
            if record.modified < mark.modified:
                continue          # the server ignored modifiedSince
            if record.modified == mark.modified and mark.seen.get(record.record_id) == record.fingerprint:
                continue          # read last time, unchanged
        earlier = taken.get(record.record_id)
        # Met twice in one pull (it changed while we paged): the later version wins.
        if earlier is None or (record.modified or dt.datetime.min) >= (earlier.modified or dt.datetime.min):
            taken[record.record_id] = record
    stamped = [r for r in records if r.modified is not None]
    if not stamped:
        return list(taken.values()), mark
    top = max(r.modified for r in stamped)
    if mark is not None and mark.modified > top:
        return list(taken.values()), mark
    seen = dict(mark.seen) if mark is not None and mark.modified == top else {}
    for record in stamped:
        if record.modified == top:
            seen[record.record_id] = record.fingerprint
    text = next(r.modified_text for r in stamped if r.modified == top)
    return list(taken.values()), ModelMark(top, text, seen)


def extract_period(
    client: SedonaApiClient,
    period: str,
    watermark: Watermark | None = None,
    *,
    models: Sequence[str] = DEFAULT_MODELS,
    checkpoint: Callable[[list[SedonaRecord], Watermark], None] | None = None,
) -> tuple[list[SedonaRecord], Watermark]:
    """Records of `period` (YYYY-MM) new or changed since `watermark` (None: all of them).

    Invoices, credits, tickets and payments are those dated in the period; customers, sites and RMR
    lines are the company's, whatever their date, because the period's documents refer to them.
    Payments are searched customer by customer (the only search SedonaAPI documents for them).
    Store the records and the returned watermark in one transaction; a run that fails stores nothing
    and the next run starts again from the stored watermark. `checkpoint(records, watermark)` is
    called after each model, for callers that want to keep the work of a long run that fails late.
    """
    start, end = period_bounds(period)
    if watermark is not None and watermark.period != period:
        raise ValueError(f"the watermark belongs to period {watermark.period}, not {period}")
    unknown = [m for m in models if m not in DEFAULT_MODELS]
    if unknown:
        raise ValueError(f"cannot extract {unknown}; known: {list(DEFAULT_MODELS)}")
    marks: dict[str, ModelMark] = dict(watermark.marks) if watermark else {}
    everything: list[SedonaRecord] = []
    for model in models:
        mark = marks.get(model)
        since = mark.modified_text if mark else None
        if model == "CustomerPayment":
            raw = []
            for number in sorted({str(c["CustomerNumber"]) for c in client.list("Customer") if c.get("CustomerNumber")}):
                raw += client.customer_payments(number, start, end, since)
        elif model in PERIOD_MODELS:
            raw = client.list(model, start=start, end=end, modified_since=since)
        else:
            raw = client.list(model, modified_since=since)
        records = [parse_record(model, item, period if model in PERIOD_MODELS else None) for item in raw]
        taken, new_mark = _take_new(mark, records)
        if new_mark is not None:
            marks[model] = new_mark
        everything += taken
        logger.info("SedonaAPI %s %s: %d read, %d new or changed", period, model, len(records), len(taken))
        if checkpoint is not None:
            checkpoint(taken, Watermark(period, dict(marks)))
    return everything, Watermark(period, marks)


# --- keeping what was read (DuckDB) --------------------------------------------------------------

RECORDS_TABLE = "sedona_api_records"
WATERMARKS_TABLE = "sedona_api_watermarks"
SCHEMA_DDL = f"""
CREATE TABLE IF NOT EXISTS {RECORDS_TABLE} (
    model VARCHAR NOT NULL, record_id VARCHAR NOT NULL, period VARCHAR, number VARCHAR, customer_id VARCHAR,
    doc_date DATE, amount DECIMAL(18,4), tax_amount DECIMAL(18,4), modified_at TIMESTAMP, modified_text VARCHAR,
    fingerprint VARCHAR NOT NULL, problems VARCHAR NOT NULL, raw_json VARCHAR NOT NULL,
    fetched_at TIMESTAMP NOT NULL, deleted_at TIMESTAMP,
    PRIMARY KEY (model, record_id)
);
CREATE TABLE IF NOT EXISTS {WATERMARKS_TABLE} (
    period VARCHAR PRIMARY KEY, watermark_json VARCHAR NOT NULL, updated_at TIMESTAMP NOT NULL
);
"""


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(SCHEMA_DDL)


_SAVED_COLUMNS = ("model", "record_id", "period", "number", "customer_id", "doc_date", "amount", "tax_amount",
                  "modified_at", "modified_text", "fingerprint", "problems", "raw_json", "fetched_at")


def _column_decimal(value: Any) -> str | None:
    # As text: DuckDB guesses a DECIMAL width from the first values of an object column and then
    # refuses wider ones ("103.04" into DECIMAL(4,2)); the INSERT casts the text to DECIMAL(18,4).
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        return str(Decimal(value))
    return None


def save_records(con: duckdb.DuckDBPyConnection, records: Iterable[SedonaRecord], *,
                 full_pull_of: str | None = None, models: Sequence[str] = PERIOD_MODELS) -> int:
    """Upsert records by (model, id). After a full pull of a period, the period's records of `models`
    that the pull did not return are marked deleted (a source cancellation)."""
    ensure_schema(con)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    rows = []
    for r in records:
        day = r.fields.get(RECORD_DATES.get(r.model, ""))
        customer = r.fields.get("CustomerId")
        rows.append((
            r.model, r.record_id, r.period, r.number, None if customer is None else str(customer),
            day if isinstance(day, dt.date) else None, _column_decimal(r.fields.get("Amount")),
            _column_decimal(r.fields.get("TaxAmount")), r.modified, r.modified_text, r.fingerprint,
            "; ".join(r.problems), r.raw_json, now,
        ))
    # One statement over a registered frame: executemany costs a statement per row.
    frame = pd.DataFrame(rows, columns=_SAVED_COLUMNS, dtype=object)
    con.register("_sedona_api_incoming", frame)
    try:
        con.execute(f"""
            INSERT OR REPLACE INTO {RECORDS_TABLE} ({", ".join(_SAVED_COLUMNS)}, deleted_at)
            SELECT model, record_id, period, number, customer_id, CAST(doc_date AS DATE),
                   CAST(amount AS DECIMAL(18,4)), CAST(tax_amount AS DECIMAL(18,4)), CAST(modified_at AS TIMESTAMP),
                   modified_text, fingerprint, problems, raw_json, CAST(fetched_at AS TIMESTAMP), NULL
            FROM _sedona_api_incoming""")
        if full_pull_of is not None:
            con.execute(
                f"""UPDATE {RECORDS_TABLE} SET deleted_at = ?
                    WHERE period = ? AND model IN (SELECT unnest(?)) AND deleted_at IS NULL
                      AND NOT EXISTS (SELECT 1 FROM _sedona_api_incoming p
                                      WHERE p.model = {RECORDS_TABLE}.model AND p.record_id = {RECORDS_TABLE}.record_id)""",
                [now, full_pull_of, list(models)],
            )
    finally:
        con.unregister("_sedona_api_incoming")
    return len(rows)


def stored_records(con: duckdb.DuckDBPyConnection, model: str, *, period: str | None = None) -> list[SedonaRecord]:
    """What is kept of one model (not deleted), rebuilt from the raw JSON."""
    sql = f"SELECT raw_json, period FROM {RECORDS_TABLE} WHERE model = ? AND deleted_at IS NULL"
    params: list[Any] = [model]
    if period is not None:
        sql += " AND period = ?"
        params.append(period)
    return [record_from_json(model, raw, p) for raw, p in con.execute(sql + " ORDER BY record_id", params).fetchall()]


def load_watermark(con: duckdb.DuckDBPyConnection, period: str) -> Watermark | None:
    ensure_schema(con)
    row = con.execute(f"SELECT watermark_json FROM {WATERMARKS_TABLE} WHERE period = ?", [period]).fetchone()
    return None if row is None else Watermark.from_json(row[0])


def save_watermark(con: duckdb.DuckDBPyConnection, watermark: Watermark) -> None:
    ensure_schema(con)
    con.execute(f"INSERT OR REPLACE INTO {WATERMARKS_TABLE} VALUES (?, ?, ?)",
                [watermark.period, watermark.to_json(), dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)])
