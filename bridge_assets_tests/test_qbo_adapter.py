"""The QuickBooks Online adapter against the emulator on loopback: real HTTP, real OAuth, no mocks.

Every test gets its own emulated company (realm), token grant and token store, so books, requestids,
throttles and fault plans never leak between tests. The emulator runs a minute in a second
(`time_scale=60`) and the adapter is told the same, so its pacing matches.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import stat
import subprocess
import sys
import time
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from bridge_assets.ledger import store as ledger
from bridge_assets.ledger import plan as planning
from bridge_assets.ledger import posting
from bridge_assets.destinations.base import Action, DestinationError, PostRequest, Status
from bridge_assets.destinations.qbo.adapter import (
    QboAuthError,
    QboDestination,
    QboLimits,
    QboReconnectRequired,
    batch_request_id,
)
from bridge_assets.destinations.qbo.payloads import dumps, qbo_name, query_literal
from bridge_assets.destinations.qbo.auth import TokenStore, Tokens
from bridge_assets.model.document import AccountingDocument, Application, DocumentLine, line_amount, money
from bridge_assets.sandbox.qbo import EmulatorHandle, EmulatorSettings, run_emulator

from .conftest import line, receive_and_map, write_export

CLIENT_ID = "bridge-test-client"
CLIENT_SECRET = "cs-7Hq2-never-in-a-log-Zx91"
TIME_SCALE = 60
LIMITS = QboLimits(time_scale=TIME_SCALE)
PERIOD = "2026-09"


@pytest.fixture(scope="module")
def qbo(tmp_path_factory) -> Iterator[EmulatorHandle]:
    settings = EmulatorSettings(time_scale=TIME_SCALE, clients={CLIENT_ID: CLIENT_SECRET})
    with run_emulator(tmp_path_factory.mktemp("qbo") / "books.sqlite3", settings) as handle:
        yield handle


class Company:
    """One emulated company, the grant the bridge was connected with, and a token store for it."""

    def __init__(self, handle: EmulatorHandle, folder: Path) -> None:
        self.handle = handle
        self.realm_id = handle.admin.create_company()
        self.grant = handle.admin.mint_tokens(self.realm_id, client_id=CLIENT_ID)
        self.store_path = folder / "secrets" / "qbo_tokens.json"
        self._destinations: list[QboDestination] = []

    def destination(self, **options: Any) -> QboDestination:
        values = dict(base_url=self.handle.base_url, realm_id=self.realm_id, token_url=self.handle.token_url,
                      client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_store=self.store_path,
                      refresh_token=self.grant["refresh_token"], limits=LIMITS, timeout=10.0)
        values.update(options)
        destination = QboDestination(**values)
        self._destinations.append(destination)
        return destination

    def api(self) -> httpx.Client:
        """A bookkeeper's own connection (a separate grant) for setting the books up and looking at them."""
        token = self.handle.admin.mint_tokens(self.realm_id, client_id=CLIENT_ID)["access_token"]
        return httpx.Client(base_url=self.handle.company_url(self.realm_id), timeout=10,
                            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})

    def create(self, entity: str, body: dict, **params: Any) -> dict:
        with self.api() as api:
            response = api.post(f"/{entity.lower()}", content=dumps(body), params=params or None,
                                headers={"Content-Type": "application/json"})
        assert response.status_code == 200, response.text
        return json.loads(response.content, parse_float=Decimal)[entity]

    def dump(self, entity: str) -> list[dict]:
        return self.handle.admin.dump(self.realm_id, entity)

    def journal(self) -> list[dict]:
        return self.handle.admin.journal(self.realm_id)

    def close(self) -> None:
        for destination in self._destinations:
            destination.close()


@pytest.fixture
def company(qbo: EmulatorHandle, tmp_path: Path) -> Iterator[Company]:
    books = Company(qbo, tmp_path)
    yield books
    books.close()


