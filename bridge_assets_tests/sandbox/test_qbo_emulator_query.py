"""The QuickBooks query language subset: what the adapter's look-ups and the mirror's paging rely on."""

from __future__ import annotations

import pytest

from bridge_assets.sandbox.qbo import query
from bridge_assets.sandbox.qbo.errors import QboFault
from bridge_assets_tests.sandbox.conftest import QboCompany, fault_of, money, sales_line


@pytest.fixture
def priced_invoices(books: QboCompany) -> QboCompany:
    """Five invoices: SED-1..SED-5 for 10, 20, 30, 40, 50, dated 1st to 5th of September 2026."""
    customer = books.customer("O'Brien \\ Sons")
    for n in range(1, 6):
        books.invoice(customer, doc_number=f"SED-{n}", txn_date=f"2026-09-0{n}",
                      lines=[sales_line(10 * n, 1, 10 * n)])
    return books


def doc_numbers(answer: dict) -> list[str]:
    return [invoice["DocNumber"] for invoice in answer.get("Invoice", [])]


def test_where_with_and_and_comparison_operators(priced_invoices: QboCompany):
    rows = priced_invoices.rows
    assert doc_numbers(rows("SELECT * FROM Invoice WHERE TotalAmt > '20' AND TotalAmt <= '40'")) == ["SED-3", "SED-4"]
    assert doc_numbers(rows("select * from invoice where TxnDate >= '2026-09-04'")) == ["SED-4", "SED-5"]
    assert doc_numbers(rows("SELECT * FROM Invoice WHERE TxnDate < '2026-09-02'")) == ["SED-1"]
    assert doc_numbers(rows("SELECT * FROM Invoice WHERE DocNumber IN ('SED-2', 'SED-5', 'NOPE')")) == ["SED-2", "SED-5"]
    assert doc_numbers(rows("SELECT * FROM Invoice WHERE DocNumber LIKE 'SED-%' AND TotalAmt = '50'")) == ["SED-5"]
    assert doc_numbers(rows("SELECT * FROM Invoice WHERE DocNumber LIKE '%-3'")) == ["SED-3"]


def test_orderby_ascending_and_descending(priced_invoices: QboCompany):
    rows = priced_invoices.rows
    assert doc_numbers(rows("SELECT * FROM Invoice ORDERBY TotalAmt DESC")) == ["SED-5", "SED-4", "SED-3", "SED-2", "SED-1"]
    assert doc_numbers(rows("SELECT * FROM Invoice ORDERBY TxnDate ASC MAXRESULTS 2")) == ["SED-1", "SED-2"]


def test_startposition_counts_from_one_and_maxresults_is_how_many_came_back(priced_invoices: QboCompany):
    answer = priced_invoices.rows("SELECT * FROM Invoice ORDERBY DocNumber STARTPOSITION 2 MAXRESULTS 2")
    assert doc_numbers(answer) == ["SED-2", "SED-3"]
    assert (answer["startPosition"], answer["maxResults"]) == (2, 2)
    last_page = priced_invoices.rows("SELECT * FROM Invoice ORDERBY DocNumber STARTPOSITION 5 MAXRESULTS 2")
    assert (doc_numbers(last_page), last_page["maxResults"]) == (["SED-5"], 1)
    assert "totalCount" not in answer


def test_a_query_with_no_match_returns_query_response_without_the_entity_key(priced_invoices: QboCompany):
    assert priced_invoices.rows("SELECT * FROM Invoice WHERE DocNumber = 'none'") == {}
    assert priced_invoices.rows("SELECT * FROM Invoice STARTPOSITION 6") == {}


def test_count_returns_total_count(priced_invoices: QboCompany):
    assert priced_invoices.rows("SELECT COUNT(*) FROM Invoice WHERE TotalAmt >= '30'") == {"totalCount": 3}


def test_quoted_values_escape_quote_and_backslash(priced_invoices: QboCompany):
    answer = priced_invoices.rows("SELECT * FROM Customer WHERE DisplayName = 'O\\'Brien \\\\ Sons'")
    assert answer["Customer"][0]["DisplayName"] == "O'Brien \\ Sons"


