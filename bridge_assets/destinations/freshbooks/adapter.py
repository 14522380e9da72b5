"""FreshBooks (accounting API, OAuth 2.0): the destination that posts exactly once without an idempotency key.

FreshBooks has no idempotency key, so every create is preceded by a look-up by number (kit/cloud.py);
payments have no number, so the bridge writes "Bridge payment <number>" in the payment's note and looks
that up. Invoices are created as drafts and then marked sent (FreshBooks counts only sent invoices in
its reports); a draft found after a crash is marked sent when it is found (`settle`). A credit note is
applied to the invoices it credits by payments of type Credit; the applications it should carry are
written in its notes ("[bridge] applies to invoice N: amount"), so a credit found after a crash gets the
ones still missing. A payment pays ONE invoice in FreshBooks: a payment of several invoices is left to
a person (`by_hand`), with the sentence saying what to enter. FreshBooks has no lock date: the closing
date is the bridge's own (BRIDGE_BOOKS_CLOSED_THROUGH). Refresh tokens are single-use: the kit's token
store saves each new one before the access token is used.

Settings (README, "FreshBooks"), read in `from_env` only: FRESHBOOKS_CLIENT_ID, FRESHBOOKS_CLIENT_SECRET,
FRESHBOOKS_REFRESH_TOKEN, FRESHBOOKS_ACCOUNT_ID, FRESHBOOKS_API_URL, FRESHBOOKS_TOKEN_STORE,
FRESHBOOKS_TAX_NAME, FRESHBOOKS_CURRENCY, FRESHBOOKS_AUTO_CREATE_CUSTOMERS, FRESHBOOKS_REQUESTS_PER_MINUTE,
FRESHBOOKS_TIME_SCALE.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Iterator, Mapping

import httpx

from bridge_assets.destinations.base import Action, BooksDocument, Capabilities, DestinationError, Outcome, by_hand
from bridge_assets.destinations.freshbooks import payloads
from bridge_assets.destinations.kit import cloud_oauth
from bridge_assets.destinations.kit.cloud import Held, Refused
from bridge_assets.destinations.kit.cloud_oauth import OAuthCloudDestination, settings_env
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.kit.oauth import OAuthError, OAuthProvider, ReconnectRequired
from bridge_assets.model.document import AccountingDocument, money

API_URL = "https://api.freshbooks.com"
PATHS = {"invoice": "invoices/invoices", "credit_memo": "credit_notes/credit_notes", "payment": "payments/payments",
         "client": "users/clients"}
WIRE = {"invoice": "invoice", "credit_memo": "credit_note", "payment": "payment", "client": "client"}
PLURAL = {"invoice": "invoices", "credit_memo": "credit_notes", "payment": "payments", "client": "clients"}
APPLIES = "[bridge] applies to invoice "


class FreshbooksAuthError(OAuthError, DestinationError):
    """FreshBooks refuses the bridge's credentials; a person must fix the configuration."""


class FreshbooksReconnectRequired(ReconnectRequired, FreshbooksAuthError):
    """The stored single-use refresh token is spent and nobody saved the newer one: connect again."""


def provider(api_url: str) -> OAuthProvider:
    return cloud_oauth.provider("FreshBooks", "FRESHBOOKS", f"{api_url.rstrip('/')}/auth/oauth/token",
                                client_auth="body", body_format="json", single_use_refresh=True,
                                access_lifetime_s=12 * 3600.0, app_console=" on my.freshbooks.com/#/developer",
                                auth_error=FreshbooksAuthError, reconnect_error=FreshbooksReconnectRequired)


