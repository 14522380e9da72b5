"""The QuickBooks Online rules the emulator enforces, one test per rule, over real HTTP on loopback.

Each test is named for the rule (and the error code QuickBooks answers with) so a failing test reads
as the promise the emulator broke. The facts come from API_FACTS.md.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import time
from decimal import Decimal

import httpx
import pytest

from bridge_assets.sandbox.qbo import EmulatorSettings, run_emulator
from bridge_assets_tests.sandbox.conftest import QboCompany, fault_of, invoice_body, money, sales_line

THROTTLE_XML = ('<Fault type="SERVICE">', '<Error code="3001">',
                "<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>")


# --- shapes every client depends on -------------------------------------------------------------


def test_write_response_wraps_the_entity_with_time_and_every_response_has_intuit_tid(books: QboCompany):
    response = books.post("/customer", {"DisplayName": "Wrapped"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"Customer", "time"}
    customer = body["Customer"]
    assert customer["Id"] == str(customer["Id"]) and customer["SyncToken"] == "0"
    assert set(customer["MetaData"]) == {"CreateTime", "LastUpdatedTime"}
    assert response.headers["intuit_tid"]
    assert books.post("/customer", {"DisplayName": "Wrapped"}).headers["intuit_tid"]     # a 400
    assert httpx.get(books.handle.company_url(books.realm_id) + "/preferences").headers["intuit_tid"]  # a 401


def test_read_returns_computed_subtotal_line_total_balance_and_tax_detail(books: QboCompany):
    customer = books.customer()
    created = books.invoice(customer, lines=[sales_line(20, 2, 10), sales_line(5.5, 1, 5.5)])
    read = books.read("Invoice", created["Id"])
    *sales, subtotal = read["Line"]
    assert [line["Id"] for line in sales] == ["1", "2"]
    assert subtotal == {"Amount": 25.5, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    assert money(read["TotalAmt"]) == Decimal("25.5")
    assert money(read["Balance"]) == Decimal("25.5")
    assert money(read["TxnTaxDetail"]["TotalTax"]) == 0
    assert read["CustomerRef"] == {"value": customer["Id"], "name": customer["DisplayName"]}


# --- 2020 required parameters -------------------------------------------------------------------


def test_2020_invoice_without_customer_ref_is_required_param_missing(books: QboCompany):
    error = fault_of(books.post("/invoice", {"Line": [sales_line(10, 1, 10)]}))
    assert (error["code"], error["element"]) == ("2020", "CustomerRef")
    assert error["Message"] == "Required param missing, need to supply the required value for the API"


def test_2020_invoice_without_line_is_required_param_missing(books: QboCompany):
    customer = books.customer()
    error = fault_of(books.post("/invoice", {"CustomerRef": {"value": customer["Id"]}}))
    assert (error["code"], error["element"]) == ("2020", "Line")


def test_2020_payment_without_customer_ref_is_required_param_missing(books: QboCompany):
    error = fault_of(books.post("/payment", {"TotalAmt": 10}))
    assert (error["code"], error["element"]) == ("2020", "CustomerRef")


def test_6000_payment_without_total_amt_says_you_must_set_a_transaction_amount(books: QboCompany):
    customer = books.customer()
    error = fault_of(books.post("/payment", {"CustomerRef": {"value": customer["Id"]}}))
    assert error["code"] == "6000"
    assert "You must set a transaction amount" in error["Detail"]


# --- amounts and numbers ------------------------------------------------------------------------


def test_6070_amount_must_equal_qty_times_price_rounded_half_up(books: QboCompany):
    customer = books.customer()
    # 3 x 3.335 = 10.005: half-up gives 10.01 (banker's rounding would give 10.00).
    accepted = books.invoice(customer, lines=[sales_line(10.01, 3, 3.335)])
    assert money(accepted["TotalAmt"]) == Decimal("10.01")
    error = fault_of(books.post("/invoice", invoice_body(customer, lines=[sales_line(10.00, 3, 3.335)])))
    assert error["code"] == "6070"
    error = fault_of(books.post("/invoice", invoice_body(customer, lines=[sales_line(59.90, 2, 29.9)])))
    assert error["code"] == "6070"


def test_2050_doc_number_longer_than_21_characters_is_refused(books: QboCompany):
    customer = books.customer()
    assert books.invoice(customer, doc_number="X" * 21)["DocNumber"] == "X" * 21
    error = fault_of(books.post("/invoice", invoice_body(customer, doc_number="X" * 22)))
    assert (error["code"], error["element"]) == ("2050", "DocNumber")
    assert "Max:21" in error["Detail"]


def test_6140_duplicate_doc_number_refused_when_custom_numbers_and_duplicate_warning_are_on(books: QboCompany):
    customer = books.customer()
    first = books.invoice(customer, doc_number="SED-100001")
    error = fault_of(books.post("/invoice", invoice_body(customer, doc_number="SED-100001")))
    assert error["code"] == "6140"
    assert f"TxnId={first['Id']}" in error["Detail"]
    # A voided invoice keeps its number, so the number stays taken.
    books.post("/invoice", {"Id": first["Id"], "SyncToken": first["SyncToken"]}, operation="void")
    assert fault_of(books.post("/invoice", invoice_body(customer, doc_number="SED-100001")))["code"] == "6140"


def test_6140_is_bypassed_with_include_allowduplicatedocnum(books: QboCompany):
    customer = books.customer()
    books.invoice(customer, doc_number="SED-7")
    response = books.post("/invoice", invoice_body(customer, doc_number="SED-7"), include="allowduplicatedocnum")
    assert response.status_code == 200
    assert len(books.rows("SELECT * FROM Invoice WHERE DocNumber = 'SED-7'")["Invoice"]) == 2


def test_duplicate_doc_number_is_accepted_when_the_duplicate_warning_is_off(books: QboCompany):
    books.handle.admin.configure_company(books.realm_id, warn_duplicate_doc_number=False)
    customer = books.customer()
    books.invoice(customer, doc_number="SED-8")
    assert books.post("/invoice", invoice_body(customer, doc_number="SED-8")).status_code == 200


def test_doc_number_is_assigned_by_quickbooks_when_custom_transaction_numbers_are_off(books: QboCompany):
    books.handle.admin.change_preferences(books.realm_id, {"SalesFormsPrefs": {"CustomTxnNumbers": False}})
    customer = books.customer()
    first = books.invoice(customer, doc_number="SED-9")        # the number sent is ignored
    second = books.invoice(customer)
    assert (first["DocNumber"], second["DocNumber"]) == ("1001", "1002")
    # ...and duplicates of a sent number cannot happen, so no 6140 either.
    assert books.post("/invoice", invoice_body(customer, doc_number="SED-9")).status_code == 200


# --- updates ------------------------------------------------------------------------------------


def test_5010_stale_sync_token_on_update_and_delete(books: QboCompany):
    customer = books.customer()
    invoice = books.invoice(customer, PrivateNote="first")
    updated = books.create("Invoice", {**invoice_body(customer), "Id": invoice["Id"], "SyncToken": "0",
                                       "PrivateNote": "second"})
    assert updated["SyncToken"] == "1"
    stale = {**invoice_body(customer), "Id": invoice["Id"], "SyncToken": "0"}
    error = fault_of(books.post("/invoice", stale))
    assert (error["code"], error["Message"]) == ("5010", "Stale Object Error")
    assert fault_of(books.post("/invoice", {"Id": invoice["Id"], "SyncToken": "0"}, operation="delete"))["code"] == "5010"
    assert fault_of(books.post("/invoice", {"Id": invoice["Id"], "SyncToken": "0"}, operation="void"))["code"] == "5010"


def test_full_update_clears_every_writable_field_it_omits(books: QboCompany):
    customer = books.customer()
    invoice = books.invoice(customer, doc_number="SED-20", PrivateNote="keep me?",
                            CustomerMemo={"value": "Thank you"})
    body = {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"], "CustomerRef": {"value": customer["Id"]},
            "Line": [sales_line(29.95, 1, 29.95)], "TxnDate": "2026-09-01"}
    updated = books.create("Invoice", body)
    assert "PrivateNote" not in updated and "CustomerMemo" not in updated
    assert "DocNumber" not in updated  # omitted on a full update: cleared, like any writable field


def test_full_update_still_needs_customer_ref_and_line(books: QboCompany):
    customer = books.customer()
    invoice = books.invoice(customer)
    error = fault_of(books.post("/invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"],
                                             "CustomerRef": {"value": customer["Id"]}}))
    assert (error["code"], error["element"]) == ("2020", "Line")


def test_sparse_update_keeps_the_fields_it_omits(books: QboCompany):
    customer = books.customer()
    invoice = books.invoice(customer, doc_number="SED-21", PrivateNote="before",
                            lines=[sales_line(20, 2, 10), sales_line(5, 1, 5)])
    updated = books.create("Invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"], "sparse": True,
                                       "PrivateNote": "after"})
    assert updated["PrivateNote"] == "after"
    assert updated["DocNumber"] == "SED-21"
    assert len(updated["Line"]) == 3 and money(updated["TotalAmt"]) == 25


def test_a_line_array_always_replaces_all_lines(books: QboCompany):
    customer = books.customer()
    invoice = books.invoice(customer, lines=[sales_line(20, 2, 10), sales_line(5, 1, 5)])
    updated = books.create("Invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"], "sparse": True,
                                       "Line": [sales_line(7, 1, 7)]})
    sales = [line for line in updated["Line"] if line["DetailType"] == "SalesItemLineDetail"]
    assert [money(line["Amount"]) for line in sales] == [7]
    assert money(updated["TotalAmt"]) == 7


# --- void and delete ----------------------------------------------------------------------------


def test_void_invoice_keeps_its_number_zeroes_total_and_balance_and_notes_voided(books: QboCompany):
    customer = books.customer()
    invoice = books.invoice(customer, doc_number="SED-30", lines=[sales_line(100, 4, 25)])
    voided = books.create("Invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]}, operation="void")
    assert voided["DocNumber"] == "SED-30"
    assert money(voided["TotalAmt"]) == 0 and money(voided["Balance"]) == 0
    assert "Voided" in voided["PrivateNote"]
    assert voided["SyncToken"] == "1"
    assert books.rows(f"SELECT * FROM Invoice WHERE Id = '{invoice['Id']}'")["Invoice"][0]["PrivateNote"] == "Voided"


def test_610_another_user_has_deleted_when_a_deleted_invoice_is_touched_again(books: QboCompany):
    customer = books.customer()
    invoice = books.invoice(customer, doc_number="SED-31")
    response = books.post("/invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]}, operation="delete")
    assert response.json()["Invoice"] == {"domain": "QBO", "status": "Deleted", "Id": invoice["Id"]}
    for attempt in (
        books.get(f"/invoice/{invoice['Id']}"),
        books.post("/invoice", {**invoice_body(customer), "Id": invoice["Id"], "SyncToken": "0"}),
        books.post("/invoice", {"Id": invoice["Id"], "SyncToken": "0"}, operation="delete"),
        books.post("/invoice", {"Id": invoice["Id"], "SyncToken": "0"}, operation="void"),
    ):
        error = fault_of(attempt)
        assert error["code"] == "610" and "Another user has deleted" in error["Detail"]
    assert books.rows("SELECT * FROM Invoice WHERE DocNumber = 'SED-31'") == {}


# --- payments and credit memos ------------------------------------------------------------------


def test_payment_lowers_the_invoice_balance_and_bumps_its_sync_token(books: QboCompany):
    customer = books.customer()
    invoice = books.invoice(customer, lines=[sales_line(100, 1, 100)])
    payment = books.create("Payment", {"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 40,
                                       "Line": [{"Amount": 40, "LinkedTxn": [{"TxnId": invoice["Id"],
                                                                              "TxnType": "Invoice"}]}]})
    assert money(payment["UnappliedAmt"]) == 0
    paid = books.read("Invoice", invoice["Id"])
    assert money(paid["Balance"]) == 60 and money(paid["TotalAmt"]) == 100
    assert paid["SyncToken"] == "1"
    assert paid["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "Payment"}]
    # The client's copy is now stale.
    stale = {**invoice_body(customer, lines=[sales_line(100, 1, 100)]), "Id": invoice["Id"], "SyncToken": "0"}
    assert fault_of(books.post("/invoice", stale))["code"] == "5010"


def test_610_payment_linked_txn_must_be_the_invoice_id_not_its_doc_number(books: QboCompany):
    customer = books.customer()
    books.invoice(customer, doc_number="9001")
    error = fault_of(books.post("/payment", {"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 10,
                                             "Line": [{"Amount": 10, "LinkedTxn": [{"TxnId": "9001",
                                                                                    "TxnType": "Invoice"}]}]}))
    assert error["code"] == "610"


def test_610_payment_linked_txn_must_belong_to_the_same_customer(books: QboCompany):
    alice, bob = books.customer("Alice"), books.customer("Bob")
    bobs_invoice = books.invoice(bob)
    error = fault_of(books.post("/payment", {"CustomerRef": {"value": alice["Id"]}, "TotalAmt": 10,
                                             "Line": [{"Amount": 10, "LinkedTxn": [{"TxnId": bobs_invoice["Id"],
                                                                                    "TxnType": "Invoice"}]}]}))
    assert error["code"] == "610"


def test_overpayment_is_accepted_and_left_unapplied(books: QboCompany):
    customer = books.customer()
    invoice = books.invoice(customer, lines=[sales_line(100, 1, 100)])
    payment = books.create("Payment", {"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 150,
                                       "Line": [{"Amount": 100, "LinkedTxn": [{"TxnId": invoice["Id"],
                                                                               "TxnType": "Invoice"}]}]})
    assert money(payment["UnappliedAmt"]) == 50
    assert money(books.read("Invoice", invoice["Id"])["Balance"]) == 0
    assert money(books.read("Customer", customer["Id"])["Balance"]) == -50


def test_void_payment_reopens_the_invoice_balance(books: QboCompany):
    customer = books.customer()
    invoice = books.invoice(customer, lines=[sales_line(80, 1, 80)])
    payment = books.create("Payment", {"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 80,
                                       "Line": [{"Amount": 80, "LinkedTxn": [{"TxnId": invoice["Id"],
                                                                              "TxnType": "Invoice"}]}]})
    voided = books.create("Payment", {"Id": payment["Id"], "SyncToken": payment["SyncToken"], "sparse": True},
                          operation="update", include="void")
    assert money(voided["TotalAmt"]) == 0 and "Voided" in voided["PrivateNote"]
    assert money(books.read("Invoice", invoice["Id"])["Balance"]) == 80


def test_credit_memo_has_remaining_credit_that_applying_it_uses_up(books: QboCompany):
    customer = books.customer()
    invoice = books.invoice(customer, lines=[sales_line(100, 1, 100)])
    credit = books.create("CreditMemo", invoice_body(customer, lines=[sales_line(30, 1, 30)]))
    assert money(credit["RemainingCredit"]) == 30 and money(credit["TotalAmt"]) == 30
    # Applying a credit to an invoice is a $0 payment with one line for each (QuickBooks' way).
    books.create("Payment", {"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 0, "Line": [
        {"Amount": 30, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]},
        {"Amount": 30, "LinkedTxn": [{"TxnId": credit["Id"], "TxnType": "CreditMemo"}]},
    ]})
    assert money(books.read("CreditMemo", credit["Id"])["RemainingCredit"]) == 0
    assert money(books.read("Invoice", invoice["Id"])["Balance"]) == 70


# --- references and name lists ------------------------------------------------------------------


def test_2500_invalid_reference_for_an_unknown_customer_or_item(books: QboCompany):
    customer = books.customer()
    error = fault_of(books.post("/invoice", invoice_body({"Id": "424242"})))
    assert (error["code"], error["element"]) == ("2500", "CustomerRef")
    error = fault_of(books.post("/invoice", invoice_body(customer, lines=[sales_line(10, 1, 10, item_id="999")])))
    assert error["code"] == "2500"


def test_610_referencing_an_inactive_customer_or_item(books: QboCompany):
    customer, item = books.customer("Gone Customer"), books.item("Gone Item")
    active_customer = books.customer("Still Here")
    books.create("Customer", {"Id": customer["Id"], "SyncToken": customer["SyncToken"], "sparse": True,
                              "Active": False})
    books.create("Item", {"Id": item["Id"], "SyncToken": item["SyncToken"], "sparse": True, "Active": False})
    assert fault_of(books.post("/invoice", invoice_body(customer)))["code"] == "610"
    error = fault_of(books.post("/invoice", invoice_body(active_customer,
                                                         lines=[sales_line(10, 1, 10, item_id=item["Id"])])))
    assert error["code"] == "610" and "inactive" in error["Detail"]


def test_6240_duplicate_customer_display_name_even_against_inactive_customers(books: QboCompany):
    customer = books.customer("Smith, J")
    assert fault_of(books.post("/customer", {"DisplayName": "Smith, J"}))["code"] == "6240"
    assert fault_of(books.post("/customer", {"DisplayName": "  smith,   j "}))["code"] == "6240"
    books.create("Customer", {"Id": customer["Id"], "SyncToken": customer["SyncToken"], "sparse": True,
                              "Active": False})
    error = fault_of(books.post("/customer", {"DisplayName": "Smith, J"}))
    assert (error["code"], error["Message"]) == ("6240", "Duplicate Name Exists Error")


def test_colon_in_customer_display_name_is_refused(books: QboCompany):
    error = fault_of(books.post("/customer", {"DisplayName": "Parent:Child"}))
    assert error["code"] == "6000" and error["element"] == "DisplayName"


def test_name_list_objects_are_made_inactive_never_deleted(books: QboCompany):
    customer = books.customer("Former Customer")
    error = fault_of(books.post("/customer", {"Id": customer["Id"], "SyncToken": "0"}, operation="delete"))
    assert error["Message"] == "Unsupported Operation"
    inactive = books.create("Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    assert inactive["Active"] is False
    assert books.rows("SELECT * FROM Customer WHERE DisplayName = 'Former Customer'") == {}
    found = books.rows("SELECT * FROM Customer WHERE Active = false")["Customer"]
    assert [c["Id"] for c in found] == [customer["Id"]]
    assert books.read("Customer", customer["Id"])["Active"] is False


def test_items_and_accounts_are_name_lists_with_unique_names_and_required_fields(books: QboCompany):
    account = books.create("Account", {"Name": "Monitoring Income", "AccountType": "Income"})
    assert account["Classification"] == "Revenue"
    assert fault_of(books.post("/account", {"Name": "monitoring income", "AccountType": "Income"}))["code"] == "6240"
    assert fault_of(books.post("/account", {"Name": "No Type"}))["code"] == "2020"
    assert fault_of(books.post("/item", {"Name": "No Account", "Type": "Service"}))["element"] == "IncomeAccountRef"
    item = books.item("RMR Monitoring", IncomeAccountRef={"value": account["Id"]})
    assert item["IncomeAccountRef"] == {"value": account["Id"], "name": "Monitoring Income"}
    assert fault_of(books.post("/item", {"Name": "RMR Monitoring", "Type": "Service",
                                         "IncomeAccountRef": {"value": "1"}}))["code"] == "6240"
    assert fault_of(books.post("/item", {"Id": item["Id"], "SyncToken": "0"}, operation="delete"))["code"] == "500"
    assert fault_of(books.post("/item", {"Name": "Bad Account", "Type": "Service",
                                         "IncomeAccountRef": {"value": "999"}}))["code"] == "2500"


# --- closed periods -----------------------------------------------------------------------------


def test_6210_account_period_closed_for_create_and_update_on_or_before_book_close_date(books: QboCompany):
    customer = books.customer()
    open_invoice = books.invoice(customer, txn_date="2026-08-15")
    books.handle.admin.set_book_close_date(books.realm_id, "2026-08-31")

    error = fault_of(books.post("/invoice", invoice_body(customer, txn_date="2026-08-31")))
    assert error["code"] == "6210" and error["Message"].startswith("Account Period Closed")
    assert books.post("/invoice", invoice_body(customer, txn_date="2026-09-01")).status_code == 200
    # An existing document in the closed period cannot be changed, moved out, voided or deleted.
    moved = {**invoice_body(customer, txn_date="2026-09-02"), "Id": open_invoice["Id"], "SyncToken": "0"}
    assert fault_of(books.post("/invoice", moved))["code"] == "6210"
    assert fault_of(books.post("/invoice", {"Id": open_invoice["Id"], "SyncToken": "0"},
                               operation="void"))["code"] == "6210"
    # A credit memo and a payment dated in the closed period are refused too.
    assert fault_of(books.post("/creditmemo", invoice_body(customer, txn_date="2026-07-01")))["code"] == "6210"
    assert fault_of(books.post("/payment", {"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 5,
                                            "TxnDate": "2026-08-01"}))["code"] == "6210"

    books.handle.admin.set_book_close_date(books.realm_id, None)
    assert books.post("/invoice", invoice_body(customer, txn_date="2026-08-31")).status_code == 200


def test_book_close_date_is_read_and_set_through_preferences_with_sync_token(books: QboCompany):
    preferences = books.get("/preferences").json()["Preferences"]
    assert "BookCloseDate" not in preferences["AccountingInfoPrefs"]
    changed = books.post("/preferences", {"Id": "1", "SyncToken": preferences["SyncToken"], "sparse": True,
                                          "AccountingInfoPrefs": {"BookCloseDate": "2026-06-30"}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["Preferences"]["AccountingInfoPrefs"]["BookCloseDate"] == "2026-06-30"
    assert changed.json()["Preferences"]["SalesFormsPrefs"]["CustomTxnNumbers"] is True
    stale = books.post("/preferences", {"Id": "1", "SyncToken": preferences["SyncToken"], "sparse": True,
                                        "AccountingInfoPrefs": {"BookCloseDate": "2026-07-31"}})
    assert fault_of(stale)["code"] == "5010"
    customer = books.customer()
    assert fault_of(books.post("/invoice", invoice_body(customer, txn_date="2026-06-30")))["code"] == "6210"


# --- requestid ----------------------------------------------------------------------------------


def test_requestid_replay_returns_the_original_response_and_changes_nothing(books: QboCompany):
    customer = books.customer()
    body = invoice_body(customer, doc_number="SED-40")
    first = books.post("/invoice", body, requestid="doc-40-gen-1")
    again = books.post("/invoice", body, requestid="doc-40-gen-1")
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert len(books.rows("SELECT * FROM Invoice WHERE DocNumber = 'SED-40'")["Invoice"]) == 1
    # Replayed even after the invoice is gone (LanternOps/breeze #4624): the requestid is the request.
    invoice = first.json()["Invoice"]
    books.post("/invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]}, operation="delete")
    assert books.post("/invoice", body, requestid="doc-40-gen-1").content == first.content
    # requestids are per company: another company with the same requestid does its own write.
    other = QboCompany(books.handle, books.handle.admin.create_company())
    other_customer = other.customer()
    assert other.post("/invoice", invoice_body(other_customer), requestid="doc-40-gen-1").status_code == 200
    other.close()


def test_requestid_replays_a_business_fault_too_so_a_changed_request_needs_a_new_requestid(books: QboCompany):
    customer = books.customer()
    books.handle.admin.set_book_close_date(books.realm_id, "2026-08-31")
    body = invoice_body(customer, txn_date="2026-08-15")
    assert fault_of(books.post("/invoice", body, requestid="held-1"))["code"] == "6210"
    books.handle.admin.set_book_close_date(books.realm_id, None)
    # Intuit: a repeated requestid gets "the same response as it did for the original request".
    assert fault_of(books.post("/invoice", body, requestid="held-1"))["code"] == "6210"
    assert books.post("/invoice", body, requestid="held-2").status_code == 200


def test_requestid_fault_replay_can_be_turned_off(tmp_path):
    with run_emulator(tmp_path / "qbo.sqlite3", EmulatorSettings(requestid_replays_faults=False)) as handle:
        company = QboCompany(handle, handle.admin.create_company())
        customer = company.customer()
        handle.admin.set_book_close_date(company.realm_id, "2026-08-31")
        body = invoice_body(customer, txn_date="2026-08-15")
        assert fault_of(company.post("/invoice", body, requestid="held-1"))["code"] == "6210"
        handle.admin.set_book_close_date(company.realm_id, None)
        assert company.post("/invoice", body, requestid="held-1").status_code == 200
        company.close()


def test_requestid_longer_than_50_characters_is_refused(books: QboCompany):
    customer = books.customer()
    assert books.post("/invoice", invoice_body(customer), requestid="r" * 50).status_code == 200
    error = fault_of(books.post("/invoice", invoice_body(customer), requestid="r" * 51))
    assert error["code"] == "6000"
    assert books.rows("SELECT COUNT(*) FROM Invoice") == {"totalCount": 1}


def test_batch_requestid_is_at_most_36_characters_with_bids_of_at_most_10(books: QboCompany):
    batch = {"BatchItemRequest": [{"bId": "b1", "Query": "SELECT * FROM Customer"}]}
    assert books.post("/batch", batch, requestid="r" * 36).status_code == 200
    assert fault_of(books.post("/batch", batch, requestid="r" * 37))["code"] == "6000"
    long_bid = {"BatchItemRequest": [{"bId": "b" * 11, "Query": "SELECT * FROM Customer"}]}
    answer = books.post("/batch", long_bid, requestid="batch-2").json()["BatchItemResponse"][0]
    assert answer["Fault"]["Error"][0]["code"] == "6000"


# --- tax ----------------------------------------------------------------------------------------


def test_tax_override_is_kept_when_txn_tax_code_ref_and_total_tax_are_sent(books: QboCompany):
    customer = books.customer()
    override = {"TxnTaxCodeRef": {"value": "2"}, "TotalTax": 8.26}
    invoice = books.invoice(customer, lines=[sales_line(100, 1, 100, taxable=True)], TxnTaxDetail=override)
    assert money(invoice["TxnTaxDetail"]["TotalTax"]) == Decimal("8.26")
    assert money(invoice["TotalAmt"]) == Decimal("108.26")
    # A sparse update that does not touch tax keeps the override.
    updated = books.create("Invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"], "sparse": True,
                                       "PrivateNote": "note"})
    assert money(updated["TotalAmt"]) == Decimal("108.26")


def test_tax_is_computed_by_quickbooks_when_no_override_is_sent(books: QboCompany):
    books.handle.admin.configure_company(books.realm_id, sales_tax_rate="0.0825")
    customer = books.customer()
    # The source system computed 8.26 on its own; without the override QuickBooks charges its own tax.
    invoice = books.invoice(customer, lines=[sales_line(100.1, 1, 100.1, taxable=True), sales_line(50, 1, 50)],
                            TxnTaxDetail={"TotalTax": 8.26})
    assert money(invoice["TxnTaxDetail"]["TotalTax"]) == Decimal("8.26")  # 100.10 x 8.25% = 8.25825 -> 8.26
    assert money(invoice["TotalAmt"]) == Decimal("158.36")
    books.handle.admin.configure_company(books.realm_id, sales_tax_rate="0.0875")
    other = books.invoice(customer, lines=[sales_line(100.1, 1, 100.1, taxable=True)],
                          TxnTaxDetail={"TotalTax": 8.26})
    assert money(other["TxnTaxDetail"]["TotalTax"]) == Decimal("8.76")  # the client's 8.26 was ignored
    assert money(other["TotalAmt"]) == Decimal("108.86")


# --- authentication and throttling --------------------------------------------------------------


def test_401_lowercase_fault_for_a_missing_bad_or_expired_access_token(books: QboCompany):
    url = books.handle.company_url(books.realm_id) + "/preferences"
    other_realm_token = books.handle.admin.mint_tokens(books.handle.admin.create_company())["access_token"]
    answers = [
        httpx.get(url),
        httpx.get(url, headers={"Authorization": "Bearer not-a-token"}),
        httpx.get(url, headers={"Authorization": f"Bearer {other_realm_token}"}),
    ]
    books.handle.admin.expire_access_tokens(access_token=books.tokens["access_token"])
    answers.append(books.get("/preferences"))
    for response in answers:
        assert response.status_code == 401
        error = response.json()["fault"]["error"][0]
        assert response.json()["fault"]["type"] == "AUTHENTICATION"
        assert error["code"] == "3200"
        assert error["message"].startswith("message=AuthenticationFailed")


def _assert_throttled(response: httpx.Response) -> None:
    assert response.status_code == 429
    assert response.headers["content-type"].startswith("text/xml")
    for fragment in THROTTLE_XML:
        assert fragment in response.text
    assert not any(h.lower().startswith(("x-ratelimit", "retry-after")) for h in response.headers)


def test_429_xml_when_over_requests_per_minute_per_company(tmp_path):
    settings = EmulatorSettings(time_scale=60, requests_per_minute=5)     # the window is one second
    with run_emulator(tmp_path / "qbo.sqlite3", settings) as handle:
        company, neighbour = (QboCompany(handle, handle.admin.create_company()) for _ in range(2))
        answers = [company.get("/preferences", minorversion=75) for _ in range(6)]
        assert [r.status_code for r in answers[:5]] == [200] * 5
        _assert_throttled(answers[5])
        assert neighbour.get("/preferences").status_code == 200          # per company
        time.sleep(1.05)
        assert company.get("/preferences").status_code == 200
        company.close()
        neighbour.close()


def test_429_after_the_published_500_requests_per_minute(tmp_path):
    with run_emulator(tmp_path / "qbo.sqlite3", EmulatorSettings(time_scale=10)) as handle:  # window: 6 s
        company = QboCompany(handle, handle.admin.create_company())
        statuses = [company.get("/companyinfo/" + company.realm_id).status_code for _ in range(501)]
        assert statuses[:500] == [200] * 500
        assert statuses[500] == 429
        company.close()


def test_429_when_over_10_concurrent_requests(books: QboCompany):
    books.handle.admin.set_faults(books.realm_id, latency_ms=400)
    with concurrent.futures.ThreadPoolExecutor(14) as pool:
        answers = list(pool.map(lambda _: books.get("/preferences"), range(14)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * 10 + [429] * 4
    _assert_throttled(next(r for r in answers if r.status_code == 429))


def test_429_when_over_40_batch_requests_per_minute(books: QboCompany):
    batch = {"BatchItemRequest": [{"bId": "1", "Query": "SELECT COUNT(*) FROM Customer"}]}
    statuses = [books.post("/batch", batch).status_code for _ in range(41)]
    assert statuses[:40] == [200] * 40
    assert statuses[40] == 429
    assert books.get("/preferences").status_code == 200  # only batches are limited to 40


# --- batch and CDC ------------------------------------------------------------------------------


def test_batch_answers_in_order_with_per_item_faults_inside_http_200(books: QboCompany):
    customer = books.customer()
    response = books.post("/batch", {"BatchItemRequest": [
        {"bId": "1", "operation": "create", "Invoice": invoice_body(customer, doc_number="B-1")},
        {"bId": "2", "operation": "create", "Invoice": invoice_body(customer, lines=[sales_line(1, 3, 1)])},
        {"bId": "3", "Query": "SELECT * FROM Customer"},
        {"bId": "4", "operation": "create", "Customer": {"DisplayName": customer["DisplayName"]}},
    ]})
    assert response.status_code == 200
    answers = response.json()["BatchItemResponse"]
    assert [a["bId"] for a in answers] == ["1", "2", "3", "4"]
    assert answers[0]["Invoice"]["DocNumber"] == "B-1"
    assert answers[1]["Fault"]["Error"][0]["code"] == "6070" and answers[1]["Fault"]["type"] == "ValidationFault"
    assert answers[2]["QueryResponse"]["Customer"][0]["Id"] == customer["Id"]
    assert answers[3]["Fault"]["Error"][0]["code"] == "6240"


def test_batch_items_do_not_see_each_others_creations(books: QboCompany):
    customer = books.customer()
    response = books.post("/batch", {"BatchItemRequest": [
        {"bId": "new", "operation": "create", "Customer": {"DisplayName": "Created In Batch"}},
        {"bId": "look", "Query": "SELECT * FROM Customer WHERE DisplayName = 'Created In Batch'"},
        {"bId": "inv", "operation": "create", "Invoice": invoice_body(customer, doc_number="B-2")},
        {"bId": "pay", "operation": "create", "Payment": {
            "CustomerRef": {"value": customer["Id"]}, "TotalAmt": 5,
            "Line": [{"Amount": 5, "LinkedTxn": [{"TxnId": "1", "TxnType": "Invoice"}]}]}},
    ]}).json()["BatchItemResponse"]
    assert response[0]["Customer"]["DisplayName"] == "Created In Batch"
    assert response[1]["QueryResponse"] == {}
    assert response[2]["Invoice"]["Id"] == "1"
    assert response[3]["Fault"]["Error"][0]["code"] == "610"
    assert books.rows("SELECT * FROM Customer WHERE DisplayName = 'Created In Batch'")["Customer"]


def test_batch_of_more_than_30_items_is_refused(books: QboCompany):
    items = [{"bId": str(n), "Query": "SELECT * FROM Item"} for n in range(31)]
    assert books.post("/batch", {"BatchItemRequest": items[:30]}).status_code == 200
    error = fault_of(books.post("/batch", {"BatchItemRequest": items}))
    assert error["code"] == "6000"


def test_cdc_reports_changes_since_a_moment_and_deleted_objects_as_deleted(books: QboCompany):
    customer = books.customer()
    before = books.invoice(customer, doc_number="C-1")
    time.sleep(0.01)
    since = dt.datetime.now(dt.timezone.utc).isoformat()  # same clock as the emulator: it is on loopback
    time.sleep(0.01)
    changed = books.invoice(customer, doc_number="C-2")
    books.post("/invoice", {"Id": before["Id"], "SyncToken": before["SyncToken"]}, operation="delete")
    answer = books.get("/cdc", entities="Invoice,Payment", changedSince=since).json()
    invoices, payments = answer["CDCResponse"][0]["QueryResponse"]
    by_id = {obj["Id"]: obj for obj in invoices["Invoice"]}
    assert by_id[changed["Id"]]["DocNumber"] == "C-2"
    assert by_id[before["Id"]]["status"] == "Deleted"
    assert payments == {}


def test_cdc_looks_back_at_most_30_days(books: QboCompany):
    now = dt.datetime.now(dt.timezone.utc)
    assert books.get("/cdc", entities="Invoice", changedSince=(now - dt.timedelta(days=29)).isoformat()).status_code == 200
    error = fault_of(books.get("/cdc", entities="Invoice", changedSince=(now - dt.timedelta(days=31)).isoformat()))
    assert error["code"] == "6000" and error["element"] == "changedSince"
    assert fault_of(books.get("/cdc", entities="Invoice"))["code"] == "2020"


def test_cdc_returns_at_most_1000_objects(books: QboCompany):
    since = books.read("Item", "1")["MetaData"]["CreateTime"]  # the company's seed time
    for start in range(0, 1005, 30):
        items = [{"bId": str(n), "operation": "create", "Customer": {"DisplayName": f"Bulk {n}"}}
                 for n in range(start, min(start + 30, 1005))]
        assert books.post("/batch", {"BatchItemRequest": items}).status_code == 200
    answer = books.get("/cdc", entities="Customer", changedSince=since).json()
    customers = answer["CDCResponse"][0]["QueryResponse"][0]["Customer"]
    assert len(customers) == 1000
    assert books.rows("SELECT COUNT(*) FROM Customer") == {"totalCount": 1005}


def test_company_info_is_read_by_realm_id(books: QboCompany):
    info = books.get(f"/companyinfo/{books.realm_id}").json()["CompanyInfo"]
    assert info["CompanyName"] and info["Country"] == "US"


@pytest.mark.parametrize("path", ["/bill", "/estimate"])
def test_entities_the_emulator_does_not_know_are_an_unsupported_operation(books: QboCompany, path: str):
    assert fault_of(books.post(path, {}))["Message"] == "Unsupported Operation"