def document(number: str, *, doc_type: str = "invoice", customer: str = "Smith, J",
             lines: tuple[tuple[str, str, str, bool], ...] = (("RMR-MON", "1", "29.95", False),),
             tax: str = "0.00", applies: tuple[tuple[str, str], ...] = (), total: str | None = None,
             date: dt.date = dt.date(2026, 9, 1), memo: str | None = None) -> AccountingDocument:
    """A canonical document: lines are (item_code, qty, rate, taxable); applies are (invoice number, amount)."""
    built = tuple(DocumentLine(n, "rmr", code, f"{code} for September", Decimal(qty), Decimal(rate),
                               line_amount(Decimal(qty), Decimal(rate)), taxable)
                  for n, (code, qty, rate, taxable) in enumerate(lines, start=1)) if doc_type != "payment" else ()
    subtotal = sum((l.amount for l in built), Decimal("0.00"))
    applications = tuple(Application(f"sedona:invoice:{n}", n, money(a)) for n, a in applies)
    grand = money(total) if total is not None else subtotal + money(tax)
    return AccountingDocument(
        doc_key=f"sedona:{doc_type}:{number}", source="sedona", doc_type=doc_type, source_id=number,
        doc_number=number, txn_date=date, period=date.strftime("%Y-%m"), due_date=date + dt.timedelta(days=30),
        customer_key=f"C{zlib.crc32(customer.encode()) % 1000:03d}", customer_name=customer, master_account="", site="1 Main St",
        terms="NET30", po_number="", subtotal=subtotal, tax_total=money(tax), total=grand, currency="USD",
        memo=memo if memo is not None else f"SedonaOffice {doc_type.replace('_', ' ')} {number}", source_ref="",
        lines=built, applies_to=applications,
    ).with_hash()


def create(doc: AccountingDocument, generation: int = 0) -> PostRequest:
    return PostRequest(Action.CREATE, doc, ledger.request_id("qbo", doc.doc_key, doc.content_hash, generation))


def update(doc: AccountingDocument, dest_id: str, version: str, previous: dict | None = None) -> PostRequest:
    return PostRequest(Action.UPDATE, doc, ledger.request_id("qbo", doc.doc_key, doc.content_hash, 1),
                       dest_id=dest_id, version=version, previous=previous)


def writes(journal: list[dict]) -> list[dict]:
    return [e for e in journal if e["method"] == "POST" and not e["path"].endswith("/query")]


# --- creating documents ---------------------------------------------------------------------------


def test_invoices_are_created_in_one_batch_with_exact_money(company: Company):
    destination = company.destination()
    docs = [
        document("100001", lines=(("RMR-MON", "1", "29.95", False), ("LAB-TECH", "1.5", "33.33", False))),
        document("100002", customer="Jones, K", lines=(("PRT-SENSOR", "3", "0.10", False),)),
        document("100003", lines=(("RMR-MON", "2", "19.99", True),), tax="3.30"),
    ]
    outcomes = destination.post([create(d) for d in docs])

    assert [o.status for o in outcomes] == [Status.CREATED] * 3
    invoices = {i["DocNumber"]: i for i in company.dump("Invoice")}
    assert set(invoices) == {"100001", "100002", "100003"}
    for doc, outcome in zip(docs, outcomes, strict=True):
        held = invoices[doc.doc_number]
        assert (outcome.dest_id, outcome.version, outcome.dest_doc_number) == (held["Id"], "0", doc.doc_number)
        assert Decimal(str(held["TotalAmt"])) == doc.total          # 1.5 x 33.33 = 49.995 -> 50.00 on both sides
        assert (held["TxnDate"], held["DueDate"], held["PrivateNote"]) == ("2026-09-01", "2026-10-01", doc.memo)
        assert outcome.after["Id"] == held["Id"] and outcome.before is None
    lines = [l for l in invoices["100001"]["Line"] if l["DetailType"] == "SalesItemLineDetail"]
    assert [(Decimal(str(l["Amount"])), Decimal(str(l["SalesItemLineDetail"]["Qty"])),
             l["SalesItemLineDetail"]["TaxCodeRef"]["value"]) for l in lines] == [
        (Decimal("29.95"), Decimal("1"), "NON"), (Decimal("50.00"), Decimal("1.5"), "NON")]
    assert invoices["100003"]["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"]["value"] == "TAX"
    documents_sent = [e for e in writes(company.journal()) if "Customer" not in e["path"]]
    batches = [e for e in documents_sent if e["path"].endswith("/batch")]
    assert len(batches) == 3     # customers, items, then all three invoices in one request
    assert all(len(e["request_id"]) == 36 for e in batches)


