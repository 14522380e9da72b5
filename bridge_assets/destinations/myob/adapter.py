"""MYOB Business (AccountRight API v2): look-up by number before every create, row versions on every update.

Every call carries the API key and version headers and names the company file in its path. MYOB has no
idempotency key: a create is preceded by a look-up by `Number` (a receipt by `ReceiptNumber`), both at
most 13 characters. A credit note is a service sale invoice with negative lines, settled against the
invoices it credits; the settlements it should carry are written in its journal memo, so one found after
a crash gets the ones still missing. A customer payment pays the invoices it names in one MYOB payment,
and only the amounts it applies (a payment with money left unapplied is left to a person). Tax goes by
the tax code whose rate gives exactly the source's tax per line. An update sends the whole invoice with
its current `RowVersion`.

MYOB has no void, a deleted invoice disappears from what the API can read back, and many files forbid
deleting ("must be reversed"): an invoice is voided the way MYOB asks, by a reversing credit note (its
journal memo "[bridge] reverses invoice N") settled against it; read back, the invoice is `voided` and its
reversal is not listed as a credit of its own. A credit note or payment cancelled at the source is left to
a person (`by_hand`), saying what to do. MYOB
does not expose its lock date: the closing date is the bridge's own (BRIDGE_BOOKS_CLOSED_THROUGH), and a
document MYOB refuses as inside the lock period is held. Over its limits MYOB answers 403 RateLimitError,
retried like a 429.

Settings, read in `from_env` only: MYOB_API_KEY, MYOB_API_SECRET, MYOB_REFRESH_TOKEN, MYOB_COMPANY_FILE,
MYOB_API_URL, MYOB_TOKEN_URL, MYOB_TOKEN_STORE, MYOB_INCOME_ACCOUNT, MYOB_BANK_ACCOUNT, MYOB_NO_TAX_CODE,
MYOB_AUTO_CREATE_CUSTOMERS, MYOB_TIME_SCALE.
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
from bridge_assets.destinations.kit.http import RETRY_STATUSES
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.kit.oauth import OAuthError, OAuthProvider, ReconnectRequired
from bridge_assets.destinations.myob import payloads
from bridge_assets.model.document import AccountingDocument, money

API_URL, TOKEN_URL = "https://api.myob.com/accountright", "https://secure.myob.com/oauth2/v1/authorize"
PATHS = {"invoice": "Sale/Invoice/Service", "credit_memo": "Sale/Invoice/Service", "payment": "Sale/CustomerPayment"}


class MyobAuthError(OAuthError, DestinationError):
    """MYOB refuses the bridge's credentials; a person must fix the configuration."""


class MyobReconnectRequired(ReconnectRequired, MyobAuthError):
    """The refresh token is spent or the company file's consent lapsed: connect again."""


def provider(token_url: str) -> OAuthProvider:
    return cloud_oauth.provider("MYOB", "MYOB", token_url, client_auth="body", body_format="form",
                                access_lifetime_s=1200.0, credentials=("API_KEY", "API_SECRET"),
                                app_console=" on my.myob.com (developer)", auth_error=MyobAuthError,
                                reconnect_error=MyobReconnectRequired)


def _retryable(response: httpx.Response) -> bool:
    return response.status_code in RETRY_STATUSES or (response.status_code == 403 and b"RateLimitError" in response.content)


