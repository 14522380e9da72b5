"""Business Central: the emulator as Microsoft documents API v2.0 (plain HTTP: there is no official Python
SDK for it on PyPI; `d365bcapi-gedasb` and `business-central-kon` are unvetted), and the adapter against it:
corrections by cancel and re-issue, $batch, ETags, the posting range, payments, lost answers, refusals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Iterator

import httpx
import pytest

from bridge_assets.destinations.base import BY_HAND_CODES, DestinationError, Status
from bridge_assets.destinations.business_central.adapter import BusinessCentralDestination
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.sandbox.business_central import SCOPE, EmulatorHandle, EmulatorSettings, run_emulator
from bridge_assets_tests.destinations.erp_documents import create, document

CLIENT, SECRET = "bridge-sandbox-app", "bridge-sandbox-app-secret"


@pytest.fixture(scope="module")
def bc(tmp_path_factory) -> Iterator[EmulatorHandle]:
    with run_emulator(tmp_path_factory.mktemp("bc") / "bc.sqlite3", EmulatorSettings(time_scale=60)) as handle:
        yield handle


@pytest.fixture
def books(bc: EmulatorHandle) -> Iterator[EmulatorHandle]:
    bc.admin.reset()
    yield bc


def destination(bc: EmulatorHandle, secret: str = SECRET) -> BusinessCentralDestination:
    s = bc.settings
    return BusinessCentralDestination(tenant=s.tenant, environment=s.environment, company=s.company, client_id=CLIENT,
                                      client_secret=secret, api_url=bc.base_url, token_url=bc.token_url,
                                      limits=Limits(time_scale=60))


@pytest.fixture
def adapter(books: EmulatorHandle) -> Iterator[BusinessCentralDestination]:
    with destination(books) as made:
        yield made


class Api:
    """Plain HTTP as Microsoft's docs show it: a client-credentials token, then OData under the company."""

    def __init__(self, bc: EmulatorHandle) -> None:
        token = httpx.post(bc.token_url, data={"grant_type": "client_credentials", "client_id": CLIENT,
                                               "client_secret": SECRET, "scope": SCOPE}).json()["access_token"]
        self.http = httpx.Client(headers={"Authorization": f"Bearer {token}"})
        self.root = f"{bc.base_url}/v2.0/{bc.settings.tenant}/{bc.settings.environment}/api/v2.0"
        self.company = f"{self.root}/companies({bc.admin.company()['id']})"

    def __call__(self, method: str, path: str, **kw) -> httpx.Response:
        return self.http.request(method, f"{self.company}/{path}", **kw)


# --- the emulator, as the documentation describes the API ------------------------------------------------

def test_tokens_are_entra_client_credentials_for_the_business_central_scope(books: EmulatorHandle):
    refused = httpx.post(books.token_url, data={"grant_type": "client_credentials", "client_id": CLIENT,
                                                "client_secret": "wrong", "scope": SCOPE})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    no_scope = httpx.post(books.token_url, data={"grant_type": "client_credentials", "client_id": CLIENT,
                                                 "client_secret": SECRET})
    assert no_scope.json()["error"] == "invalid_scope"
    anonymous = httpx.get(f"{Api(books).root}/companies")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "Authentication_InvalidCredentials"


def test_drafts_change_only_with_if_match_and_posted_documents_not_at_all(books: EmulatorHandle):
    api = Api(books)
    api("POST", "customers", json={"number": "C001", "displayName": "Smith, J"})
    api("POST", "items", json={"number": "RMR-MON", "displayName": "Monitoring", "type": "Service"})
    manual = api("POST", "salesInvoices", json={"number": "100", "customerNumber": "C001"})
    assert manual.json()["error"]["code"] == "Application_DialogException" and "Manual Nos." in manual.text
    draft = api("POST", "salesInvoices", json={"customerNumber": "C001", "externalDocumentNumber": "100",
                                                "invoiceDate": "2026-09-01", "salesInvoiceLines": [
                                                    {"lineObjectNumber": "RMR-MON", "quantity": 2, "unitPrice": 10}]})
    assert draft.status_code == 201 and draft.json()["status"] == "Draft"
    invoice = draft.json()
    path = f"salesInvoices({invoice['id']})"
    assert api("PATCH", path, json={"dueDate": "2026-10-15"}).json()["error"]["code"] == "BadRequest_InvalidToken"
    changed = api("PATCH", path, json={"dueDate": "2026-10-15"}, headers={"If-Match": invoice["@odata.etag"]})
    assert changed.status_code == 200 and changed.json()["@odata.etag"] != invoice["@odata.etag"]
    stale = api("PATCH", path, json={"dueDate": "2026-10-16"}, headers={"If-Match": invoice["@odata.etag"]})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "Request_EntityChanged"
    assert api("POST", f"{path}/Microsoft.NAV.post").status_code == 204
    posted = api("GET", path).json()
    assert posted["status"] == "Open" and posted["number"].startswith("PS-INV") and posted["id"] == invoice["id"]
    refused = api("PATCH", path, json={"dueDate": "2026-10-20"}, headers={"If-Match": "*"})
    assert refused.status_code == 400 and "posted" in refused.json()["error"]["message"]