def test_money_goes_on_the_wire_as_exact_json_numbers():
    body = dumps({"Amount": Decimal("49.995").quantize(Decimal("0.01")), "Qty": Decimal("1.5000").normalize(),
                  "Tiny": Decimal("0.10"), "Zero": Decimal("-0.00"), "Name": "O'Brien \\ \"Sons\""})
    assert body == b'{"Amount":50.00,"Qty":1.5,"Tiny":0.10,"Zero":0,"Name":"O\'Brien \\\\ \\"Sons\\""}'
    with pytest.raises(TypeError):
        dumps({"Amount": 29.95})


def test_batch_request_ids_are_deterministic_in_their_items_and_order():
    ids = [ledger.request_id("qbo", f"sedona:invoice:{n}", "ab" * 32, 0) for n in range(30)]
    assert batch_request_id(ids) == batch_request_id(list(ids))
    assert batch_request_id(ids) != batch_request_id(ids[::-1])
    assert batch_request_id(ids) != batch_request_id(ids[:-1])
    assert len(batch_request_id(ids)) == 36


# --- customers and items --------------------------------------------------------------------------


def test_customers_and_items_are_matched_by_name_or_created_with_quotes_and_backslashes(company: Company):
    tricky_customer, tricky_item = "O'Brien \\ Sons, J", "LAB'X\\1"
    existing = company.create("Customer", {"DisplayName": tricky_customer})
    existing_item = company.create("Item", {"Name": tricky_item, "Type": "Service", "IncomeAccountRef": {"value": "1"}})
    destination = company.destination()
    docs = [
        document("200001", customer="o'brien  \\ sons, j", lines=((tricky_item, "1", "85.00", False),)),
        document("200002", customer="D'Angelo \\ Co", lines=(("EQP'7\\B", "2", "12.50", False),)),
        document("200003", customer="Jones: K"),
    ]
    assert destination.resolve_references(docs) == {}
    outcomes = destination.post([create(d) for d in docs])
    assert [o.status for o in outcomes] == [Status.CREATED] * 3

    customers = sorted(c["DisplayName"] for c in company.dump("Customer"))
    assert customers == ["D'Angelo \\ Co", "Jones - K", tricky_customer]        # matched, not duplicated
    items = sorted(i["Name"] for i in company.dump("Item"))
    assert items == ["EQP'7\\B", tricky_item, "RMR-MON", "Services"]
    invoice = {i["DocNumber"]: i for i in company.dump("Invoice")}["200001"]
    assert invoice["CustomerRef"]["value"] == existing["Id"]
    assert invoice["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"] == existing_item["Id"]
    assert qbo_name("ACME:North : Gate") == "ACME - North - Gate"
    assert query_literal("O'Brien \\ Sons") == "'O\\'Brien \\\\ Sons'"


def test_unresolvable_references_fail_with_a_sentence_and_send_nothing(company: Company):
    company.create("Customer", {"DisplayName": "Gone, G", "Active": False})
    set_up = len(company.journal())
    destination = company.destination(auto_create_customers=False, auto_create_items=False)
    missing_customer = document("300001", customer="Smith, J")
    inactive_customer = document("300002", customer="Gone, G")
    missing_item = document("300003", customer="Smith, J", lines=(("NEW-ITEM", "1", "5.00", False),))
    problems = destination.resolve_references([missing_customer, inactive_customer, missing_item])
    assert problems[missing_customer.doc_key].startswith(
        "Customer 'Smith, J' not found in QuickBooks and auto-create is off")
    assert "inactive" in problems[inactive_customer.doc_key]
    assert "Item 'NEW-ITEM' not found in QuickBooks and auto-create is off" in problems[missing_item.doc_key]

    outcomes = destination.post([create(missing_customer), create(inactive_customer)])
    assert [o.status for o in outcomes] == [Status.FAILED, Status.FAILED]
    assert outcomes[0].message.startswith("Invoice 300001 (Smith, J): Customer 'Smith, J' not found")
    assert company.dump("Invoice") == []
    assert not writes(company.journal()[set_up:])


# --- updates --------------------------------------------------------------------------------------


