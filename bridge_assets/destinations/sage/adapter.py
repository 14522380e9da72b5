"""Sage Business Cloud Accounting (API v3.1, OAuth 2.0): every create carries Sage's `idempotency_id`.

Idempotency. Each create (invoice, credit note, receipt, allocation) carries the ledger's request id as
Sage's `idempotency_id` (32 hex characters): a create sent again after a lost answer gets the first
answer and makes nothing new. An allocation's id is derived from its credit note's, so a credit note
found again is never allocated twice. Look-up by number (`reference`, Sage numbers invoices itself) is
kept for `find` and for a credit or receipt created before a crash.

Sage takes each line's tax amount, so the source's tax goes as billed (with `SAGE_TAX_RATE` on taxed lines
and no-tax on the others), each line on the sales ledger account `SAGE_SALES_LEDGER_ACCOUNT`. A credit note
is allocated to the invoices it credits (`contact_allocations`), a receipt pays the invoices it names in
one Sage receipt into `SAGE_BANK_ACCOUNT`, the rest on account. Void is DELETE with a reason. Sage's
access tokens live five minutes and refresh tokens rotate on every use: the kit's token store saves each
new one before it is used. The closing date is read from Sage's year-end lockdown date.

Settings, read in `from_env` only: SAGE_CLIENT_ID, SAGE_CLIENT_SECRET, SAGE_REFRESH_TOKEN, SAGE_BUSINESS_ID,
SAGE_API_URL, SAGE_TOKEN_URL, SAGE_TOKEN_STORE, SAGE_SALES_LEDGER_ACCOUNT, SAGE_BANK_ACCOUNT, SAGE_TAX_RATE,
SAGE_AUTO_CREATE_CUSTOMERS, SAGE_TIME_SCALE.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, Mapping

import httpx

from bridge_assets.destinations.base import Action, BooksDocument, Capabilities, DestinationError, Outcome, by_hand
from bridge_assets.destinations.kit import cloud_oauth
from bridge_assets.destinations.kit.cloud import Held, Refused
from bridge_assets.destinations.kit.cloud_oauth import OAuthCloudDestination, settings_env
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.kit.oauth import OAuthError, OAuthProvider, ReconnectRequired
from bridge_assets.destinations.sage import payloads
from bridge_assets.model.document import AccountingDocument, money

API_URL, TOKEN_URL = "https://api.accounting.sage.com/v3.1", "https://oauth.accounting.sage.com/token"
PATHS = {"invoice": "sales_invoices", "credit_memo": "sales_credit_notes", "payment": "contact_payments"}
WRAP = {"invoice": "sales_invoice", "credit_memo": "sales_credit_note", "payment": "contact_payment"}


class SageAuthError(OAuthError, DestinationError):
    """Sage refuses the bridge's credentials; a person must fix the configuration."""


class SageReconnectRequired(ReconnectRequired, SageAuthError):
    """The refresh token is spent, expired (31 days unused) or revoked: connect again."""


def provider(token_url: str) -> OAuthProvider:
    return cloud_oauth.provider("Sage Accounting", "SAGE", token_url, client_auth="body", body_format="form",
                                access_lifetime_s=300.0, expiry_leeway_s=30.0,
                                app_console=" on developerselfservice.sageone.com", auth_error=SageAuthError,
                                reconnect_error=SageReconnectRequired)


