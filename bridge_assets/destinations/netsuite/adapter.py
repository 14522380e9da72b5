"""Oracle NetSuite (SuiteTalk REST, OAuth 2.0): the destination whose idempotency is the external id.

- every record the bridge writes is a `PUT /record/v1/<type>/eid:<externalId>` upsert (externalId from our key):
  a create sent again after a lost answer or a killed run lands on the same record, so NetSuite honours the
  request's identity (`honours_request_id`): the ledger simply sends it again;
- NetSuite posts transactions on save and lets them be changed while their period is open: an update is the
  same upsert with the new content (lines replaced), the state before kept in the ledger's event; revert puts
  that state back with a PATCH;
- a void credits the invoice in full (the `!transform/creditMemo` of the invoice, externalId `void-...`); a
  credit memo or payment the bridge made is deleted;
- closed accounting periods are the closing date: documents dated in one are held, posted once reopened.

Settings are read in one place, `from_env` (README, "NetSuite").
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Mapping

import httpx

from bridge_assets.destinations.base import (
    Action, BooksDocument, NeutralBooks, Capabilities, DestinationError, Outcome, PostRequest, Status,
)
from bridge_assets.destinations.kit.erp import (
    ErpDestination, ErpEnvironment, document_label, not_sent, reference_problems,
)
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.kit.oauth import OAuthSession, TokenStore
from bridge_assets.destinations.netsuite.client import NetSuiteAuthError, NsClient, NsError, NsUnavailable, netsuite_provider
from bridge_assets.destinations.netsuite.payloads import (
    CLOSED_TEXT, DOC_TYPE, LABEL, RECORD, VOID_PREFIX, decimal, differences, external_id, ns_time, restore_body,
    transaction_body,
)

BATCH_SIZE = 20


def account_host(account: str) -> str:
    """NetSuite's host for an account id: lowercase, `_` -> `-` (3898579_SB1 -> 3898579-sb1)."""
    return f"https://{account.lower().replace('_', '-')}.suitetalk.api.netsuite.com"