class EditBeforeFirstUpdate(httpx.BaseTransport):
    """A bookkeeper saves the invoice in QuickBooks just before the bridge's update arrives."""

    def __init__(self, edit: Callable[[], None]) -> None:
        self.inner = httpx.HTTPTransport()
        self.edit: Callable[[], None] | None = edit

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.edit is not None and request.method == "POST" and b'"sparse":true' in request.content:
            edit, self.edit = self.edit, None
            edit()
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_update_is_sparse_against_the_current_sync_token_and_rereads_after_5010(company: Company):
    original = document("400001", lines=(("RMR-MON", "1", "29.95", False),))
    created = company.destination().post([create(original)])[0]
    # A payment applied in QuickBooks moves the invoice's SyncToken on: the ledger's "0" is stale now.
    customer_id = created.after["CustomerRef"]["value"]
    company.create("Payment", {"CustomerRef": {"value": customer_id}, "TotalAmt": Decimal("10.00"),
                               "Line": [{"Amount": Decimal("10.00"),
                                         "LinkedTxn": [{"TxnId": created.dest_id, "TxnType": "Invoice"}]}]})

    def bookkeeper_edit() -> None:
        with company.api() as api:
            current = api.get(f"/invoice/{created.dest_id}").json()["Invoice"]
            answer = api.post("/invoice", json={"Id": current["Id"], "SyncToken": current["SyncToken"],
                                                "sparse": True, "CustomerMemo": {"value": "Thank you"}})
            assert answer.status_code == 200

    changed = document("400001", lines=(("RMR-MON", "1", "39.95", False),))
    destination = company.destination(transport=EditBeforeFirstUpdate(bookkeeper_edit))
    outcome = destination.post([update(changed, created.dest_id, created.version, previous=created.after)])[0]

    assert outcome.status is Status.UPDATED, outcome.message
    held = company.dump("Invoice")[0]
    assert Decimal(str(held["TotalAmt"])) == Decimal("39.95") and Decimal(str(held["Balance"])) == Decimal("29.95")
    assert held["CustomerMemo"] == {"value": "Thank you"}                    # sparse: the bookkeeper's edit stays
    assert outcome.before["SyncToken"] == "2" and Decimal(str(outcome.before["TotalAmt"])) == Decimal("29.95")
    assert outcome.version == held["SyncToken"] == "3"
    statuses = [e["status"] for e in writes(company.journal()) if e["path"].endswith(("/invoice", "/batch"))]
    assert statuses[-2:] == [400, 200]                                      # 5010, then the re-read retry

    # The same update again (an interrupted run's re-send): QuickBooks already holds it, nothing is sent.
    sent = len(writes(company.journal()))
    again = company.destination().post([update(changed, created.dest_id, "0")])[0]
    assert again.status is Status.UPDATED and "already holds this version" in again.message
    assert len(writes(company.journal())) == sent


# --- tax ------------------------------------------------------------------------------------------


def test_tax_override_keeps_the_source_totals(company: Company):
    # The emulated company charges 8.25 %; the source charged 7 % (a different jurisdiction's rate).
    with_override = document("500001", lines=(("RMR-MON", "1", "100.00", True),), tax="7.00")
    without = document("500002", lines=(("RMR-MON", "1", "100.00", True),), tax="7.00")
    first = company.destination().post([create(with_override)])[0]
    second = company.destination(tax_override=False).post([create(without)])[0]

    held = {i["DocNumber"]: i for i in company.dump("Invoice")}
    assert Decimal(str(held["500001"]["TotalAmt"])) == with_override.total == Decimal("107.00")
    assert Decimal(str(held["500001"]["TxnTaxDetail"]["TotalTax"])) == Decimal("7.00")
    assert first.message is None
    assert Decimal(str(held["500002"]["TotalAmt"])) == Decimal("108.25")
    assert "its total is 108.25, the source's is 107.00" in second.message


# --- closed books ---------------------------------------------------------------------------------


def test_a_document_in_a_closed_period_is_held_with_the_reason(company: Company):
    company.handle.admin.set_book_close_date(company.realm_id, "2026-09-30")
    destination = company.destination()
    assert destination.is_period_open(dt.date(2026, 9, 1)) is False
    assert destination.is_period_open(dt.date(2026, 10, 1)) is True
    assert destination.book_close_date() == dt.date(2026, 9, 30)
    doc = document("600001")
    outcome = destination.post([create(doc)])[0]
    assert outcome.status is Status.HELD and outcome.error_code == "6210"
    assert "600001" in outcome.message and "09/30/2026" in outcome.message and "held" in outcome.message
    assert company.dump("Invoice") == []

    company.handle.admin.set_book_close_date(company.realm_id, None)
    assert destination.book_close_date() is None                           # read afresh: the sensor sees it move
    reopened = company.destination().post([create(doc, generation=1)])[0]    # the ledger moves the generation on
    assert reopened.status is Status.CREATED


# --- credit memos and payments --------------------------------------------------------------------


