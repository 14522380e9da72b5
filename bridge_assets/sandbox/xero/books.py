"""One organisation's books behind the API: which writer and reader each collection has.

`Books(store, settings, tenant_id)` is made per request; `touched` names the entities a write changed
(webhooks, dropped-answer faults). Elements of a collection write are each their own savepoint: one
refused element leaves the others' work committed, as Xero's `summarizeErrors=false` reports it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from bridge_assets.sandbox.xero import errors
from bridge_assets.sandbox.xero.documents import CREDIT_NOTE, INVOICE, Documents
from bridge_assets.sandbox.xero.errors import Invalid
from bridge_assets.sandbox.xero.names import Names
from bridge_assets.sandbox.xero.settings import EmulatorSettings
from bridge_assets.sandbox.xero.settle import Settlements
from bridge_assets.sandbox.xero.store import Store


@dataclasses.dataclass(frozen=True)
class Resource:
    entity: str
    id_field: str
    number_field: str | None      # what `<number_field>s=a,b` filters on, and what POST may match by
    lines: str | None = None      # left out of a list read without `page`


RESOURCES = {
    "Invoices": Resource("Invoice", "InvoiceID", "InvoiceNumber", "LineItems"),
    "CreditNotes": Resource("CreditNote", "CreditNoteID", "CreditNoteNumber", "LineItems"),
    "Payments": Resource("Payment", "PaymentID", None),
    "BatchPayments": Resource("BatchPayment", "BatchPaymentID", None),
    "Contacts": Resource("Contact", "ContactID", "ContactNumber"),
    "Items": Resource("Item", "ItemID", "Code"),
    "BankTransactions": Resource("BankTransaction", "BankTransactionID", None),
    "Overpayments": Resource("Overpayment", "OverpaymentID", None),
}


class Books:
    def __init__(self, store: Store, settings: EmulatorSettings, tenant_id: str, *, unitdp: int = 2) -> None:
        self.store, self.settings, self.tenant_id = store, settings, tenant_id
        self.organisation = store.organisation(tenant_id) or {}
        self.touched: set[str] = set()
        self.names = Names(store, tenant_id, self.touched)
        self.documents = Documents(store, tenant_id, self.organisation, dict(settings.tax_rates), self.names,
                                   self.touched, unitdp=unitdp)
        self.settle = Settlements(self.documents)

    def get(self, resource: Resource, ref: str) -> dict[str, Any] | None:
        kind = {"Invoice": INVOICE, "CreditNote": CREDIT_NOTE}.get(resource.entity)
        if kind is not None:
            return self.documents.find(kind, ref)
        found = self.store.get(self.tenant_id, resource.entity, ref)
        if found is None and resource.number_field:
            numbered = self.store.by_number(self.tenant_id, resource.entity, ref)
            found = numbered[0] if numbered else None
        return found

    def all(self, resource: Resource) -> list[dict[str, Any]]:
        return self.store.all(self.tenant_id, resource.entity)

    # --- writes ------------------------------------------------------------------------------------

    def writer(self, resource: Resource, method: str, path_id: str | None) -> Callable[[dict[str, Any]], dict]:
        """The function that writes one element of a PUT or POST to `resource` (Invalid when refused)."""
        def write(sent: dict[str, Any]) -> dict[str, Any]:
            existing = self._existing(resource, sent, method, path_id)
            entity = resource.entity
            if entity in ("Invoice", "CreditNote"):
                return self.documents.save(INVOICE if entity == "Invoice" else CREDIT_NOTE, sent, existing)
            if entity == "Contact":
                return self.names.save_contact(sent, existing)
            if entity == "Item":
                return self.names.save_item(sent, existing)
            if entity == "Payment":
                return self.settle.delete_payment(existing, sent) if existing else self.settle.pay(sent)
            if entity == "BankTransaction":
                return self.settle.delete_received(existing, sent) if existing else self.settle.receive(sent)
            if entity == "Overpayment":
                raise Invalid("An overpayment is made as a bank transaction of Type RECEIVE-OVERPAYMENT")
            return self.settle.delete_batch(existing, sent) if existing else self.settle.pay_batch(sent)
        return write

    def _existing(self, resource: Resource, sent: dict[str, Any], method: str, path_id: str | None):
        ref = path_id or sent.get(resource.id_field)
        if method == "PUT":
            if ref:
                raise Invalid(f"PUT creates; to change {resource.entity} {ref} use POST")
            return None
        if ref:
            found = self.get(resource, str(ref))
            if found is None:
                raise Invalid(f"{resource.entity} {ref} could not be found")
            return found
        if resource.entity in ("Payment", "BatchPayment", "BankTransaction", "Overpayment"):
            return None
        number = sent.get(resource.number_field) if resource.number_field else None
        if resource.entity == "Contact" and not number and sent.get("Name"):
            return self.names.contact_by_name(str(sent["Name"]))
        if number:
            live = [d for d in self.store.by_number(self.tenant_id, resource.entity, str(number))
                    if d.get("Status") not in ("DELETED",)]
            return live[0] if live else None
        return None

    def write_all(self, elements: list[dict[str, Any]], write: Callable[[dict[str, Any]], dict],
                  ) -> list[tuple[dict[str, Any], str | None]]:
        """Each element in its own savepoint: (what was saved or sent, the refusal or None)."""
        results = []
        for sent in elements:
            if not isinstance(sent, dict):
                raise errors.bad_request("each element must be a JSON object")
            try:
                with self.store.transaction():
                    results.append((write(sent), None))
            except Invalid as problem:
                results.append((sent, str(problem)))
            except (ValueError, TypeError, KeyError, ArithmeticError) as problem:
                results.append((sent, f"{type(problem).__name__}: {problem}"))
        return results
