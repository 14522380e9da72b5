"""Zoho Books (API v3, OAuth 2.0): invoices by the unique-field upsert, the rest looked up by number.

Idempotency. An invoice is sent as `PUT /invoices` with `X-Unique-Identifier-Key: <the organization's unique
custom field>`, `X-Unique-Identifier-Value: <the document's key>` and `X-Upsert: true`: sent twice (a lost
answer), Zoho updates the one it made instead of making a second. Credit notes and payments have no such
upsert: they are looked up by number first (kit/cloud.py; a payment's number is its `reference_number`).

Zoho computes tax from tax ids; the bridge carries the source's tax as the invoice's `adjustment`
("Sales tax as billed"), so totals are exactly the source's (README: Zoho's tax reports do not see it as
tax). Every line needs an item: items are matched by name or created. Invoices are created as drafts and
marked sent; credit notes are applied to the invoices they credit (the ones missing, when found again);
a payment pays the invoices it names in one Zoho payment. Transactions dated BEFORE Zoho's transaction
lock date are locked: the bridge's closing date is the day before it.

Settings, read in `from_env` only: ZOHO_BOOKS_CLIENT_ID, ZOHO_BOOKS_CLIENT_SECRET, ZOHO_BOOKS_REFRESH_TOKEN,
ZOHO_BOOKS_ORGANIZATION_ID, ZOHO_BOOKS_API_URL, ZOHO_BOOKS_ACCOUNTS_URL, ZOHO_BOOKS_UNIQUE_FIELD,
ZOHO_BOOKS_TOKEN_STORE, ZOHO_BOOKS_AUTO_CREATE_CUSTOMERS, ZOHO_BOOKS_AUTO_CREATE_ITEMS,
ZOHO_BOOKS_REQUESTS_PER_DAY, ZOHO_BOOKS_TIME_SCALE.
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
from bridge_assets.destinations.zoho_books import payloads
from bridge_assets.model.document import AccountingDocument, money

API_URL, ACCOUNTS_URL = "https://www.zohoapis.com/books/v3", "https://accounts.zoho.com"
PATHS = {"invoice": "invoices", "credit_memo": "creditnotes", "payment": "customerpayments"}
ENTITY = {"invoice": "invoice", "credit_memo": "creditnote", "payment": "payment"}


class ZohoAuthError(OAuthError, DestinationError):
    """Zoho refuses the bridge's credentials; a person must fix the configuration."""


class ZohoReconnectRequired(ReconnectRequired, ZohoAuthError):
    """The refresh token was revoked (or is one of more than 20 issued to the user): connect again."""


def provider(accounts_url: str) -> OAuthProvider:
    return cloud_oauth.provider("Zoho Books", "ZOHO_BOOKS", f"{accounts_url.rstrip('/')}/oauth/v2/token",
                                client_auth="body", body_format="form", access_lifetime_s=3600.0,
                                app_console=" in the Zoho API console (api-console.zoho.com)",
                                auth_error=ZohoAuthError, reconnect_error=ZohoReconnectRequired)


