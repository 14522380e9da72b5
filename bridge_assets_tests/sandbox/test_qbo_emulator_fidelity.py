"""The emulator as python-quickbooks (0.9.12, unmodified) meets it, where it used to differ from QuickBooks
Online (issue 18, points 4-8). Each test names the fact it checks and where the fact comes from.

The SDK is pointed at the emulator by configuration: intuit-oauth's AuthClient takes the emulator's OpenID
discovery URL as its `environment` (a URL is read as the discovery document), python-quickbooks its
`api_url_v3` base (the value its `api_url` reads for a non-sandbox client), with an access token minted by
the emulator (and oauthlib's OAUTHLIB_INSECURE_TRANSPORT for plain http on loopback); nothing inside
either SDK is replaced. Calls the SDK cannot make (a minorversion that is no number) go over plain HTTP.
"""

from __future__ import annotations

import datetime as dt
import warnings
from decimal import Decimal
from typing import Any, Iterator

import httpx
import pytest

intuitlib = pytest.importorskip("intuitlib.client", reason="python-quickbooks (test extra) is not installed")
from quickbooks import QuickBooks  # noqa: E402
from quickbooks.exceptions import ObjectNotFoundException, QuickbooksException, ValidationException  # noqa: E402
from quickbooks.objects.customer import Customer  # noqa: E402
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail  # noqa: E402
from quickbooks.objects.estimate import Estimate  # noqa: E402
from quickbooks.objects.invoice import Invoice  # noqa: E402
from quickbooks.objects.item import Item  # noqa: E402
from quickbooks.objects.salesreceipt import SalesReceipt  # noqa: E402
from quickbooks.objects.taxcode import TaxCode  # noqa: E402
from quickbooks.objects.taxrate import TaxRate  # noqa: E402
from quickbooks.objects.term import Term  # noqa: E402
from quickbooks.objects.vendor import Vendor  # noqa: E402

from bridge_assets.sandbox.qbo import wire  # noqa: E402
from bridge_assets_tests.sandbox.conftest import QboCompany, fault_of, invoice_body, sales_line  # noqa: E402


