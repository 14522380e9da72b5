"""SAP Business One (Service Layer b1s/v1): the destination behind sessions, where documents post on add.

- a session (`B1SESSION`) from `Login`, renewed when it times out, ended when the adapter closes (client.py);
- no draft and no idempotency key: every write is preceded by a look-up by our number (`NumAtCard`, a
  payment's `CounterReference`), and a write is sent again only when the Service Layer provably never took it;
- a posted document is corrected by `Cancel` and a re-issue, voided by `Cancel` (posting.py);
- the posting periods (`FinancePeriods`) are the closing date: a period not `ltUnlocked` holds its documents.

Settings are read in one place, `from_env` (README, "SAP Business One").
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

import httpx

from bridge_assets.destinations.base import (
    BooksDocument, Capabilities, DestinationError, NeutralBooks, Outcome, Status, by_hand,
)
from bridge_assets.destinations.kit.erp import ErpDestination, ErpEnvironment, reference_problems
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.sap_business_one.client import B1Client, B1Error, B1LoginRefused, B1Unavailable
from bridge_assets.destinations.sap_business_one.posting import (
    APPLY_PREFIX, ENTITY, LABEL, LOCKED, PostingMixin, decimal, literal,
)

BATCH_SIZE = 20
CLOSED = ("ltLocked", "ltUnlockedExceptSales", "ltPeriodClosing")


class SapBusinessOneDestination(PostingMixin, ErpDestination):
    name = "sap_business_one"

    def __init__(self, *, service_url: str, company_db: str, user: str, password: str,
                 transfer_account: str = "_SYS00000000001", tax_item: str = "SALES-TAX", limits: Limits = Limits(),
                 timeout: httpx.Timeout | float = 60.0, transport: httpx.BaseTransport | None = None) -> None:
        if not (service_url and company_db and user and password):
            raise DestinationError("SAP Business One needs SAPB1_URL, SAPB1_COMPANY_DB, SAPB1_USERNAME and SAPB1_PASSWORD")
        self.client = B1Client(service_url, company_db, user, password, limits=limits, timeout=timeout,
                               transport=transport)
        self.book = f"{service_url.rstrip('/')}#{company_db}"
        self.transfer_account, self.tax_item = transfer_account, tax_item
        self.capabilities = Capabilities(supports_update=True, supports_void=True, honours_request_id=False,
                                         batch_size=BATCH_SIZE, reads_back=True, restores=False, applies_credits=True,
                                         lock_date_readable=True)
        self._known: set[tuple[str, str]] = set()
        self._written = 0

    def __repr__(self) -> str:
        return f"SapBusinessOneDestination(book={self.book!r})"

    @classmethod
    def from_env(cls, settings: Any = None, environ: Mapping[str, str] | None = None) -> "SapBusinessOneDestination":
        env = ErpEnvironment("SAP Business One", environ)
        env.require("SAPB1_URL", "SAPB1_COMPANY_DB", "SAPB1_USERNAME", "SAPB1_PASSWORD")
        text = env.text
        return cls(service_url=text("SAPB1_URL"), company_db=text("SAPB1_COMPANY_DB"), user=text("SAPB1_USERNAME"),
                   password=text("SAPB1_PASSWORD"), transfer_account=text("SAPB1_TRANSFER_ACCOUNT", "_SYS00000000001"),
                   tax_item=text("SAPB1_TAX_ITEM", "SALES-TAX"))

    def run_label(self) -> str:
        return f"SAP Business One {self.book}"

    # --- references -------------------------------------------------------------------------------

    def resolve_references(self, documents) -> dict[str, str]:
        return reference_problems(
            documents, self._references, B1Error,
            lambda error: f"SAP Business One refused its customer or items ({error.code} {error.value})")

    def _references(self, document) -> str | None:
        wanted = [("BusinessPartners", {"CardCode": document.customer_key, "CardName": document.customer_name[:100],
                                        "CardType": "cCustomer"})]
        wanted += [("Items", {"ItemCode": l.item_code, "ItemName": (l.description or l.item_code)[:100],
                              "SalesItem": "tYES", "InventoryItem": "tNO"}) for l in document.lines]
        if document.tax_total and document.doc_type != "payment":
            wanted.append(("Items", {"ItemCode": self.tax_item, "ItemName": "Sales tax (as billed)", "SalesItem": "tYES",
                                     "InventoryItem": "tNO"}))
        for entity, body in wanted:
            key = body["CardCode"] if entity == "BusinessPartners" else body["ItemCode"]
            if (entity, key) in self._known:
                continue
            if self.client.call("GET", f"{entity}({literal(key)})", missing_ok=True) is None:
                try:
                    self.client.call("POST", entity, json=body)
                except B1Error as error:
                    if error.code != -2035:          # made meanwhile (an earlier attempt): fine
                        raise
            self._known.add((entity, key))
        return None

    # --- closing date, look-up --------------------------------------------------------------------

    def book_close_date(self) -> dt.date | None:
        try:
            periods = self.client.rows("FinancePeriods")
        except B1LoginRefused:
            raise
        ends = [p["PostingDateTo"][:10] for p in periods if p["PeriodStatus"] in CLOSED]
        return dt.date.fromisoformat(max(ends)) if ends else None

    def is_period_open(self, txn_date) -> bool:
        close = self.book_close_date()
        return close is None or txn_date > close

    def find(self, doc_type: str, doc_number: str) -> Outcome | None:
        """The live document with our number. No content hash of ours is kept there: `after` says "not known",
        and a credit memo not yet applied is left to post() (which applies it)."""
        try:
            found = self._live(ENTITY[doc_type], doc_number)
        except (B1Error, B1Unavailable):
            return None
        if not found:
            return None
        record = found[-1]
        if doc_type == "credit_memo" and decimal(record.get("PaidToDate")) == 0:
            return None
        return Outcome(Status.CREATED, dest_id=str(record["DocEntry"]), dest_doc_number=str(record["DocNum"]),
                       version=f"{record.get('UpdateDate')} {record.get('UpdateTime')}", http_status=200,
                       after={**record, "content_hash": ""})

    # --- undo -------------------------------------------------------------------------------------

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        entity, what = ENTITY[doc_type], f"{LABEL[doc_type]} DocEntry {dest_id} in SAP Business One"
        try:
            current = self.client.call("GET", f"{entity}({int(dest_id)})", missing_ok=True)
            if current is None:
                return Outcome(Status.VOIDED, dest_id=dest_id, message=f"{what} does not exist any more")
            if current["Cancelled"] == "tYES":
                return Outcome(Status.VOIDED, dest_id=dest_id, before=current, after=current,
                               message=f"{what} (DocNum {current['DocNum']}) is already cancelled")
            self._unapply(entity, current)
            self.client.call("POST", f"{entity}({int(dest_id)})/Cancel")
            after = self.client.call("GET", f"{entity}({int(dest_id)})")
            return Outcome(Status.VOIDED, dest_id=dest_id, dest_doc_number=str(current["DocNum"]),
                           version=f"{after.get('UpdateDate')} {after.get('UpdateTime')}", before=current, after=after)
        except B1Error as error:
            if error.code == LOCKED:
                return Outcome(Status.HELD, dest_id=dest_id, error_code="period_locked",
                               message=f"{what}: its posting period is locked; the cancel waits until it is unlocked")
            return Outcome(Status.FAILED, dest_id=dest_id, error_code=str(error.code),
                           message=f"{what}: SAP Business One refused the cancel: {error.value} ({error.code})")
        except B1Unavailable as failure:
            return Outcome(Status.RETRY, dest_id=dest_id, error_code="unavailable", http_status=failure.http_status,
                           message=f"{what}: {failure}; the cancel is asked again (it is recognised if done)")

    def restore(self, doc_type: str, dest_id: str, before: dict) -> Outcome:
        return self.by_hand_outcome("restores", "restore", doc_type, (before or {}).get("NumAtCard") or dest_id,
                                    previous=before)

    def by_hand_outcome(self, capability: str, action: str, doc_type: str, doc_number: str, document=None,
                        previous: dict | None = None) -> Outcome:
        if capability == "restores":
            return by_hand(capability, f"{LABEL.get(doc_type, doc_type)} {doc_number} was corrected in SAP Business One "
                                       f"by cancel and re-issue; to put the earlier version back, cancel the current "
                                       f"document there and enter the earlier one again (DocNum "
                                       f"{(previous or {}).get('DocNum')}, total {(previous or {}).get('DocTotal')}).")
        return by_hand(capability, f"{LABEL.get(doc_type, doc_type)} {doc_number}: SAP Business One cannot {action} it "
                                   f"through the bridge; do it there by hand.")

    # --- read back --------------------------------------------------------------------------------

    def read_back(self, since: dt.datetime | None = None) -> list[BooksDocument]:
        query = None if since is None else f"UpdateDate ge {literal(since.date().isoformat())}"
        out = []
        for doc_type, entity in ENTITY.items():
            for r in self.client.rows(entity, query):
                changed = dt.datetime.fromisoformat(f"{str(r['UpdateDate'])[:10]}T{r.get('UpdateTime') or '00:00:00'}")
                if since is not None and changed < since:
                    continue
                if entity == "IncomingPayments" and str(r.get("CounterReference") or "").startswith(APPLY_PREFIX):
                    continue              # a credit note's application, part of that credit note
                cancelled = r["Cancelled"] == "tYES" or r.get("CancelStatus") == "csCancellation"
                number = r.get("CounterReference") if entity == "IncomingPayments" else r.get("NumAtCard")
                total = r.get("TransferSum", 0) + r.get("CashSum", 0) if entity == "IncomingPayments" else r["DocTotal"]
                out.append(BooksDocument(
                    doc_type=doc_type, doc_number=str(number) if number else None, dest_id=str(r["DocEntry"]),
                    txn_date=dt.date.fromisoformat(str(r["DocDate"])[:10]), customer=r.get("CardName"),
                    total=decimal(total), balance=None if entity == "IncomingPayments" else
                    decimal(r["DocTotal"]) - decimal(r["PaidToDate"]), status="voided" if cancelled else "active",
                    version=f"{r.get('UpdateDate')} {r.get('UpdateTime')}", changed_at=changed, raw=r))
        return out

    def books_view(self) -> NeutralBooks:
        return NeutralBooks(self.book, "SAP Business One", version_label="UpdateDate/UpdateTime")