def test_a_credit_memo_is_applied_to_its_invoice_once(company: Company):
    destination = company.destination()
    invoice = destination.post([create(document("700001", lines=(("RMR-MON", "1", "100.00", False),)))])[0]
    credit = document("C700001", doc_type="credit_memo", lines=(("RMR-MON", "1", "30.00", False),),
                      applies=(("700001", "30.00"),))
    orphan = document("C700002", doc_type="credit_memo", applies=(("799999", "29.95"),))
    outcomes = destination.post([create(credit), create(orphan)])

    assert outcomes[0].status is Status.CREATED, outcomes[0].message
    assert "30.00 applied to invoice 700001" in outcomes[0].message
    memo = company.dump("CreditMemo")[0]
    assert Decimal(str(memo["RemainingCredit"])) == 0 and outcomes[0].version == memo["SyncToken"]
    assert Decimal(str(company.dump("Invoice")[0]["Balance"])) == Decimal("70.00")
    [application] = company.dump("Payment")
    assert {(l["LinkedTxn"][0]["TxnType"], l["LinkedTxn"][0]["TxnId"]) for l in application["Line"]} == {
        ("Invoice", invoice.dest_id), ("CreditMemo", memo["Id"])}
    assert outcomes[1].status is Status.FAILED
    assert "invoice 799999, which is not in QuickBooks yet" in outcomes[1].message

    # Sent again (an interrupted run): found by number, already applied, nothing new.
    again = company.destination().post([create(credit)])[0]
    assert again.status is Status.CREATED and again.dest_id == memo["Id"]
    assert len(company.dump("CreditMemo")) == 1 and len(company.dump("Payment")) == 1


def test_a_payment_is_applied_to_the_invoice_by_its_id(company: Company):
    destination = company.destination()
    invoice = destination.post([create(document("800001", lines=(("RMR-MON", "1", "120.00", False),)))])[0]
    other = destination.post([create(document("800002", customer="Jones, K"))])[0]
    payment = document("P800001", doc_type="payment", applies=(("800001", "50.00"),), total="50.00")
    wrong = document("P800002", doc_type="payment", applies=(("800002", "29.95"),), total="29.95")
    outcomes = destination.post([create(payment), create(wrong)])

    assert outcomes[0].status is Status.CREATED
    [held] = [p for p in company.dump("Payment") if p.get("PaymentRefNum") == "P800001"]
    assert held["Line"][0]["LinkedTxn"] == [{"TxnId": invoice.dest_id, "TxnType": "Invoice"}]
    assert Decimal(str(held["TotalAmt"])) == Decimal("50.00")
    assert Decimal(str({i["Id"]: i for i in company.dump("Invoice")}[invoice.dest_id]["Balance"])) == Decimal("70.00")
    assert outcomes[1].status is Status.FAILED and "belongs to another customer" in outcomes[1].message
    assert other.status is Status.CREATED
    assert destination.find("payment", "P800001").dest_id == held["Id"]


# --- errors ---------------------------------------------------------------------------------------


def test_refusals_become_sentences_that_name_the_document(company: Company):
    company.create("Customer", {"DisplayName": "Smith, J"})
    hand_keyed = company.create("Invoice", {
        "DocNumber": "900002", "CustomerRef": {"value": company.dump("Customer")[0]["Id"]}, "TxnDate": "2026-09-01",
        "Line": [{"Amount": Decimal("12.00"), "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": Decimal("12.00")}}]})
    too_long = document("9" * 22)
    duplicate = document("900002")
    outcomes = company.destination().post([create(too_long), create(duplicate)])

    assert [o.status for o in outcomes] == [Status.FAILED, Status.FAILED]
    assert outcomes[0].error_code == "2050"
    assert outcomes[0].message.startswith(f"Invoice {'9' * 22} (Smith, J): a value is longer than QuickBooks allows")
    assert "21 characters" in outcomes[0].message
    assert outcomes[1].error_code == "6140" and f"Id {hand_keyed['Id']}" in outcomes[1].message
    assert len(company.dump("Invoice")) == 1                                 # the hand-keyed one, untouched


def test_a_company_that_renumbers_documents_is_refused_before_anything_is_sent(company: Company):
    company.handle.admin.change_preferences(company.realm_id, {"SalesFormsPrefs": {"CustomTxnNumbers": False}})
    with pytest.raises(DestinationError, match="Custom transaction numbers"):
        company.destination().post([create(document("905001"))])
    assert not writes(company.journal())