@pytest.fixture
def sdk(books: QboCompany, monkeypatch) -> Iterator[QuickBooks]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")     # oauthlib's own switch for http on loopback
    discovery = books.handle.base_url + "/.well-known/openid_sandbox_configuration/"
    auth = intuitlib.AuthClient("emulator-app", "not-used", "http://localhost/callback", discovery,
                                access_token=books.tokens["access_token"], refresh_token=books.tokens["refresh_token"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        client = QuickBooks(auth_client=auth, refresh_token=books.tokens["refresh_token"], company_id=books.realm_id,
                            minorversion=75)
    client.api_url_v3 = books.handle.base_url + "/v3"
    assert auth.token_endpoint == books.handle.token_url
    yield client


def _customer(sdk: QuickBooks, name: str) -> Customer:
    customer = Customer()
    customer.DisplayName = name
    return customer.save(qb=sdk)


def _invoice(sdk: QuickBooks, customer: Customer, amount: str = "100.00", **fields: Any) -> Invoice:
    detail = SalesItemLineDetail()
    detail.ItemRef = {"value": "1"}
    detail.Qty, detail.UnitPrice = 1, Decimal(amount)
    line = SalesItemLine()
    line.Amount, line.SalesItemLineDetail = Decimal(amount), detail
    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line = [line]
    for name, value in fields.items():
        setattr(invoice, name, value)
    return invoice.save(qb=sdk)


# --- point 4: MAXRESULTS ------------------------------------------------------------------------------

def test_4001_when_maxresults_is_above_1000_or_below_1_as_quickbooks_answers(sdk):
    # quickbooks-ruby #24: "Invalid query: QueryValidationError: value 1500 is too large. Max allowed value is 1000".
    with pytest.raises(ValidationException) as too_large:
        Customer.where("", max_results=1500, qb=sdk)
    assert (too_large.value.error_code, too_large.value.message) == (4001, "Invalid query")
    assert too_large.value.detail == "QueryValidationError: value 1500 is too large. Max allowed value is 1000"
    with pytest.raises(ValidationException) as too_small:
        Customer.query("SELECT * FROM Customer MAXRESULTS 0", qb=sdk)
    assert too_small.value.error_code == 4001 and "too small" in too_small.value.detail
    _customer(sdk, "Paged Co")
    assert [c.DisplayName for c in Customer.where("", max_results=1000, qb=sdk)] == ["Paged Co"]


# --- point 5: SELECT *, Sku ---------------------------------------------------------------------------

def test_item_all_sends_select_star_sku_and_quickbooks_answers_it(sdk, books):
    # python-quickbooks #373 (fixed in 0.9.12): Item.all() sends "SELECT *, Sku FROM Item".
    item = Item()
    item.Name, item.Type, item.Sku = "Monitoring", "Service", "MON-1"
    item.IncomeAccountRef = {"value": "1"}
    item.save(qb=sdk)
    by_name = {i.Name: i for i in Item.all(qb=sdk)}
    assert by_name["Monitoring"].Sku == "MON-1" and "Services" in by_name
    assert fault_of(books.query("SELECT *, Colour FROM Item"))["code"] == "4001"     # the extra name is checked


# --- point 6: empty date strings ----------------------------------------------------------------------

def test_empty_dates_sent_by_python_quickbooks_come_back_as_real_dates(sdk, books):
    # python-quickbooks sends DueDate "", ShipDate "", TxnDate "" and a line's ServiceDate "" (objects/invoice.py,
    # detailline.py); Intuit's Invoice reference: without DueDate, TxnDate plus the DueDays of SalesTermRef.
    customer = _customer(sdk, "Dated Co")
    net30 = next(t for t in Term.all(qb=sdk) if t.Name == "Net 30")
    plain = Invoice.get(_invoice(sdk, customer).Id, qb=sdk)
    termed = Invoice.get(_invoice(sdk, customer, TxnDate="2026-09-10", SalesTermRef=net30.to_ref()).Id, qb=sdk)
    today = wire.today().isoformat()
    assert (plain.TxnDate, plain.DueDate) == (today, today)
    assert (termed.TxnDate, termed.DueDate) == ("2026-09-10", "2026-10-10")
    read = books.read("Invoice", termed.Id)
    assert "ShipDate" not in read and "ServiceDate" not in read["Line"][0]["SalesItemLineDetail"]
    # The company's default terms apply when the invoice names none.
    books.handle.admin._call("POST", f"/companies/{books.realm_id}/preferences",
                             {"SalesFormsPrefs": {"DefaultTerms": {"value": "2"}}})
    defaulted = Invoice.get(_invoice(sdk, customer, TxnDate="2026-09-10").Id, qb=sdk)
    assert defaulted.DueDate == "2026-09-25" and defaulted.SalesTermRef.value == "2"
    error = fault_of(books.post("/invoice", invoice_body({"Id": customer.Id}, DueDate="2026-13-45")))
    assert (error["code"], error["element"]) == ("2010", "DueDate")


# --- point 7: the lists, documents, pdf, send and reports ----------------------------------------------

def test_terms_tax_codes_and_tax_rates_are_read_and_queried_and_not_written_here(sdk):
    # Intuit's Term, TaxCode and TaxRate references: name lists read and queried like the others.
    terms = {t.Name: t.DueDays for t in Term.all(qb=sdk)}
    assert terms == {"Due on receipt": 0, "Net 15": 15, "Net 30": 30, "Net 60": 60}
    assert TaxCode.get("2", qb=sdk).SalesTaxRateList.TaxRateDetail[0].TaxRateRef.value == "3"
    assert TaxRate.get("3", qb=sdk).Name == "Sales tax"
    term = Term()
    term.Name, term.DueDays = "Net 45", 45
    with pytest.raises(QuickbooksException) as refused:                 # a JSON fault, not a crash
        term.save(qb=sdk)
    assert refused.value.error_code == 500 and "Term" in refused.value.detail


def test_a_customer_may_not_take_a_vendors_display_name_nor_a_vendor_a_customers(sdk):
    # API_FACTS.md: DisplayName is unique across customers, vendors and employees (6240).
    vendor = Vendor()
    vendor.DisplayName = "Shared Name LLC"
    assert vendor.save(qb=sdk).Id
    with pytest.raises(QuickbooksException) as customer_refused:
        _customer(sdk, "Shared Name LLC")
    _customer(sdk, "Customer First")
    second = Vendor()
    second.DisplayName = "Customer First"
    with pytest.raises(QuickbooksException) as vendor_refused:
        second.save(qb=sdk)
    assert customer_refused.value.error_code == vendor_refused.value.error_code == 6240
    assert [v.DisplayName for v in Vendor.all(qb=sdk)] == ["Shared Name LLC"]


def test_estimates_and_sales_receipts_entered_in_quickbooks_are_read_and_queried(sdk, books):
    customer = _customer(sdk, "Quoted Co")
    enter = lambda entity, doc: books.handle.admin._call("POST", f"/companies/{books.realm_id}/entities/{entity}", doc)[entity]
    estimate = enter("Estimate", {"DocNumber": "E-1", "TxnDate": "2026-09-02", "CustomerRef": {"value": customer.Id},
                                  "TotalAmt": 250, "TxnStatus": "Pending"})
    enter("SalesReceipt", {"DocNumber": "SR-1", "TxnDate": "2026-09-03", "CustomerRef": {"value": customer.Id},
                           "TotalAmt": 40})
    assert Estimate.get(estimate["Id"], qb=sdk).DocNumber == "E-1"
    assert [r.DocNumber for r in SalesReceipt.filter(DocNumber="SR-1", qb=sdk)] == ["SR-1"]


def test_an_invoice_as_pdf_and_sent_by_email_and_every_refusal_is_a_json_fault(sdk, books):
    # Intuit's Invoice reference (pdf, send); python-quickbooks download_pdf and SendMixin.
    invoice = _invoice(sdk, _customer(sdk, "Printed Co"), DocNumber="P-77")
    pdf = invoice.download_pdf(qb=sdk)
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF") and b"P-77" in pdf
    sent = invoice.send(qb=sdk, send_to="ap@printed.example")["Invoice"]
    assert sent["EmailStatus"] == "EmailSent" and sent["BillEmail"]["Address"] == "ap@printed.example"
    assert sent["SyncToken"] != invoice.SyncToken
    missing = Invoice()
    missing.Id = "999999"
    with pytest.raises(ObjectNotFoundException):
        missing.download_pdf(qb=sdk)
    unknown = books.get(f"/invoice/{invoice.Id}/attachments")
    assert unknown.headers["content-type"].startswith("application/json") and fault_of(unknown)["code"] == "500"


def test_customer_balance_and_aged_receivables_reports_agree_with_the_customers_balances(sdk, books):
    # Intuit's CustomerBalance and AgedReceivables report references (shapes, column titles).
    late, current = _customer(sdk, "Late Payer"), _customer(sdk, "On Time Co")
    _invoice(sdk, late, "300.00", TxnDate="2026-06-01", DueDate="2026-06-15")      # 107 days late on 2026-09-30
    _invoice(sdk, late, "50.00", TxnDate="2026-09-01", DueDate="2026-09-20")       # 10 days late
    _invoice(sdk, current, "80.00", TxnDate="2026-09-25", DueDate="2026-10-25")    # not yet due
    balance = sdk.get_report("CustomerBalance")
    aged = sdk.get_report("AgedReceivables", qs={"report_date": "2026-09-30"})
    assert [c["ColTitle"] for c in aged["Columns"]["Column"]] == \
        ["", "Current", "1 - 30", "31 - 60", "61 - 90", "91 and over", "Total"]
    rows = {r["ColData"][0]["value"]: [c["value"] for c in r["ColData"][1:]] for r in aged["Rows"]["Row"] if "ColData" in r}
    assert rows == {"Late Payer": ["", "50.00", "", "", "300.00", "350.00"], "On Time Co": ["80.00", "", "", "", "", "80.00"]}
    (total,) = [r for r in aged["Rows"]["Row"] if r.get("group") == "GrandTotal"]
    assert total["Summary"]["ColData"][-1]["value"] == "430.00"
    balances = {r["ColData"][0]["value"]: r["ColData"][1]["value"] for r in balance["Rows"]["Row"] if "ColData" in r}
    assert balances == {c.DisplayName: f"{Decimal(str(c.Balance)):.2f}" for c in Customer.all(qb=sdk) if c.Balance}
    assert fault_of(books.get("/reports/AgedReceivables", date_macro="This Month"))["element"] == "date_macro"


# --- point 8: minorversion ----------------------------------------------------------------------------

def test_a_minorversion_that_is_no_number_is_refused_and_one_below_75_is_read_as_75(books):
    # Intuit blog 2025-01-21 (quoted in python-quickbooks #371, #377): below 75, or none, behaves as 75.
    # A value that is no number: refused (strictest plausible reading; QuickBooks' wording unconfirmed).
    for accepted in ("75", "40", None):
        params = {"query": "SELECT * FROM Term"} | ({"minorversion": accepted} if accepted else {})
        assert books.http.get("/query", params=params).status_code == 200
    error = fault_of(books.http.get("/query", params={"query": "SELECT * FROM Term", "minorversion": "seventy"}))
    assert (error["code"], error["element"]) == ("2010", "minorversion")
    assert "seventy" in error["Detail"]
