"""The GraphQL documents the bridge sends to Wave, in Wave's public schema's names."""

INVOICE_FIELDS = """
  id status invoiceNumber invoiceDate dueDate poNumber memo modifiedAt
  customer { id name }
  items { product { id name } description quantity unitPrice subtotal { value } taxes { amount { value } } }
  subtotal { value } taxTotal { value } total { value } amountDue { value }
"""

REFERENCES = """
query References($businessId: ID!, $page: Int!) {
  business(id: $businessId) {
    id
    accounts(page: 1, pageSize: 100, subtypes: [INCOME]) { edges { node { id name } } }
    salesTaxes(page: 1, pageSize: 100) { edges { node { id name } } }
    customers(page: $page, pageSize: 100) { pageInfo { totalPages } edges { node { id name displayId } } }
    products(page: $page, pageSize: 100) { pageInfo { totalPages } edges { node { id name } } }
  }
}
"""

INVOICES = """
query Invoices($businessId: ID!, $page: Int!, $modifiedAtAfter: DateTime) {
  business(id: $businessId) {
    invoices(page: $page, pageSize: 100, modifiedAtAfter: $modifiedAtAfter) {
      pageInfo { currentPage totalPages }
      edges { node { %s } }
    }
  }
}
""" % INVOICE_FIELDS

INVOICE = """
query Invoice($businessId: ID!, $id: ID!) { business(id: $businessId) { invoice(id: $id) { %s } } }
""" % INVOICE_FIELDS

CUSTOMER_CREATE = """
mutation CustomerCreate($input: CustomerCreateInput!) {
  customerCreate(input: $input) { didSucceed inputErrors { message code path } customer { id name displayId } }
}
"""

PRODUCT_CREATE = """
mutation ProductCreate($input: ProductCreateInput!) {
  productCreate(input: $input) { didSucceed inputErrors { message code path } product { id name } }
}
"""

INVOICE_CREATE = """
mutation InvoiceCreate($input: InvoiceCreateInput!) {
  invoiceCreate(input: $input) { didSucceed inputErrors { message code path } invoice { %s } }
}
""" % INVOICE_FIELDS

INVOICE_APPROVE = """
mutation InvoiceApprove($input: InvoiceApproveInput!) {
  invoiceApprove(input: $input) { didSucceed inputErrors { message code path } invoice { %s } }
}
""" % INVOICE_FIELDS

INVOICE_PATCH = """
mutation InvoicePatch($input: InvoicePatchInput!) {
  invoicePatch(input: $input) { didSucceed inputErrors { message code path } invoice { %s } }
}
""" % INVOICE_FIELDS