def test_outages_end_in_retry_after_bounded_tries_and_lost_answers_are_replayed(company: Company):
    destination = company.destination(max_tries=3)
    doc = document("910001")
    destination.resolve_references([doc])
    company.handle.admin.set_faults(company.realm_id, fail_next=[503, 500, 429])
    outcome = destination.post([create(doc)])[0]
    assert outcome.status is Status.RETRY and "after 3 tries" in outcome.message
    assert [e["outcome"] for e in company.journal()][-3:] == ["injected"] * 3
    assert company.dump("Invoice") == []

    # The write lands but its answer is lost: the retry with the same requestid gets the original answer.
    company.handle.admin.set_faults(company.realm_id, drop_next_writes=1)
    outcome = destination.post([create(doc)])[0]
    assert outcome.status is Status.CREATED
    assert [e["outcome"] for e in writes(company.journal())][-2:] == ["dropped:reset", "replayed"]
    assert len(company.dump("Invoice")) == 1


# --- OAuth ----------------------------------------------------------------------------------------


def test_access_token_expiry_mid_run_is_recovered_and_the_new_refresh_token_kept(company: Company):
    destination = company.destination()
    assert destination.post([create(document("920001"))])[0].status is Status.CREATED
    stored_before = TokenStore(company.store_path).load()
    company.handle.admin.expire_access_tokens(company.realm_id)

    assert destination.post([create(document("920002"))])[0].status is Status.CREATED
    assert "unauthorized" in [e["outcome"] for e in company.journal()]
    stored_after = TokenStore(company.store_path).load()
    assert stored_after.refresh_token != stored_before.refresh_token       # rotated, and saved
    assert _refresh_works(company, stored_after.refresh_token)
    assert not _refresh_works(company, stored_before.refresh_token)
    assert stat.S_IMODE(os.stat(company.store_path).st_mode) == 0o600


def _refresh_works(company: Company, refresh_token: str) -> bool:
    response = httpx.post(company.handle.token_url, auth=(CLIENT_ID, CLIENT_SECRET),
                          data={"grant_type": "refresh_token", "refresh_token": refresh_token})
    return response.status_code == 200


# A bridge run of its own in another process: builds the adapter on the shared token store, says it is
# ready, waits for "go" (so both refresh at the same moment), posts one invoice and prints the outcome.
CHILD = """
import json, sys, time, datetime as dt
from decimal import Decimal
from pathlib import Path
from bridge_assets.destinations.base import Action, PostRequest
from bridge_assets.destinations.qbo.adapter import QboDestination, QboLimits
from bridge_assets.model.document import AccountingDocument, DocumentLine

options, number, folder = json.loads(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
options["limits"] = QboLimits(**options["limits"])
destination = QboDestination(**options)
line = DocumentLine(1, "rmr", "RMR-MON", "Monitoring", Decimal("1"), Decimal("29.95"), Decimal("29.95"), False)
doc = AccountingDocument(
    doc_key="sedona:invoice:" + number, source="sedona", doc_type="invoice", source_id=number, doc_number=number,
    txn_date=dt.date(2026, 9, 1), period="2026-09", due_date=None, customer_key="C1", customer_name="Smith, J",
    master_account="", site="", terms="", po_number="", subtotal=Decimal("29.95"), tax_total=Decimal("0.00"),
    total=Decimal("29.95"), currency="USD", memo="", source_ref="", lines=(line,)).with_hash()
(folder / ("ready-" + number)).touch()
deadline = time.monotonic() + 60
while not (folder / "go").exists() and time.monotonic() < deadline:
    time.sleep(0.001)
outcome = destination.post([PostRequest(Action.CREATE, doc, "00000000-0000-4000-8000-" + number.rjust(12, "0"))])[0]
print(json.dumps({"number": number, "status": outcome.status.value, "refreshes": destination.session.refreshes}))
"""


