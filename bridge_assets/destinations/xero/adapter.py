"""Xero (Accounting API 2.0, OAuth 2) behind the Destination protocol.

What one `post` call does (at most 50 requests, Xero's advised batch): references (contacts by name,
items by code: matched or created per policy), then invoices, credit notes (allocated to the invoices
they apply to) and payments (one batch payment each), one request per phase and kind of write, with
`summarizeErrors=false` so each document has its own answer:

- a create refused because its number is taken is looked up by number: the same content is adopted
  (an earlier attempt landed and its answer was lost), other content is failed, never duplicated;
- an update reads the document first (what it held goes into `Outcome.before`; one already holding
  the new content is not written again);
- a document dated on or before Xero's lock dates is HELD (the plan holds it beforehand, from
  `book_close_date()`: the later of PeriodLockDate and EndOfYearLockDate) and posts once they move;
- throttled, 5xx or dropped: retried with the same Idempotency-Key; no answer after every try: RETRY.

The rooms: `adapter` (configuration, runs), `references`, `posting`, `payments`, `undo` (void, delete,
restore), `reading` (look-ups, lock dates, read back), `payloads`, `client`, `auth`, `webhooks`.
Secrets live in the token store and HTTP headers only: never in an Outcome, a log line or an error.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Mapping

import httpx

from bridge_assets.destinations.base import Capabilities, DestinationError
from bridge_assets.destinations.xero.auth import ClientCredentials, OAuthSession, TokenStore, xero_provider
from bridge_assets.destinations.xero.client import DEFAULT_MAX_TRIES, XeroClient, XeroLimits
from bridge_assets.destinations.xero.payloads import TaxCodes
from bridge_assets.destinations.xero.payments import PaymentsMixin
from bridge_assets.destinations.xero.posting import PostingMixin
from bridge_assets.destinations.xero.reading import ReadingMixin
from bridge_assets.destinations.xero.references import ReferencesMixin
from bridge_assets.destinations.xero.undo import UndoMixin

XERO_API_URL = "https://api.xero.com/api.xro/2.0"
XERO_TOKEN_URL = "https://identity.xero.com/connect/token"
XERO_BATCH_MAX = XeroLimits().batch_max_items


class XeroDestination(ReferencesMixin, PostingMixin, PaymentsMixin, UndoMixin, ReadingMixin):
    """Construct with explicit values (tests) or `from_env()` (the bridge); one per run (it caches)."""

    name = "xero"

    def __init__(self, *, api_url: str, token_url: str, client_id: str, client_secret: str,
                 token_store: Path | str | None = None, refresh_token: str | None = None,
                 tenant_id: str | None = None, connections_url: str | None = None,
                 auto_create_contacts: bool = True, auto_create_items: bool = True, codes: TaxCodes = TaxCodes(),
                 limits: XeroLimits = XeroLimits(), batch_size: int = XERO_BATCH_MAX,
                 timeout: httpx.Timeout | float = 60.0, max_tries: int = DEFAULT_MAX_TRIES,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not 1 <= batch_size <= XERO_BATCH_MAX:
            raise ValueError(f"batch_size must be 1..{XERO_BATCH_MAX} (Xero advises about 50 per request)")
        if not client_id or not client_secret:
            raise DestinationError("Xero needs XERO_CLIENT_ID and XERO_CLIENT_SECRET (the app's keys)")
        self.capabilities = Capabilities(supports_update=True, supports_void=True, honours_request_id=True,
                                         batch_size=batch_size, reads_back=True, applies_credits=True, webhooks=True,
                                         lock_date_readable=True)
        self.api_url = api_url.rstrip("/")
        self.connections_url = connections_url or self.api_url.removesuffix("/api.xro/2.0") + "/connections"
        self.auto_create_contacts, self.auto_create_items, self.codes, self.limits = (
            auto_create_contacts, auto_create_items, codes, limits)
        if refresh_token or token_store and Path(token_store).exists():
            store = TokenStore(token_store or "xero_tokens.json", xero_provider(token_url))
            if refresh_token:
                store.seed(refresh_token)
            self.session: Any = OAuthSession(store, store.provider, client_id, client_secret, timeout=timeout,
                                             transport=transport)
        else:                                        # a custom connection: client credentials
            self.session = ClientCredentials(token_url, client_id, client_secret, timeout=timeout, transport=transport)
        self._tenant_id = tenant_id
        self.client = XeroClient(self.api_url, self.session, lambda: self.tenant_id, limits=limits, timeout=timeout,
                                 max_tries=max_tries, transport=transport)
        self._contacts: dict[str, str] | None = None
        self._items: dict[str, str] | None = None
        self._contact_problems: dict[str, str] = {}
        self._item_problems: dict[str, str] = {}
        self._lock_date = None
        self._lock_read_at: float | None = None
        self._run_nonce = uuid.uuid4().hex
        self._written = 0

    def __repr__(self) -> str:
        return f"XeroDestination(tenant={self._tenant_id!r}, url={self.api_url!r})"

    @property
    def tenant_id(self) -> str:
        """XERO_TENANT_ID, or the one organisation `GET /connections` names (several: say which to choose)."""
        if self._tenant_id is None:
            answer = self.client.send("GET", "/connections", url=self.connections_url)
            tenants = [c for c in answer.body or [] if c.get("tenantType") == "ORGANISATION"] \
                if isinstance(answer.body, list) else []
            if len(tenants) != 1:
                named = ", ".join(f"{c.get('tenantName')} ({c.get('tenantId')})" for c in tenants) or "none"
                raise DestinationError(f"Xero: this connection reaches {len(tenants)} organisations ({named}); set "
                                       f"XERO_TENANT_ID to the one the bridge posts into")
            self._tenant_id = str(tenants[0]["tenantId"])
        return self._tenant_id

    @classmethod
    def from_env(cls, settings: Any = None, environ: Mapping[str, str] | None = None) -> "XeroDestination":
        """Build from the XERO_* variables (README, "Xero"); the one place Xero's settings are read."""
        env = os.environ if environ is None else environ

        def text(name: str, default: str | None = None) -> str | None:
            return (env.get(name) or "").strip() or default

        def flag(name: str, default: bool) -> bool:
            value = (text(name) or str(default)).lower()
            if value not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise DestinationError(f"{name} must be true or false, not {text(name)!r}")
            return value in ("1", "true", "yes", "on")

        def number(name: str, default: float) -> float:
            try:
                return float(text(name) or default)
            except ValueError:
                raise DestinationError(f"{name} must be a number, not {text(name)!r}") from None

        missing = [n for n in ("XERO_CLIENT_ID", "XERO_CLIENT_SECRET") if not text(n)]
        if missing:
            raise DestinationError(f"Xero is configured as a destination but {' and '.join(missing)} "
                                   f"{'is' if len(missing) == 1 else 'are'} not set; set the app's keys from "
                                   f"developer.xero.com/app/manage")
        home = Path(getattr(settings, "home", None) or text("BRIDGE_HOME", "var")).absolute()
        scale = number("XERO_TIME_SCALE", 1.0)
        return cls(api_url=text("XERO_BASE_URL", XERO_API_URL), token_url=text("XERO_TOKEN_URL", XERO_TOKEN_URL),
                   connections_url=text("XERO_CONNECTIONS_URL"), client_id=text("XERO_CLIENT_ID"),
                   client_secret=text("XERO_CLIENT_SECRET"),
                   token_store=text("XERO_TOKEN_STORE") or home / "secrets" / "xero_tokens.json",
                   refresh_token=text("XERO_REFRESH_TOKEN"), tenant_id=text("XERO_TENANT_ID"),
                   auto_create_contacts=flag("XERO_AUTO_CREATE_CONTACTS", True),
                   auto_create_items=flag("XERO_AUTO_CREATE_ITEMS", True),
                   codes=TaxCodes(taxable=text("XERO_TAX_TYPE", "OUTPUT"), exempt=text("XERO_TAX_TYPE_EXEMPT", "NONE"),
                                  sales_account=text("XERO_SALES_ACCOUNT", "200"),
                                  bank_account=text("XERO_BANK_ACCOUNT", "090")),
                   limits=XeroLimits(requests_per_minute=int(number("XERO_REQUESTS_PER_MINUTE", 60)),
                                     requests_per_day=int(number("XERO_REQUESTS_PER_DAY", 5000)),
                                     concurrent_requests=int(number("XERO_CONCURRENT_REQUESTS", 5)), time_scale=scale),
                   batch_size=int(number("XERO_BATCH_SIZE", XERO_BATCH_MAX)),
                   timeout=httpx.Timeout(number("XERO_TIMEOUT_SECONDS", 60.0), connect=10.0),
                   max_tries=int(number("XERO_MAX_TRIES", DEFAULT_MAX_TRIES)))

    def close(self) -> None:
        self.client.close()
        self.session.close()

    def __enter__(self) -> "XeroDestination":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def begin_run(self, run_id: str, period: str) -> None:
        self._written = 0

    def end_run(self) -> list[str]:
        written, self._written = self._written, 0
        return [f"Xero organisation {self._tenant_id} ({written} written)"] if written else []