def test_query_can_be_posted_as_application_text(priced_invoices: QboCompany):
    response = priced_invoices.http.post("/query", content="SELECT * FROM Invoice WHERE DocNumber = 'SED-1'",
                                         headers={"Content-Type": "application/text"})
    assert doc_numbers(response.json()["QueryResponse"]) == ["SED-1"]


def test_default_page_is_100_and_maxresults_goes_up_to_1000(books: QboCompany):
    for start in range(0, 1005, 30):
        items = [{"bId": str(n), "operation": "create", "Customer": {"DisplayName": f"Page {n:04d}"}}
                 for n in range(start, min(start + 30, 1005))]
        books.post("/batch", {"BatchItemRequest": items})
    assert books.rows("SELECT * FROM Customer")["maxResults"] == 100
    assert books.rows("SELECT * FROM Customer MAXRESULTS 1000")["maxResults"] == 1000
    # Above 1000 QuickBooks refuses (4001) rather than capping: test_qbo_emulator_fidelity.py (issue 18, point 4).
    assert books.rows("SELECT * FROM Customer STARTPOSITION 1001 MAXRESULTS 1000")["maxResults"] == 5


@pytest.mark.parametrize("text", [
    "SELECT * FROM Invoice WHERE DocNumber = 'a' OR DocNumber = 'b'",
    "SELECT * FROM Invoice WHERE DocNumber != 'a'",
    "SELECT * FROM Invoice WHERE DocNumber = 'unterminated",
    "SELECT * Invoice",
    "SELECT * FROM Invoice JOIN Customer",
    "DELETE FROM Invoice",
    "",
])
def test_a_parse_error_is_4000(books: QboCompany, text: str):
    error = fault_of(books.query(text))
    assert (error["code"], error["Message"]) == ("4000", "Error parsing query")


def test_an_unknown_entity_or_property_is_4001(books: QboCompany):
    assert fault_of(books.query("SELECT * FROM Bill"))["code"] == "4001"
    assert fault_of(books.query("SELECT * FROM Invoice WHERE Colour = 'red'"))["code"] == "4001"


def test_name_lists_answer_only_active_objects_unless_asked(books: QboCompany):
    active, inactive = books.customer("Active One"), books.customer("Inactive One")
    books.create("Customer", {"Id": inactive["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    assert [c["Id"] for c in books.rows("SELECT * FROM Customer")["Customer"]] == [active["Id"]]
    every = books.rows("SELECT * FROM Customer WHERE Active IN (true, false)")["Customer"]
    assert sorted(c["Id"] for c in every) == sorted([active["Id"], inactive["Id"]])


def test_references_and_metadata_times_are_queryable(priced_invoices: QboCompany):
    customer = priced_invoices.rows("SELECT * FROM Customer")["Customer"][0]
    answer = priced_invoices.rows(f"SELECT * FROM Invoice WHERE CustomerRef = '{customer['Id']}'")
    assert len(answer["Invoice"]) == 5
    since = answer["Invoice"][0]["MetaData"]["CreateTime"]
    assert len(priced_invoices.rows(f"SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '{since}'")["Invoice"]) == 5
    assert money(priced_invoices.rows("SELECT Id, TotalAmt FROM Invoice MAXRESULTS 1")["Invoice"][0]["TotalAmt"]) == 10


def test_parser_reads_the_whole_grammar():
    parsed = query.parse("select count(*) from Invoice where DocNumber in ('a', 'b\\'c') and TotalAmt > 5 "
                         "orderby TxnDate desc, Id startposition 3 maxresults 7")
    assert parsed.count and parsed.entity == "Invoice"
    assert parsed.where == (query.Condition("DocNumber", "IN", ("a", "b'c")),
                            query.Condition("TotalAmt", ">", 5))
    assert parsed.order_by == (("TxnDate", True), ("Id", False))
    assert (parsed.start_position, parsed.max_results) == (3, 7)
    with pytest.raises(QboFault) as raised:
        query.parse("select * from Invoice where")
    assert raised.value.code == "4000"
