"""The SedonaAPI 2.0 models the emulator serves, and which field plays which part in each.

Model and field names follow the SedonaAPI help pages quoted in API_FACTS.md. Fields the facts do
not name (marked "unconfirmed") were added because the export layout needs them: a line's tax
flag and tax, a credit's lines, a customer's master account, the modification time stamp.

    Customer            CustomerId, CustomerNumber, CustomerName ("Last, First" for people),
                        StatusCode AR|ANR|CANC, MasterAccountCode*, TermCode*, State*
    CustomerSite        CustomerSiteId, CustomerId, SiteName*
    CustomerRecurring   CustomerRecurringId, CustomerId, CustomerSiteId, ItemCode, Description*,
                        BillCycle M|Q|S|A, MonthlyAmount, CycleStartDate, CycleEndDate
    CustomerInvoice     InvoiceId, InvoiceNumber (int), InvoiceType O|S, CustomerId, CustomerSiteId,
                        InvoiceDate, CategoryCode, Amount, TaxAmount, TermCode, PONumber,
                        TicketNumber*, Items: CustomerInvoiceItem[]
    CustomerInvoiceItem InvoiceItemId*, ItemCode or PartCode, Description, Quantity, Rate, Amount,
                        Taxable*, TaxAmount*, BillCycle, ServiceStartDate, ServiceEndDate
    CustomerCredit      CreditId*, CreditNumber* (the invoice number sequence), CustomerId,
                        CustomerSiteId*, CreditDate*, Amount (excludes tax), TaxAmount*, Memo*,
                        Items* (as invoice items), Details: CustomerCreditDetail[]
    CustomerCreditDetail CreditDetailId*, InvoiceNumber, Amount (includes tax)
    CustomerPayment     PaymentId*, PaymentNumber*, CustomerId, CustomerNumber, PaymentDate*, Amount,
                        PaymentMethod*, CheckNumber*, Applications* [{InvoiceNumber, Amount}],
                        UnappliedAmount*   (searched by customer number and date range)
    ServiceTicket       ServiceTicketId*, TicketNumber, CustomerId, CustomerSiteId, StatusCode
                        CL|DP|IP|OP|RS|SC, TicketDate*, ClosedDate*, ProblemDescription*,
                        InvoiceNumber*, Parts [{PartCode, Description, Quantity, Rate, Amount}],
                        Labor [{ItemCode, Description, Hours, Rate, Amount}]
    AccountingPeriod    AccountingPeriodId*, StartDate, EndDate, Status Future|Open|Closed|Re-Open

    * unconfirmed name. Every record also carries ModifiedDate (unconfirmed name and format).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Model:
    name: str
    id_field: str
    number_field: str | None = None      # the number a bookkeeper uses (InvoiceNumber, ...)
    date_field: str | None = None        # what startDate/endDate filter on
    customer_field: str | None = "CustomerId"


MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        Model("Customer", "CustomerId", "CustomerNumber", None, "CustomerId"),
        Model("CustomerSite", "CustomerSiteId"),
        Model("CustomerRecurring", "CustomerRecurringId"),
        Model("CustomerInvoice", "InvoiceId", "InvoiceNumber", "InvoiceDate"),
        Model("CustomerCredit", "CreditId", "CreditNumber", "CreditDate"),
        Model("CustomerPayment", "PaymentId", "PaymentNumber", "PaymentDate"),
        Model("ServiceTicket", "ServiceTicketId", "TicketNumber", "TicketDate"),
    )
}
PERIOD_MODEL = "AccountingPeriod"

CUSTOMER_STATUSES = ("AR", "ANR", "CANC")
TICKET_STATUSES = ("CL", "DP", "IP", "OP", "RS", "SC")
BILL_CYCLES = ("M", "Q", "S", "A")
INVOICE_TYPES = ("O", "S")
PERIOD_STATUSES = ("Future", "Open", "Closed", "Re-Open")
# SedonaOffice refuses to post into a period that is not Open; a re-opened period is open again.
POSTING_STATUSES = ("Open", "Re-Open")
# Documents whose period decides whether they may change.
POSTED_MODELS = ("CustomerInvoice", "CustomerCredit", "CustomerPayment")


def model_named(name: str) -> Model | None:
    """Route segments are case-insensitive, as on an ASP.NET host."""
    return next((m for key, m in MODELS.items() if key.lower() == name.lower()), None)
