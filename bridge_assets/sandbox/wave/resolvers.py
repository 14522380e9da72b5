"""Wave's rules behind the schema's fields: what a query reads and what a mutation may change.

Bound to the schema by `bind(schema)`. Every resolver gets the request's `Context`: the store and the
business the bearer token was granted for (a token reaches that business only). Mutations answer
`didSucceed: false` with `inputErrors [{message, code, path}]` for what Wave refuses; the rules and
the strictest choices taken where the facts are unconfirmed are the RULES table of the package.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from decimal import Decimal
from typing import Any

from graphql import GraphQLSchema

from bridge_assets.sandbox.kit.money import line_amount, money
from bridge_assets.sandbox.wave.settings import EmulatorSettings
from bridge_assets.sandbox.wave.store import Store


@dataclasses.dataclass
class Context:
    store: Store
    business_id: str
    settings: EmulatorSettings


class Refused(Exception):
    """A mutation's input error: `didSucceed: false` with this message, code and path."""

    def __init__(self, message: str, code: str = "INVALID", path: tuple[str, ...] = ("input",)) -> None:
        super().__init__(message)
        self.error = {"message": message, "code": code, "path": list(path)}


# --- rendering ----------------------------------------------------------------------------------------

def _money(value: Decimal, ctx: Context) -> dict:
    return {"value": format(money(value), "f"), "currency": {"code": ctx.settings.currency, "symbol": "$"}}


def _connection(records: list[dict], page: int, page_size: int, ctx: Context, render) -> dict:
    if page < 1 or not 1 <= page_size <= ctx.settings.max_page_size:
        raise ValueError(f"page must be at least 1 and pageSize between 1 and {ctx.settings.max_page_size}")
    total = len(records)
    chosen = records[(page - 1) * page_size: page * page_size]
    return {"pageInfo": {"currentPage": page, "totalPages": max(1, math.ceil(total / page_size)), "totalCount": total},
            "edges": [{"node": render(record, ctx)} for record in chosen]}


def _plain(record: dict, ctx: Context) -> dict:
    return {**record, "createdAt": record["created_at"], "modifiedAt": record["modified_at"]}


def _product(record: dict, ctx: Context) -> dict:
    account = ctx.store.get("Account", record.get("income_account_id") or "")
    return {**record, "unitPrice": Decimal(record["unit_price"]), "isArchived": False,
            "incomeAccount": _account(account, ctx) if account else None}


def _account(record: dict, ctx: Context) -> dict:
    return {**record, "subtype": {"value": record["subtype"], "name": record["subtype"].title()}}


def _amounts(doc: dict) -> tuple[Decimal, Decimal]:
    subtotal = sum((line_amount(Decimal(i["quantity"]), Decimal(i["unit_price"])) for i in doc["items"]), Decimal(0))
    taxes = sum((Decimal(t["amount"]) for i in doc["items"] for t in i["taxes"]), Decimal(0))
    return money(subtotal), money(taxes)


def render_invoice(record: dict, ctx: Context) -> dict:
    subtotal, tax = _amounts(record)
    paid = Decimal(record.get("amount_paid", "0"))
    items = []
    for item in record["items"]:
        line = line_amount(Decimal(item["quantity"]), Decimal(item["unit_price"]))
        taxes = [{"salesTax": ctx.store.get("SalesTax", t["sales_tax_id"]), "amount": _money(Decimal(t["amount"]), ctx)}
                 for t in item["taxes"]]
        items.append({"product": _product(ctx.store.get("Product", item["product_id"]), ctx),
                      "description": item.get("description"), "quantity": Decimal(item["quantity"]),
                      "unitPrice": Decimal(item["unit_price"]), "subtotal": _money(line, ctx),
                      "total": _money(line + sum((Decimal(t["amount"]) for t in item["taxes"]), Decimal(0)), ctx),
                      "taxes": taxes})
    return {"id": record["id"], "status": record["status"], "invoiceNumber": record["invoice_number"],
            "invoiceDate": dt.date.fromisoformat(record["invoice_date"]),
            "dueDate": dt.date.fromisoformat(record["due_date"]), "poNumber": record.get("po_number"),
            "memo": record.get("memo"), "title": record.get("title"),
            "customer": _plain(ctx.store.get("Customer", record["customer_id"]), ctx), "items": items,
            "subtotal": _money(subtotal, ctx), "taxTotal": _money(tax, ctx), "total": _money(subtotal + tax, ctx),
            "amountDue": _money(subtotal + tax - paid, ctx), "amountPaid": _money(paid, ctx),
            "createdAt": record["created_at"], "modifiedAt": record["modified_at"]}


# --- queries ------------------------------------------------------------------------------------------

def business(_, info, id: str) -> dict | None:
    ctx: Context = info.context
    if id != ctx.business_id:
        return None                      # a token reaches the business it was granted for, no other
    record = ctx.store.get("Business", id)
    return None if record is None else {**record, "currency": {"code": ctx.settings.currency, "symbol": "$"}}


