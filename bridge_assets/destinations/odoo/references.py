"""Customers and products: matched in Odoo, or created per policy, cached for the adapter's lifetime.

A customer is the contact whose Reference (`ref`) is our customer number, else the one of the same
name without a reference (entered by hand; adopted, never renamed); a product is the one whose
Internal Reference (`default_code`) is our item code. Odoo allows duplicate names: two contacts
carrying one number is a problem a person resolves, and the document fails with a sentence.
"""

from __future__ import annotations

from typing import Sequence

from bridge_assets.destinations.kit.erp import reference_problems
from bridge_assets.destinations.odoo.client import OdooFault
from bridge_assets.destinations.odoo.payloads import refusal
from bridge_assets.model.document import AccountingDocument

TAX_CODE = "BRIDGE-SALES-TAX"


class ReferencesMixin:
    def resolve_references(self, documents: Sequence[AccountingDocument]) -> dict[str, str]:
        return reference_problems(documents, self._resolve, OdooFault,
                                  lambda fault: refusal(fault.call, fault.message, self.client.login)[1])

    def _resolve(self, document: AccountingDocument) -> str | None:
        """Its customer and products matched or created; the sentence when one cannot be (Odoo's refusals raise)."""
        problem = self._customer(document.customer_key, document.customer_name)[1]
        for line in document.lines:
            problem = problem or self._product(line.item_code, line.description)[1]
        if problem is None and document.tax_total and document.doc_type != "payment":
            problem = self._product(TAX_CODE, self.tax_product_name)[1]
        return problem

    def _customer(self, key: str, name: str) -> tuple[int | None, str | None]:
        if key in self._partners:
            return self._partners[key], None
        found = self.client.execute("res.partner", "search_read", [["ref", "=", key]], fields=["name", "ref"])
        if len(found) > 1:
            return None, (f"Odoo has {len(found)} contacts with the Reference {key} "
                          f"({', '.join(str(p['name']) for p in found)}); keep one, then run again")
        if not found:
            found = self.client.execute("res.partner", "search_read", [["name", "=", name], ["ref", "=", False]],
                                        fields=["name", "ref"], limit=2)
            if len(found) > 1:
                return None, (f"Odoo has several contacts named {name!r} and none with the Reference {key}; set "
                              f"Reference {key} on the right one, then run again")
        if found:
            self._partners[key] = int(found[0]["id"])
            return self._partners[key], None
        if not self.auto_create_customers:
            return None, (f"Customer {name!r} ({key}) not found in Odoo (no contact with Reference {key}) and "
                          f"ODOO_AUTO_CREATE_CUSTOMERS is off; create the contact with that Reference, or turn it on")
        self._partners[key] = int(self.client.execute("res.partner", "create",
                                                      {"name": name, "ref": key, "customer_rank": 1}))
        return self._partners[key], None

    def _product(self, code: str, description: str) -> tuple[int | None, str | None]:
        if code in self._products:
            return self._products[code], None
        found = self.client.execute("product.product", "search", [["default_code", "=", code]], limit=1)
        if found:
            self._products[code] = int(found[0])
            return self._products[code], None
        if not self.auto_create_products:
            return None, (f"Product with Internal Reference {code!r} not found in Odoo and ODOO_AUTO_CREATE_PRODUCTS "
                          f"is off; create it, or turn that on")
        name = description if code == TAX_CODE else code
        self._products[code] = int(self.client.execute("product.product", "create",
                                                       {"name": name, "default_code": code, "type": "service"}))
        return self._products[code], None

    def _ids_for(self, document: AccountingDocument) -> tuple[int, dict[str, int], int | None]:
        partner = self._partners[document.customer_key]
        products = {line.item_code: self._products[line.item_code] for line in document.lines}
        return partner, products, self._products.get(TAX_CODE)

    def _has_references(self, document: AccountingDocument) -> bool:
        return (document.customer_key in self._partners
                and all(line.item_code in self._products for line in document.lines)
                and (not document.tax_total or document.doc_type == "payment" or TAX_CODE in self._products))
