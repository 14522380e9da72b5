"""FreeAgent (API v2, OAuth 2.0): look-up by reference before every create, drafts edited and sent again.

FreeAgent has no idempotency key and no reference filter: a create is preceded by a look-up through the
list, newest first (kit/cloud.py). Invoices are created as drafts and marked sent; a sent invoice's items
are locked, so an update marks it draft, edits it and marks it sent again (refused by FreeAgent once it is
paid: the sentence says so). A cancellation is `mark_as_cancelled` (a draft is deleted). Tax is a
percentage per line: the one with at most 3 decimals that gives the source's amount, or the document is
refused. A payment is a bank transaction explanation paying ONE invoice into `FREEAGENT_BANK_ACCOUNT`,
found again by its description "Bridge payment <number>"; a payment of several invoices is left to a
person (`by_hand`). Credit notes are posted, not netted against their invoice (FreeAgent nets them by
explaining a bank transaction; the outcome says to allocate it by hand). FreeAgent has no lock-date
endpoint: the closing date is the bridge's own (BRIDGE_BOOKS_CLOSED_THROUGH), and a document FreeAgent
answers "is locked." (a filed period) is held. Every call carries a User-Agent.

Settings, read in `from_env` only: FREEAGENT_CLIENT_ID, FREEAGENT_CLIENT_SECRET, FREEAGENT_REFRESH_TOKEN,
FREEAGENT_API_URL, FREEAGENT_TOKEN_STORE, FREEAGENT_BANK_ACCOUNT, FREEAGENT_COMPANY (how reports name the
books: the token speaks for one company, FreeAgent has no tenant id), FREEAGENT_AUTO_CREATE_CUSTOMERS,
FREEAGENT_TIME_SCALE.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, Mapping

import httpx

from bridge_assets.destinations.base import Action, BooksDocument, Capabilities, DestinationError, Outcome, by_hand
from bridge_assets.destinations.freeagent import payloads
from bridge_assets.destinations.kit import cloud_oauth
from bridge_assets.destinations.kit.cloud import Held, Refused
from bridge_assets.destinations.kit.cloud_oauth import OAuthCloudDestination, settings_env
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.kit.oauth import OAuthError, OAuthProvider, ReconnectRequired
from bridge_assets.model.document import AccountingDocument, money

API_URL = "https://api.freeagent.com/v2"
USER_AGENT = "invoice-bridge (FreeAgent destination)"
PATHS = {"invoice": "invoices", "credit_memo": "credit_notes", "payment": "bank_transaction_explanations"}
WRAP = {"invoice": "invoice", "credit_memo": "credit_note", "payment": "bank_transaction_explanation"}


class FreeAgentAuthError(OAuthError, DestinationError):
    """FreeAgent refuses the bridge's credentials; a person must fix the configuration."""


class FreeAgentReconnectRequired(ReconnectRequired, FreeAgentAuthError):
    """The refresh token is spent, expired or revoked: connect again."""


def provider(api_url: str) -> OAuthProvider:
    return cloud_oauth.provider("FreeAgent", "FREEAGENT", f"{api_url.rstrip('/')}/token_endpoint", client_auth="basic",
                                body_format="form", access_lifetime_s=3600.0,
                                refresh_lifetime_field="refresh_token_expires_in", app_console=" on dev.freeagent.com",
                                auth_error=FreeAgentAuthError, reconnect_error=FreeAgentReconnectRequired)