class ZohoBooksDestination(OAuthCloudDestination):
    name = "zoho_books"
    platform = "Zoho Books"
    version_label = "last_modified_time"

    def __init__(self, *, api_url: str, accounts_url: str, organization_id: str, client_id: str,
                 client_secret: str, token_store: Path | str, refresh_token: str | None = None,
                 unique_field: str = "cf_bridge_key", auto_create_customers: bool = True,
                 auto_create_items: bool = True, requests_per_day: int = 1000, time_scale: float = 1.0,
                 timeout: float = 60.0, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__()
        if not client_id or not client_secret or not organization_id:
            raise DestinationError("Zoho Books needs ZOHO_BOOKS_CLIENT_ID, ZOHO_BOOKS_CLIENT_SECRET and "
                                   "ZOHO_BOOKS_ORGANIZATION_ID")
        self.capabilities = Capabilities(supports_update=True, supports_void=True, honours_request_id=True,
                                         batch_size=10, reads_back=True, applies_credits=True,
                                         lock_date_readable=True)
        self.book, self.unique_field, self.api_url = organization_id, unique_field, api_url.rstrip("/")
        self.auto_create_customers, self.auto_create_items = auto_create_customers, auto_create_items
        self.connect(provider(accounts_url), client_id=client_id, client_secret=client_secret,
                     token_store=token_store, refresh_token=refresh_token, timeout=timeout, transport=transport,
                     limits=Limits(requests_per_minute=100, requests_per_day=requests_per_day, concurrent_requests=10,
                                   time_scale=time_scale),
                     scheme="Zoho-oauthtoken")
        self._ids: dict[tuple[str, str], str] = {}

    def __repr__(self) -> str:
        return f"ZohoBooksDestination(organization={self.book!r})"

    @classmethod
    def from_env(cls, settings: Any = None, environ: Mapping[str, str] | None = None) -> "ZohoBooksDestination":
        env, tokens = settings_env(settings, environ, "Zoho Books", "zoho_books")
        env.require("ZOHO_BOOKS_CLIENT_ID", "ZOHO_BOOKS_CLIENT_SECRET", "ZOHO_BOOKS_ORGANIZATION_ID",
                    where="the client's keys from api-console.zoho.com and the organization id")
        return cls(api_url=env.text("ZOHO_BOOKS_API_URL", API_URL),
                   accounts_url=env.text("ZOHO_BOOKS_ACCOUNTS_URL", ACCOUNTS_URL),
                   organization_id=env.text("ZOHO_BOOKS_ORGANIZATION_ID"), client_id=env.text("ZOHO_BOOKS_CLIENT_ID"),
                   client_secret=env.text("ZOHO_BOOKS_CLIENT_SECRET"),
                   token_store=env.text("ZOHO_BOOKS_TOKEN_STORE") or tokens,
                   refresh_token=env.text("ZOHO_BOOKS_REFRESH_TOKEN"),
                   unique_field=env.text("ZOHO_BOOKS_UNIQUE_FIELD", "cf_bridge_key"),
                   auto_create_customers=env.flag("ZOHO_BOOKS_AUTO_CREATE_CUSTOMERS", True),
                   auto_create_items=env.flag("ZOHO_BOOKS_AUTO_CREATE_ITEMS", True),
                   requests_per_day=int(env.number("ZOHO_BOOKS_REQUESTS_PER_DAY", 1000)),
                   time_scale=env.number("ZOHO_BOOKS_TIME_SCALE", 1.0))

    # --- the wire -----------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, body: Any = None, params: Mapping[str, Any] | None = None,
              headers: Mapping[str, str] | None = None, missing_ok: bool = False) -> dict[str, Any] | None:
        query = {"organization_id": self.book, **(params or {})}
        response = self.http.send(method, f"{self.api_url}/{path}", json=body, params=query, headers=headers,
                                  auth=self.auth, what=f"{method} /{path.split('/')[0]}")
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code == 401:
            raise ZohoAuthError(f"Zoho Books refused the bridge's access ({answer.get('message') or 'HTTP 401'}); "
                                f"check ZOHO_BOOKS_ORGANIZATION_ID and reconnect with ZOHO_BOOKS_REFRESH_TOKEN")
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 400 or answer.get("code", 0) != 0:
            raise payloads.refusal(response.status_code, answer)
        return answer

    def _list(self, path: str, key: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            answer = self._call("GET", path, params={**params, "page": page, "per_page": 200})
            yield from answer.get(key) or []
            if not (answer.get("page_context") or {}).get("has_more_page"):
                return
            page += 1

    def platform_lock_date(self) -> dt.date | None:
        lock = (self._call("GET", "settings/transactionlock") or {}).get("transaction_lock") or {}
        if lock.get("transaction_lock_status") == "disabled" or not lock.get("transaction_lock_date"):
            return None
        return dt.date.fromisoformat(lock["transaction_lock_date"]) - dt.timedelta(days=1)   # the lock date is open

    # --- references ---------------------------------------------------------------------------------

    def _named(self, kind: str, name: str, create: dict[str, Any], allowed: bool, setting: str) -> str:
        if (kind, name) in self._ids:
            return self._ids[kind, name]
        path, field = ("contacts", "contact_name") if kind == "contact" else ("items", "name")
        found = next((c for c in self._list(path, path, {field: name}) if c.get(field) == name), None)
        if found is None:
            if not allowed:
                raise Refused(f"{kind} '{name}' is not in Zoho Books and {setting} is off; add it in Zoho Books or "
                              f"turn {setting} on")
            found = self._call("POST", path, body=create)[kind]
        self._ids[kind, name] = found[f"{kind}_id"]
        return found[f"{kind}_id"]

    def customer_id(self, document: AccountingDocument) -> str:
        return self._named("contact", document.customer_name, {"contact_name": document.customer_name,
                                                               "contact_type": "customer"},
                           self.auto_create_customers, "ZOHO_BOOKS_AUTO_CREATE_CUSTOMERS")

    def _item_id(self, code: str, rate: Decimal, description: str) -> str:
        return self._named("item", code, {"name": code, "rate": float(rate), "description": description},
                           self.auto_create_items, "ZOHO_BOOKS_AUTO_CREATE_ITEMS")

    # --- documents --------------------------------------------------------------------------------------

    def held(self, doc_type: str, wire: dict[str, Any]) -> Held:
        entity = ENTITY[doc_type]
        if doc_type == "payment":
            body = payloads.payment_body(wire)
            return Held("payment", wire["payment_id"], wire.get("reference_number"), Decimal(str(wire["amount"])),
                        wire.get("customer_name") or "", dt.date.fromisoformat(wire["date"]), "active",
                        wire.get("last_modified_time"), body, raw=wire)
        status = "voided" if wire.get("status") == "void" else "active"
        return Held(doc_type, wire[f"{entity}_id"], wire.get(f"{entity}_number"), Decimal(str(wire["total"])),
                    wire.get("customer_name") or "", dt.date.fromisoformat(wire["date"]), status,
                    wire.get("last_modified_time"), payloads.document_body(doc_type, wire), raw=wire)

    def lookup(self, doc_type: str, number: str) -> Held | None:
        field = {"invoice": "invoice_number", "credit_memo": "creditnote_number",
                 "payment": "reference_number"}[doc_type]
        found = next(self._list(PATHS[doc_type], PATHS[doc_type], {field: number}), None)
        return None if found is None else self.read(doc_type, found[f"{ENTITY[doc_type]}_id"])

    def looks_up(self, doc_type: str) -> bool:
        return doc_type != "invoice"            # invoices go by the unique-field upsert

    def read(self, doc_type: str, dest_id: str) -> Held | None:
        answer = self._call("GET", f"{PATHS[doc_type]}/{dest_id}", missing_ok=True)
        return None if answer is None else self.held(doc_type, answer[ENTITY[doc_type]])

    def body_for(self, document: AccountingDocument) -> dict:
        customer = self.customer_id(document) if document.doc_type != "payment" else None
        if document.doc_type == "payment":
            invoices = [{"invoice_id": self._invoice_id(a.doc_number), "amount_applied": str(money(a.amount))}
                        for a in document.applies_to]
            first = self.read("invoice", invoices[0]["invoice_id"]) if invoices else None
            if first is None:
                raise Refused("it names no invoice the bridge posted to Zoho Books; enter it there by hand")
            return {"customer_id": first.raw["customer_id"], "amount": str(money(document.total)),
                    "date": document.txn_date.isoformat(), "payment_mode": "check",
                    "reference_number": document.doc_number, "invoices": invoices}
        lines = [(line, self._item_id(line.item_code, Decimal(line.unit_price), line.description))
                 for line in sorted(document.lines, key=lambda l: l.line_no)]
        return payloads.body(document, customer, lines)

    def _invoice_id(self, number: str) -> str:
        found = self.lookup("invoice", number)
        if found is None or found.status != "active":
            raise Refused(f"invoice {number}, which it applies to, is not in Zoho Books (or is void); post it first",
                          code="invoice_missing")
        return found.dest_id

    def refuses(self, action: Action, document: AccountingDocument) -> Outcome | None:
        if document.doc_type == "payment" and action is Action.UPDATE:
            return by_hand("supports_update", f"Payment {document.doc_number} ({document.customer_name}, "
                                              f"{document.total}) changed in the source after it was posted; the bridge "
                                              f"does not rewrite a Zoho Books payment: edit it there by hand to match")
        return None

    def create(self, document: AccountingDocument, body: dict, request_id: str) -> Held:
        doc_type = document.doc_type
        wire = payloads.send(body)
        if doc_type == "invoice":
            headers = {"X-Unique-Identifier-Key": self.unique_field, "X-Unique-Identifier-Value": document.doc_key,
                       "X-Upsert": "true"}
            answer = self._call("PUT", "invoices", body=wire, headers=headers,
                                params={"ignore_auto_number_generation": "true"})
        else:
            params = {"ignore_auto_number_generation": "true"} if doc_type == "credit_memo" else None
            answer = self._call("POST", PATHS[doc_type], body=wire, params=params)
        return self.held(doc_type, answer[ENTITY[doc_type]])

    def update(self, current: Held, body: dict) -> Held:
        answer = self._call("PUT", f"{PATHS[current.doc_type]}/{current.dest_id}", body=payloads.send(body))
        return self.held(current.doc_type, answer[ENTITY[current.doc_type]])

    def settle(self, held: Held, document: AccountingDocument | None) -> Held:
        if held.doc_type == "invoice" and (held.raw or {}).get("status") == "draft":
            self._call("POST", f"invoices/{held.dest_id}/status/sent")
            return self.read("invoice", held.dest_id)
        if held.doc_type == "credit_memo" and document is not None and held.status == "active":
            done = {a["invoice_id"] for a in (held.raw or {}).get("invoices") or []}
            wanted = [{"invoice_id": self._invoice_id(a.doc_number), "amount_applied": str(money(a.amount))}
                      for a in document.applies_to]
            missing = [w for w in wanted if w["invoice_id"] not in done]
            if missing:
                self._call("POST", f"creditnotes/{held.dest_id}/invoices", body={"invoices": missing})
                return self.read("credit_memo", held.dest_id)
        return held

    def remove(self, held: Held) -> None:
        if held.doc_type == "payment":
            self._call("DELETE", f"customerpayments/{held.dest_id}")
        else:
            self._call("POST", f"{PATHS[held.doc_type]}/{held.dest_id}/status/void")

    # --- reading back ---------------------------------------------------------------------------------

    def books(self, since: dt.datetime | None) -> list[BooksDocument]:
        params = {"last_modified_time": since.strftime("%Y-%m-%dT%H:%M:%S+0000")} if since else {}
        found = []
        for doc_type in ("invoice", "credit_memo", "payment"):
            for wire in self._list(PATHS[doc_type], PATHS[doc_type], params):
                held = self.held(doc_type, wire)
                balance = Decimal(str(wire["balance"])) if "balance" in wire else None
                found.append(BooksDocument(doc_type, held.number, held.dest_id, held.txn_date, held.customer,
                                           money(held.total), balance, held.status, held.version,
                                           payloads.modified_at(wire), raw=wire))
        return found

    def raw_total_and_customer(self, raw: dict):
        return (Decimal(str(raw["total"])) if "total" in raw else None), raw.get("customer_name")