class MyobDestination(OAuthCloudDestination):
    name = "myob"
    platform = "MYOB"
    version_label = "RowVersion"

    def __init__(self, *, api_url: str, token_url: str, company_file: str, api_key: str, api_secret: str,
                 token_store: Path | str, refresh_token: str | None = None, income_account: str = "4-1000",
                 bank_account: str = "1-1110", no_tax_code: str = "FRE", auto_create_customers: bool = True,
                 time_scale: float = 1.0, closed_through: dt.date | None = None, timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(closed_through=closed_through)
        if not api_key or not api_secret or not company_file:
            raise DestinationError("MYOB needs MYOB_API_KEY, MYOB_API_SECRET and MYOB_COMPANY_FILE")
        self.capabilities = Capabilities(supports_update=True, supports_void=True, honours_request_id=False,
                                         batch_size=10, reads_back=True, applies_credits=True)
        self.book, self.base = company_file, f"{api_url.rstrip('/')}/{company_file}"
        self.income_id, self.bank_id, self.no_tax_id = income_account, bank_account, no_tax_code
        self.auto_create_customers = auto_create_customers
        self.connect(provider(token_url), client_id=api_key, client_secret=api_secret,
                     token_store=token_store, refresh_token=refresh_token, timeout=timeout, transport=transport,
                     limits=Limits(requests_per_minute=8 * 60, time_scale=time_scale),
                     backoff_max_s=30.0, retryable=_retryable,
                     extra={"x-myobapi-key": api_key, "x-myobapi-version": "v2"})
        self._customers: dict[str, str] = {}
        self._ledger: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"MyobDestination(company_file={self.book!r})"

    @classmethod
    def from_env(cls, settings: Any = None, environ: Mapping[str, str] | None = None) -> "MyobDestination":
        env, tokens = settings_env(settings, environ, "MYOB", "myob")
        env.require("MYOB_API_KEY", "MYOB_API_SECRET", "MYOB_COMPANY_FILE",
                    where="the API key and secret from my.myob.com and the company file's GUID (the businessId)")
        return cls(api_url=env.text("MYOB_API_URL", API_URL), token_url=env.text("MYOB_TOKEN_URL", TOKEN_URL),
                   company_file=env.text("MYOB_COMPANY_FILE"), api_key=env.text("MYOB_API_KEY"),
                   api_secret=env.text("MYOB_API_SECRET"),
                   token_store=env.text("MYOB_TOKEN_STORE") or tokens,
                   refresh_token=env.text("MYOB_REFRESH_TOKEN"),
                   income_account=env.text("MYOB_INCOME_ACCOUNT", "4-1000"),
                   bank_account=env.text("MYOB_BANK_ACCOUNT", "1-1110"), no_tax_code=env.text("MYOB_NO_TAX_CODE", "FRE"),
                   auto_create_customers=env.flag("MYOB_AUTO_CREATE_CUSTOMERS", True),
                   time_scale=env.number("MYOB_TIME_SCALE", 1.0),
                   closed_through=getattr(settings, "books_closed_through", None))

    # --- the wire -----------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, body: Any = None, params: Mapping[str, Any] | None = None,
              missing_ok: bool = False) -> Any:
        url = path if path.startswith("http") else f"{self.base}/{path}"
        if method in ("POST", "PUT"):
            params = {**(params or {}), "returnBody": "true"}
        response = self.http.send(method, url, json=payloads.send(body) if body is not None else None, params=params,
                                  auth=self.auth, what=f"{method} {url.removeprefix(self.base).split('?')[0]}")
        if response.status_code == 401:
            raise MyobAuthError("MYOB refused the bridge's access token or API key twice; check MYOB_API_KEY and "
                                "reconnect the company file with MYOB_REFRESH_TOKEN")
        if response.status_code == 404 and missing_ok:
            return None
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            answer = {}
        if response.status_code >= 400:
            raise payloads.refusal(response.status_code, answer)
        return answer

    def _list(self, path: str, odata_filter: str | None = None) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] | None = {"$top": 1000, **({"$filter": odata_filter} if odata_filter else {})}
        url: str | None = path
        while url:
            answer = self._call("GET", url, params=params)
            yield from answer.get("Items") or []
            url, params = answer.get("NextPageLink"), None

    def _ledger_data(self) -> dict[str, Any]:
        if not self._ledger:
            accounts = {a["DisplayID"]: a["UID"] for a in self._list("GeneralLedger/Account")}
            codes = {c["UID"]: (c["Code"], Decimal(str(c["Rate"]))) for c in self._list("GeneralLedger/TaxCode")}
            for setting, display in (("MYOB_INCOME_ACCOUNT", self.income_id), ("MYOB_BANK_ACCOUNT", self.bank_id)):
                if display not in accounts:
                    raise Refused(f"MYOB has no account {display}; set {setting} to an account's number (e.g. 4-1000)")
            no_tax = next((uid for uid, (code, _) in codes.items() if code == self.no_tax_id), "")
            self._ledger = {"income": accounts[self.income_id], "bank": accounts[self.bank_id], "no_tax": no_tax,
                            "codes": {uid: rate for uid, (_, rate) in codes.items()}}
        return self._ledger

    # --- references ---------------------------------------------------------------------------------

    def customer_id(self, document: AccountingDocument) -> str:
        name = document.customer_name
        if name not in self._customers:
            found = next(self._list("Contact/Customer", f"CompanyName eq {payloads.literal(name)}"), None)
            if found is None:
                if not self.auto_create_customers:
                    raise Refused(f"customer '{name}' is not in MYOB and MYOB_AUTO_CREATE_CUSTOMERS is off; add the card "
                                  f"in MYOB or turn auto-create on")
                found = self._call("POST", "Contact/Customer", body={"CompanyName": name, "IsIndividual": False})
            self._customers[name] = found["UID"]
        return self._customers[name]

    # --- documents --------------------------------------------------------------------------------------

    def held(self, doc_type: str, wire: dict[str, Any], reversed_: bool = False) -> Held:
        date = dt.date.fromisoformat(wire["Date"][:10])
        if doc_type == "payment":
            return Held("payment", wire["UID"], wire.get("ReceiptNumber"), Decimal(str(wire["AmountReceived"])),
                        wire["Customer"].get("Name") or "", date, "active", wire.get("RowVersion"),
                        payloads.payment_body(wire), raw=wire)
        return Held(doc_type, wire["UID"], wire.get("Number"), abs(Decimal(str(wire["TotalAmount"]))),
                    wire["Customer"].get("Name") or "", date, "voided" if reversed_ else "active",
                    wire.get("RowVersion"), payloads.held_body(wire), raw=wire)

    def lookup(self, doc_type: str, number: str) -> Held | None:
        field = "ReceiptNumber" if doc_type == "payment" else "Number"
        found = next(self._list(PATHS[doc_type], f"{field} eq {payloads.literal(number)}"), None)
        if found is None or (doc_type != "payment" and (Decimal(str(found["TotalAmount"])) < 0) != (doc_type == "credit_memo")):
            return None
        return self.held(doc_type, found)

    def read(self, doc_type: str, dest_id: str) -> Held | None:
        wire = self._call("GET", f"{PATHS[doc_type]}/{dest_id}", missing_ok=True)
        if wire is None:
            return None
        held = self.held(doc_type, wire)
        if doc_type == "invoice" and wire["Status"] == "Closed" and self._reversal(held) is not None:
            return self.held(doc_type, wire, reversed_=True)
        return held

    def body_for(self, document: AccountingDocument) -> dict:
        if len(document.doc_number) > 13:
            raise Refused(f"MYOB numbers are at most 13 characters and {document.doc_number} has "
                          f"{len(document.doc_number)}; shorten the prefix (BRIDGE_SEDONA_DOC_PREFIX) or enter it by hand")
        if document.doc_type == "payment":
            invoices = [{"UID": self._invoice(a.doc_number).dest_id, "AmountApplied": f"{money(a.amount):.2f}",
                         "Type": "Invoice"} for a in document.applies_to]
            customer = self._invoice(document.applies_to[0].doc_number).raw["Customer"]["UID"]
            return {"ReceiptNumber": document.doc_number, "Date": f"{document.txn_date.isoformat()}T00:00:00",
                    "Customer": {"UID": customer}, "AmountReceived": f"{money(document.total):.2f}", "Invoices": invoices}
        ledger = self._ledger_data()
        return payloads.document_body(document, self.customer_id(document), ledger["income"], ledger["codes"],
                                      ledger["no_tax"])

    def _invoice(self, number: str) -> Held:
        found = self.lookup("invoice", number)
        if found is None:
            raise Refused(f"invoice {number}, which it applies to, is not in MYOB; post it first", code="invoice_missing")
        return found

    def refuses(self, action: Action, document: AccountingDocument) -> Outcome | None:
        if document.doc_type != "payment":
            return None
        label = f"Payment {document.doc_number} ({document.customer_name}, {document.total})"
        if action is Action.UPDATE:
            return by_hand("supports_update", f"{label} changed in the source after it was posted; MYOB cannot change "
                                              f"a customer payment (no PUT): delete and re-enter it in MYOB by hand")
        applied = sum((money(a.amount) for a in document.applies_to), money(0))
        if not document.applies_to or applied != money(document.total):
            return by_hand("links_payments", f"{label} applies {applied} to invoices and MYOB takes a payment only as "
                                             f"the amounts it applies; enter it in MYOB by hand, with the rest as a "
                                             f"customer deposit")
        return None

    def create(self, document: AccountingDocument, body: dict, request_id: str) -> Held:
        fields = dict(body)
        if document.doc_type == "payment":
            fields.update(DepositTo="Account", Account={"UID": self._ledger_data()["bank"]}, PaymentMethod="Cheque",
                          Memo=f"Bridge payment {document.doc_number}")
        return self.held(document.doc_type, self._call("POST", PATHS[document.doc_type], body=fields))

    def update(self, current: Held, body: dict) -> Held:
        fields = {**body, "UID": current.dest_id, "RowVersion": current.raw["RowVersion"]}
        return self.held(current.doc_type, self._call("PUT", f"{PATHS[current.doc_type]}/{current.dest_id}", body=fields))

    def settle(self, held: Held, document: AccountingDocument | None) -> Held:
        """A credit note is settled against the invoices its memo names, those not settled yet."""
        if held.doc_type != "credit_memo":
            return held
        done = {line["Sale"]["UID"] for s in self._list("Sale/CreditSettlement")
                if s["CreditFromInvoice"]["UID"] == held.dest_id for line in s.get("Lines") or []}
        lines = [{"Sale": {"UID": invoice.dest_id}, "AmountApplied": amount, "Type": "Invoice"}
                 for number, amount in payloads.applications(held.raw.get("JournalMemo") or "")
                 if (invoice := self._invoice(number)).dest_id not in done]
        if lines:
            self._call("POST", "Sale/CreditSettlement", body={"CreditFromInvoice": {"UID": held.dest_id},
                                                              "Customer": {"UID": held.raw["Customer"]["UID"]},
                                                              "Date": held.raw["Date"][:19], "Lines": lines})
            return self.read("credit_memo", held.dest_id)
        return held

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        if doc_type != "invoice":
            return by_hand("supports_void", f"the bridge reverses only invoices in MYOB; reverse this "
                                            f"{doc_type.replace('_', ' ')} (MYOB id {dest_id}) in MYOB by hand")
        return super().void_or_delete(doc_type, dest_id, version)

    def _reversal(self, invoice: Held) -> Held | None:
        memo = payloads.reverses(invoice.number or "")
        found = next(self._list(PATHS["invoice"], f"JournalMemo eq {payloads.literal(memo)}"), None)
        return None if found is None else self.held("credit_memo", found)

    def remove(self, held: Held) -> None:
        """A reversing credit note, settled against the invoice (each step found again when asked twice)."""
        reversal = self._reversal(held)
        if reversal is None:
            body = {**held.body, "Number": "", "JournalMemo": payloads.reverses(held.number or ""),
                    "Lines": [{**line, "Total": f"{-Decimal(line['Total']):.2f}"} for line in held.body["Lines"]]}
            reversal = self.held("credit_memo", self._call("POST", PATHS["invoice"], body=body))
        if Decimal(str(reversal.raw["BalanceDueAmount"])) != 0:
            self._call("POST", "Sale/CreditSettlement", body={
                "CreditFromInvoice": {"UID": reversal.dest_id}, "Customer": {"UID": held.raw["Customer"]["UID"]},
                "Date": held.raw["Date"][:19], "Lines": [{"Sale": {"UID": held.dest_id},
                                                          "AmountApplied": f"{reversal.total:.2f}", "Type": "Invoice"}]})

    # --- reading back ---------------------------------------------------------------------------------

    def books(self, since: dt.datetime | None) -> list[BooksDocument]:
        odata = f"LastModified gt datetime'{since.isoformat(timespec='milliseconds')}'" if since else None
        found = []
        sales = list(self._list("Sale/Invoice", odata))
        reversed_ = {number for wire in sales if (number := payloads.reversed_number(wire.get("JournalMemo") or ""))}
        for wire in sales:
            if payloads.reversed_number(wire.get("JournalMemo") or ""):
                continue                                  # a reversal is its invoice's void, read back as such
            doc_type = "credit_memo" if Decimal(str(wire["TotalAmount"])) < 0 else "invoice"
            held = self.held(doc_type, wire, reversed_=doc_type == "invoice" and wire.get("Number") in reversed_
                             and wire["Status"] == "Closed")
            found.append(BooksDocument(doc_type, held.number, held.dest_id, held.txn_date, held.customer,
                                       money(held.total), abs(Decimal(str(wire["BalanceDueAmount"]))), held.status,
                                       held.version, payloads.changed_at(wire), raw=wire))
        for wire in self._list("Sale/CustomerPayment", odata):
            held = self.held("payment", wire)
            found.append(BooksDocument("payment", held.number, held.dest_id, held.txn_date, held.customer,
                                       money(held.total), None, "active", held.version, payloads.changed_at(wire),
                                       raw=wire))
        return found

    def raw_total_and_customer(self, raw: dict):
        total = raw.get("TotalAmount", raw.get("AmountReceived"))
        return (abs(Decimal(str(total))) if total is not None else None), (raw.get("Customer") or {}).get("Name")
