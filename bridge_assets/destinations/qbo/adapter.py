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

Secrets: tokens and the client secret live in the token store and the HTTP headers only; they are
never put into an Outcome, a log line or an exception message.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import httpx

from bridge_assets.destinations.base import (
    Action,
    Capabilities,
    DestinationError,
    Outcome,
    PostRequest,
    Status,
)
from bridge_assets.destinations.qbo.client import (
    DEFAULT_MAX_TRIES,
    DEFAULT_TIMEOUT,
    QboAnswer,
    QboClient,
    QboFault,
    QboLimits,
    QboUnavailable,
    faults_of,
)
from bridge_assets.destinations.qbo.payloads import (
    LABEL,
    NUMBER_FIELD,
    References,
    credit_application_body,
    decimal,
    differences,
    dumps,
    entity_for,
    is_credit_application,
    is_voided,
    label,
    name_key,
    payment_body,
    qbo_name,
    query_literal,
    ref_value,
    restore_body,
    sales_body,
    summary,
)
from bridge_assets.destinations.qbo.auth import (
    OAuthSession,
    QboAuthError,
    QboReconnectRequired,
    TokenStore,
    qbo_provider,
)
from bridge_assets.model.document import AccountingDocument, money

log = logging.getLogger(__name__)

INTUIT_API_URL = "https://quickbooks.api.intuit.com"
INTUIT_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
REQUEST_ID_NAMESPACE = uuid.UUID("3b6f0a52-2d7e-4c8e-9f0e-5a1c7d4b9e21")
QBO_BATCH_MAX = 30
QUERY_CHUNK = 100
QUERY_PAGE = 1000
PREFERENCES_TTL_S = 60.0        # emulated seconds a read of Preferences is trusted
DEFAULT_LIMITS = QboLimits()    # Intuit's published limits, real time

__all__ = ["QboDestination", "QboAuthError", "QboReconnectRequired", "QboLimits", "batch_request_id"]


def request_id_for(item_id: str) -> str:
    """A requestid (36 characters) for one write: the ledger's own id when the item id is one."""
    try:
        if len(item_id) == 36 and str(uuid.UUID(item_id)) == item_id:
            return item_id
    except ValueError:
        pass
    return str(uuid.uuid5(REQUEST_ID_NAMESPACE, item_id))


def batch_request_id(item_ids: Sequence[str]) -> str:
    """One requestid for a batch: deterministic in its items and their order, 36 characters."""
    return str(uuid.uuid5(REQUEST_ID_NAMESPACE, "batch|" + "|".join(item_ids)))


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


@dataclasses.dataclass
class _Write:
    entity: str
    operation: str               # create | update | delete | void
    body: dict[str, Any]
    item_id: str                 # what the requestid is derived from
    include: tuple[str, ...] = ()


@dataclasses.dataclass
class _Result:
    entity: dict[str, Any] | None = None
    faults: list[QboFault] = dataclasses.field(default_factory=list)
    http_status: int | None = None


@dataclasses.dataclass
class _Work:
    """One PostRequest on its way through a phase."""

    request: PostRequest
    entity: str
    write: _Write | None = None
    current: dict[str, Any] | None = None     # what QuickBooks held before an update
    outcome: Outcome | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def document(self) -> AccountingDocument:
        return self.request.document

    @property
    def label(self) -> str:
        return label(self.request.document)