def test_batch_is_capped_at_100_and_a_snapshot_batch_is_all_or_nothing(books: EmulatorHandle):
    api = Api(books)
    company = api.company.split("/api/v2.0/")[1]
    too_many = api.http.post(f"{api.root}/$batch", json={"requests": [
        {"id": str(i), "method": "GET", "url": f"{company}/customers"} for i in range(101)]})
    assert too_many.status_code == 400
    atomic = api.http.post(f"{api.root}/$batch", headers={"Isolation": "snapshot"}, json={"requests": [
        {"id": "1", "method": "POST", "url": f"{company}/customers", "body": {"number": "C9", "displayName": "A"}},
        {"id": "2", "method": "POST", "url": f"{company}/items", "body": {"number": "X", "type": "Gadget"}}]})
    assert [r["status"] for r in atomic.json()["responses"]] == [424, 400]
    assert api("GET", "customers?$filter=number eq 'C9'").json()["value"] == []


def test_posting_outside_the_allowed_range_is_refused_with_bcs_sentence(books: EmulatorHandle):
    api = Api(books)
    api("POST", "customers", json={"number": "C001", "displayName": "Smith, J"})
    api("POST", "items", json={"number": "RMR-MON", "displayName": "Monitoring"})
    draft = api("POST", "salesInvoices", json={"customerNumber": "C001", "invoiceDate": "2026-09-01",
                                                "salesInvoiceLines": [{"lineObjectNumber": "RMR-MON", "unitPrice": 5}]})
    books.admin.set_posting_range("2026-10-01")
    refused = api("POST", f"salesInvoices({draft.json()['id']})/Microsoft.NAV.post")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "Application_DialogException"
    assert "not within your range of allowed posting dates" in refused.json()["error"]["message"]


# --- the adapter -----------------------------------------------------------------------------------------

def test_a_credit_memo_applies_to_its_invoice_and_a_payment_pays_two_invoices_once(adapter, books):
    outcomes = adapter.post([create(document("201", rate="100.00")), create(document("202", rate="50.00")),
                             create(document("801", doc_type="credit_memo", rate="20.00", applies=(("201", "20"),)))])
    assert [o.status for o in outcomes] == [Status.CREATED] * 3
    payment = document("CHK-9", doc_type="payment", total="140.00", applies=(("201", "80.00"), ("202", "50.00")))
    [paid] = adapter.post([create(payment)])
    assert paid.status is Status.CREATED and Decimal(paid.after["total"]) == Decimal("140.00")
    invoices = {r["externalDocumentNumber"]: (r["status"], r["remainingAmount"])
                for r in books.admin.records("salesInvoices")}
    assert invoices == {"201": ("Paid", 0.0), "202": ("Paid", 0.0)}
    assert adapter.post([create(payment)])[0].status is Status.CREATED          # found, not paid twice
    assert len(books.admin.records("generalLedgerEntries")) == 3                  # two applied lines, the rest
    payments = [d for d in adapter.read_back() if d.doc_type == "payment"]
    assert [(d.doc_number, d.total) for d in payments] == [("CHK-9", Decimal("140.00"))]


def test_a_batch_of_creates_whose_answer_is_lost_is_finished_without_duplicates(adapter, books):
    adapter.post([create(document("300"))])                       # customers and items exist now
    books.admin.set_faults(drop_next_writes=1, drop_entities=["$batch"])
    docs = [create(document(n)) for n in ("301", "302")]
    lost = adapter.post(docs)
    assert [o.status for o in lost] == [Status.RETRY, Status.RETRY]
    again = adapter.post(docs)
    assert [o.status for o in again] == [Status.CREATED, Status.CREATED]
    numbers = sorted(r["externalDocumentNumber"] for r in books.admin.records("salesInvoices"))
    assert numbers == ["300", "301", "302"]


def test_a_range_moved_after_planning_holds_the_document_and_removes_its_draft(adapter, books):
    books.admin.set_posting_range("2026-10-01")
    assert adapter.book_close_date() == dt.date(2026, 9, 30) and not adapter.is_period_open(dt.date(2026, 9, 1))
    [held] = adapter.post([create(document("500"))])
    assert held.status is Status.HELD and "09/30/2026" in held.message
    assert books.admin.records("salesInvoices") == []
    books.admin.set_posting_range(None)
    assert adapter.post([create(document("500"))])[0].status is Status.CREATED


def test_a_void_is_a_cancel_recognised_when_asked_again_and_a_payment_is_left_to_a_person(adapter, books):
    [created] = adapter.post([create(document("600"))])
    voided = adapter.void_or_delete("invoice", created.dest_id, created.version)
    assert voided.status is Status.VOIDED and voided.after["status"] == "Canceled"
    assert "already canceled" in adapter.void_or_delete("invoice", created.dest_id, None).message
    [paid] = adapter.post([create(document("CHK-1", doc_type="payment", total="5.00"))])
    refused = adapter.void_or_delete("payment", paid.dest_id, None)
    assert refused.error_code == BY_HAND_CODES["supports_void"] and "Reverse Transaction" in refused.message


def test_a_refused_secret_is_a_sentence_without_the_secret(books: EmulatorHandle):
    with destination(books, secret="leaked-secret-4711") as wrong, pytest.raises(DestinationError) as refused:
        wrong.post([create(document("700"))])
    assert "BC_CLIENT_SECRET" in str(refused.value) and "leaked-secret-4711" not in str(refused.value)
