"""The qbXML rules this QuickBooks Desktop emulator enforces, in one table (facts: shared design
platforms/qbd_web_connector.md; "unconfirmed" there = the strictest plausible behaviour chosen here).

| rule | what the emulator does | source |
|---|---|---|
| element order and names | children of every request in `ORDER` order, none unknown; else the whole message set is refused as QuickBooks refuses a message it cannot parse (hresult `0x80040400`) | qbXML schema (quickbooks-php Schema/Object); unconfirmed wording |
| required elements | `REQUIRED` per request; missing -> the whole message refused (0x80040400) | same |
| `onError` | `stopOnError` (the rest of the set gets no answer) or `continueOnError`; anything else refused | gem request.rb |
| RefNumber length | > 11 (Invoice, CreditMemo), > 20 (ReceivePayment) -> 3070 | Schema/Object max lengths; code 3070 unconfirmed |
| names | Customer names unique (case-insensitive) among customers, items among items -> 3100; Name > 41 / 31 -> 3070 | Report.php 3100 text |
| references | unknown CustomerRef / ItemRef / TxnID in AppliedToTxnAdd or SetCredit -> 3140 | unconfirmed code |
| EditSequence | InvoiceMod with another EditSequence than the current one -> 3200 | code hits |
| not found | Mod / Void / Del of an unknown TxnID -> 3120; a query that finds nothing -> 1 (Info) | code hits (1); 3120 unconfirmed |
| closing date | a write dated on or before the closing date (PreferencesQuery AccountingPreferences/ClosingDate) -> 3180 with "closing date" in the message | unconfirmed: no source found |
| payments | PaymentAmount (+ credit) above the invoice's open balance -> 3210 "You cannot pay more than the amount due"; TotalAmount above the applied sum stays unused (UnusedPayment); an invoice of another customer -> 3210 | SQL/Errors.php (3210 text) |
| void | TxnVoid of an invoice keeps its number, sets its lines and totals to 0 and its Memo to "VOID: ..." (as QuickBooks does); a voided or paid-to invoice with payments or credits applied -> 3180 (un-apply them first) | unconfirmed |
| delete | TxnDel of a payment removes it and its applications; of a credit memo still applied -> 3180 | unconfirmed |
| line amount | Amount must be Quantity x Rate rounded to the cent -> 3210 | as QuickBooks Online (6070); unconfirmed for Desktop |
| query paging | `iterator="Start"` with `MaxReturned` answers a page and `iteratorRemainingCount` / `iteratorID`; `iterator="Continue"` with that id the next page; an unknown id -> 3020 | gem session.rb (attributes); request side unconfirmed |
| the Web Connector | polls every `poll_s` seconds: serverVersion, clientVersion, authenticate, then sendRequestXML / receiveResponseXML until 100 or -1, getLastError after "" or -1 (NoOp: asks again after `noop_s`), closeConnection | Handlers.php doc-comments |
| a dying session | on a drop plan the Web Connector stops after a set was handed out (never applied), or after QuickBooks applied it (no answer sent); the next poll is a new session | issue 13 |
"""

from __future__ import annotations

PARSE_ERROR_HRESULT = "0x80040400"
PARSE_ERROR_MESSAGE = "QuickBooks found an error when parsing the provided XML text stream."

_SALES = ["CustomerRef", "ClassRef", "ARAccountRef", "TemplateRef", "TxnDate", "RefNumber", "BillAddress",
          "ShipAddress", "IsPending", "PONumber", "TermsRef", "DueDate", "SalesRepRef", "FOB", "ShipDate",
          "ShipMethodRef", "ItemSalesTaxRef", "Memo", "CustomerMsgRef", "IsToBePrinted", "IsToBeEmailed",
          "IsTaxIncluded", "CustomerSalesTaxCodeRef", "Other", "ExchangeRate", "ExternalGUID"]
_LINE = ["ItemRef", "Desc", "Quantity", "UnitOfMeasure", "Rate", "RatePercent", "PriceLevelRef", "ClassRef", "Amount",
         "ServiceDate", "SalesTaxCodeRef", "IsTaxable", "OverrideItemAccountRef", "Other1", "Other2"]
_TXN_QUERY = ["TxnID", "RefNumber", "RefNumberCaseSensitive", "MaxReturned", "ModifiedDateRangeFilter",
              "TxnDateRangeFilter", "EntityFilter", "AccountFilter", "RefNumberFilter", "RefNumberRangeFilter",
              "CurrencyFilter", "PaidStatus", "IncludeLineItems", "IncludeLinkedTxns", "IncludeRetElement", "OwnerID"]
_LIST_QUERY = ["ListID", "FullName", "MaxReturned", "ActiveStatus", "FromModifiedDate", "ToModifiedDate",
               "NameFilter", "NameRangeFilter", "IncludeRetElement", "OwnerID"]