class SageDestination(OAuthCloudDestination):
    name = "sage"
    platform = "Sage Accounting"
    version_label = "updated_at"

    def __init__(self, *, api_url: str, token_url: str, business_id: str, client_id: str, client_secret: str,
                 token_store: Path | str, refresh_token: str | None = None, sales_ledger_account: str = "Sales",
                 bank_account: str = "Checking", tax_rate: str = "US_SALES_TAX", auto_create_customers: bool = True,
                 time_scale: float = 1.0, timeout: float = 60.0, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__()
        if not client_id or not client_secret or not business_id:
            raise DestinationError("Sage Accounting needs SAGE_CLIENT_ID, SAGE_CLIENT_SECRET and SAGE_BUSINESS_ID")
        self.capabilities = Capabilities(supports_update=True, supports_void=True, honours_request_id=True,
                                         batch_size=10, reads_back=True, applies_credits=True,
                                         lock_date_readable=True)
        self.book, self.api_url = business_id, api_url.rstrip("/")
        self.ledger_account_name, self.bank_account_name, self.tax_rate = sales_ledger_account, bank_account, tax_rate
        self.auto_create_customers = auto_create_customers
        self.connect(provider(token_url), client_id=client_id, client_secret=client_secret,
                     token_store=token_store, refresh_token=refresh_token, timeout=timeout, transport=transport,
                     limits=Limits(requests_per_minute=100, requests_per_day=2500, time_scale=time_scale),
                     extra={"X-Business": business_id})
        self._contacts: dict[str, str] = {}
        self._accounts: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"SageDestination(business={self.book!r})"

    @classmethod
    def from_env(cls, settings: Any = None, environ: Mapping[str, str] | None = None) -> "SageDestination":
        env, tokens = settings_env(settings, environ, "Sage Accounting", "sage")
        env.require("SAGE_CLIENT_ID", "SAGE_CLIENT_SECRET", "SAGE_BUSINESS_ID",
                    where="the app's keys from developerselfservice.sageone.com and the business id (GET /businesses)")
        return cls(api_url=env.text("SAGE_API_URL", API_URL), token_url=env.text("SAGE_TOKEN_URL", TOKEN_URL),
                   business_id=env.text("SAGE_BUSINESS_ID"), client_id=env.text("SAGE_CLIENT_ID"),
                   client_secret=env.text("SAGE_CLIENT_SECRET"),
                   token_store=env.text("SAGE_TOKEN_STORE") or tokens,
                   refresh_token=env.text("SAGE_REFRESH_TOKEN"),
                   sales_ledger_account=env.text("SAGE_SALES_LEDGER_ACCOUNT", "Sales"),
                   bank_account=env.text("SAGE_BANK_ACCOUNT", "Checking"),
                   tax_rate=env.text("SAGE_TAX_RATE", "US_SALES_TAX"),
                   auto_create_customers=env.flag("SAGE_AUTO_CREATE_CUSTOMERS", True),
                   time_scale=env.number("SAGE_TIME_SCALE", 1.0))

    # --- the wire -----------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, body: Any = None, params: Mapping[str, Any] | None = None,
              missing_ok: bool = False) -> Any:
        response = self.http.send(method, f"{self.api_url}/{path}", json=body, params=params, auth=self.auth,
                                  what=f"{method} /{path.split('/')[0]}")
        if response.status_code == 401:
            raise SageAuthError("Sage Accounting refused the bridge's access token twice; reconnect the bridge and set "
                                "SAGE_REFRESH_TOKEN")
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code == 204:
            return {}
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code >= 400:
            raise payloads.refusal(response.status_code, answer)
        return answer

    def _list(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            answer = self._call("GET", path, params={**params, "attributes": "all", "items_per_page": 200, "page": page})
            yield from answer.get("$items") or []
            if not answer.get("$next"):          # a page past the end answers the last page again: follow $next
                return
            page += 1

    def platform_lock_date(self) -> dt.date | None:
        day = (self._call("GET", "financial_settings") or {}).get("year_end_lockdown_date")
        return dt.date.fromisoformat(day) if day else None

    # --- references ---------------------------------------------------------------------------------

    def customer_id(self, document: AccountingDocument) -> str:
        name = document.customer_name
        if name not in self._contacts:
            found = next((c for c in self._list("contacts", {"search": name, "contact_type_id": "CUSTOMER"})
                          if c.get("name") == name), None)
            if found is None:
                if not self.auto_create_customers:
                    raise Refused(f"customer '{name}' is not in Sage Accounting and SAGE_AUTO_CREATE_CUSTOMERS is off; "
                                  f"add the contact in Sage or turn auto-create on")
                found = self._call("POST", "contacts", body={"contact": {
                    "name": name, "contact_type_ids": ["CUSTOMER"],
                    "idempotency_id": payloads.idempotency_id(document.customer_key, f"contact|{name}")}})
            self._contacts[name] = found["id"]
        return self._contacts[name]

    def _account(self, path: str, name: str, setting: str) -> str:
        if path not in self._accounts:
            found = next((a for a in self._list(path, {}) if a.get("name") == name or a.get("displayed_as") == name), None)
            if found is None:
                raise Refused(f"Sage has no {path.replace('_', ' ')[:-1]} named '{name}'; set {setting} to one it has")
            self._accounts[path] = found["id"]
        return self._accounts[path]

    # --- documents --------------------------------------------------------------------------------------

    def held(self, doc_type: str, wire: dict[str, Any]) -> Held:
        changed = wire.get("updated_at")
        if doc_type == "payment":
            return Held("payment", wire["id"], wire.get("reference"), Decimal(str(wire["total_amount"])),
                        wire["contact"]["displayed_as"], dt.date.fromisoformat(wire["date"]), "active", changed,
                        payloads.payment_body(wire), raw=wire)
        status = "voided" if (wire.get("status") or {}).get("id") == "VOID" else "active"
        return Held(doc_type, wire["id"], wire.get("reference"), Decimal(str(wire["total_amount"])),
                    wire["contact"]["displayed_as"], dt.date.fromisoformat(wire["date"]), status, changed,
                    payloads.document_body(doc_type, wire), raw=wire)

    def lookup(self, doc_type: str, number: str) -> Held | None:
        found = next((w for w in self._list(PATHS[doc_type], {"search": number}) if w.get("reference") == number), None)
        return None if found is None else self.held(doc_type, found)

    def looks_up(self, doc_type: str) -> bool:
        return False                            # every create carries its idempotency_id

    def read(self, doc_type: str, dest_id: str) -> Held | None:
        wire = self._call("GET", f"{PATHS[doc_type]}/{dest_id}", missing_ok=True)
        return None if wire is None else self.held(doc_type, wire)

    def body_for(self, document: AccountingDocument) -> dict:
        if document.doc_type == "payment":
            artefacts = [{"artefact_id": self._invoice(a.doc_number).dest_id, "amount": f"{money(a.amount):.2f}"}
                         for a in document.applies_to]
            if not artefacts:
                raise Refused("it names no invoice the bridge posted; enter it in Sage by hand")
            contact = self._invoice(document.applies_to[0].doc_number).raw["contact"]["id"]
            return {"contact_id": contact, "date": document.txn_date.isoformat(), "reference": document.doc_number,
                    "total_amount": f"{money(document.total):.2f}", "allocated_artefacts": artefacts}
        ledger = self._account("ledger_accounts", self.ledger_account_name, "SAGE_SALES_LEDGER_ACCOUNT")
        return payloads.body(document, self.customer_id(document), ledger, self.tax_rate)

    def _invoice(self, number: str) -> Held:
        found = self.lookup("invoice", number)
        if found is None or found.status != "active":
            raise Refused(f"invoice {number}, which it applies to, is not in Sage (or is void); post it first",
                          code="invoice_missing")
        return found

    def refuses(self, action: Action, document: AccountingDocument) -> Outcome | None:
        if document.doc_type == "payment" and action is Action.UPDATE:
            return by_hand("supports_update", f"Payment {document.doc_number} ({document.customer_name}, "
                                              f"{document.total}) changed in the source after it was posted; Sage's "
                                              f"receipts are not rewritten by the bridge: edit it in Sage by hand")
        return None

    def create(self, document: AccountingDocument, body: dict, request_id: str) -> Held:
        doc_type = document.doc_type
        fields = {**body, "idempotency_id": payloads.idempotency_id(request_id)}
        if doc_type == "payment":
            fields.update(transaction_type_id="CUSTOMER_RECEIPT",
                          bank_account_id=self._account("bank_accounts", self.bank_account_name, "SAGE_BANK_ACCOUNT"))
        return self.held(doc_type, self._call("POST", PATHS[doc_type], body={WRAP[doc_type]: fields}))

    def update(self, current: Held, body: dict) -> Held:
        return self.held(current.doc_type, self._call("PUT", f"{PATHS[current.doc_type]}/{current.dest_id}",
                                                      body={WRAP[current.doc_type]: body}))

    def settle(self, held: Held, document: AccountingDocument | None) -> Held:
        """A credit note is allocated to the invoices it credits, once (its allocation's id derives from its own)."""
        if held.doc_type != "credit_memo" or document is None or not document.applies_to or held.status != "active":
            return held
        if Decimal(str(held.raw["outstanding_amount"])) != held.total:
            return held                                               # allocated already
        artefacts = []
        for application in document.applies_to:
            artefacts += [{"artefact_id": self._invoice(application.doc_number).dest_id,
                           "amount": f"{money(application.amount):.2f}"},
                          {"artefact_id": held.dest_id, "amount": f"{-money(application.amount):.2f}"}]
        self._call("POST", "contact_allocations", body={"contact_allocation": {
            "transaction_type_id": "CUSTOMER_ALLOCATION", "contact_id": held.raw["contact"]["id"],
            "date": held.txn_date.isoformat(), "allocated_artefacts": artefacts,
            "idempotency_id": payloads.idempotency_id(held.dest_id, "allocation")}})
        return self.read("credit_memo", held.dest_id)

    def remove(self, held: Held) -> None:
        if held.doc_type == "payment":
            self._call("DELETE", f"contact_payments/{held.dest_id}")
            return
        if held.doc_type == "credit_memo":
            for allocation in self._list("contact_allocations", {"contact_id": held.raw["contact"]["id"]}):
                if any(a["artefact"]["id"] == held.dest_id for a in allocation.get("allocated_artefacts") or []):
                    self._call("DELETE", f"contact_allocations/{allocation['id']}")
        self._call("DELETE", f"{PATHS[held.doc_type]}/{held.dest_id}",
                   params={"void_reason": "Cancelled at the source (invoice bridge)"})

    # --- reading back ---------------------------------------------------------------------------------

    def books(self, since: dt.datetime | None) -> list[BooksDocument]:
        params = {"updated_or_created_since": since.replace(microsecond=0).isoformat() + "+00:00"} if since else {}
        found = []
        for doc_type in ("invoice", "credit_memo", "payment"):
            for wire in self._list(PATHS[doc_type], params):
                held = self.held(doc_type, wire)
                balance = Decimal(str(wire["outstanding_amount"])) if "outstanding_amount" in wire else None
                found.append(BooksDocument(doc_type, held.number, held.dest_id, held.txn_date, held.customer,
                                           money(held.total), balance, held.status, held.version,
                                           payloads.changed_at(wire), raw=wire))
        return found

    def raw_total_and_customer(self, raw: dict):
        total = raw.get("total_amount")
        return (Decimal(str(total)) if total is not None else None), (raw.get("contact") or {}).get("displayed_as")