class FreshbooksDestination(OAuthCloudDestination):
    name = "freshbooks"
    platform = "FreshBooks"
    version_label = "updated"

    def __init__(self, *, api_url: str, account_id: str, client_id: str, client_secret: str,
                 token_store: Path | str, refresh_token: str | None = None, tax_name: str = "Sales Tax",
                 currency: str = "USD", auto_create_customers: bool = True, requests_per_minute: int = 60,
                 time_scale: float = 1.0, closed_through: dt.date | None = None, timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(closed_through=closed_through)
        if not client_id or not client_secret or not account_id:
            raise DestinationError("FreshBooks needs FRESHBOOKS_CLIENT_ID, FRESHBOOKS_CLIENT_SECRET and "
                                   "FRESHBOOKS_ACCOUNT_ID (the app's keys and the account's id)")
        self.capabilities = Capabilities(supports_update=True, supports_void=True, honours_request_id=False,
                                         batch_size=10, reads_back=True, applies_credits=True)
        self.book, self.tax_name, self.currency = account_id, tax_name, currency
        self.auto_create_customers = auto_create_customers
        self.base = f"{api_url.rstrip('/')}/accounting/account/{account_id}"
        self.connect(provider(api_url), client_id=client_id, client_secret=client_secret,
                     token_store=token_store, refresh_token=refresh_token, timeout=timeout, transport=transport,
                     limits=Limits(requests_per_minute=requests_per_minute, time_scale=time_scale),
                     backoff_max_s=30.0)
        self._clients: dict[str, int] = {}
        self._client_names: dict[int, str] = {}

    def __repr__(self) -> str:
        return f"FreshbooksDestination(account={self.book!r})"

    @classmethod
    def from_env(cls, settings: Any = None, environ: Mapping[str, str] | None = None) -> "FreshbooksDestination":
        env, tokens = settings_env(settings, environ, "FreshBooks", "freshbooks")
        env.require("FRESHBOOKS_CLIENT_ID", "FRESHBOOKS_CLIENT_SECRET", "FRESHBOOKS_ACCOUNT_ID",
                    where="the app's keys from my.freshbooks.com/#/developer and the account id")
        return cls(api_url=env.text("FRESHBOOKS_API_URL", API_URL), account_id=env.text("FRESHBOOKS_ACCOUNT_ID"),
                   client_id=env.text("FRESHBOOKS_CLIENT_ID"), client_secret=env.text("FRESHBOOKS_CLIENT_SECRET"),
                   token_store=env.text("FRESHBOOKS_TOKEN_STORE") or tokens,
                   refresh_token=env.text("FRESHBOOKS_REFRESH_TOKEN"),
                   tax_name=env.text("FRESHBOOKS_TAX_NAME", "Sales Tax"), currency=env.text("FRESHBOOKS_CURRENCY", "USD"),
                   auto_create_customers=env.flag("FRESHBOOKS_AUTO_CREATE_CUSTOMERS", True),
                   requests_per_minute=int(env.number("FRESHBOOKS_REQUESTS_PER_MINUTE", 60)),
                   time_scale=env.number("FRESHBOOKS_TIME_SCALE", 1.0),
                   closed_through=getattr(settings, "books_closed_through", None))

    # --- the wire -----------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, body: Any = None, params: Any = None,
              missing_ok: bool = False) -> dict[str, Any] | None:
        response = self.http.send(method, f"{self.base}/{path}", json=body, params=params, auth=self.auth,
                                  what=f"{method} {path.split('?')[0]}")
        if response.status_code == 401:
            raise FreshbooksAuthError("FreshBooks refused the bridge's access token twice; reconnect the bridge to "
                                      "FreshBooks and set FRESHBOOKS_REFRESH_TOKEN")
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 400:
            errors = (answer.get("response") or {}).get("errors") if isinstance(answer, dict) else None
            raise payloads.refusal(response.status_code, errors or answer or {})
        return (answer.get("response") or {}).get("result") or {}

    def _list(self, doc_type: str, search: Mapping[str, Any], *, lines: bool = False) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            params = [(f"search[{k}]", v) for k, v in search.items()] + [("page", page), ("per_page", 100)]
            if lines:
                params.append(("include[]", "lines"))
            result = self._call("GET", PATHS[doc_type], params=params)
            yield from result.get(PLURAL[doc_type]) or []
            if page >= int(result.get("pages") or 1):
                return
            page += 1

    def _one(self, doc_type: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
        result = self._call(method, path, body=body, params=[("include[]", "lines")])
        return result[WIRE[doc_type]]

    # --- customers ----------------------------------------------------------------------------------

    def customer_id(self, document: AccountingDocument) -> str:
        name = document.customer_name
        if name in self._clients:
            return str(self._clients[name])
        found = next((c for c in self._list("client", {"organization": name}) if c.get("organization") == name), None)
        if found is None:
            if not self.auto_create_customers:
                raise Refused(f"client '{name}' is not in FreshBooks and FRESHBOOKS_AUTO_CREATE_CUSTOMERS is off; "
                              f"add the client in FreshBooks (organization '{name}') or turn auto-create on")
            found = self._one("client", "POST", PATHS["client"], {"client": {"organization": name}})
        self._clients[name], self._client_names[int(found["id"])] = int(found["id"]), name
        return str(found["id"])

    def _client_name(self, client_id: Any) -> str:
        client_id = int(client_id or 0)
        if client_id not in self._client_names:
            client = self._call("GET", f"{PATHS['client']}/{client_id}", missing_ok=True)
            self._client_names[client_id] = ((client or {}).get("client") or {}).get("organization") or ""
        return self._client_names[client_id]

    # --- documents ------------------------------------------------------------------------------------

    def held(self, doc_type: str, wire: dict[str, Any]) -> Held:
        deleted = int(wire.get("vis_state") or 0) == 1
        status = ("voided" if doc_type == "invoice" else "deleted") if deleted else "active"
        if doc_type == "payment":
            return Held("payment", str(wire["id"]), payloads.payment_number(wire.get("note") or ""),
                        payloads.amount(wire["amount"]), self._client_name(wire.get("clientid")),
                        dt.date.fromisoformat(wire["date"]), status, wire.get("updated"),
                        {"invoiceid": wire["invoiceid"], "amount": f"{payloads.amount(wire['amount']):.2f}",
                         "note": wire.get("note") or ""}, raw=wire)
        number = wire.get("invoice_number" if doc_type == "invoice" else "credit_number")
        body = payloads.held_body(WIRE[doc_type], wire) if "lines" in wire else None
        return Held(doc_type, str(wire["id"]), number, payloads.amount(wire["amount"]), wire.get("organization") or "",
                    dt.date.fromisoformat(wire["create_date"]), status, wire.get("updated"), body, raw=wire)

    def lookup(self, doc_type: str, number: str) -> Held | None:
        search = ({"note": payloads.payment_note(number)} if doc_type == "payment"
                  else {"invoice_number" if doc_type == "invoice" else "credit_number": number})
        for vis_state in (0, 1):
            for wire in self._list(doc_type, {**search, "vis_state": vis_state}, lines=doc_type != "payment"):
                return self.held(doc_type, wire)
        return None

    def read(self, doc_type: str, dest_id: str) -> Held | None:
        result = self._call("GET", f"{PATHS[doc_type]}/{dest_id}", params=[("include[]", "lines")], missing_ok=True)
        return None if result is None else self.held(doc_type, result[WIRE[doc_type]])

    def body_for(self, document: AccountingDocument) -> dict:
        if document.doc_type == "payment":
            invoice = self._invoice_id(document.applies_to[0].doc_number)
            return {"invoiceid": invoice, "amount": f"{money(document.total):.2f}",
                    "note": payloads.payment_note(document.doc_number)}
        body = payloads.document_body(document, int(self.customer_id(document)), self.tax_name)
        if document.doc_type == "credit_memo" and document.applies_to:
            applied = "".join(f"\n{APPLIES}{a.doc_number}: {money(a.amount)}" for a in document.applies_to)
            body["notes"] = (body["notes"] + applied).lstrip("\n")
        return body

    def _invoice_id(self, number: str) -> int:
        found = self.lookup("invoice", number)
        if found is None or found.status != "active":
            raise Refused(f"invoice {number}, which it applies to, is not in FreshBooks (or was deleted); post the "
                          f"invoice first", code="invoice_missing")
        return int(found.dest_id)

    def refuses(self, action: Action, document: AccountingDocument) -> Outcome | None:
        if document.doc_type != "payment":
            return None
        label = f"Payment {document.doc_number} ({document.customer_name}, {document.total})"
        if action is Action.UPDATE:
            return by_hand("supports_update", f"{label} changed in the source after it was posted; FreshBooks cannot "
                                              f"change a payment's amount through the API, so delete and re-enter it "
                                              f"in FreshBooks by hand")
        if len(document.applies_to) != 1:
            invoices = ", ".join(f"{a.doc_number} ({a.amount})" for a in document.applies_to) or "no invoice"
            return by_hand("links_payments", f"{label} pays {invoices}; a FreshBooks payment pays exactly one "
                                             f"invoice, so enter one payment per invoice in FreshBooks by hand")
        return None

    def create(self, document: AccountingDocument, body: dict, request_id: str) -> Held:
        if document.doc_type == "payment":
            wire = {**body, "amount": {"amount": body["amount"], "code": self.currency},
                    "date": document.txn_date.isoformat(), "type": "Check"}
            return self.held("payment", self._one("payment", "POST", PATHS["payment"], {"payment": wire}))
        sent = payloads.send_body(body, self.currency)
        wire = self._one(document.doc_type, "POST", PATHS[document.doc_type], {WIRE[document.doc_type]: sent})
        return self.held(document.doc_type, wire)

    def update(self, current: Held, body: dict) -> Held:
        sent = payloads.send_body(body, self.currency)
        path = f"{PATHS[current.doc_type]}/{current.dest_id}"
        return self.held(current.doc_type, self._one(current.doc_type, "PUT", path, {WIRE[current.doc_type]: sent}))

    def settle(self, held: Held, document: AccountingDocument | None) -> Held:
        """An invoice is marked sent; a credit note gets the applications its notes name and lacks."""
        if held.doc_type == "invoice" and (held.raw or {}).get("v3_status") == "draft":
            path = f"{PATHS['invoice']}/{held.dest_id}"
            return self.held("invoice", self._one("invoice", "PUT", path, {"invoice": {"action_mark_as_sent": True}}))
        if held.doc_type == "credit_memo" and held.status == "active":
            self._apply_credit(held)
        return held

    def _apply_credit(self, credit: Held) -> None:
        wanted = [line[len(APPLIES):].split(": ") for line in ((credit.raw or {}).get("notes") or "").splitlines()
                  if line.startswith(APPLIES)]
        done = {str(p["invoiceid"]) for p in self._list("payment", {"creditid": credit.dest_id})}
        for number, applied in wanted:
            invoice = self._invoice_id(number)
            if str(invoice) in done:
                continue
            payment = {"invoiceid": invoice, "amount": {"amount": applied, "code": self.currency}, "type": "Credit",
                       "creditid": int(credit.dest_id), "date": credit.txn_date.isoformat(),
                       "note": f"Credit {credit.number} applied"}
            self._call("POST", PATHS["payment"], body={"payment": payment})

    def remove(self, held: Held) -> None:
        path = f"{PATHS[held.doc_type]}/{held.dest_id}"
        if held.doc_type == "invoice":
            self._call("DELETE", path)
            return
        if held.doc_type == "credit_memo":
            for payment in self._list("payment", {"creditid": held.dest_id}):
                self._call("PUT", f"{PATHS['payment']}/{payment['id']}", body={"payment": {"vis_state": 1}})
        self._call("PUT", path, body={WIRE[held.doc_type]: {"vis_state": 1}})

    # --- reading back ---------------------------------------------------------------------------------

    def books(self, since: dt.datetime | None) -> list[BooksDocument]:
        search = {"updated_min": payloads.eastern_day(since)} if since else {}
        found = []
        for doc_type in ("invoice", "credit_memo", "payment"):
            for vis_state in (0, 1):
                for wire in self._list(doc_type, {**search, "vis_state": vis_state}):
                    if wire.get("credit_type") == "overpayment":
                        continue        # the unapplied rest of a payment FreshBooks keeps as credit: the payment's own
                    held, changed = self.held(doc_type, wire), payloads.updated_at(wire)
                    if since is not None and changed is not None and changed < since.replace(microsecond=0):
                        continue
                    balance = payloads.amount(wire["outstanding"]) if "outstanding" in wire else None
                    found.append(BooksDocument(doc_type, held.number, held.dest_id, held.txn_date, held.customer,
                                               money(held.total), balance, held.status, held.version, changed,
                                               raw=wire))
        return found

    def raw_total_and_customer(self, raw: dict):
        return payloads.amount(raw.get("amount")), raw.get("organization")