def _lister(kind: str, render):
    def resolve(parent, info, page: int = 1, pageSize: int = 20, **filters) -> dict:
        ctx: Context = info.context
        records = ctx.store.listed(kind, parent["id"], modified_after=filters.get("modifiedAtAfter"),
                                   modified_before=filters.get("modifiedAtBefore"))
        records = [r for r in records if _matches(r, filters)]
        return _connection(records, page, pageSize, ctx, render)
    return resolve


def _matches(record: dict, filters: dict) -> bool:
    if filters.get("subtypes") and record.get("subtype") not in filters["subtypes"]:
        return False
    if filters.get("status") and record.get("status") != filters["status"]:
        return False
    if filters.get("customerId") and record.get("customer_id") != filters["customerId"]:
        return False
    if filters.get("invoiceDateStart") and record["invoice_date"] < filters["invoiceDateStart"].isoformat():
        return False
    return not (filters.get("invoiceDateEnd") and record["invoice_date"] > filters["invoiceDateEnd"].isoformat())


def _one(kind: str, render):
    def resolve(parent, info, id: str) -> dict | None:
        record = info.context.store.get(kind, id, parent["id"])
        return None if record is None else render(record, info.context)
    return resolve


# --- mutations ----------------------------------------------------------------------------------------

def _mutation(work, key: str | None):
    def resolve(_, info, input: dict) -> dict:
        ctx: Context = info.context
        try:
            with ctx.store.transaction():
                result = work(ctx, input)
        except Refused as refused:
            return {"didSucceed": False, "inputErrors": [refused.error], **({key: None} if key else {})}
        return {"didSucceed": True, "inputErrors": [], **({key: result} if key else {})}
    return resolve


def _own_business(ctx: Context, business_id: str) -> None:
    if business_id != ctx.business_id or ctx.store.get("Business", business_id) is None:
        raise Refused("Business not found or not accessible with this token.", "NOT_FOUND", ("input", "businessId"))


def customer_create(ctx: Context, data: dict) -> dict:
    _own_business(ctx, data["businessId"])
    name = (data.get("name") or "").strip()
    if not name:
        raise Refused("Name is required.", "REQUIRED", ("input", "name"))
    doc = {"name": name, "displayId": data.get("displayId"), "internalNotes": data.get("internalNotes"),
           "email": data.get("email")}
    return _plain(ctx.store.insert("Customer", ctx.business_id, doc), ctx)


def product_create(ctx: Context, data: dict) -> dict:
    _own_business(ctx, data["businessId"])
    name = (data.get("name") or "").strip()
    if not name:
        raise Refused("Name is required.", "REQUIRED", ("input", "name"))
    if any(p["name"].casefold() == name.casefold() for p in ctx.store.listed("Product", ctx.business_id)):
        raise Refused(f"A product named {name} already exists.", "DUPLICATE", ("input", "name"))
    account = ctx.store.get("Account", data.get("incomeAccountId") or "", ctx.business_id)
    if account is None or account["subtype"] != "INCOME":
        raise Refused("A product that is sold needs an income account.", "INVALID", ("input", "incomeAccountId"))
    doc = {"name": name, "unit_price": data["unitPrice"], "description": data.get("description"),
           "income_account_id": account["id"]}
    return _product(ctx.store.insert("Product", ctx.business_id, doc), ctx)


def _items(ctx: Context, items: list[dict] | None) -> list[dict]:
    if not items:
        raise Refused("An invoice needs at least one item.", "REQUIRED", ("input", "items"))
    built = []
    for n, item in enumerate(items):
        product = ctx.store.get("Product", item["productId"], ctx.business_id)
        if product is None:
            raise Refused("Product not found.", "NOT_FOUND", ("input", "items", str(n), "productId"))
        quantity = item.get("quantity") if item.get("quantity") is not None else Decimal(1)
        price = item.get("unitPrice") if item.get("unitPrice") is not None else Decimal(product["unit_price"])
        if quantity == 0:
            raise Refused("Quantity cannot be zero.", "INVALID", ("input", "items", str(n), "quantity"))
        taxes = []
        for tax in item.get("taxes") or []:
            sales_tax = ctx.store.get("SalesTax", tax["salesTaxId"], ctx.business_id)
            if sales_tax is None:
                raise Refused("Sales tax not found.", "NOT_FOUND", ("input", "items", str(n), "taxes"))
            amount = tax.get("amount")
            if amount is None:
                amount = money(line_amount(quantity, price) * Decimal(sales_tax["rate"]))
            taxes.append({"sales_tax_id": sales_tax["id"], "amount": money(amount)})
        built.append({"product_id": product["id"], "description": item.get("description") or product.get("description"),
                      "quantity": quantity, "unit_price": price, "taxes": taxes})
    return built


def _number_free(ctx: Context, number: str, except_id: str | None = None) -> None:
    if any(i["invoice_number"] == number and i["id"] != except_id for i in ctx.store.listed("Invoice", ctx.business_id)):
        raise Refused(f"Invoice number {number} is already in use.", "DUPLICATE", ("input", "invoiceNumber"))


