"""ServiceTrade API client: collect invoices waiting for accounting, then write back what happened.

    with ServiceTradeClient.from_env() as servicetrade:          # ONE session (or token) for the run
        for invoice in servicetrade.pending_invoices("2026-08"):
            document = servicetrade_invoice_to_document(invoice)
            ...
        servicetrade.set_processed(invoice_id, invoice_number="ST-100001")
        servicetrade.set_failed(other_id, "Customer 'Kim, Patricia' is inactive in QuickBooks")
    # leaving the block logs out (DELETE /api/auth) or revokes the refresh token

Configuration comes from the environment: `SERVICETRADE_BASE_URL` (including `/api`, e.g.
`https://api.servicetrade.com/api` or the sandbox emulator's `http://127.0.0.1:PORT/api`) and either
`SERVICETRADE_USERNAME` + `SERVICETRADE_PASSWORD` (a session, cookie `PHPSESSID`) or
`SERVICETRADE_CLIENT_ID` + `SERVICETRADE_CLIENT_SECRET` (OAuth2 client credentials; wins when both
are set).

How it copes with the facts (API_FACTS.md):
- A user has a limited number of sessions and the oldest are dropped, so a run signs in once and
  signs out at the end. A 401 (session dropped or expired, token expired) signs in anew ONCE and
  repeats the request; a second 401 in a row is an error, and so is a run that keeps losing its
  session (another integration using the same user).
- 429 and 5xx answers, and connections that fail, are retried with exponential backoff and jitter
  (honouring `Retry-After`) by the kit's paced client (`destinations.kit.http`). A page is asked
  again by its number with the same filters, so a retried page can neither duplicate nor skip records.
- Paging goes 1..totalPages. Records can move while we page (someone processes an invoice, a new one
  arrives): invoices are de-duplicated by id, and a result of more than one page is scanned again
  until a scan finds nothing new (at most `max_passes` scans), which picks up anything a shift pushed
  past us. The whole snapshot is read before the first invoice is handed out, so writing back while
  iterating cannot shift pages under the scan. Anything still missed stays `pending_accounting` and
  comes with the next run.
- `set_failed` posts the private comment first (only if that exact comment is not already there) and
  then sets the status, so a crash in between leaves the invoice pending with its reason, never
  failed without one. A comment POST that fails with 5xx is checked for before it is sent again.
- Passwords, client secrets, session ids and tokens never appear in a log line, an exception or a
  comment: they are kept out of messages and redacted from any text we pass on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any, Self

import httpx

from bridge_assets.destinations.kit.http import Backoff, GaveUp, PacedClient, Platform, Retry
from bridge_assets.destinations.kit.secrets import Secret, redact
from bridge_assets.sources.servicetrade.mapping import (
    FIELD_MAP,
    ServiceTradeFieldMap,
    day_start,
    local_date,
)

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.servicetrade.com/api"
MAX_PAGE_SIZE = 2000  # "limit (default and max 2000)"
PENDING = "pending_accounting"
SESSION_COOKIE = "PHPSESSID"

ENV_BASE_URL = "SERVICETRADE_BASE_URL"
ENV_USERNAME = "SERVICETRADE_USERNAME"
ENV_PASSWORD = "SERVICETRADE_PASSWORD"
ENV_CLIENT_ID = "SERVICETRADE_CLIENT_ID"
ENV_CLIENT_SECRET = "SERVICETRADE_CLIENT_SECRET"


# --- errors --------------------------------------------------------------------------------------

class ServiceTradeError(Exception):
    """ServiceTrade answered with an error: status, the envelope's messages and its validation map."""

    def __init__(self, message: str, *, status: int | None = None, errors: Iterable[str] = (),
                 validation: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.errors = list(errors)
        self.validation = dict(validation or {})


class ServiceTradeNotFound(ServiceTradeError):
    pass


class ServiceTradeAuthError(ServiceTradeError):
    """Signing in failed, or the API still said 401 right after signing in anew."""


class ServiceTradeUnavailable(ServiceTradeError):
    """5xx / 429 / no connection, still after every retry."""


class ServiceTradeNotConfigured(ValueError):
    pass


# --- settings ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5             # tries per request, the first included
    backoff_s: float = 0.5        # first pause; doubles each time, plus up to as much again of jitter
    max_backoff_s: float = 30.0

    def as_retry(self) -> Retry:
        """The kit's form: pause n lies between backoff_s * 2**(n-1) and twice that, capped.

        The client sends one request at a time, so a 429's pause needs no hold on other requests.
        """
        backoff = Backoff(first_s=2 * self.backoff_s, max_s=max(self.max_backoff_s, 2 * self.backoff_s),
                          floor_share=0.5)
        return Retry(tries=self.attempts, backoff=backoff, throttle_holds_all=False)


@dataclasses.dataclass
class _OAuthTokens:
    access: Secret
    refresh: Secret | None
    expires_at: float


# --- the client ----------------------------------------------------------------------------------

class ServiceTradeClient:
    """A small synchronous client for the parts of the ServiceTrade API the bridge uses."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        username: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        fields: ServiceTradeFieldMap = FIELD_MAP,
        max_passes: int = 3,
        max_sign_ins: int = 5,
        comment_prefix: str = "Invoice bridge: ",
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if client_id or client_secret:
            if not (client_id and client_secret):
                raise ServiceTradeNotConfigured(
                    f"OAuth2 needs both {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET}; only one is set")
            self.auth_mode = "oauth"
        elif username or password:
            if not (username and password):
                raise ServiceTradeNotConfigured(f"a session needs both {ENV_USERNAME} and {ENV_PASSWORD}; only one is set")
            self.auth_mode = "session"
        else:
            raise ServiceTradeNotConfigured(
                f"no ServiceTrade credentials: set {ENV_USERNAME} and {ENV_PASSWORD}, "
                f"or {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE} (ServiceTrade's maximum limit)")
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._password = Secret(password) if password else None
        self.client_id = client_id
        self._client_secret = Secret(client_secret) if client_secret else None
        self.page_size = page_size
        self.retry = retry
        self.fields = fields
        self.max_passes = max_passes
        self.max_sign_ins = max_sign_ins
        self.comment_prefix = comment_prefix
        self._session: Secret | None = None
        self._tokens: _OAuthTokens | None = None
        self.sign_ins = 0
        platform = Platform("ServiceTrade", retry=retry.as_retry(), give_up=self._unavailable)
        self._http = PacedClient(platform, base_url=self.base_url, timeout=timeout, transport=transport, sleep=sleep,
                                 headers={"Accept": "application/json", "User-Agent": "invoice-bridge"})
        self._auth = _SessionAuth(self)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> ServiceTradeClient:
        env = os.environ if environ is None else environ
        return cls(
            env.get(ENV_BASE_URL) or DEFAULT_BASE_URL,
            username=env.get(ENV_USERNAME) or None,
            password=env.get(ENV_PASSWORD) or None,
            client_id=env.get(ENV_CLIENT_ID) or None,
            client_secret=env.get(ENV_CLIENT_SECRET) or None,
            **options,
        )

    def __repr__(self) -> str:
        who = self.client_id if self.auth_mode == "oauth" else self.username
        return f"ServiceTradeClient({self.base_url!r}, auth={self.auth_mode}, as={who!r})"

    # --- the run -----------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.sign_in()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Sign out (end the session or revoke the refresh token) and close the connection pool."""
        try:
            self.sign_out()
        finally:
            self._http.close()

    @property
    def signed_in(self) -> bool:
        return self._session is not None or self._tokens is not None

    def sign_in(self) -> None:
        if self.signed_in:
            return
        if self.sign_ins >= self.max_sign_ins:
            raise ServiceTradeAuthError(
                f"ServiceTrade made this run sign in {self.sign_ins} times; another program may be signing in "
                f"as {self.username or self.client_id!r} (a user has a limited number of sessions and the oldest "
                f"are dropped). Give the bridge its own ServiceTrade user.")
        self.sign_ins += 1
        if self.auth_mode == "oauth":
            self._token_grant({"grant_type": "client_credentials", "client_id": self.client_id,
                               "client_secret": self._client_secret.reveal()})
        else:
            self._session_sign_in()

    def sign_out(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            try:
                response = self._send("DELETE", "/auth", headers={"Cookie": f"{SESSION_COOKIE}={session.reveal()}"},
                                      retry=False)
                if response.status_code >= 400:
                    logger.info("ServiceTrade sign-out answered %s; the session had already ended",
                                response.status_code)
            except ServiceTradeUnavailable as problem:
                logger.warning("ServiceTrade sign-out failed (%s); the session will expire on its own", problem)
            finally:
                self._http.cookies.clear()
        if self._tokens is not None:
            tokens, self._tokens = self._tokens, None
            if tokens.refresh is not None:
                try:
                    self._send("POST", "/oauth2/revoke", retry=False,
                               data={"refresh_token": tokens.refresh.reveal(), "client_id": self.client_id or ""})
                except ServiceTradeUnavailable as problem:
                    logger.warning("ServiceTrade token revocation failed (%s)", problem)

    # --- reads -------------------------------------------------------------------------------------

    def invoice(self, invoice_id: int | str) -> dict[str, Any]:
        """One invoice with its items."""
        return self._call("GET", f"/invoice/{invoice_id}")

    def invoices(self, **filters: Any) -> list[dict[str, Any]]:
        """Every invoice matching ServiceTrade's filters (status, createdAfter, ...), all pages, by id once."""
        return self._snapshot("/invoice", filters, "invoices")

    def pending_invoices(self, period: str | None = None, *, first_day: dt.date | None = None,
                         last_day: dt.date | None = None, statuses: Iterable[str] = (PENDING,)
                         ) -> Iterator[dict[str, Any]]:
        """Invoices waiting for accounting, dated in `period` ("YYYY-MM") or first_day..last_day (inclusive).

        Without a period or window: every pending invoice. Dates are calendar days in the account's
        zone (`fields.timezone`); the query asks a day wider on each side and the days are checked
        here, so either reading of ServiceTrade's After/Before bounds gives the same answer.
        """
        window = _window(period, first_day, last_day)
        filters: dict[str, Any] = {"status": ",".join(statuses)}
        zone = self.fields.zone
        if window is not None:
            filters["transactionDateAfter"] = day_start(window[0] - dt.timedelta(days=1), zone)
            filters["transactionDateBefore"] = day_start(window[1] + dt.timedelta(days=2), zone)
        snapshot = self._snapshot("/invoice", filters, "invoices")
        for invoice in snapshot:
            if window is not None:
                day = local_date(invoice.get(self.fields.transaction_date), zone)
                if not window[0] <= day <= window[1]:
                    continue
            if not isinstance(invoice.get(self.fields.items), list):
                # Some list answers may leave items out (unconfirmed); the single read has them.
                invoice = self.invoice(invoice[self.fields.id])
            yield invoice

    def comments(self, entity_id: int | str, entity_type: str = "invoice") -> list[dict[str, Any]]:
        data = self._call("GET", "/comment", params={"entityId": entity_id, "entityType": entity_type})
        return list((data or {}).get("comments") or [])

    # --- writes ------------------------------------------------------------------------------------

    def set_processed(self, invoice_id: int | str, invoice_number: str | None = None) -> dict[str, Any]:
        """Mark the invoice delivered to accounting, optionally with the accounting system's number.

        Repeating it is harmless: setting the status an invoice already has changes nothing.
        """
        body: dict[str, Any] = {"status": "processed"}
        if invoice_number is not None:
            body["invoiceNumber"] = invoice_number
        return self._call("PUT", f"/invoice/{invoice_id}", json_body=body)

    def set_failed(self, invoice_id: int | str, reason: str) -> dict[str, Any]:
        """Leave a private comment saying why, then mark the invoice failed."""
        self.add_private_note(invoice_id, reason)
        return self._call("PUT", f"/invoice/{invoice_id}", json_body={"status": "failed"})

    def add_private_note(self, invoice_id: int | str, text: str) -> None:
        """A private comment on the invoice, unless that exact comment is already there."""
        content = self.comment_prefix + self._redact(text.strip() or "no reason given")
        if not any(_same_private_comment(c, content) for c in self.comments(invoice_id)):
            self.add_comment(invoice_id, content)

    def add_comment(self, entity_id: int | str, content: str, *, entity_type: str = "invoice",
                    visibility: Iterable[str] = ()) -> dict[str, Any]:
        """Post a comment; an empty `visibility` makes it private. Never posted twice by a retry."""
        body = {"entityType": entity_type, "entityId": entity_id, "content": content, "visibility": list(visibility)}
        for attempt in range(self.retry.attempts):
            try:
                return self._call("POST", "/comment", json_body=body, retry=False)
            except ServiceTradeUnavailable:
                if attempt + 1 >= self.retry.attempts:
                    raise
                # The POST may have been written before the answer was lost: look before sending again.
                for comment in self.comments(entity_id, entity_type):
                    if comment.get("content") == content and list(comment.get("visibility") or []) == list(visibility):
                        return comment
                self._http.wait_before_retry(attempt + 1, "POST /comment", "no answer", tries=self.retry.attempts)
        raise AssertionError("unreachable")

    # --- transport ---------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
              json_body: Any = None, retry: bool = True) -> Any:
        """One API request, signed in, with one fresh sign-in on 401 and retries on 5xx; returns `data`."""
        response = self._http.send(method, path, params=params, json=json_body, auth=self._auth,
                                   tries=None if retry else 1)
        if response.status_code == 401:
            raise ServiceTradeAuthError(
                f"ServiceTrade answered 401 to {method} {path} right after signing in anew; "
                f"check that the ServiceTrade user may use the API", status=401)
        return self._data(response, method, path)

    def _send(self, method: str, path: str, *, retry: bool = True, **kwargs: Any) -> httpx.Response:
        """The HTTP exchange with retries on 429/5xx and connection failures (no authentication logic)."""
        return self._http.send(method, path, tries=None if retry else 1, **kwargs)

    def _unavailable(self, gave_up: GaveUp) -> ServiceTradeUnavailable:
        after = f" after {gave_up.tries} tries" if gave_up.tries > 1 else ""
        if gave_up.failure is not None:
            return ServiceTradeUnavailable(
                f"ServiceTrade did not answer {gave_up.what} ({type(gave_up.failure).__name__}){after}; check "
                f"{ENV_BASE_URL} and the network, then run again")
        return ServiceTradeUnavailable(
            f"ServiceTrade answered {gave_up.status} to {gave_up.what}{after}; it is down or throttling the bridge: "
            f"run again later (invoices stay pending_accounting until then)", status=gave_up.status)

    def _data(self, response: httpx.Response, method: str, path: str) -> Any:
        body = _envelope(response)
        messages = body.get("messages") if isinstance(body, dict) else None
        messages = messages if isinstance(messages, dict) else {}
        if response.is_success:
            return body.get("data") if isinstance(body, dict) and "data" in body else body
        errors = [self._redact(str(m)) for m in messages.get("error") or []]
        validation = {str(k): self._redact(str(v)) for k, v in (messages.get("validation") or {}).items()}
        detail = "; ".join(errors + [f"{k}: {v}" for k, v in validation.items()]) or response.reason_phrase
        kind = ServiceTradeNotFound if response.status_code == 404 else ServiceTradeError
        raise kind(f"ServiceTrade refused {method} {path} ({response.status_code}): {detail}",
                   status=response.status_code, errors=errors, validation=validation)

    # --- authentication ----------------------------------------------------------------------------

    def _ensure_signed_in(self) -> None:
        if self._tokens is not None and self._tokens.expires_at - time.time() < 60:
            self._tokens_expired()
        if not self.signed_in:
            self.sign_in()

    def _auth_headers(self) -> dict[str, str]:
        if self._tokens is not None:
            return {"Authorization": f"Bearer {self._tokens.access.reveal()}"}
        if self._session is not None:
            return {"Cookie": f"{SESSION_COOKIE}={self._session.reveal()}"}
        return {}

    def _session_sign_in(self) -> None:
        response = self._send("POST", "/auth", json={"username": self.username, "password": self._password.reveal()})
        self._http.cookies.clear()  # the session travels in our own Cookie header, not in httpx's jar
        if not response.is_success:
            body = _envelope(response)
            errors = body.get("messages", {}).get("error", []) if isinstance(body, dict) else []
            reason = "; ".join(self._redact(str(e)) for e in errors) or response.reason_phrase
            raise ServiceTradeAuthError(
                f"ServiceTrade refused to sign in user {self.username!r} ({response.status_code}: {reason}); "
                f"check {ENV_USERNAME} and {ENV_PASSWORD}", status=response.status_code)
        data = _envelope(response).get("data") or {}
        token = data.get("authToken") or response.cookies.get(SESSION_COOKIE)
        if not token:
            raise ServiceTradeAuthError("ServiceTrade signed in but gave no authToken", status=response.status_code)
        self._session = Secret(str(token))
        logger.info("ServiceTrade session opened for %r", self.username)

    def _tokens_expired(self) -> None:
        """Trade the refresh token for a new access token; failing that, sign in from scratch."""
        tokens, self._tokens = self._tokens, None
        if tokens is None or tokens.refresh is None:
            return
        try:
            self._token_grant({"grant_type": "refresh_token", "refresh_token": tokens.refresh.reveal(),
                               "client_id": self.client_id or ""})
        except ServiceTradeAuthError:
            logger.info("ServiceTrade refresh token refused; asking for a new token with the client credentials")
            self._tokens = None

    def _token_grant(self, form: dict[str, str]) -> None:
        grant = form["grant_type"]
        response = self._send("POST", "/oauth2/token", data=form)
        body = _envelope(response)
        if not response.is_success or not isinstance(body, dict) or not body.get("access_token"):
            error = body.get("error") if isinstance(body, dict) else None
            answer = f"{response.status_code} {self._redact(str(error))}" if error else str(response.status_code)
            raise ServiceTradeAuthError(
                f"ServiceTrade refused the OAuth2 {grant} grant ({answer}); "
                f"check {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET}", status=response.status_code)
        expires_in = float(body.get("expires_in") or 3600)
        refresh = body.get("refresh_token")
        self._tokens = _OAuthTokens(Secret(str(body["access_token"])), Secret(str(refresh)) if refresh else None,
                                    time.time() + expires_in)
        logger.info("ServiceTrade OAuth2 token obtained (%s grant)", grant)

    def _redact(self, text: str) -> str:
        tokens = self._tokens
        secrets = [self._password, self._client_secret, self._session,
                   tokens.access if tokens else None, tokens.refresh if tokens else None]
        return redact(text, secrets, min_length=4)

    # --- paging ------------------------------------------------------------------------------------

    def _snapshot(self, path: str, filters: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
        """All pages 1..totalPages, by id once, scanned again until a scan finds nothing new.

        One page is one consistent answer. Over several pages a record that leaves the filter while
        we page shifts the rest forward, and one of them slips past us; counts alone cannot tell when
        another record arrived meanwhile. So a multi-page result is read again (at most `max_passes`
        scans in all) until a scan adds no id we had not seen.
        """
        found: dict[Any, dict[str, Any]] = {}
        for scan in range(1, self.max_passes + 1):
            new_ids = 0
            page, total_pages = 1, 1
            while page <= total_pages:
                data = self._call("GET", path, params={**filters, "page": page, "limit": self.page_size}) or {}
                total_pages = int(data.get("totalPages") or 0)
                for record in data.get(key) or []:
                    record_id = record.get(self.fields.id)
                    if record_id not in found:
                        found[record_id] = record
                        new_ids += 1
                page += 1
            if page <= 2 or (scan > 1 and new_ids == 0):
                break
            if scan > 1:
                logger.info("ServiceTrade records moved while paging %s: scan %d found %d more", path, scan, new_ids)
        return list(found.values())


class _SessionAuth:
    """The client's session cookie or bearer token for the kit; a 401 drops it and signs in anew once."""

    def __init__(self, client: ServiceTradeClient) -> None:
        self.client = client

    def headers(self) -> Mapping[str, str]:
        self.client._ensure_signed_in()
        return self.client._auth_headers()

    def renew(self, rejected: Mapping[str, str]) -> bool:
        self.client._session = None
        self.client._tokens_expired()
        return True


# --- helpers -------------------------------------------------------------------------------------

def raw_json(record: Any) -> str:
    """A record as JSON text for the raw-extract tables (Decimals as JSON numbers, keys sorted)."""
    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        raise TypeError(f"cannot serialise {type(value).__name__}")

    return json.dumps(record, default=default, sort_keys=True, ensure_ascii=False)


def _envelope(response: httpx.Response) -> Any:
    if not response.content:
        return {}
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        return {}  # a gateway's HTML page


def _same_private_comment(comment: Mapping[str, Any], content: str) -> bool:
    return comment.get("content") == content and not comment.get("visibility")


def _window(period: str | None, first_day: dt.date | None, last_day: dt.date | None) -> tuple[dt.date, dt.date] | None:
    if period is not None:
        if first_day is not None or last_day is not None:
            raise ValueError("give a period or a first_day/last_day window, not both")
        try:
            first = dt.datetime.strptime(period, "%Y-%m").date()
        except ValueError:
            raise ValueError(f"period must look like 2026-08, got {period!r}") from None
        following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return first, following - dt.timedelta(days=1)
    if first_day is None and last_day is None:
        return None
    if first_day is None or last_day is None or first_day > last_day:
        raise ValueError("a window needs first_day <= last_day")
    return first_day, last_day