def test_two_processes_refreshing_the_same_token_at_once_both_keep_working(company: Company, tmp_path: Path):
    first = company.destination()
    assert first.post([create(document("930000"))])[0].status is Status.CREATED
    company.handle.admin.expire_access_tokens(company.realm_id)   # both children start with a dead access token
    options = dict(base_url=company.handle.base_url, realm_id=company.realm_id, token_url=company.handle.token_url,
                   client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_store=str(company.store_path),
                   limits={"time_scale": TIME_SCALE}, timeout=10.0)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    children = [subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(options), number, str(tmp_path)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
                for number in ("930001", "930002")]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{n}").exists() for n in ("930001", "930002")):
        assert time.monotonic() < deadline and all(c.poll() is None for c in children), \
            [c.communicate() for c in children if c.poll() is not None]
        time.sleep(0.01)
    (tmp_path / "go").touch()
    answers = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        answers.append(json.loads(out.strip().splitlines()[-1]))

    assert sorted((a["number"], a["status"]) for a in answers) == [("930001", "created"), ("930002", "created")]
    assert sum(a["refreshes"] for a in answers) == 1          # one refreshed; the other used the token it saved
    stored = TokenStore(company.store_path).load()
    assert _refresh_works(company, stored.refresh_token)       # the stored refresh token is the newest


class RotateBehindOurBack(httpx.BaseTransport):
    """A process that does not share our lock rotates the token just before our refresh reaches Intuit."""

    def __init__(self, company: Company) -> None:
        self.inner = httpx.HTTPTransport()
        self.company = company
        self.done = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self.done and request.url.path.endswith("/tokens/bearer"):
            self.done = True
            store = TokenStore(self.company.store_path)
            stale = store.load()
            answer = httpx.post(self.company.handle.token_url, auth=(CLIENT_ID, CLIENT_SECRET),
                                data={"grant_type": "refresh_token", "refresh_token": stale.refresh_token}).json()
            self.company.store_path.write_text(Tokens(answer["refresh_token"], answer["access_token"],
                                                      0.0, updated_at=1.0).to_json())
        return self.inner.handle_request(request)


def test_invalid_grant_rereads_the_store_and_uses_the_newer_token(company: Company):
    destination = company.destination(transport=RotateBehindOurBack(company))
    assert destination.post([create(document("940001"))])[0].status is Status.CREATED
    assert _refresh_works(company, TokenStore(company.store_path).load().refresh_token)


def test_a_dead_connection_is_a_clear_configuration_error_without_secrets(company: Company, caplog):
    caplog.set_level(logging.DEBUG)
    # Revoked in QuickBooks: the refresh token is refused, and no newer one was saved anywhere.
    revoked = company.destination()
    httpx.post(company.handle.revoke_url, auth=(CLIENT_ID, CLIENT_SECRET), data={"token": company.grant["refresh_token"]})
    with pytest.raises(QboReconnectRequired) as refused:
        revoked.post([create(document("950001"))])
    assert "Reconnect the bridge to QuickBooks" in str(refused.value)

    # Connected to another company than the one configured: 401 even after a refresh.
    other_realm = company.handle.admin.create_company()
    other_grant = company.handle.admin.mint_tokens(other_realm, client_id=CLIENT_ID)
    wrong = company.destination(refresh_token=other_grant["refresh_token"],
                                token_store=company.store_path.with_name("other.json"))
    with pytest.raises(QboAuthError) as mismatch:
        wrong.is_period_open(dt.date(2026, 9, 1))
    assert "even after refreshing it" in str(mismatch.value)

    secrets = [CLIENT_SECRET, company.grant["refresh_token"], company.grant["access_token"],
               other_grant["refresh_token"], TokenStore(company.store_path.with_name("other.json")).load().refresh_token]
    for text in (str(refused.value), str(mismatch.value), caplog.text):
        assert not any(secret in text for secret in secrets)


# --- look-up and undo -----------------------------------------------------------------------------


def test_find_void_delete_and_restore(company: Company):
    destination = company.destination()
    invoice_doc = document("960001", lines=(("RMR-MON", "1", "100.00", False),))
    invoice = destination.post([create(invoice_doc)])[0]
    credit = destination.post([create(document("C960001", doc_type="credit_memo",
                                                lines=(("RMR-MON", "1", "25.00", False),),
                                                applies=(("960001", "25.00"),)))])[0]
    payment = destination.post([create(document("P960001", doc_type="payment", applies=(("960001", "40.00"),),
                                                 total="40.00"))])[0]
    assert destination.find("invoice", "960001").dest_id == invoice.dest_id
    assert destination.find("invoice", "nope") is None

    changed = destination.post([update(document("960001", lines=(("RMR-MON", "1", "150.00", False),)),
                                       invoice.dest_id, invoice.version)])[0]
    assert changed.status is Status.UPDATED
    restored = destination.restore("invoice", invoice.dest_id, json.loads(json.dumps(changed.before, default=str)))
    assert restored.status is Status.UPDATED
    assert Decimal(str(restored.after["TotalAmt"])) == Decimal("100.00")

    assert destination.void_or_delete("payment", payment.dest_id, payment.version).status is Status.VOIDED
    assert destination.void_or_delete("credit_memo", credit.dest_id, credit.version).status is Status.VOIDED
    assert company.dump("Payment") == [] and company.dump("CreditMemo") == []   # the $0 application went too
    assert Decimal(str(company.dump("Invoice")[0]["Balance"])) == Decimal("100.00")
    voided = destination.void_or_delete("invoice", invoice.dest_id, None)
    assert voided.status is Status.VOIDED and Decimal(str(voided.after["TotalAmt"])) == 0
    assert destination.void_or_delete("invoice", invoice.dest_id, None).message.endswith("already voided in QuickBooks")