def _dates(doc: dict) -> None:
    if doc["due_date"] < doc["invoice_date"]:
        raise Refused("The payment due date cannot be before the invoice date.", "INVALID", ("input", "dueDate"))


def invoice_create(ctx: Context, data: dict) -> dict:
    _own_business(ctx, data["businessId"])
    if ctx.store.get("Customer", data["customerId"], ctx.business_id) is None:
        raise Refused("Customer not found.", "NOT_FOUND", ("input", "customerId"))
    numbers = [int(i["invoice_number"]) for i in ctx.store.listed("Invoice", ctx.business_id)
               if i["invoice_number"].isdigit()]
    number = (data.get("invoiceNumber") or "").strip() or str(max(numbers, default=0) + 1)
    _number_free(ctx, number)
    invoice_date = data.get("invoiceDate") or dt.date.today()
    doc = {"status": "DRAFT", "invoice_number": number, "invoice_date": invoice_date.isoformat(),
           "due_date": (data.get("dueDate") or invoice_date).isoformat(), "po_number": data.get("poNumber"),
           "memo": data.get("memo"), "title": data.get("title"), "customer_id": data["customerId"],
           "items": _items(ctx, data.get("items")), "amount_paid": "0"}
    _dates(doc)
    return render_invoice(ctx.store.insert("Invoice", ctx.business_id, doc), ctx)


def _invoice_of(ctx: Context, invoice_id: str, field: str) -> dict:
    record = ctx.store.get("Invoice", invoice_id, ctx.business_id)
    if record is None:
        raise Refused("Invoice not found.", "NOT_FOUND", ("input", field))
    return record


def invoice_patch(ctx: Context, data: dict) -> dict:
    record = _invoice_of(ctx, data["id"], "id")
    if Decimal(record.get("amount_paid", "0")) != 0:
        raise Refused("An invoice with payments recorded cannot be edited.", "INVALID_STATE", ("input", "id"))
    doc = {k: v for k, v in record.items() if k not in ("id", "business_id", "created_at", "modified_at")}
    if data.get("customerId") is not None:
        if ctx.store.get("Customer", data["customerId"], ctx.business_id) is None:
            raise Refused("Customer not found.", "NOT_FOUND", ("input", "customerId"))
        doc["customer_id"] = data["customerId"]
    if data.get("invoiceNumber") is not None:
        _number_free(ctx, data["invoiceNumber"], record["id"])
        doc["invoice_number"] = data["invoiceNumber"]
    for field, key in (("invoiceDate", "invoice_date"), ("dueDate", "due_date")):
        if data.get(field) is not None:
            doc[key] = data[field].isoformat()
    for field, key in (("poNumber", "po_number"), ("memo", "memo"), ("title", "title")):
        if field in data:
            doc[key] = data[field]
    if data.get("items") is not None:
        doc["items"] = _items(ctx, data["items"])          # items given replace every item
    _dates(doc)
    return render_invoice(ctx.store.update("Invoice", record["id"], doc), ctx)


def invoice_approve(ctx: Context, data: dict) -> dict:
    record = _invoice_of(ctx, data["invoiceId"], "invoiceId")
    if record["status"] != "DRAFT":
        raise Refused("Only a draft invoice can be approved.", "INVALID_STATE", ("input", "invoiceId"))
    doc = {k: v for k, v in record.items() if k not in ("id", "business_id", "created_at", "modified_at")}
    return render_invoice(ctx.store.update("Invoice", record["id"], {**doc, "status": "SAVED"}), ctx)


def invoice_delete(ctx: Context, data: dict) -> None:
    record = _invoice_of(ctx, data["invoiceId"], "invoiceId")
    if record["status"] != "DRAFT":
        raise Refused("Only a draft invoice can be deleted.", "INVALID_STATE", ("input", "invoiceId"))
    ctx.store.delete("Invoice", record["id"])


def bind(schema: GraphQLSchema) -> GraphQLSchema:
    schema.query_type.fields["business"].resolve = business
    fields = schema.type_map["Business"].fields
    for field, kind, render in (("accounts", "Account", _account), ("salesTaxes", "SalesTax", _plain),
                                ("customers", "Customer", _plain), ("products", "Product", _product),
                                ("invoices", "Invoice", render_invoice)):
        fields[field].resolve = _lister(kind, render)
    fields["customer"].resolve = _one("Customer", _plain)
    fields["invoice"].resolve = _one("Invoice", render_invoice)
    mutations = schema.mutation_type.fields
    for field, work, key in (("customerCreate", customer_create, "customer"), ("productCreate", product_create, "product"),
                             ("invoiceCreate", invoice_create, "invoice"), ("invoicePatch", invoice_patch, "invoice"),
                             ("invoiceApprove", invoice_approve, "invoice"), ("invoiceDelete", invoice_delete, None)):
        mutations[field].resolve = _mutation(work, key)
    return schema