class FreeAgentDestination(OAuthCloudDestination):
    name = "freeagent"
    platform = "FreeAgent"
    version_label = "updated_at"

    def __init__(self, *, api_url: str, client_id: str, client_secret: str, token_store: Path | str,
                 refresh_token: str | None = None, bank_account: str = "Current Account", company: str = "company",
                 auto_create_customers: bool = True, time_scale: float = 1.0, closed_through: dt.date | None = None,
                 timeout: float = 60.0, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(closed_through=closed_through)
        if not client_id or not client_secret:
            raise DestinationError("FreeAgent needs FREEAGENT_CLIENT_ID and FREEAGENT_CLIENT_SECRET (the app's keys)")
        self.capabilities = Capabilities(supports_update=True, supports_void=True, honours_request_id=False,
                                         batch_size=10, reads_back=True, applies_credits=False)
        self.api_url, self.bank_account_name, self.book = api_url.rstrip("/"), bank_account, company
        self.auto_create_customers = auto_create_customers
        self.connect(provider(api_url), client_id=client_id, client_secret=client_secret,
                     token_store=token_store, refresh_token=refresh_token, timeout=timeout, transport=transport,
                     limits=Limits(requests_per_minute=120, time_scale=time_scale),
                     headers={"User-Agent": USER_AGENT, "Accept": "application/json"})
        self._contacts: dict[str, str] | None = None       # organisation name -> URL
        self._bank_url: str | None = None

    def __repr__(self) -> str:
        return f"FreeAgentDestination(url={self.api_url!r})"

    @classmethod
    def from_env(cls, settings: Any = None, environ: Mapping[str, str] | None = None) -> "FreeAgentDestination":
        env, tokens = settings_env(settings, environ, "FreeAgent", "freeagent")
        env.require("FREEAGENT_CLIENT_ID", "FREEAGENT_CLIENT_SECRET", where="the app's keys from dev.freeagent.com")
        return cls(api_url=env.text("FREEAGENT_API_URL", API_URL), client_id=env.text("FREEAGENT_CLIENT_ID"),
                   client_secret=env.text("FREEAGENT_CLIENT_SECRET"),
                   token_store=env.text("FREEAGENT_TOKEN_STORE") or tokens,
                   refresh_token=env.text("FREEAGENT_REFRESH_TOKEN"),
                   bank_account=env.text("FREEAGENT_BANK_ACCOUNT", "Current Account"),
                   company=env.text("FREEAGENT_COMPANY", "company"),
                   auto_create_customers=env.flag("FREEAGENT_AUTO_CREATE_CUSTOMERS", True),
                   time_scale=env.number("FREEAGENT_TIME_SCALE", 1.0),
                   closed_through=getattr(settings, "books_closed_through", None))

    # --- the wire -----------------------------------------------------------------------------------

    def _call(self, method: str, url: str, *, body: Any = None, params: Mapping[str, Any] | None = None,
              missing_ok: bool = False) -> tuple[dict[str, Any] | None, httpx.Response]:
        url = url if url.startswith("http") else f"{self.api_url}/{url}"
        response = self.http.send(method, url, json=body, params=params, auth=self.auth,
                                  what=f"{method} {url.removeprefix(self.api_url).split('?')[0]}")
        if response.status_code == 401:
            raise FreeAgentAuthError("FreeAgent refused the bridge's access token twice; reconnect the bridge and set "
                                     "FREEAGENT_REFRESH_TOKEN")
        if response.status_code == 404 and missing_ok:
            return None, response
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code >= 400:
            raise payloads.refusal(response.status_code, answer)
        return answer, response

    def _list(self, plural: str) -> Iterator[dict[str, Any]]:
        """Newest change first, following the `Link` header."""
        url: str | None = f"{self.api_url}/{plural}?sort=-updated_at&per_page=100"
        while url:
            answer, response = self._call("GET", url)
            yield from answer.get(plural) or []
            url = response.links.get("next", {}).get("url")

    # --- references ---------------------------------------------------------------------------------

    def _contact_names(self) -> dict[str, str]:
        if self._contacts is None:
            self._contacts = {payloads.contact_name(c): c["url"] for c in self._list("contacts")}
        return self._contacts

    def customer_id(self, document: AccountingDocument) -> str:
        name, contacts = document.customer_name, self._contact_names()
        if name not in contacts:
            if not self.auto_create_customers:
                raise Refused(f"contact '{name}' is not in FreeAgent and FREEAGENT_AUTO_CREATE_CUSTOMERS is off; add the "
                              f"contact (organisation name '{name}') in FreeAgent or turn auto-create on")
            answer, _ = self._call("POST", "contacts", body={"contact": {"organisation_name": name}})
            contacts[name] = answer["contact"]["url"]
        return contacts[name]

    def _customer_of(self, contact_url: str) -> str:
        return next((name for name, url in self._contact_names().items() if url == contact_url), "")

    def _bank(self) -> str:
        if self._bank_url is None:
            answer, _ = self._call("GET", "bank_accounts")
            found = next((a for a in answer.get("bank_accounts") or [] if a.get("name") == self.bank_account_name), None)
            if found is None:
                raise Refused(f"FreeAgent has no bank account named '{self.bank_account_name}'; set "
                              f"FREEAGENT_BANK_ACCOUNT to one it has")
            self._bank_url = found["url"]
        return self._bank_url

    # --- documents --------------------------------------------------------------------------------------

    def held(self, doc_type: str, wire: dict[str, Any]) -> Held:
        dest_id = wire["url"].rstrip("/").rsplit("/", 1)[1]
        if doc_type == "payment":
            return Held("payment", dest_id, payloads.payment_number(wire.get("description") or ""),
                        Decimal(wire["gross_value"]), "", dt.date.fromisoformat(wire["dated_on"]), "active",
                        wire.get("updated_at"), payloads.payment_body(wire), raw=wire)
        status = "voided" if wire.get("status") == "Cancelled" else "active"
        return Held(doc_type, dest_id, wire.get("reference"), Decimal(wire["total_value"]),
                    self._customer_of(wire["contact"]), dt.date.fromisoformat(wire["dated_on"]), status,
                    wire.get("updated_at"), payloads.document_body(doc_type, wire), raw=wire)

    def lookup(self, doc_type: str, number: str) -> Held | None:
        for wire in self._list(PATHS[doc_type]):
            mine = (payloads.payment_number(wire.get("description") or "") if doc_type == "payment"
                    else wire.get("reference"))
            if mine == number:
                return self.held(doc_type, wire)
        return None

    def read(self, doc_type: str, dest_id: str) -> Held | None:
        answer, _ = self._call("GET", f"{PATHS[doc_type]}/{dest_id}", missing_ok=True)
        return None if answer is None else self.held(doc_type, answer[WRAP[doc_type]])

    def body_for(self, document: AccountingDocument) -> dict:
        if document.doc_type == "payment":
            invoice = self.lookup("invoice", document.applies_to[0].doc_number)
            if invoice is None or invoice.status != "active":
                raise Refused(f"invoice {document.applies_to[0].doc_number}, which it pays, is not in FreeAgent (or is "
                              f"cancelled); post it first", code="invoice_missing")
            return {"bank_account": self._bank(), "dated_on": document.txn_date.isoformat(),
                    "gross_value": f"{money(document.total):.2f}", "paid_invoice": invoice.raw["url"],
                    "description": payloads.payment_note(document.doc_number)}
        return payloads.document_fields(document, self.customer_id(document))

    def refuses(self, action: Action, document: AccountingDocument) -> Outcome | None:
        if document.doc_type != "payment":
            return None
        label = f"Payment {document.doc_number} ({document.customer_name}, {document.total})"
        if action is Action.UPDATE:
            return by_hand("supports_update", f"{label} changed in the source after it was posted; the bridge does not "
                                              f"rewrite a FreeAgent bank explanation: correct it in FreeAgent by hand")
        if len(document.applies_to) != 1:
            invoices = ", ".join(f"{a.doc_number} ({a.amount})" for a in document.applies_to) or "no invoice"
            return by_hand("links_payments", f"{label} pays {invoices}; a FreeAgent bank explanation pays exactly one "
                                             f"invoice, so explain the receipt against each invoice in FreeAgent by hand")
        return None

    def created_note(self, document: AccountingDocument) -> str | None:
        if document.doc_type != "credit_memo" or not document.applies_to:
            return None
        invoices = ", ".join(f"{a.doc_number} ({a.amount})" for a in document.applies_to)
        return (f"Credit note {document.doc_number} is in FreeAgent; FreeAgent nets a credit note against an invoice "
                f"only through a bank explanation, so allocate it to invoice(s) {invoices} there by hand")

    def create(self, document: AccountingDocument, body: dict, request_id: str) -> Held:
        doc_type = document.doc_type
        answer, _ = self._call("POST", PATHS[doc_type], body={WRAP[doc_type]: body})
        return self.held(doc_type, answer[WRAP[doc_type]])

    def update(self, current: Held, body: dict) -> Held:
        path = f"{PATHS[current.doc_type]}/{current.dest_id}"
        sent = (current.raw or {}).get("status") != "Draft"
        if sent:
            self._call("PUT", f"{path}/transitions/mark_as_draft")
        self._call("PUT", path, body={WRAP[current.doc_type]: body})
        if sent:
            self._call("PUT", f"{path}/transitions/mark_as_sent")
        return self.read(current.doc_type, current.dest_id)

    def settle(self, held: Held, document: AccountingDocument | None) -> Held:
        if held.doc_type != "payment" and (held.raw or {}).get("status") == "Draft":
            self._call("PUT", f"{PATHS[held.doc_type]}/{held.dest_id}/transitions/mark_as_sent")
            return self.read(held.doc_type, held.dest_id)
        return held

    def remove(self, held: Held) -> None:
        path = f"{PATHS[held.doc_type]}/{held.dest_id}"
        if held.doc_type == "payment" or (held.raw or {}).get("status") == "Draft":
            self._call("DELETE", path)
        else:
            self._call("PUT", f"{path}/transitions/mark_as_cancelled")

    # --- reading back ---------------------------------------------------------------------------------

    def books(self, since: dt.datetime | None) -> list[BooksDocument]:
        found = []
        for doc_type in ("invoice", "credit_memo", "payment"):
            for wire in self._list(PATHS[doc_type]):
                changed = payloads.changed_at(wire)
                if since is not None and changed is not None and changed < since:
                    break                                       # newest first: the rest is older
                held = self.held(doc_type, wire)
                balance = Decimal(wire["due_value"]) if "due_value" in wire else None
                found.append(BooksDocument(doc_type, held.number, held.dest_id, held.txn_date, held.customer,
                                           money(held.total), balance, held.status, held.version, changed, raw=wire))
        return found

    def raw_total_and_customer(self, raw: dict):
        total = raw.get("total_value")
        return (Decimal(total) if total is not None else None), None