class NetSuiteDestination(ErpDestination):
    name = "netsuite"

    def __init__(self, *, account: str, client_id: str, client_secret: str, token_store: Path | str,
                 refresh_token: str | None = None, base_url: str | None = None, token_url: str | None = None,
                 tax_item: str = "SALES-TAX", limits: Limits = Limits(concurrent_requests=5),
                 timeout: httpx.Timeout | float = 60.0, transport: httpx.BaseTransport | None = None) -> None:
        if not (account and client_id and client_secret):
            raise DestinationError("NetSuite needs NETSUITE_ACCOUNT, NETSUITE_CLIENT_ID and NETSUITE_CLIENT_SECRET")
        base = (base_url or account_host(account)).rstrip("/")
        provider = netsuite_provider(token_url or f"{base}/services/rest/auth/oauth2/v1/token")
        store = TokenStore(token_store, provider)
        if refresh_token:
            store.seed(refresh_token)
        session = OAuthSession(store, provider, client_id, client_secret, timeout=timeout, transport=transport)
        self.client = NsClient(base, session, limits=limits, timeout=timeout, transport=transport)
        self.account, self.book, self.tax_item = account, f"netsuite:{account}", tax_item
        self.capabilities = Capabilities(supports_update=True, supports_void=True, honours_request_id=True,
                                         batch_size=BATCH_SIZE, reads_back=True, restores=True, applies_credits=True,
                                         lock_date_readable=True)
        self._known: set[tuple[str, str]] = set()
        self._written = 0

    def __repr__(self) -> str:
        return f"NetSuiteDestination(account={self.account!r})"

    @classmethod
    def from_env(cls, settings: Any = None, environ: Mapping[str, str] | None = None) -> "NetSuiteDestination":
        env = ErpEnvironment("NetSuite", environ)
        env.require("NETSUITE_ACCOUNT", "NETSUITE_CLIENT_ID", "NETSUITE_CLIENT_SECRET")
        text = env.text
        home = Path(getattr(settings, "home", None) or text("BRIDGE_HOME", "var")).absolute()
        scale = env.number("NETSUITE_TIME_SCALE", 1.0)
        return cls(account=text("NETSUITE_ACCOUNT"), client_id=text("NETSUITE_CLIENT_ID"),
                   client_secret=text("NETSUITE_CLIENT_SECRET"),
                   token_store=text("NETSUITE_TOKEN_STORE") or home / "secrets" / "netsuite_tokens.json",
                   refresh_token=text("NETSUITE_REFRESH_TOKEN"), base_url=text("NETSUITE_BASE_URL"),
                   token_url=text("NETSUITE_TOKEN_URL"), tax_item=text("NETSUITE_TAX_ITEM", "SALES-TAX"),
                   limits=Limits(concurrent_requests=5, time_scale=scale))

    def run_label(self) -> str:
        return f"NetSuite account {self.account}"

    # --- references -------------------------------------------------------------------------------

    def resolve_references(self, documents) -> dict[str, str]:
        return reference_problems(documents, self._references, NsError,
                                  lambda error: f"NetSuite refused its customer or items ({error.code} {error.detail})")

    def _references(self, document) -> None:
        wanted = [("customer", document.customer_key, {"companyName": document.customer_name[:83],
                                                       "entityId": document.customer_key})]
        wanted += [("serviceSaleItem", l.item_code, {"itemId": l.item_code, "displayName": l.description or l.item_code})
                   for l in document.lines]
        if document.tax_total and document.doc_type != "payment":
            wanted.append(("serviceSaleItem", self.tax_item, {"itemId": self.tax_item, "displayName": "Sales tax"}))
        for kind, key, body in wanted:
            if (kind, key) in self._known:
                continue
            if self.client.record(kind, f"eid:{external_id(key)}") is None:    # created once, never renamed
                self.client.call("PUT", f"/{kind}/eid:{external_id(key)}", json=body)
            self._known.add((kind, key))

    # --- post -------------------------------------------------------------------------------------

    def _post_one(self, request: PostRequest) -> Outcome:
        document = request.document
        label = document_label(document, LABEL)
        kind, eid = RECORD.get(document.doc_type), f"eid:{external_id(document.doc_key)}"
        if kind is None or Action(request.action) not in (Action.CREATE, Action.UPDATE):
            return not_sent(request, label, "NetSuite")
        try:
            self._references(document)
            applications = self._applications(document, label)
            if isinstance(applications, Outcome):
                return applications
            body = transaction_body(document, self.tax_item, applications)
            before = self.client.record(kind, eid)
            if before is not None and not differences(body, before):
                status = Status.UPDATED if request.action == Action.UPDATE else Status.CREATED
                return self._outcome(status, before, before if status is Status.UPDATED else None,
                                     f"{label}: NetSuite already holds this version, so nothing was sent")
            replace = "item" if kind != "customerPayment" else "apply"
            self.client.call("PUT", f"/{kind}/{eid}", json=body,
                             params={"replace": replace + (",apply" if kind == "creditMemo" else "")})
            after = self.client.record(kind, eid)
            status = Status.CREATED if before is None else Status.UPDATED
            return self._outcome(status, after, before)
        except NetSuiteAuthError:
            raise
        except NsError as error:
            if CLOSED_TEXT in error.detail and "closed" in error.detail:
                close = self.book_close_date()
                return Outcome(Status.HELD, error_code="period_closed",
                               message=f"{label}: dated {document.txn_date:%m/%d/%Y}, in a closed NetSuite accounting "
                                       f"period{f' (closed through {close:%m/%d/%Y})' if close else ''}; it is held and "
                                       f"posts once the period is reopened")
            return Outcome(Status.FAILED, error_code=error.code, http_status=error.status,
                           message=f"{label}: NetSuite refused {error.call}: {error.detail} ({error.code}).")
        except NsUnavailable as failure:
            return Outcome(Status.RETRY, error_code="unavailable", http_status=failure.http_status,
                           message=f"{label}: {failure}; it is sent again on the next run, to the same external id, "
                                   f"so it cannot be doubled")

    def _applications(self, document, label: str) -> list[dict] | Outcome:
        out = []
        for application in document.applies_to:
            invoice = self.client.record("invoice", f"eid:{external_id(application.doc_key)}")
            if invoice is None:
                return Outcome(Status.FAILED, error_code="invoice_not_posted",
                               message=f"{label}: it applies to invoice {application.doc_number}, which is not in "
                                       f"NetSuite yet; it is tried again on the next run")
            out.append({"doc": {"id": str(invoice["id"])}, "apply": True, "amount": float(application.amount)})
        return out

    def _outcome(self, status: Status, record: dict, before: dict | None, note: str | None = None) -> Outcome:
        return Outcome(status, dest_id=str(record["id"]), dest_doc_number=str(record.get("tranId") or ""),
                       version=str(record.get("lastModifiedDate") or ""), http_status=204, message=note,
                       before=before if status is Status.UPDATED else None, after=record)

    # --- look-up, closing date --------------------------------------------------------------------

    def find(self, doc_type: str, doc_number: str) -> Outcome | None:
        kind = RECORD[doc_type]
        ids = self.client.ids(kind, f'tranId IS "{doc_number}"')
        records = [r for r in (self.client.record(kind, i) for i in ids)
                   if r and not str(r.get("externalId") or "").startswith(VOID_PREFIX)]
        return self._outcome(Status.CREATED, records[-1], None) if records else None

    def book_close_date(self) -> dt.date | None:
        ends = [self.client.record("accountingPeriod", i)["endDate"] for i in self.client.ids("accountingPeriod",
                                                                                              'closed IS "true"')]
        return dt.date.fromisoformat(max(ends)) if ends else None

    def is_period_open(self, txn_date) -> bool:
        close = self.book_close_date()
        return close is None or txn_date > close

    # --- undo -------------------------------------------------------------------------------------

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        kind, what = RECORD[doc_type], f"{LABEL[doc_type]} id {dest_id} in NetSuite"
        try:
            current = self.client.record(kind, dest_id)
            if current is None:
                return Outcome(Status.VOIDED, dest_id=dest_id, message=f"{what} is already deleted")
            if kind != "invoice":
                self.client.call("DELETE", f"/{kind}/{dest_id}")
                return Outcome(Status.VOIDED, dest_id=dest_id, dest_doc_number=current.get("tranId"), before=current)
            void_eid = f"eid:{VOID_PREFIX}{current.get('externalId') or dest_id}"
            credit = self.client.record("creditMemo", void_eid)
            if credit is None:
                try:
                    self.client.call("POST", f"/invoice/{dest_id}/!transform/creditMemo",
                                     json={"externalId": void_eid[4:], "memo": f"Void of invoice {current.get('tranId')}"})
                except NsError as error:
                    if error.code != "DUP_RCRD":        # an earlier attempt made it
                        raise
                credit = self.client.record("creditMemo", void_eid)
                note = None
            else:
                note = f"{what} ({current.get('tranId')}) is already credited in full"
            return Outcome(Status.VOIDED, dest_id=dest_id, dest_doc_number=current.get("tranId"),
                           version=str((credit or {}).get("lastModifiedDate") or ""), before=current,
                           after={"credit_memo": credit}, message=note)
        except NsError as error:
            if "closed" in error.detail:
                return Outcome(Status.HELD, dest_id=dest_id, error_code="period_closed",
                               message=f"{what}: its period is closed in NetSuite; the void waits until it is reopened")
            return Outcome(Status.FAILED, dest_id=dest_id, error_code=error.code,
                           message=f"{what}: NetSuite refused the void: {error.detail} ({error.code})")
        except NsUnavailable as failure:
            return Outcome(Status.RETRY, dest_id=dest_id, error_code="unavailable", http_status=failure.http_status,
                           message=f"{what}: {failure}; the void is asked again (it is recognised if done)")

    def restore(self, doc_type: str, dest_id: str, before: dict) -> Outcome:
        kind, what = RECORD[doc_type], f"{LABEL[doc_type]} id {dest_id} in NetSuite"
        try:
            current = self.client.record(kind, dest_id)
            if current is None:
                return Outcome(Status.FAILED, dest_id=dest_id, error_code="deleted",
                               message=f"{what} was deleted, so it cannot be restored; re-enter it from the ledger")
            body = restore_body(before)
            if not differences({**body, "tranDate": str(body["tranDate"])}, current):
                return self._outcome(Status.UPDATED, current, current, f"{what} already holds the state it is restored to")
            self.client.call("PATCH", f"/{kind}/{dest_id}", json=body, params={"replace": "item"} if "item" in body else None)
            return self._outcome(Status.UPDATED, self.client.record(kind, dest_id), current)
        except NsError as error:
            return Outcome(Status.FAILED, dest_id=dest_id, error_code=error.code,
                           message=f"{what}: NetSuite refused the restore: {error.detail} ({error.code})")
        except NsUnavailable as failure:
            return Outcome(Status.RETRY, dest_id=dest_id, error_code="unavailable",
                           message=f"{what}: {failure}; try the restore again")

    # --- read back --------------------------------------------------------------------------------

    def read_back(self, since: dt.datetime | None = None) -> list[BooksDocument]:
        q = None if since is None else f'lastModifiedDate ON_OR_AFTER "{since:%Y-%m-%dT%H:%M:%S}Z"'
        records = {kind: [r for r in (self.client.record(kind, i) for i in self.client.ids(kind, q)) if r]
                   for kind in RECORD.values()}
        voided = {str((c.get("createdFrom") or {}).get("id")) for c in records["creditMemo"]
                  if str(c.get("externalId") or "").startswith(VOID_PREFIX)}
        if since is not None:       # a void credit made now may credit an invoice unchanged since
            voided |= {str((c.get("createdFrom") or {}).get("id")) for c in
                       (self.client.record("creditMemo", i) for i in self.client.ids("creditMemo")) if c
                       and str(c.get("externalId") or "").startswith(VOID_PREFIX)}
        out = []
        for kind, found in records.items():
            for r in found:
                void_note = str(r.get("externalId") or "").startswith(VOID_PREFIX)
                out.append(BooksDocument(
                    doc_type=DOC_TYPE[kind], doc_number=str(r.get("tranId")) if r.get("tranId") else None,
                    dest_id=str(r["id"]), txn_date=dt.date.fromisoformat(r["tranDate"]),
                    customer=(r.get("entity") or r.get("customer") or {}).get("refName"), total=decimal(r.get("total")),
                    balance=decimal(r.get("amountRemaining", r.get("unapplied"))),
                    status="voided" if void_note or (kind == "invoice" and str(r["id"]) in voided) else "active",
                    version=str(r.get("lastModifiedDate") or ""), changed_at=ns_time(r.get("lastModifiedDate")), raw=r))
        return out

    def books_view(self) -> NeutralBooks:
        return NeutralBooks(self.book, "NetSuite", version_label="lastModifiedDate")
