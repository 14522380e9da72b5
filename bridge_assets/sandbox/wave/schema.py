"""The part of Wave's public GraphQL schema the emulator serves, as SDL, built with graphql-core.

Every request is parsed and validated against this schema before anything runs (an unknown field, a
missing required argument or a wrong type is refused as Wave's GraphQL server would); the resolvers in
`resolvers.py` are bound to its fields. Names follow Wave's public schema (developer.waveapps.com, the
`wave-api` crate's documents): `business(id:)`, `invoices(page, pageSize, modifiedAtAfter, ...)` as a
connection with `pageInfo` and `edges { node }`, mutations answering `didSucceed` / `inputErrors`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from graphql import GraphQLError, GraphQLSchema, build_schema
from graphql.language import FloatValueNode, IntValueNode, StringValueNode

SDL = """
scalar Date
scalar DateTime
scalar Decimal

enum InvoiceStatus { DRAFT SAVED SENT VIEWED PARTIAL PAID OVERDUE UNPAID }
enum AccountSubtypeValue { INCOME CASH_AND_BANK EXPENSE }

type Currency { code: String! symbol: String! }
type Money { value: String! currency: Currency! }
type PageInfo { currentPage: Int! totalPages: Int! totalCount: Int! }
type InputError { message: String! code: String! path: [String!] }

type Account { id: ID! name: String! subtype: AccountSubtype! }
type AccountSubtype { value: AccountSubtypeValue! name: String! }
type AccountEdge { node: Account! }
type AccountConnection { pageInfo: PageInfo! edges: [AccountEdge!]! }

type SalesTax { id: ID! name: String! abbreviation: String! }
type SalesTaxEdge { node: SalesTax! }
type SalesTaxConnection { pageInfo: PageInfo! edges: [SalesTaxEdge!]! }

type Customer { id: ID! name: String! displayId: String internalNotes: String createdAt: DateTime! modifiedAt: DateTime! }
type CustomerEdge { node: Customer! }
type CustomerConnection { pageInfo: PageInfo! edges: [CustomerEdge!]! }

type Product { id: ID! name: String! description: String unitPrice: Decimal! incomeAccount: Account isArchived: Boolean! }
type ProductEdge { node: Product! }
type ProductConnection { pageInfo: PageInfo! edges: [ProductEdge!]! }

type InvoiceItemTax { salesTax: SalesTax! amount: Money! }
type InvoiceItem {
  product: Product! description: String quantity: Decimal! unitPrice: Decimal! subtotal: Money! total: Money!
  taxes: [InvoiceItemTax!]!
}
type Invoice {
  id: ID! status: InvoiceStatus! invoiceNumber: String! invoiceDate: Date! dueDate: Date! poNumber: String
  memo: String title: String customer: Customer! items: [InvoiceItem!]! subtotal: Money! taxTotal: Money!
  total: Money! amountDue: Money! amountPaid: Money! createdAt: DateTime! modifiedAt: DateTime!
}
type InvoiceEdge { node: Invoice! }
type InvoiceConnection { pageInfo: PageInfo! edges: [InvoiceEdge!]! }

type Business {
  id: ID! name: String! currency: Currency!
  accounts(page: Int = 1, pageSize: Int = 20, subtypes: [AccountSubtypeValue!]): AccountConnection!
  salesTaxes(page: Int = 1, pageSize: Int = 20): SalesTaxConnection!
  customers(page: Int = 1, pageSize: Int = 20): CustomerConnection!
  customer(id: ID!): Customer
  products(page: Int = 1, pageSize: Int = 20): ProductConnection!
  invoices(page: Int = 1, pageSize: Int = 20, status: InvoiceStatus, customerId: ID, invoiceDateStart: Date,
           invoiceDateEnd: Date, modifiedAtAfter: DateTime, modifiedAtBefore: DateTime): InvoiceConnection!
  invoice(id: ID!): Invoice
}

type Query { business(id: ID!): Business }

input CustomerCreateInput {
  businessId: ID! name: String! firstName: String lastName: String displayId: String email: String
  internalNotes: String
}
type CustomerCreateOutput { didSucceed: Boolean! inputErrors: [InputError!] customer: Customer }

input ProductCreateInput {
  businessId: ID! name: String! unitPrice: Decimal! description: String incomeAccountId: ID
  defaultSalesTaxIds: [ID!]
}
type ProductCreateOutput { didSucceed: Boolean! inputErrors: [InputError!] product: Product }

input InvoiceCreateItemTaxInput { salesTaxId: ID! amount: Decimal }
input InvoiceCreateItemInput {
  productId: ID! description: String quantity: Decimal unitPrice: Decimal taxes: [InvoiceCreateItemTaxInput!]
}
input InvoiceCreateInput {
  businessId: ID! customerId: ID! invoiceNumber: String invoiceDate: Date dueDate: Date poNumber: String
  memo: String title: String items: [InvoiceCreateItemInput!]
}
input InvoicePatchInput {
  id: ID! customerId: ID invoiceNumber: String invoiceDate: Date dueDate: Date poNumber: String memo: String
  title: String items: [InvoiceCreateItemInput!]
}
input InvoiceApproveInput { invoiceId: ID! }
input InvoiceDeleteInput { invoiceId: ID! }
type InvoiceCreateOutput { didSucceed: Boolean! inputErrors: [InputError!] invoice: Invoice }
type InvoicePatchOutput { didSucceed: Boolean! inputErrors: [InputError!] invoice: Invoice }
type InvoiceApproveOutput { didSucceed: Boolean! inputErrors: [InputError!] invoice: Invoice }
type InvoiceDeleteOutput { didSucceed: Boolean! inputErrors: [InputError!] }

type Mutation {
  customerCreate(input: CustomerCreateInput!): CustomerCreateOutput!
  productCreate(input: ProductCreateInput!): ProductCreateOutput!
  invoiceCreate(input: InvoiceCreateInput!): InvoiceCreateOutput!
  invoicePatch(input: InvoicePatchInput!): InvoicePatchOutput!
  invoiceApprove(input: InvoiceApproveInput!): InvoiceApproveOutput!
  invoiceDelete(input: InvoiceDeleteInput!): InvoiceDeleteOutput!
}
"""


def _date(value: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise GraphQLError(f"Date must be YYYY-MM-DD, not {value!r}") from None


def _datetime(value: Any) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise GraphQLError(f"DateTime must be ISO 8601, not {value!r}") from None
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise GraphQLError(f"Decimal must be a number or a numeric string, not {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise GraphQLError(f"Decimal must be a number or a numeric string, not {value!r}") from None
    if not number.is_finite():
        raise GraphQLError(f"Decimal must be finite, not {value!r}")
    return number


def _literal(parse):
    def parse_literal(node, _variables=None):
        if isinstance(node, (StringValueNode, IntValueNode, FloatValueNode)):
            return parse(node.value)
        raise GraphQLError("expected a string or number literal")
    return parse_literal


def build() -> GraphQLSchema:
    schema = build_schema(SDL)
    scalars = {
        "Date": (_date, lambda v: v.isoformat()),
        "DateTime": (_datetime, lambda v: v.replace(microsecond=0).isoformat() + "Z"),
        "Decimal": (_decimal, lambda v: format(v, "f")),
    }
    for name, (parse, serialize) in scalars.items():
        scalar = schema.type_map[name]
        scalar.parse_value, scalar.parse_literal, scalar.serialize = parse, _literal(parse), serialize
    return schema
