"""Odoo (external RPC API, XML-RPC `execute_kw`): the destination that posts exactly once into an ERP that
drafts, posts and corrects by reversal.

What Odoo allows, and how the adapter keeps to it (details in posting.py, undo.py):
- documents are created as drafts and posted (`action_post`), which numbers them from Odoo's journal
  sequence; our number is the Customer Reference (`ref`), which is how a document is found again;
- a posted invoice is never edited: an update is a credit note reversing it plus a re-issued invoice
  (Odoo's "Reverse and create invoice"), and the ledger keeps both (the event's before/after);
- a void is a full reversal by credit note; payments go through Odoo's payment wizard, applied to the
  invoice(s) they pay;
- the lock dates (`fiscalyear_lock_date`, `period_lock_date` on the company) are read back as the book-close
  date; a document dated on or before them is held and posted when they move;
- no idempotency key: every write is preceded by a look-up (`honours_request_id` False), and a write is
  sent again only when Odoo provably never received it (client.py).

Settings are read in one place, `from_env` (README, "Odoo"). The API key is sent in each call's body
only, never logged or put into an outcome or exception.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

import httpx

from bridge_assets.destinations.base import Capabilities, DestinationError, Outcome, Status
from bridge_assets.destinations.kit.erp import ErpDestination, ErpEnvironment
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.odoo.client import OdooAccessDenied, OdooClient, OdooFault, OdooUnavailable
from bridge_assets.destinations.odoo.payloads import LABEL, MOVE_TYPE, PAYMENT_FIELDS, decimal, is_live
from bridge_assets.destinations.odoo.posting import PostingMixin
from bridge_assets.destinations.odoo.read_back import ReadBackMixin
from bridge_assets.destinations.odoo.references import ReferencesMixin
from bridge_assets.destinations.odoo.undo import UndoMixin
from bridge_assets.destinations.base import by_hand

BATCH_SIZE = 20          # requests per post call: each is its own short sequence of Odoo calls


class OdooDestination(ReferencesMixin, PostingMixin, UndoMixin, ReadBackMixin, ErpDestination):
    name = "odoo"

    def __init__(self, *, url: str, database: str, login: str, api_key: str, auto_create_customers: bool = True,
                 auto_create_products: bool = True, tax_product_name: str = "Sales Tax (as billed)",
                 limits: Limits = Limits(), tries: int = 5, timeout: httpx.Timeout | float = 60.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not url or not database or not login or not api_key:
            raise DestinationError("Odoo needs ODOO_URL, ODOO_DATABASE, ODOO_USERNAME and ODOO_API_KEY")
        self.client = OdooClient(url, database, login, api_key, limits=limits, tries=tries, timeout=timeout,
                                 transport=transport)
        self.book = f"{url.rstrip('/')}#{database}"
        self.capabilities = Capabilities(supports_update=True, supports_void=True, honours_request_id=False,
                                         batch_size=BATCH_SIZE, reads_back=True, restores=False,
                                         applies_credits=True, lock_date_readable=True)
        self.auto_create_customers = auto_create_customers
        self.auto_create_products = auto_create_products
        self.tax_product_name = tax_product_name
        self._partners: dict[str, int] = {}
        self._products: dict[str, int] = {}
        self._written = 0

    def __repr__(self) -> str:
        return f"OdooDestination(database={self.client.database!r}, url={self.client.url!r})"

    @classmethod
    def from_env(cls, settings: Any = None, environ: Mapping[str, str] | None = None) -> "OdooDestination":
        env = ErpEnvironment("Odoo", environ)
        env.require("ODOO_URL", "ODOO_DATABASE", "ODOO_USERNAME", "ODOO_API_KEY")
        text, flag, number = env.text, env.flag, env.number
        per_minute = number("ODOO_REQUESTS_PER_MINUTE", None)
        timeout = number("ODOO_TIMEOUT_SECONDS", 60.0)
        return cls(url=text("ODOO_URL"), database=text("ODOO_DATABASE"), login=text("ODOO_USERNAME"),
                   api_key=text("ODOO_API_KEY"), auto_create_customers=flag("ODOO_AUTO_CREATE_CUSTOMERS", True),
                   auto_create_products=flag("ODOO_AUTO_CREATE_PRODUCTS", True),
                   tax_product_name=text("ODOO_TAX_PRODUCT", "Sales Tax (as billed)"),
                   limits=Limits(requests_per_minute=int(per_minute) if per_minute else None,
                                 time_scale=number("ODOO_TIME_SCALE", 1.0)),
                   timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)))

    # --- runs, closing date, look-up ---------------------------------------------------------------

    def run_label(self) -> str:
        return f"Odoo database {self.client.database}"

    def book_close_date(self) -> dt.date | None:
        """The later of Odoo's two lock dates (the period lock binds the bridge's user unless it is an Adviser)."""
        try:
            company = self.client.execute("res.company", "search_read", [],
                                          fields=["period_lock_date", "fiscalyear_lock_date"], limit=1)
        except OdooAccessDenied as denied:
            raise DestinationError(str(denied)) from None
        dates = [dt.date.fromisoformat(str(d)) for c in company for d in
                 (c.get("period_lock_date"), c.get("fiscalyear_lock_date")) if d]
        return max(dates) if dates else None

    def is_period_open(self, txn_date) -> bool:
        close = self.book_close_date()
        return close is None or txn_date > close

    def find(self, doc_type: str, doc_number: str) -> Outcome | None:
        """The live posted document with our number. Odoo keeps no content hash of ours, so `after` says
        "not known" and an update in doubt is sent again: post() compares the content before any write."""
        try:
            if doc_type == "payment":
                found = self.client.execute("account.payment", "search_read",
                                            [["ref", "=", doc_number], ["state", "=", "posted"]],
                                            fields=PAYMENT_FIELDS, order="id")
            else:
                found = [m for m in self._moves([["move_type", "=", MOVE_TYPE[doc_type]], ["ref", "=", doc_number],
                                                 ["state", "=", "posted"]]) if is_live(m)]
        except OdooUnavailable:
            return None
        if not found:
            return None
        record = found[-1]
        if doc_type == "credit_memo" and decimal(record["amount_residual"]) == decimal(record["amount_total"]):
            return None   # posted but applied to nothing yet: post() adopts it and applies it (a run killed between)
        return Outcome(Status.CREATED, dest_id=str(record["id"]), dest_doc_number=str(record["name"]),
                       version=str(record.get("write_date") or ""), http_status=200,
                       after={**record, "content_hash": ""})

    def by_hand_outcome(self, capability: str, action: str, doc_type: str, doc_number: str, document=None,
                        previous: dict | None = None) -> Outcome:
        if capability == "restores":
            return by_hand(capability, self._restore_sentence(doc_type, None, previous))
        return by_hand(capability, f"{LABEL.get(doc_type, doc_type)} {doc_number}: Odoo cannot {action} it through "
                                   f"the bridge ({capability}); do it in Odoo by hand.")


__all__ = ["OdooDestination", "OdooFault"]
