"""Dynamics 365 Business Central (API v2.0, OData v4): the destination that posts exactly once into an ERP
whose posted documents are corrected, not edited.

- auth: a Microsoft Entra app (client credentials), registered in Business Central (client.py);
- documents: drafts created and posted in $batch requests, our number in `externalDocumentNumber`, ETags
  (`If-Match`) on every change of a draft; corrections by cancel and re-issue; payments as payment journal
  lines, posted with the journal (posting.py);
- the allowed posting range of General Ledger Setup is the closing date: a document dated before
  `allowPostingFrom` (or after `allowPostingTo`) is held, posted once the range includes it;
- no idempotency key (`honours_request_id` False): look-ups by our number before any create, and every new
  record carries a GUID derived from its request, so one sent again is refused, never doubled.

Settings are read in one place, `from_env` (README, "Business Central"). The client secret and tokens are
kept in memory and in HTTP headers only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

import httpx

from bridge_assets.destinations.base import BooksDocument, NeutralBooks, Capabilities, DestinationError, Outcome, Status
from bridge_assets.destinations.base import by_hand
from bridge_assets.destinations.business_central.client import BcAuthError, BcClient, BcError, BcUnavailable
from bridge_assets.destinations.business_central.payloads import (
    DOC_TYPE, ENTITY, LABEL, LIVE, NO_DATE, OUTSIDE_RANGE, bc_time, decimal, literal, refusal,
)
from bridge_assets.destinations.business_central.posting import PostingMixin
from bridge_assets.destinations.kit.erp import ErpDestination, ErpEnvironment, reference_problems
from bridge_assets.destinations.kit.limits import Limits

API_URL = "https://api.businesscentral.dynamics.com"
TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
BATCH_SIZE = 20


class BusinessCentralDestination(PostingMixin, ErpDestination):
    name = "business_central"

    def __init__(self, *, tenant: str, environment: str, company: str, client_id: str, client_secret: str,
                 api_url: str = API_URL, token_url: str | None = None, payment_sign: str = "negative",
                 payment_journal: str = "CUSTPAYMT", tax_item: str = "SALES-TAX", auto_create: bool = True,
                 limits: Limits = Limits(requests_per_minute=1200, concurrent_requests=100),
                 timeout: httpx.Timeout | float = 60.0, transport: httpx.BaseTransport | None = None) -> None:
        if not (tenant and environment and company and client_id and client_secret):
            raise DestinationError("Business Central needs BC_TENANT, BC_ENVIRONMENT, BC_COMPANY, BC_CLIENT_ID and "
                                   "BC_CLIENT_SECRET")
        root = f"{api_url.rstrip('/')}/v2.0/{tenant}/{environment}/api/v2.0"
        self.client = BcClient(root, (token_url or TOKEN_URL).format(tenant=tenant), client_id, client_secret,
                               limits=limits, timeout=timeout, transport=transport)
        self.company, self.book = company, f"{tenant}/{environment}/{company}"
        self.payment_sign, self.payment_journal, self.tax_item = payment_sign, payment_journal, tax_item
        self.auto_create = auto_create
        self.capabilities = Capabilities(supports_update=True, supports_void=True, honours_request_id=False,
                                         batch_size=BATCH_SIZE, reads_back=True, restores=False, applies_credits=True,
                                         lock_date_readable=True)
        self.journal_id: str | None = None
        self._known: set[tuple[str, str]] = set()
        self._written = 0

    def __repr__(self) -> str:
        return f"BusinessCentralDestination(book={self.book!r})"

    @classmethod
    def from_env(cls, settings: Any = None, environ: Mapping[str, str] | None = None) -> "BusinessCentralDestination":
        env = ErpEnvironment("Business Central", environ)
        env.require("BC_TENANT", "BC_ENVIRONMENT", "BC_COMPANY", "BC_CLIENT_ID", "BC_CLIENT_SECRET")
        text = env.text
        sign = text("BC_PAYMENT_AMOUNT_SIGN", "negative")
        if sign not in ("negative", "positive"):
            raise DestinationError(f"BC_PAYMENT_AMOUNT_SIGN must be negative or positive, not {sign!r}")
        scale = env.number("BC_TIME_SCALE", 1.0)
        return cls(tenant=text("BC_TENANT"), environment=text("BC_ENVIRONMENT"), company=text("BC_COMPANY"),
                   client_id=text("BC_CLIENT_ID"), client_secret=text("BC_CLIENT_SECRET"),
                   api_url=text("BC_API_URL", API_URL), token_url=text("BC_TOKEN_URL"), payment_sign=sign,
                   payment_journal=text("BC_PAYMENT_JOURNAL", "CUSTPAYMT"), tax_item=text("BC_TAX_ITEM", "SALES-TAX"),
                   auto_create=(text("BC_AUTO_CREATE", "true").lower() in ("1", "true", "yes", "on")),
                   limits=Limits(requests_per_minute=1200, concurrent_requests=100, time_scale=scale))

    # --- the company, runs ------------------------------------------------------------------------

    def _connect(self) -> None:
        if self.client.company_path:
            return
        try:
            companies = self.client.get("companies")["value"]
        except BcAuthError as problem:
            raise DestinationError(str(problem)) from None
        found = [c for c in companies if self.company in (c["id"], c.get("name"), c.get("displayName"))]
        if not found:
            names = ", ".join(str(c.get("name")) for c in companies)
            raise DestinationError(f"Business Central environment has no company {self.company!r} (BC_COMPANY); it "
                                   f"has: {names}")
        self.client.company_path = f"companies({found[0]['id']})"
        journals = self.client.get(f"{self.client.company_path}/customerPaymentJournals?$filter=code eq "
                                   f"{literal(self.payment_journal)}")["value"]
        self.journal_id = journals[0]["id"] if journals else None

    def run_label(self) -> str:
        return f"Business Central {self.book}"

    def post(self, requests):
        self._connect()
        return PostingMixin.post(self, requests)

    def resolve_references(self, documents) -> dict[str, str]:
        self._connect()
        return reference_problems(documents, self._references)

    def _references(self, document) -> str | None:
        """The customer (number = our customer number) and items (number = our item code), created when missing."""
        wanted = [("customers", document.customer_key, document.customer_name)]
        wanted += [("items", line.item_code, line.description or line.item_code) for line in document.lines]
        if document.tax_total and document.doc_type != "payment":
            wanted.append(("items", self.tax_item, "Sales tax (as billed at the source)"))
        for entity, number, name in wanted:
            if (entity, number) in self._known:
                continue
            found = self.client.get(f"{self.client.company_path}/{entity}?$filter=number eq {literal(number)}")["value"]
            if not found:
                if not self.auto_create:
                    return (f"{'Customer' if entity == 'customers' else 'Item'} {number} ({name}) is not in Business "
                            f"Central and BC_AUTO_CREATE is off; create it there, or turn that on")
                body = {"number": number, "displayName": name[:100]}
                if entity == "items":
                    body["type"] = "Service"
                try:
                    self.client.call("POST", f"{self.client.company_path}/{entity}", json=body)
                except BcError as error:
                    if error.code != "Internal_EntityWithSameKeyExists":
                        return refusal(error.code, error.message, error.call)[1]
            self._known.add((entity, number))
        return None

    # --- closing date, look-up --------------------------------------------------------------------

    def _setup(self) -> dict[str, Any]:
        self._connect()
        return self.client.get(f"{self.client.company_path}/generalLedgerSetup")["value"][0]

    def book_close_date(self) -> dt.date | None:
        start = self._setup().get("allowPostingFrom") or NO_DATE
        return None if start == NO_DATE else dt.date.fromisoformat(start) - dt.timedelta(days=1)

    def is_period_open(self, txn_date) -> bool:
        setup = self._setup()
        low, high = setup.get("allowPostingFrom") or NO_DATE, setup.get("allowPostingTo") or NO_DATE
        day = txn_date.isoformat()
        return (low == NO_DATE or day >= low) and (high == NO_DATE or day <= high)

    def find(self, doc_type: str, doc_number: str) -> Outcome | None:
        """The posted document with our number. BC keeps no content hash of ours: `after` says "not known", so
        an update in doubt is sent again, and post() compares before it writes."""
        self._connect()
        try:
            if doc_type == "payment":
                entries = self._payment_entries(doc_number)
                record = entries[0] if entries else None
            else:
                record = self._live(ENTITY[doc_type], doc_number)
        except (BcUnavailable, BcError):
            return None
        if record is None:
            return None
        return Outcome(Status.CREATED, dest_id=str(record["id"]),
                       dest_doc_number=str(record.get("number") or record.get("documentNumber") or ""),
                       version=str(record.get("@odata.etag") or ""), http_status=200,
                       after={**record, "content_hash": ""})

    # --- undo -------------------------------------------------------------------------------------

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        what = f"{LABEL.get(doc_type, doc_type)} id {dest_id} in Business Central"
        if doc_type == "payment":
            return by_hand("supports_void", self._payment_by_hand(None, "was cancelled at the source", dest_id))
        self._connect()
        path = f"{self.client.company_path}/{ENTITY[doc_type]}({dest_id})"
        try:
            current = self.client.get(path)
            if current["status"] in ("Canceled", "Corrective"):
                return Outcome(Status.VOIDED, dest_id=dest_id, before=current, after=current,
                               message=f"{what} ({current['number']}) is already canceled")
            if current["status"] == "Draft":
                self.client.call("DELETE", path, headers={"If-Match": current["@odata.etag"]})
                return Outcome(Status.VOIDED, dest_id=dest_id, before=current, message=f"{what}: the draft was deleted")
            self.client.call("POST", f"{path}/Microsoft.NAV.cancel")
            after = self.client.get(path)
            return Outcome(Status.VOIDED, dest_id=dest_id, dest_doc_number=str(current["number"]),
                           version=str(after.get("@odata.etag") or ""), http_status=204, before=current, after=after)
        except BcError as error:
            if error.code == "Internal_RecordNotFound":
                return Outcome(Status.VOIDED, dest_id=dest_id, message=f"{what} is already deleted")
            if OUTSIDE_RANGE in error.message:
                return Outcome(Status.HELD, dest_id=dest_id, error_code="posting_range",
                               message=f"{what}: its posting date is outside the allowed posting range; the cancel "
                                       f"waits until the range includes it")
            code, sentence = refusal(error.code, error.message, error.call)
            return Outcome(Status.FAILED, dest_id=dest_id, error_code=code, message=f"{what}: {sentence}")
        except BcUnavailable as failure:
            return Outcome(Status.RETRY, dest_id=dest_id, error_code="unavailable", http_status=failure.http_status,
                           message=f"{what}: {failure}; the cancel is asked again (it is recognised if done)")

    def restore(self, doc_type: str, dest_id: str, before: dict) -> Outcome:
        return self.by_hand_outcome("restores", "restore", doc_type, (before or {}).get("externalDocumentNumber") or "",
                                    previous=before)

    def by_hand_outcome(self, capability: str, action: str, doc_type: str, doc_number: str, document=None,
                        previous: dict | None = None) -> Outcome:
        if capability == "restores":
            return by_hand(capability, f"{LABEL.get(doc_type, doc_type)} {doc_number} was corrected in Business Central "
                                       f"by cancel and re-issue; putting the earlier version back is another correction: "
                                       f"cancel the current document there and enter the earlier one "
                                       f"({(previous or {}).get('number')}, total "
                                       f"{(previous or {}).get('totalAmountIncludingTax')}).")
        return by_hand(capability, f"{LABEL.get(doc_type, doc_type)} {doc_number}: Business Central cannot {action} it "
                                   f"through the bridge; do it there by hand.")

    # --- read back --------------------------------------------------------------------------------

    def read_back(self, since: dt.datetime | None = None) -> list[BooksDocument]:
        self._connect()
        after = "" if since is None else f" and lastModifiedDateTime ge {since:%Y-%m-%dT%H:%M:%S}Z"
        out = []
        for entity in ("salesInvoices", "salesCreditMemos"):
            for r in self.client.get(f"{self.client.company_path}/{entity}?$filter=status ne 'Draft'{after}")["value"]:
                out.append(BooksDocument(
                    doc_type=DOC_TYPE[entity], doc_number=r.get("externalDocumentNumber") or None, dest_id=str(r["id"]),
                    txn_date=dt.date.fromisoformat(r["postingDate"]), customer=r.get("customerName"),
                    total=decimal(r.get("totalAmountIncludingTax")), balance=decimal(r.get("remainingAmount")),
                    status="active" if r["status"] in LIVE else "voided", version=str(r.get("@odata.etag") or ""),
                    changed_at=bc_time(r.get("lastModifiedDateTime")), raw=r))
        entries: dict[str, list[dict]] = {}
        for e in self.client.get(f"{self.client.company_path}/generalLedgerEntries?$filter=documentType eq 'Payment'"
                                 f"{after}")["value"]:
            entries.setdefault(e.get("documentNumber") or e["id"], []).append(e)
        for number, group in entries.items():      # one payment: its journal lines' entries together
            first = group[0]
            out.append(BooksDocument(
                doc_type="payment", doc_number=first.get("documentNumber") or None, dest_id=str(first["id"]),
                txn_date=dt.date.fromisoformat(first["postingDate"]), customer=None,
                total=sum((decimal(e.get("creditAmount")) for e in group), decimal(0)), balance=None, status="active",
                version=str(first.get("@odata.etag") or ""),
                changed_at=max(filter(None, (bc_time(e.get("lastModifiedDateTime")) for e in group)), default=None),
                raw={"entries": group}))
        return out

    def books_view(self) -> NeutralBooks:
        return NeutralBooks(self.book, "Business Central", version_label="ETag")