class QboDestination:
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
                                         batch_size=batch_size, reads_back=True)
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
        env = os.environ if environ is None else environ

        def text(name: str, default: str | None = None) -> str | None:
            value = (env.get(name) or "").strip()
            return value or default

        def flag(name: str, default: bool) -> bool:
            value = text(name)
            if value is None:
                return default
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise DestinationError(f"{name} must be true or false, not {value!r}")

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

    # --- references -------------------------------------------------------------------------------

    def resolve_references(self, documents: Sequence[AccountingDocument]) -> dict[str, str]:
        """Customers (by DisplayName) and items (by Name), matched or created per policy, cached for the
        adapter's lifetime. Returns {doc_key: problem sentence} for documents that cannot be posted."""
        documents = list(documents)
        customers: dict[str, tuple[str, AccountingDocument]] = {}
        items: dict[str, tuple[str, AccountingDocument, Any]] = {}
        for document in documents:
            key = name_key(document.customer_name)
            if key and key not in self._customers and key not in self._customer_problems:
                customers.setdefault(key, (qbo_name(document.customer_name), document))
            if document.doc_type == "payment":
                continue
            for line in document.lines:
                key = name_key(line.item_code)
                if key and key not in self._items and key not in self._item_problems:
                    items.setdefault(key, (qbo_name(line.item_code), document, line))
        if customers:
            self._resolve_names("Customer", customers)
        if items:
            self._resolve_names("Item", items)
        problems: dict[str, str] = {}
        for document in documents:
            found = []
            key = name_key(document.customer_name)
            if not key:
                found.append("it has no customer name")
            elif key in self._customer_problems:
                found.append(self._customer_problems[key])
            if document.doc_type != "payment":
                if not document.lines:
                    found.append("it has no lines")
                for line in document.lines:
                    problem = self._item_problems.get(name_key(line.item_code))
                    if problem and problem not in found:
                        found.append(problem)
            if found:
                problems[document.doc_key] = "; ".join(found)
        return problems

    def _resolve_names(self, entity: str, wanted: Mapping[str, tuple]) -> None:
        field = "DisplayName" if entity == "Customer" else "Name"
        kind = "Customer" if entity == "Customer" else "Item"
        ids, problems = (self._customers, self._customer_problems) if entity == "Customer" else (
            self._items, self._item_problems)
        auto_create = self.auto_create_customers if entity == "Customer" else self.auto_create_items
        switch = "QBO_AUTO_CREATE_CUSTOMERS" if entity == "Customer" else "QBO_AUTO_CREATE_ITEMS"
        found = self._named(entity, field, [name for name, *_ in wanted.values()])
        missing: dict[str, tuple] = {}
        for key, (name, *rest) in wanted.items():
            row = found.get(key)
            if row is not None and row.get("Active") is not False:
                ids[key] = str(row["Id"])
            elif row is not None:
                problems[key] = (f"{kind} '{name}' is inactive in QuickBooks; make it active again "
                                 f"(or use another name in the source) and run again")
            elif not auto_create:
                problems[key] = (f"{kind} '{name}' not found in QuickBooks and auto-create is off ({switch}=false); "
                                 f"create it in QuickBooks (or turn auto-create on) and run again")
            else:
                missing[key] = (name, *rest)
        if missing:
            self._create_names(entity, missing)

    def _named(self, entity: str, field: str, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        rows = self._query_in(entity, field, names, also="Active IN (true, false)")
        found: dict[str, dict[str, Any]] = {}
        for row in rows:
            key = name_key(str(row.get(field) or ""))
            if key not in found or found[key].get("Active") is False:
                found[key] = row
        return found

    def _create_names(self, entity: str, missing: Mapping[str, tuple]) -> None:
        kind = "Customer" if entity == "Customer" else "Item"
        ids, problems = (self._customers, self._customer_problems) if entity == "Customer" else (
            self._items, self._item_problems)
        pending = list(missing.items())
        if entity == "Item":
            account_id, account_problem = self._income_account()
            if account_problem:
                for key, (name, *_) in pending:
                    problems[key] = f"Item '{name}' not found in QuickBooks and {account_problem}"
                return
        taken: list[tuple[str, str]] = []
        for start in range(0, len(pending), self.capabilities.batch_size):
            chunk = pending[start:start + self.capabilities.batch_size]
            writes = []
            for key, (name, document, *line) in chunk:
                if entity == "Customer":
                    body = {"DisplayName": name, "Notes": f"Customer {document.customer_key} in {document.source} "
                                                          f"(created by the invoice bridge)"}
                else:
                    first = line[0]
                    body = {"Name": name, "Type": "Service", "IncomeAccountRef": {"value": account_id},
                            "Taxable": bool(first.taxable)}
                    if first.description:
                        body["Description"] = first.description
                writes.append(_Write(entity, "create", body, f"{entity}|{key}|{self._run_nonce}"))
            for (key, (name, *_)), result in zip(chunk, self._write(writes), strict=True):
                if result.entity is not None:
                    ids[key] = str(result.entity["Id"])
                elif result.faults and result.faults[0].code == "6240":
                    taken.append((key, name))
                else:
                    fault = result.faults[0] if result.faults else QboFault("", "", "no answer")
                    problems[key] = f"{kind} '{name}' could not be created in QuickBooks: {fault.text()}"
        if taken:
            # Someone (another run, a person) may have created it meanwhile; otherwise the name is
            # used by a vendor or employee, which QuickBooks counts against customer names too.
            field = "DisplayName" if entity == "Customer" else "Name"
            found = self._named(entity, field, [name for _, name in taken])
            for key, name in taken:
                row = found.get(key)
                if row is not None and row.get("Active") is not False:
                    ids[key] = str(row["Id"])
                elif row is not None:
                    problems[key] = f"{kind} '{name}' is inactive in QuickBooks; make it active again and run again"
                else:
                    problems[key] = (f"{kind} '{name}' cannot be created in QuickBooks because another customer, "
                                     f"vendor or employee already uses that name; rename one of them (or create the "
                                     f"{kind.lower()} by hand) and run again")

    def _income_account(self) -> tuple[str | None, str | None]:
        if self._income_account_id is None:
            rows = self._query_in("Account", "Name", [self.income_account])
            income = [r for r in rows if r.get("Classification") == "Revenue" or "Income" in str(r.get("AccountType"))]
            if not income:
                return None, (f"the income account '{self.income_account}' (QBO_INCOME_ACCOUNT) that new items are "
                              f"created with does not exist in QuickBooks; set QBO_INCOME_ACCOUNT to the name of an "
                              f"income account, or create the item by hand")
            self._income_account_id = str(income[0]["Id"])
        return self._income_account_id, None

    def references(self, document: AccountingDocument) -> References:
        """The QuickBooks Ids of a resolved document's customer and items (KeyError if not resolved)."""
        items = {} if document.doc_type == "payment" else {
            name_key(l.item_code): self._items[name_key(l.item_code)] for l in document.lines}
        return References(self._customers[name_key(document.customer_name)], items)

    def _has_references(self, document: AccountingDocument) -> bool:
        """Whether this document's customer and items all have a QuickBooks Id in the caches."""
        if name_key(document.customer_name) not in self._customers:
            return False
        return document.doc_type == "payment" or all(name_key(l.item_code) in self._items for l in document.lines)

    def _forget_references(self, document: AccountingDocument) -> None:
        """QuickBooks says a reference is gone (2500/610): look it up afresh next time."""
        self._customers.pop(name_key(document.customer_name), None)
        for line in document.lines:
            self._items.pop(name_key(line.item_code), None)

    # --- posting ----------------------------------------------------------------------------------

    def post(self, requests: Sequence[PostRequest]) -> list[Outcome]:
        requests = list(requests)
        if len(requests) > self.capabilities.batch_size:
            raise ValueError(f"at most {self.capabilities.batch_size} requests per post, got {len(requests)}")
        works = []
        for request in requests:
            try:
                works.append(_Work(request, entity_for(request.document.doc_type)))
            except ValueError as problem:
                works.append(_Work(request, "", outcome=Outcome(Status.FAILED, error_code="doc_type_unsupported",
                                                                message=f"{request.document.doc_number}: {problem}")))
        live = [w for w in works if w.outcome is None]
        for w in live:
            action = Action(w.request.action)
            if action not in (Action.CREATE, Action.UPDATE):
                w.outcome = Outcome(Status.FAILED, error_code="action_unsupported",
                                    message=f"{w.label}: QuickBooks Online is sent creates and updates through post; "
                                            f"{action.value} is not one of them, nothing was sent.")
            elif action is Action.UPDATE and not w.request.dest_id:
                w.outcome = Outcome(Status.FAILED, error_code="update_without_id",
                                    message=f"{w.label}: an update needs the QuickBooks Id of the document and the "
                                            f"ledger has none; nothing was sent.")
        try:
            self._check_company()
        except QboUnavailable as failure:
            return [w.outcome or self._retry(w, failure) for w in works]
        # Invoices first: credit memos and payments link to them by Id, and the items of one batch
        # cannot see each other's creations.
        for phase in ([w for w in live if w.outcome is None and w.entity == "Invoice"],
                      [w for w in live if w.outcome is None and w.entity != "Invoice"]):
            try:
                unresolved = [w.document for w in phase if not self._has_references(w.document)]
                problems = self.resolve_references(unresolved) if unresolved else {}
                for w in phase:
                    if w.document.doc_key in problems:
                        w.outcome = Outcome(Status.FAILED, error_code="reference_unresolved",
                                            message=f"{w.label}: {problems[w.document.doc_key]}.")
                phase = [w for w in phase if w.outcome is None]
                if phase:
                    self._post_phase(phase)
            except QboUnavailable as failure:
                for w in phase:
                    if w.outcome is None:
                        w.outcome = self._retry(w, failure)
        outcomes = [w.outcome for w in works]
        self._written += sum(1 for o in outcomes if o is not None and o.status in (Status.CREATED, Status.UPDATED))
        return outcomes  # type: ignore[return-value]

    def _check_company(self) -> None:
        """Documents keep their source numbers only with custom transaction numbers on; the numbers are
        also how an interrupted attempt is found again, so posting without them is refused."""
        sales_forms = self._company_preferences().get("SalesFormsPrefs") or {}
        if sales_forms.get("CustomTxnNumbers") is False:
            raise DestinationError(
                f"QuickBooks Online company {self.realm_id} has custom transaction numbers turned off, so it would "
                f"renumber every document (and an interrupted post could not be found again by its number). Turn on "
                f"Account and Settings > Sales > Custom transaction numbers, then run again.")

    def _post_phase(self, works: list[_Work]) -> None:
        creates = [w for w in works if w.request.action == Action.CREATE]
        updates = [w for w in works if w.request.action == Action.UPDATE]
        holders = self._by_number(creates)
        currents = self._by_id(updates)
        invoices = self._linked_invoices([w for w in works if w.entity != "Invoice"])
        for w in works:
            self._prepare(w, holders, currents, invoices)
        self._send([w for w in works if w.outcome is None and w.write is not None], second_try=False)
        self._apply_credits([w for w in works if w.entity == "CreditMemo" and w.outcome is not None
                             and w.outcome.status in (Status.CREATED, Status.UPDATED)], invoices)

    def _by_number(self, works: list[_Work]) -> dict[tuple[str, str], list[dict[str, Any]]]:
        found: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for entity in sorted({w.entity for w in works}):
            field = NUMBER_FIELD[entity]
            numbers = [w.document.doc_number for w in works if w.entity == entity]
            for row in self._query_in(entity, field, numbers):
                found.setdefault((entity, str(row.get(field))), []).append(row)
        return found

    def _by_id(self, works: list[_Work]) -> dict[tuple[str, str], dict[str, Any]]:
        return self._ids([(w.entity, str(w.request.dest_id)) for w in works])

    def _ids(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """The current objects for (entity, Id) pairs, one query per entity; deleted ones are absent."""
        wanted = list(wanted)
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for entity in sorted({entity for entity, _ in wanted}):
            for row in self._query_in(entity, "Id", [i for e, i in wanted if e == entity]):
                found[(entity, str(row["Id"]))] = row
        return found

    def _linked_invoices(self, works: list[_Work]) -> dict[str, dict[str, Any]]:
        """The invoices credit memos and payments apply to, by DocNumber (a live one before a voided one)."""
        numbers = {a.doc_number for w in works for a in w.document.applies_to}
        found: dict[str, dict[str, Any]] = {}
        for row in self._query_in("Invoice", "DocNumber", numbers):
            number = str(row.get("DocNumber"))
            if number not in found or (is_voided(found[number]) and not is_voided(row)):
                found[number] = row
        return found

    def _prepare(self, w: _Work, holders, currents, invoices) -> None:
        """Decide what to send for one request (or its outcome without sending anything)."""
        document, request = w.document, w.request
        refs = self.references(document)
        customer_id = refs.customer_id
        if w.entity in ("CreditMemo", "Payment"):
            blocked = self._application_problem(w, customer_id, invoices)
            if blocked:
                w.outcome = Outcome(Status.FAILED, error_code="invoice_not_posted", message=blocked)
                return
        if w.entity == "Payment":
            body = payment_body(document, customer_id, {n: str(i["Id"]) for n, i in invoices.items()})
        else:
            body = sales_body(document, refs, tax_override=self.tax_override, tax_code=self.tax_code)

        if request.action == Action.CREATE:
            holding = holders.get((w.entity, document.doc_number), [])
            if w.entity == "Payment":
                # A payment's reference number is often the customer's check number: only one of the
                # same customer can be this document.
                holding = [e for e in holding if ref_value(e.get("CustomerRef")) == customer_id]
            live = [e for e in holding if not is_voided(e)]
            if live:
                same = [e for e in live if not differences(body, e)]
                if same:
                    w.outcome = self._success(w, same[0], Status.CREATED)
                    w.notes.append("it was already in QuickBooks (an earlier attempt had landed), so nothing was sent")
                    w.outcome = dataclasses.replace(w.outcome, message=self._message(w))
                else:
                    w.outcome = self._number_taken(w, live[0], differences(body, live[0]))
                return
            # Only voided documents hold the number: a new one may use it again.
            include = ("allowduplicatedocnum",) if holding and w.entity != "Payment" else ()
            w.write = _Write(w.entity, "create", body, request.request_id, include)
            return

        current = currents.get((w.entity, str(request.dest_id)))
        if current is None:
            w.outcome = Outcome(
                Status.FAILED, error_code="610",
                message=f"{w.label}: it changed in the source, but QuickBooks no longer has it (Id {request.dest_id} "
                        f"was deleted there), so the change cannot be applied. Re-enter it in QuickBooks or revert it "
                        f"in the bridge.")
            return
        if is_voided(current):
            w.outcome = Outcome(
                Status.FAILED, error_code="voided",
                message=f"{w.label}: it changed in the source, but it is voided in QuickBooks (Id {current['Id']}); "
                        f"a voided document is not changed. Enter the new version by hand or revert it in the bridge.")
            return
        w.current = current
        if not differences(body, current):
            w.outcome = Outcome(Status.UPDATED, dest_id=str(current["Id"]),
                                dest_doc_number=str(current.get(NUMBER_FIELD[w.entity]) or ""),
                                version=str(current["SyncToken"]), http_status=200,
                                message=f"{w.label}: QuickBooks already holds this version (an earlier attempt had "
                                        f"landed), so nothing was sent",
                                before=request.previous or current, after=current)
            return
        w.write = self._update_write(w, body, current)

    def _update_write(self, w: _Work, body: dict[str, Any], current: dict[str, Any]) -> _Write:
        sparse = {"Id": str(current["Id"]), "SyncToken": str(current["SyncToken"]), "sparse": True, **body}
        return _Write(w.entity, "update", sparse, f"{w.request.request_id}@{current['SyncToken']}")

    def _application_problem(self, w: _Work, customer_id: str, invoices: Mapping[str, dict[str, Any]]) -> str | None:
        kind = "pays" if w.entity == "Payment" else "applies to"
        for application in w.document.applies_to:
            invoice = invoices.get(application.doc_number)
            if invoice is None:
                return (f"{w.label}: it {kind} invoice {application.doc_number}, which is not in QuickBooks yet (not "
                        f"posted, held or failed); it is tried again on the next run")
            if is_voided(invoice):
                return (f"{w.label}: it {kind} invoice {application.doc_number}, which is voided in QuickBooks "
                        f"(Id {invoice['Id']}); correct the source or the invoice in QuickBooks")
            if ref_value(invoice.get("CustomerRef")) != customer_id:
                owner = (invoice.get("CustomerRef") or {}).get("name") or ref_value(invoice.get("CustomerRef"))
                return (f"{w.label}: it {kind} invoice {application.doc_number}, which belongs to another customer in "
                        f"QuickBooks ({owner}); correct the customer in the source or in QuickBooks")
        return None   # (a payment applied to nothing is allowed: it sits as the customer's credit)

    # --- sending ----------------------------------------------------------------------------------

    def _send(self, works: list[_Work], *, second_try: bool) -> None:
        if not works:
            return
        results = self._write([w.write for w in works])   # type: ignore[misc]
        stale, taken = [], []
        for w, result in zip(works, results, strict=True):
            if result.entity is not None:
                w.outcome = self._success(w, result.entity,
                                          Status.CREATED if w.write.operation == "create" else Status.UPDATED)
                w.outcome = dataclasses.replace(w.outcome, message=self._message(w))
                continue
            fault = result.faults[0] if result.faults else None
            if fault is None:
                w.outcome = self._retry(w, QboUnavailable("no answer for this item in the batch", 1))
            elif fault.code == "5010" and w.write.operation == "update" and not second_try:
                stale.append(w)
            elif fault.code == "5010" and w.write.operation == "update":
                w.outcome = Outcome(Status.RETRY, error_code="5010", http_status=result.http_status,
                                    message=f"{w.label}: it was changed in QuickBooks while the bridge was updating it, "
                                            f"twice in a row; the update is tried again on the next run")
            elif fault.code == "6140" and w.write.operation == "create" and not second_try:
                taken.append(w)
            else:
                w.outcome = self._fault_outcome(w, fault, result.http_status)
        if stale:
            # 5010: someone changed it since we read it. Read again and send once more against the new SyncToken.
            currents = self._by_id(stale)
            again = []
            for w in stale:
                current = currents.get((w.entity, str(w.request.dest_id)))
                if current is None:
                    w.outcome = Outcome(Status.FAILED, error_code="610",
                                        message=f"{w.label}: it was deleted in QuickBooks while the bridge was updating "
                                                f"it; re-enter it in QuickBooks or revert it in the bridge")
                    continue
                body = {k: v for k, v in w.write.body.items() if k not in ("Id", "SyncToken", "sparse")}
                w.current = current
                if not differences(body, current):
                    w.outcome = self._success(w, current, Status.UPDATED)
                    continue
                w.write = self._update_write(w, body, current)
                again.append(w)
            self._send(again, second_try=True)
        if taken:
            # 6140: the number is taken after all (created between our look-up and our write?). Look again.
            holders = self._by_number(taken)
            for w in taken:
                live = [e for e in holders.get((w.entity, w.document.doc_number), []) if not is_voided(e)]
                same = [e for e in live if not differences(w.write.body, e)]
                if same:
                    w.outcome = self._success(w, same[0], Status.CREATED)
                    w.notes.append("it was already in QuickBooks, so nothing new was created")
                    w.outcome = dataclasses.replace(w.outcome, message=self._message(w))
                elif live:
                    w.outcome = self._number_taken(w, live[0], differences(w.write.body, live[0]))
                else:
                    w.outcome = self._fault_outcome(w, QboFault("6140", "Duplicate Document Number Error",
                                                                "the number is already used"), 400)

    def _write(self, writes: list[_Write]) -> list[_Result]:
        """Send writes as one request: the entity endpoint for one, /batch for several."""
        if len(writes) == 1:
            write = writes[0]
            params = {"requestid": request_id_for(write.item_id)}
            if write.operation in ("delete", "void"):
                params["operation"] = write.operation
            if write.include:
                params["include"] = ",".join(write.include)
            answer = self.client.post(f"/{write.entity.lower()}", dumps(write.body), params)
            return [self._result(answer, write.entity)]
        items = []
        for index, write in enumerate(writes):
            item: dict[str, Any] = {"bId": str(index), "operation": write.operation, write.entity: write.body}
            if write.include:
                item["optionsData"] = ",".join(write.include)
            items.append(item)
        answer = self.client.post("/batch", dumps({"BatchItemRequest": items}),
                                  {"requestid": batch_request_id([w.item_id for w in writes])}, batch=True)
        responses = answer.body.get("BatchItemResponse") if isinstance(answer.body, dict) else None
        if answer.status != 200 or not isinstance(responses, list):
            result = _Result(faults=answer.faults, http_status=answer.status)
            return [result for _ in writes]
        by_bid = {str(r.get("bId")): r for r in responses if isinstance(r, dict)}
        results = []
        for index, write in enumerate(writes):
            response = by_bid.get(str(index))
            if response is None:
                results.append(_Result())
            elif "Fault" in response:
                results.append(_Result(faults=faults_of(response), http_status=400))
            else:
                results.append(_Result(entity=response.get(write.entity), http_status=200))
        return results

    @staticmethod
    def _result(answer: QboAnswer, entity: str) -> _Result:
        if answer.ok and isinstance(answer.body, dict) and isinstance(answer.body.get(entity), dict):
            return _Result(entity=answer.body[entity], http_status=answer.status)
        return _Result(faults=answer.faults, http_status=answer.status)

    # --- credit memos applied to their invoice ----------------------------------------------------

    def _apply_credits(self, works: list[_Work], invoices: dict[str, dict[str, Any]]) -> None:
        balances = {number: decimal(invoice.get("Balance")) for number, invoice in invoices.items()}
        plan: list[tuple[_Work, dict[str, Any], Decimal]] = []
        for w in works:
            credit = w.outcome.after or {}
            if any(link.get("TxnType") == "Payment" for link in credit.get("LinkedTxn") or []):
                continue   # already applied (by an earlier attempt, or by hand)
            remaining = decimal(credit.get("RemainingCredit", credit.get("TotalAmt")))
            for application in sorted(w.document.applies_to, key=lambda a: a.doc_key):
                invoice = invoices.get(application.doc_number)
                if invoice is None:
                    continue
                amount = min(money(application.amount), remaining, balances.get(application.doc_number, Decimal(0)))
                if amount <= 0:
                    w.notes.append(f"nothing was applied to invoice {application.doc_number} (its open balance is "
                                   f"{balances.get(application.doc_number)}); the credit is left as customer credit")
                    continue
                plan.append((w, invoice, amount))
                remaining -= amount
                balances[application.doc_number] -= amount
        for start in range(0, len(plan), self.capabilities.batch_size):
            chunk = plan[start:start + self.capabilities.batch_size]
            writes = [_Write("Payment", "create", credit_application_body(w.outcome.after, invoice, amount),
                             f"{w.request.request_id}|apply|{invoice['Id']}") for w, invoice, amount in chunk]
            try:
                results = self._write(writes)
            except QboUnavailable as failure:
                for w, invoice, _ in chunk:
                    w.outcome = dataclasses.replace(
                        w.outcome, status=Status.RETRY, error_code="application_unknown",
                        message=f"{w.label}: the credit memo is in QuickBooks (Id {w.outcome.dest_id}) but applying it "
                                f"to invoice {invoice.get('DocNumber')} could not be confirmed ({failure.problem}); it "
                                f"is checked and applied on the next run")
                continue
            for (w, invoice, amount), result in zip(chunk, results, strict=True):
                if result.entity is not None:
                    w.notes.append(f"{amount} applied to invoice {invoice.get('DocNumber')} "
                                   f"(payment Id {result.entity.get('Id')})")
                elif not result.faults:     # the batch answered without this item: outcome unknown
                    w.outcome = dataclasses.replace(
                        w.outcome, status=Status.RETRY, error_code="application_unknown",
                        message=f"{w.label}: the credit memo is in QuickBooks (Id {w.outcome.dest_id}) but whether it "
                                f"was applied to invoice {invoice.get('DocNumber')} is unknown; it is checked on the "
                                f"next run")
                else:
                    fault = result.faults[0].text() if result.faults else "no answer"
                    w.notes.append(f"it could not be applied to invoice {invoice.get('DocNumber')} ({fault}); apply "
                                   f"it in QuickBooks (Receive payment)")
        applied = [w for w, _, _ in plan if w.outcome.status is not Status.RETRY]
        if applied:
            try:   # applying bumped the credit memos' SyncToken: read them back for the ledger
                fresh = self._ids([("CreditMemo", str(w.outcome.dest_id)) for w in applied])
            except QboUnavailable:
                fresh = {}
            for w in applied:
                after = fresh.get(("CreditMemo", str(w.outcome.dest_id)), w.outcome.after)
                w.outcome = dataclasses.replace(w.outcome, after=after, version=str(after.get("SyncToken")))
        for w in works:
            if w.outcome.status is not Status.RETRY:
                w.outcome = dataclasses.replace(w.outcome, message=self._message(w))

    # --- outcomes ---------------------------------------------------------------------------------

    def _success(self, w: _Work, entity: dict[str, Any], status: Status) -> Outcome:
        if self.tax_override is False and w.entity != "Payment":
            theirs, ours = decimal(entity.get("TotalAmt")), money(w.document.total)
            if theirs != ours:
                w.notes.append(f"QuickBooks computed the tax itself: its total is {theirs}, the source's is {ours}")
        return Outcome(status, dest_id=str(entity.get("Id")),
                       dest_doc_number=str(entity.get(NUMBER_FIELD[w.entity]) or "") or None,
                       version=str(entity.get("SyncToken")), http_status=200,
                       before=w.current if status is Status.UPDATED else None, after=entity)

    def _message(self, w: _Work) -> str | None:
        return f"{w.label}: {'; '.join(w.notes)}" if w.notes else None

    def _retry(self, w: _Work, failure: QboUnavailable) -> Outcome:
        return Outcome(Status.RETRY, http_status=failure.http_status, error_code="unavailable",
                       message=f"{w.label}: {failure}; whether it reached QuickBooks is unknown, so it is looked up "
                               f"and sent again (with the same request id) on the next run")

    def _number_taken(self, w: _Work, holder: dict[str, Any], changed: list[str]) -> Outcome:
        what = ", ".join(changed) or "content"
        return Outcome(
            Status.FAILED, error_code="6140", http_status=400,
            message=f"{w.label}: QuickBooks already has {LABEL[w.entity].lower()} number {w.document.doc_number} "
                    f"({summary(holder)}) and it differs from the source in {what}. If it is this document (entered "
                    f"by hand, or an earlier version), delete or renumber it in QuickBooks; nothing was sent, and it is "
                    f"tried again on the next run.")

    def _fault_outcome(self, w: _Work, fault: QboFault, http_status: int | None) -> Outcome:
        code, detail = fault.code, fault.text()
        if code == "6210":
            return Outcome(Status.HELD, error_code="6210", http_status=http_status, message=self._held_message(w))
        if code in ("610", "2500"):
            self._forget_references(w.document)
        sentence = {
            "610": "something it refers to was deleted or made inactive in QuickBooks ({detail}); make the customer or "
                   "item active again (or restore the linked document) and run again",
            "2500": "it refers to a customer, item or account that does not exist in QuickBooks ({detail}); it is "
                    "looked up again on the next run",
            "2020": "QuickBooks says something required is missing ({detail}); correct the document in the source",
            "2050": "a value is longer than QuickBooks allows ({detail}); a document number is at most 21 characters, "
                    "shorten it (or the configured prefix) in the source",
            "6070": "a line's amount is not its quantity times its rate rounded to the cent ({detail}); correct the "
                    "line in the source",
            "6140": "QuickBooks says its number is already used ({detail}); renumber or delete the other document in "
                    "QuickBooks",
            "6240": "QuickBooks says a name is already used by another customer, vendor or employee ({detail})",
            "6000": "QuickBooks refused it: {detail}",
        }.get(code, "QuickBooks refused it with error {code} ({detail})")
        return Outcome(Status.FAILED, error_code=code or "refused", http_status=http_status,
                       message=f"{w.label}: {sentence.format(detail=detail, code=code)}. Nothing was posted.")

    def _held_message(self, w: _Work) -> str:
        close = self._close_date_for_message()
        when = f" {close:%m/%d/%Y}" if close else ""
        return (f"{w.label}: dated {w.document.txn_date:%m/%d/%Y}, on or before the QuickBooks closing date{when}; "
                f"it is held and posts once the books are reopened for that date")

    # --- look-up and undo -------------------------------------------------------------------------

    def find(self, doc_type: str, doc_number: str) -> Outcome | None:
        entity = entity_for(doc_type)
        rows = [r for r in self._query_in(entity, NUMBER_FIELD[entity], [doc_number]) if not is_voided(r)]
        if not rows:
            return None
        row = rows[0]
        return Outcome(Status.CREATED, dest_id=str(row["Id"]), dest_doc_number=str(row.get(NUMBER_FIELD[entity])),
                       version=str(row.get("SyncToken")), http_status=200, after=row,
                       message=f"{LABEL[entity]} {doc_number} found in QuickBooks (Id {row['Id']})")

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        """Void an invoice; delete a credit memo (and the $0 payment that applied it) or a payment."""
        entity = entity_for(doc_type)
        what = f"{LABEL[entity]} Id {dest_id}"
        operation = "void" if entity == "Invoice" else "delete"
        try:
            current = self._read(entity, dest_id)
            if current is None:
                return Outcome(Status.VOIDED, dest_id=dest_id, message=f"{what} is already deleted in QuickBooks")
            if entity == "Invoice" and is_voided(current):
                return Outcome(Status.VOIDED, dest_id=dest_id, version=str(current.get("SyncToken")), before=current,
                               after=current, message=f"{what} is already voided in QuickBooks")
            if entity == "CreditMemo":
                current = self._delete_applications(current) or current
            before = current
            for attempt in (1, 2):
                write = _Write(entity, operation, {"Id": str(current["Id"]), "SyncToken": str(current["SyncToken"])},
                               f"{operation}|{entity}|{current['Id']}|{current['SyncToken']}|{self._run_nonce}")
                result = self._write([write])[0]
                if result.entity is not None:
                    return Outcome(Status.VOIDED, dest_id=dest_id,
                                   dest_doc_number=str(before.get(NUMBER_FIELD[entity]) or "") or None,
                                   version=str(result.entity.get("SyncToken")) if "SyncToken" in result.entity else version,
                                   http_status=200, before=before, after=result.entity)
                fault = result.faults[0] if result.faults else QboFault("", "", "no answer")
                if fault.code == "5010" and attempt == 1:
                    current = self._read(entity, dest_id)
                    if current is None:
                        break
                    continue
                if fault.code == "610":
                    break
                return self._undo_fault(what, operation, fault, result.http_status, before)
            return Outcome(Status.VOIDED, dest_id=dest_id, before=before, message=f"{what} is already deleted in QuickBooks")
        except QboUnavailable as failure:
            return Outcome(Status.RETRY, dest_id=dest_id, error_code="unavailable", http_status=failure.http_status,
                           message=f"{what}: {failure}; try the {operation} again")

    def _delete_applications(self, credit: dict[str, Any]) -> dict[str, Any] | None:
        """Delete the $0 payments the bridge made to apply this credit; the credit memo read afterwards."""
        deleted = False
        for link in credit.get("LinkedTxn") or []:
            if link.get("TxnType") != "Payment":
                continue
            payment = self._read("Payment", str(link.get("TxnId")))
            if payment is None or not is_credit_application(payment, str(credit["Id"])):
                continue
            write = _Write("Payment", "delete", {"Id": str(payment["Id"]), "SyncToken": str(payment["SyncToken"])},
                           f"delete|Payment|{payment['Id']}|{payment['SyncToken']}|{self._run_nonce}")
            result = self._write([write])[0]
            deleted = deleted or result.entity is not None
        return self._read("CreditMemo", str(credit["Id"])) if deleted else None

    def restore(self, doc_type: str, dest_id: str, before: dict) -> Outcome:
        """Put the document back as it was before an update (a full update from `before`)."""
        entity = entity_for(doc_type)
        what = f"{LABEL[entity]} Id {dest_id}"
        try:
            for attempt in (1, 2):
                current = self._read(entity, dest_id)
                if current is None:
                    return Outcome(Status.FAILED, dest_id=dest_id, error_code="610",
                                   message=f"{what} was deleted in QuickBooks, so it cannot be restored; re-enter it by "
                                           f"hand from the ledger's saved state")
                body = restore_body(before, current)
                if not differences(body, current):
                    # Already as it was (an earlier restore landed and its answer was lost): not sent again.
                    return Outcome(Status.UPDATED, dest_id=dest_id,
                                   dest_doc_number=str(current.get(NUMBER_FIELD[entity]) or "") or None,
                                   version=str(current.get("SyncToken")), http_status=200, before=current,
                                   after=current, message=f"{what} already holds the state it is restored to")
                write = _Write(entity, "update", body,
                               f"restore|{entity}|{current['Id']}|{current['SyncToken']}|{self._run_nonce}")
                result = self._write([write])[0]
                if result.entity is not None:
                    return Outcome(Status.UPDATED, dest_id=dest_id,
                                   dest_doc_number=str(result.entity.get(NUMBER_FIELD[entity]) or "") or None,
                                   version=str(result.entity.get("SyncToken")), http_status=200,
                                   before=current, after=result.entity)
                fault = result.faults[0] if result.faults else QboFault("", "", "no answer")
                if fault.code == "5010" and attempt == 1:
                    continue
                return self._undo_fault(what, "restore", fault, result.http_status, current)
        except QboUnavailable as failure:
            return Outcome(Status.RETRY, dest_id=dest_id, error_code="unavailable", http_status=failure.http_status,
                           message=f"{what}: {failure}; try the restore again")
        raise AssertionError("unreachable")

    def _undo_fault(self, what: str, operation: str, fault: QboFault, http_status: int | None,
                    before: dict[str, Any]) -> Outcome:
        if fault.code == "6210":
            close = self._close_date_for_message()
            when = f" ({close:%m/%d/%Y})" if close else ""
            return Outcome(Status.HELD, error_code="6210", http_status=http_status, before=before,
                           message=f"{what}: dated on or before the QuickBooks closing date{when}; the {operation} waits "
                                   f"until the books are reopened for that date")
        return Outcome(Status.FAILED, error_code=fault.code or "refused", http_status=http_status, before=before,
                       message=f"{what}: QuickBooks refused the {operation}: {fault.text()}")

    # --- the company ------------------------------------------------------------------------------

    def is_period_open(self, txn_date) -> bool:
        close = self._book_close_date()
        if close is None:
            return True
        day = txn_date.date() if isinstance(txn_date, dt.datetime) else txn_date
        if isinstance(day, str):
            day = dt.date.fromisoformat(day[:10])
        return day > close

    def book_close_date(self) -> dt.date | None:
        """QuickBooks' closing date (Preferences.AccountingInfoPrefs.BookCloseDate), read now: the replay
        sensor watches it move. Raises QboUnavailable when QuickBooks does not answer."""
        return self._book_close_date(fresh=True)

    def _book_close_date(self, fresh: bool = False) -> dt.date | None:
        raw = (self._company_preferences(fresh).get("AccountingInfoPrefs") or {}).get("BookCloseDate")
        return dt.date.fromisoformat(str(raw)[:10]) if raw else None

    def _close_date_for_message(self) -> dt.date | None:
        try:
            return self._book_close_date(fresh=True)
        except QboUnavailable:
            return None

    def _company_preferences(self, fresh: bool = False) -> dict[str, Any]:
        if self._preferences is None or fresh:
            answer = self.client.get("/preferences")
            if not answer.ok:
                raise DestinationError(
                    f"QuickBooks Online company {self.realm_id} did not give its preferences: "
                    f"{answer.faults[0].text() if answer.faults else answer.status}")
            self._preferences = answer.body.get("Preferences") or {}
            self._preferences_read_at = time.monotonic()
        return self._preferences

    # --- reading ----------------------------------------------------------------------------------

    def _read(self, entity: str, entity_id: str) -> dict[str, Any] | None:
        answer = self.client.get(f"/{entity.lower()}/{entity_id}")
        if answer.ok and isinstance(answer.body, dict):
            return answer.body.get(entity)
        if any(f.code == "610" for f in answer.faults):
            return None
        fault = answer.faults[0] if answer.faults else None
        raise DestinationError(f"QuickBooks Online could not read {LABEL.get(entity, entity)} Id {entity_id}: "
                               f"{fault.text() if fault else answer.status}")

    def _query_in(self, entity: str, field: str, values: Iterable[str], also: str | None = None) -> list[dict[str, Any]]:
        """Every object whose `field` is one of `values` (quoted and escaped), in pages."""
        values = sorted({str(v) for v in values if str(v)})
        rows: list[dict[str, Any]] = []
        for start in range(0, len(values), QUERY_CHUNK):
            where = f"{field} IN ({', '.join(query_literal(v) for v in values[start:start + QUERY_CHUNK])})"
            if also:
                where += f" AND {also}"
            position = 1
            while True:
                answer = self.client.query(
                    f"SELECT * FROM {entity} WHERE {where} STARTPOSITION {position} MAXRESULTS {QUERY_PAGE}")
                if not answer.ok or not isinstance(answer.body, dict):
                    fault = answer.faults[0].text() if answer.faults else f"HTTP {answer.status}"
                    raise DestinationError(f"QuickBooks Online refused a look-up of {entity} by {field}: {fault}")
                page = (answer.body.get("QueryResponse") or {}).get(entity) or []
                rows.extend(page)
                if len(page) < QUERY_PAGE:
                    break
                position += QUERY_PAGE
        return rows