# --- through the real posting path ----------------------------------------------------------------


def _export(settings, name: str = "sept.csv") -> Path:
    return write_export(settings.inbox / name, [
        line(number="1001", name="O'Brien \\ Sons, J", rate="29.95", amount="29.95", total="29.95"),
        line(number="1002", customer="C002", name="Jones, K", item="LAB-TECH", qty="2", rate="85", amount="170.00",
             taxable="Y", tax="14.03", total="184.03"),
        line(number="1003", customer="C003", name="Acme: North", rate="49.99", amount="49.99", total="49.99"),
        line(number="5001", doc_type="Credit", applies="1002", customer="C002", name="Jones, K", item="LAB-TECH",
             qty="1", rate="85", amount="85.00", total="85.00"),
    ])


def _plan(db, destination_name: str = "qbo") -> None:
    with db.transaction() as con:
        planning.plan_periods(con, destination_name, [PERIOD])


def test_posting_path_posts_each_document_once_and_a_rerun_sends_nothing(db, settings, company: Company, caplog):
    caplog.set_level(logging.DEBUG)
    receive_and_map(db, settings, [_export(settings)], [PERIOD])
    _plan(db)
    destination = company.destination(token_store=settings.home / "secrets" / "qbo_tokens.json")
    report = posting.execute_plan(db, destination, [PERIOD], "run-1")
    assert report.outcomes == {"created": 4}, report.failures

    invoices = {i["DocNumber"]: i for i in company.dump("Invoice")}
    credits = {c["DocNumber"]: c for c in company.dump("CreditMemo")}
    assert sorted(invoices) == ["1001", "1002", "1003"] and sorted(credits) == ["5001"]
    assert Decimal(str(invoices["1002"]["TotalAmt"])) == Decimal("184.03")         # the source's tax, kept
    assert Decimal(str(invoices["1002"]["Balance"])) == Decimal("99.03")           # the credit is applied
    with db.connect() as con:
        rows = con.execute("SELECT doc_number, state, dest_id, sync_token FROM ledger_postings "
                           "WHERE destination = 'qbo' ORDER BY doc_number").fetchall()
    held = {**invoices, **credits}
    assert [r[:3] for r in rows] == [(n, "posted", held[n]["Id"]) for n in ("1001", "1002", "1003", "5001")]
    assert rows[3][3] == held["5001"]["SyncToken"] == "1"            # read back after it was applied

    # Expire the access token between runs (the refresh rotates the refresh token), then run again.
    company.handle.admin.expire_access_tokens(company.realm_id)
    requests_before = len(company.journal())
    receive_and_map(db, settings, [], [PERIOD])
    _plan(db)
    rerun = posting.execute_plan(db, company.destination(token_store=settings.home / "secrets" / "qbo_tokens.json"),
                                 [PERIOD], "run-2")
    assert rerun.outcomes == {} and rerun.skipped == 4
    assert len(company.journal()) == requests_before                                # not a single request

    # Nothing secret in the DuckDB file (nor in the logs).
    store = TokenStore(settings.home / "secrets" / "qbo_tokens.json").load()
    secrets = [CLIENT_SECRET, company.grant["refresh_token"], company.grant["access_token"], store.refresh_token,
               store.access_token]
    raw = b"".join(path.read_bytes() for path in settings.database_path.parent.glob(settings.database_path.name + "*"))
    assert raw and not any(secret.encode() in raw for secret in secrets if secret)
    assert not any(secret in caplog.text for secret in secrets if secret)
