"""QuickBooks Online (Accounting API v3, OAuth 2): the destination that posts exactly once.

What it does with one `post` call (at most 30 requests; one QuickBooks batch per step that writes):

1. References. Documents not yet resolved in this run get their customer (by DisplayName) and items
   (by Name) matched, or created per policy (`resolve_references`); a document that cannot be
   resolved is FAILED with a sentence saying why ("Customer 'Smith, J' not found in QuickBooks and
   auto-create is off ...").
2. Invoices first, then credit memos and payments (which link to invoices by QuickBooks Id, and
   batch items cannot see each other's creations).
3. The second guard beside `requestid`: before any create, the numbers are looked up (one query per
   entity and batch). A document already there with the same content is adopted (an earlier attempt
   landed, its answer was lost) and nothing is sent; one with other content is FAILED, never
   duplicated. Before any update the object is read: its SyncToken is the current one, what it held
   goes into `Outcome.before`, and an object already holding the new content is not sent again.
4. One request: `POST /batch` (or `POST /{entity}` for a single document), with a deterministic
   `requestid` (see `batch_request_id`), retried on 429/5xx/dropped connections with the same id.
5. Per item: created/updated; 5010 (stale SyncToken) -> re-read and retry once; 6140 (number taken)
   -> look up again; 6210 (books closed) -> HELD; other faults -> FAILED with a sentence a bookkeeper
   can act on; no answer after every try -> RETRY (the ledger keeps the row `sending`, resolved by
   the next run).
6. Credit memos are applied to their invoice with a $0 payment (QuickBooks' own way), unless the
   credit is already applied.

Request ids. A single document is sent with the request's own 36-character id (the ledger derives
it from document, content and generation). A batch needs one id for the whole request, at most 36
characters: `batch_request_id` is a uuid5 of the items' ids in order, so the same items in the same
order (an in-process retry after a dropped answer) replay the original answer, and any other
composition is a new request. An update's item id adds the SyncToken it is sent against (a 5010
answer is remembered under its requestid, so the retry after re-reading must be a new request).
Because a batch id never matches a later single re-send, the DocNumber look-up in step 3 is what
keeps a re-sent create from duplicating; QuickBooks' own duplicate-number warning (6140) is a third
guard when it is switched on.

Tax. With `tax_override` (QBO_TAX_OVERRIDE, default on) every invoice and credit memo carries
TxnTaxDetail {TxnTaxCodeRef, TotalTax = the source's tax}, so QuickBooks keeps the source's totals
instead of recomputing them by address. Without it QuickBooks computes tax itself; when its total
differs from the source's, the outcome's message says so.

The rooms: `adapter` (construction, configuration, runs), `references` (customers and items),
`posting` (what to send per request), `sending` (writes, batches, outcome sentences), `undo` (void,
delete, restore), `reading` (look-ups, closing date), `read_back` (the documents as the books hold
them), `work` (request ids and the per-request records), `payloads`, `client`, `auth`, `webhooks`.

Secrets: tokens and the client secret live in the token store and the HTTP headers only; they are
never put into an Outcome, a log line or an exception message.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any, Mapping

import httpx

from bridge_assets.destinations.kit.settings import Env
from bridge_assets.destinations.base import Capabilities, DestinationError
from bridge_assets.destinations.qbo.auth import (
    OAuthSession,
    QboAuthError,
    QboReconnectRequired,
    TokenStore,
    qbo_provider,
)
from bridge_assets.destinations.qbo.client import DEFAULT_MAX_TRIES, DEFAULT_TIMEOUT, QboClient, QboLimits
from bridge_assets.destinations.qbo.posting import PostingMixin
from bridge_assets.destinations.qbo.reading import ReadingMixin
from bridge_assets.destinations.qbo.read_back import ReadBackMixin
from bridge_assets.destinations.qbo.references import ReferencesMixin
from bridge_assets.destinations.qbo.sending import SendingMixin
from bridge_assets.destinations.qbo.undo import UndoMixin
from bridge_assets.destinations.qbo.work import REQUEST_ID_NAMESPACE, batch_request_id, request_id_for

log = logging.getLogger(__name__)

INTUIT_API_URL = "https://quickbooks.api.intuit.com"
INTUIT_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
PREFERENCES_TTL_S = 60.0        # emulated seconds a read of Preferences is trusted
DEFAULT_LIMITS = QboLimits()    # Intuit's published limits, real time
QBO_BATCH_MAX = DEFAULT_LIMITS.batch_max_items   # items in one batch request (one definition, in QboLimits)

__all__ = ["QboDestination", "QboAuthError", "QboReconnectRequired", "QboLimits", "REQUEST_ID_NAMESPACE",
           "batch_request_id", "request_id_for"]


def company_url(base_url: str, realm_id: str | None) -> tuple[str, str]:
    """(company API URL, realm id) from QBO_BASE_URL, with or without /v3/company/{realm} in it."""
    base = base_url.rstrip("/")
    marker = "/v3/company/"
    if marker in base:
        realm_in_url = base.split(marker, 1)[1].split("/", 1)[0]
        if realm_id and realm_id != realm_in_url:
            raise DestinationError(
                f"QBO_BASE_URL names company {realm_in_url} but QBO_REALM_ID says {realm_id}; make them agree")
        return f"{base.split(marker, 1)[0]}{marker}{realm_in_url}", realm_in_url
    if not realm_id:
        raise DestinationError(
            "QuickBooks Online needs the company id: set QBO_REALM_ID, or give QBO_BASE_URL as "
            ".../v3/company/{realmId}")
    return f"{base}{marker}{realm_id}", realm_id


class QboDestination(ReferencesMixin, PostingMixin, SendingMixin, UndoMixin, ReadingMixin, ReadBackMixin):
    """QuickBooks Online behind the Destination protocol. Construct with explicit values (tests) or
    `from_env()` (the bridge). Holds caches (customer, item and account Ids) for its own lifetime:
    build one per run."""

    name = "qbo"

    def __init__(
        self,
        *,
        base_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        token_store: Path | str,
        realm_id: str | None = None,
        refresh_token: str | None = None,
        auto_create_customers: bool = True,
        auto_create_items: bool = True,
        income_account: str = "Services",
        tax_override: bool = True,
        tax_code: str = "TAX",
        minor_version: int = 75,
        limits: QboLimits = DEFAULT_LIMITS,
        batch_size: int = QBO_BATCH_MAX,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_tries: int = DEFAULT_MAX_TRIES,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not 1 <= batch_size <= QBO_BATCH_MAX:
            raise ValueError(f"batch_size must be 1..{QBO_BATCH_MAX} (QuickBooks' batch cap)")
        if not client_id or not client_secret:
            raise DestinationError("QuickBooks Online needs QBO_CLIENT_ID and QBO_CLIENT_SECRET (the app's keys)")
        self.company_url, self.realm_id = company_url(base_url, realm_id)
        self.capabilities = Capabilities(supports_update=True, supports_void=True, honours_request_id=True,
                                         batch_size=batch_size, reads_back=True, applies_credits=True,
                                         webhooks=True, lock_date_readable=True)
        self.auto_create_customers = auto_create_customers
        self.auto_create_items = auto_create_items
        self.income_account = income_account
        self.tax_override = tax_override
        self.tax_code = tax_code
        self.limits = limits
        self.token_store = TokenStore(token_store, qbo_provider(token_url))
        if refresh_token:
            self.token_store.seed(refresh_token)
        self.session = OAuthSession(self.token_store, self.token_store.provider, client_id, client_secret,
                                    timeout=timeout, transport=transport)
        self.client = QboClient(self.company_url, self.session, limits=limits, minor_version=minor_version,
                                timeout=timeout, max_tries=max_tries, transport=transport)
        # Per-lifetime caches: name_key -> Id, and name_key -> the sentence saying why it is unusable.
        self._customers: dict[str, str] = {}
        self._customer_problems: dict[str, str] = {}
        self._items: dict[str, str] = {}
        self._item_problems: dict[str, str] = {}
        self._income_account_id: str | None = None
        self._preferences: dict[str, Any] | None = None
        self._preferences_read_at = 0.0
        # Name-list creations and undo writes (void, delete, restore) are guarded by a look-up before each
        # one, not by replay across runs: this run-scoped part keeps a refusal recorded under one run's
        # requestid (say 6210, books closed) from being replayed after the books reopen.
        self._run_nonce = uuid.uuid4().hex
        self._written = 0

    def __repr__(self) -> str:
        return f"QboDestination(company={self.realm_id!r}, url={self.company_url!r})"

    @classmethod
    def from_env(cls, settings: Any = None, environ: Mapping[str, str] | None = None) -> "QboDestination":
        """Build from QBO_* environment variables (README); `settings` gives the bridge home for the token store."""
        env = Env(os.environ if environ is None else environ, "QuickBooks Online")
        text, flag = env.text, env.flag

        def number(name: str, default: float, kind=float):
            value = text(name)
            try:
                return default if value is None else kind(value)
            except ValueError:
                raise DestinationError(f"{name} must be a number, not {value!r}") from None

        missing = [n for n in ("QBO_CLIENT_ID", "QBO_CLIENT_SECRET") if not text(n)]
        if missing:
            raise DestinationError(
                f"QuickBooks Online is configured as a destination but {' and '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not set; set the app's keys from developer.intuit.com")
        home = Path(getattr(settings, "home", None) or text("BRIDGE_HOME", "var")).absolute()
        limits = QboLimits(
            requests_per_minute=int(number("QBO_REQUESTS_PER_MINUTE", 500, int)),
            batch_requests_per_minute=int(number("QBO_BATCH_REQUESTS_PER_MINUTE", 40, int)),
            concurrent_requests=int(number("QBO_CONCURRENT_REQUESTS", 10, int)),
            time_scale=float(number("QBO_TIME_SCALE", 1.0)),
        )
        timeout = float(number("QBO_TIMEOUT_SECONDS", 60.0))
        return cls(
            base_url=text("QBO_BASE_URL", INTUIT_API_URL),
            token_url=text("QBO_TOKEN_URL", INTUIT_TOKEN_URL),
            client_id=text("QBO_CLIENT_ID"),
            client_secret=text("QBO_CLIENT_SECRET"),
            token_store=text("QBO_TOKEN_STORE") or home / "secrets" / "qbo_tokens.json",
            realm_id=text("QBO_REALM_ID"),
            refresh_token=text("QBO_REFRESH_TOKEN"),
            auto_create_customers=flag("QBO_AUTO_CREATE_CUSTOMERS", True),
            auto_create_items=flag("QBO_AUTO_CREATE_ITEMS", True),
            income_account=text("QBO_INCOME_ACCOUNT", "Services"),
            tax_override=flag("QBO_TAX_OVERRIDE", True),
            tax_code=text("QBO_TAX_CODE", "TAX"),
            minor_version=int(number("QBO_MINOR_VERSION", 75, int)),
            limits=limits,
            batch_size=int(number("QBO_BATCH_SIZE", QBO_BATCH_MAX, int)),
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            max_tries=int(number("QBO_MAX_TRIES", DEFAULT_MAX_TRIES, int)),
        )

    def close(self) -> None:
        self.client.close()
        self.session.close()

    def __enter__(self) -> "QboDestination":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- runs -------------------------------------------------------------------------------------

    def begin_run(self, run_id: str, period: str) -> None:
        self._written = 0
        if time.monotonic() - self._preferences_read_at > self.limits.seconds(PREFERENCES_TTL_S):
            self._preferences = None

    def end_run(self) -> list[str]:
        written, self._written = self._written, 0
        return [f"QuickBooks Online company {self.realm_id} ({written} written)"] if written else []