ORDER: dict[str, list[str]] = {
    "CustomerAdd": ["Name", "IsActive", "ParentRef", "CompanyName", "Salutation", "FirstName", "MiddleName",
                    "LastName", "JobTitle", "BillAddress", "ShipAddress", "Phone", "Email", "TermsRef", "Notes",
                    "AccountNumber"],
    "ItemServiceAdd": ["Name", "IsActive", "ParentRef", "UnitOfMeasureSetRef", "SalesTaxCodeRef", "SalesOrPurchase",
                       "SalesAndPurchase"],
    "SalesOrPurchase": ["Desc", "Price", "PricePercent", "AccountRef"],
    "InvoiceAdd": [*_SALES, "LinkToTxnID", "SetCredit", "InvoiceLineAdd"],
    "InvoiceMod": ["TxnID", "EditSequence", *_SALES, "InvoiceLineMod"],
    "CreditMemoAdd": [*_SALES, "CreditMemoLineAdd"],
    "InvoiceLineAdd": _LINE, "CreditMemoLineAdd": _LINE, "InvoiceLineMod": ["TxnLineID", *_LINE],
    "ReceivePaymentAdd": ["CustomerRef", "ARAccountRef", "TxnDate", "RefNumber", "TotalAmount", "ExchangeRate",
                          "PaymentMethodRef", "Memo", "DepositToAccountRef", "CreditCardTxnInfo", "ExternalGUID",
                          "IsAutoApply", "AppliedToTxnAdd"],
    "AppliedToTxnAdd": ["TxnID", "PaymentAmount", "TxnLineDetail", "SetCredit", "DiscountAmount",
                        "DiscountAccountRef", "DiscountClassRef"],
    "SetCredit": ["CreditTxnID", "TxnLineID", "AppliedAmount", "Override"],
    "TxnVoidRq": ["TxnVoidType", "TxnID"],
    "TxnDelRq": ["TxnDelType", "TxnID"],
    "InvoiceQueryRq": _TXN_QUERY, "CreditMemoQueryRq": _TXN_QUERY, "ReceivePaymentQueryRq": _TXN_QUERY,
    "CustomerQueryRq": _LIST_QUERY, "ItemServiceQueryRq": _LIST_QUERY,
    "ModifiedDateRangeFilter": ["FromModifiedDate", "ToModifiedDate"],
    "PreferencesQueryRq": ["IncludeRetElement", "OwnerID"],
}
REPEATS = {"InvoiceLineAdd", "CreditMemoLineAdd", "InvoiceLineMod", "AppliedToTxnAdd", "TxnID", "RefNumber",
           "FullName", "ListID", "SetCredit", "IncludeRetElement"}
REQUIRED: dict[str, list[str]] = {
    "CustomerAdd": ["Name"], "ItemServiceAdd": ["Name"], "SalesOrPurchase": ["AccountRef"],
    "InvoiceAdd": ["CustomerRef"], "CreditMemoAdd": ["CustomerRef"], "InvoiceMod": ["TxnID", "EditSequence"],
    "InvoiceLineAdd": ["ItemRef"], "CreditMemoLineAdd": ["ItemRef"], "InvoiceLineMod": ["TxnLineID"],
    "ReceivePaymentAdd": ["CustomerRef"], "AppliedToTxnAdd": ["TxnID"], "SetCredit": ["CreditTxnID", "AppliedAmount"],
    "TxnVoidRq": ["TxnVoidType", "TxnID"], "TxnDelRq": ["TxnDelType", "TxnID"],
}
REF_NUMBER_MAX = {"Invoice": 11, "CreditMemo": 11, "ReceivePayment": 20}
NAME_MAX = {"Customer": 41, "ItemService": 31}
EDIT_SEQUENCE_MAX = 16
VOID_TYPES = {"Invoice", "CreditMemo", "ReceivePayment"}


class MessageRefused(Exception):
    """The whole message set cannot be read: QuickBooks answers it with an hresult, applying nothing."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.hresult = PARSE_ERROR_HRESULT
        self.message = f"{PARSE_ERROR_MESSAGE} ({detail})"


class StatusError(Exception):
    """One request refused with a qbXML status code (the rest of the set goes on under continueOnError)."""

    def __init__(self, code: int, message: str, severity: str = "Error") -> None:
        super().__init__(message)
        self.code, self.message, self.severity = code, message, severity


def check_shape(element, where: str | None = None) -> None:
    """Children known, in schema order, required ones present; recursively for the nested aggregates."""
    tag = where or element.tag
    order = ORDER.get(tag)
    if order is None:
        return
    last = -1
    seen = []
    for child in element:
        if child.tag not in order:
            raise MessageRefused(f"element <{child.tag}> is not allowed in <{tag}>")
        index = order.index(child.tag)
        if index < last or (index == last and child.tag not in REPEATS):
            raise MessageRefused(f"element <{child.tag}> is out of order in <{tag}>")
        last = index
        seen.append(child.tag)
        if child.tag in ORDER:
            check_shape(child)
    for required in REQUIRED.get(tag, []):
        if required not in seen:
            raise MessageRefused(f"<{tag}> is missing the required element <{required}>")
