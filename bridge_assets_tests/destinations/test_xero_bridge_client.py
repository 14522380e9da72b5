"""The bridge's own Xero client and adapter against the emulator: the same contract the official SDK
is held to (test_xero_sdk_contract.py), plus what only the bridge does: pacing under the limits, the
daily budget, the webhook receiver, a create that landed found again, two processes refreshing at once.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from decimal import Decimal

import httpx
import pytest

from bridge_assets.destinations.kit.http import DailyLimitSpent
from bridge_assets.destinations.kit.oauth import TokenStore
from bridge_assets.destinations.xero import webhooks
from bridge_assets.destinations.xero.adapter import XeroDestination
from bridge_assets.destinations.xero.client import XeroLimits
from bridge_assets.sandbox.xero import EmulatorSettings, run_emulator
from bridge_assets.sandbox.xero.webhooks import sign

from ..conftest import warm_forkserver
from .loopback import serving

CLIENT_ID, CLIENT_SECRET = "bridge-app", "bridge-secret"
SCALE = 300


def _destination(xero, tmp_path, *, limits: XeroLimits | None = None, store: str = "tokens.json",
                 refresh: bool = True) -> XeroDestination:
    token = xero.admin.mint_tokens(xero.tenant_id, CLIENT_ID)["refresh_token"] if refresh else None
    return XeroDestination(api_url=xero.api_url, token_url=xero.token_url, client_id=CLIENT_ID,
                           client_secret=CLIENT_SECRET, token_store=tmp_path / store, refresh_token=token,
                           tenant_id=xero.tenant_id, limits=limits or XeroLimits(time_scale=SCALE), max_tries=2)


@pytest.fixture(scope="module")
def xero(tmp_path_factory):
    settings = EmulatorSettings(clients={CLIENT_ID: CLIENT_SECRET}, time_scale=SCALE)
    with run_emulator(tmp_path_factory.mktemp("xero-bridge") / "xero.sqlite3", settings) as emulator:
        yield emulator


@pytest.fixture
def bridge(xero, tmp_path):
    with _destination(xero, tmp_path) as destination:
        yield destination


def _invoice(number: str, amount: str = "100.00", tax: str = "8.25", day: str = "2026-09-01",
             contact: str = "Smith, J") -> dict:
    return {"Type": "ACCREC", "InvoiceNumber": number, "Contact": {"Name": contact}, "Date": day, "DueDate": day,
            "Status": "AUTHORISED", "LineAmountTypes": "Exclusive",
            "LineItems": [{"Description": "Monitoring", "Quantity": 1, "UnitAmount": Decimal(amount),
                           "AccountCode": "200", "TaxType": "OUTPUT", "TaxAmount": Decimal(tax)}]}


def _put(bridge, *invoices: dict, key: str | None = None):
    return bridge.client.write("PUT", "/Invoices", {"Invoices": list(invoices)}, key or str(uuid.uuid4()),
                               {"summarizeErrors": "false"})


def test_create_duplicate_replay_update_and_void_through_the_bridge_client(bridge, xero):
    key = str(uuid.uuid4())
    made = _put(bridge, _invoice("BR-1", tax="7.77"), key=key).body["Invoices"][0]
    assert (made["Status"], made["Total"], made["Date"]) == ("AUTHORISED", Decimal("107.77"), "/Date(1788220800000+0000)/")
    assert _put(bridge, _invoice("BR-1", tax="7.77"), key=key).body["Invoices"][0]["InvoiceID"] == made["InvoiceID"]
    refused = _put(bridge, _invoice("BR-1")).body["Invoices"][0]
    assert refused["ValidationErrors"] == [{"Message": "Invoice # must be unique."}]
    assert _put(bridge, _invoice("BR-other"), key=key).status == 400          # same key, other body
    changed = bridge.client.write("POST", f"/Invoices/{made['InvoiceID']}", {"Invoices": [_invoice("BR-1", "120.00")]},
                                  str(uuid.uuid4())).body["Invoices"][0]
    assert changed["Total"] == Decimal("128.25")
    voided = bridge.client.write("POST", f"/Invoices/{made['InvoiceID']}", {"Status": "VOIDED"}, str(uuid.uuid4()))
    assert voided.body["Invoices"][0]["Status"] == "VOIDED"
    assert [d.status for d in bridge.read_back() if d.doc_number == "BR-1"] == ["voided"]


def test_credit_allocation_payment_and_lock_date_refusal_through_the_bridge_client(bridge, xero):
    invoice = _put(bridge, _invoice("BR-2", tax="0", contact="Lee, A")).body["Invoices"][0]
    credit = bridge.client.write("PUT", "/CreditNotes", {"CreditNotes": [{
        "Type": "ACCRECCREDIT", "CreditNoteNumber": "BR-CN-2", "Contact": invoice["Contact"], "Date": "2026-09-02",
        "Status": "AUTHORISED", "LineItems": [{"Description": "Refund", "UnitAmount": 40, "AccountCode": "200"}]}]},
        str(uuid.uuid4())).body["CreditNotes"][0]
    allocated = bridge.client.write("PUT", f"/CreditNotes/{credit['CreditNoteID']}/Allocations", {"Allocations": [
        {"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": 40, "Date": "2026-09-02"}]}, str(uuid.uuid4()))
    assert allocated.status == 200
    batch = bridge.client.write("PUT", "/BatchPayments", {"BatchPayments": [{
        "Account": {"Code": "090"}, "Date": "2026-09-03", "Reference": "CHK-9",
        "Payments": [{"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": 60}]}]}, str(uuid.uuid4()))
    assert batch.body["BatchPayments"][0]["TotalAmount"] == 60
    assert bridge.client.get(f"/Invoices/{invoice['InvoiceID']}").body["Invoices"][0]["Status"] == "PAID"
    xero.admin.set_lock_dates(xero.tenant_id, "2026-09-30")
    try:
        assert bridge.book_close_date(fresh=True) == dt.date(2026, 9, 30)
        locked = _put(bridge, _invoice("BR-3", day="2026-09-15")).body["Invoices"][0]["ValidationErrors"]
        assert locked == [{"Message": "The document date cannot be before the period lock date, currently set at "
                                      "30-Sep-2026"}]
    finally:
        xero.admin.set_lock_dates(xero.tenant_id, None)


def test_paging_and_if_modified_since_through_the_bridge_client(bridge, xero):
    _put(bridge, *[_invoice(f"BR-P{n}", contact="Pager, Q") for n in range(3)])
    pages = [bridge.client.get("/Invoices", {"where": 'Contact.Name=="Pager, Q"', "page": p, "pageSize": 2}).body
             for p in (1, 2)]
    assert [len(p["Invoices"]) for p in pages] == [2, 1] and pages[0]["pagination"]["itemCount"] == 3
    later = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(seconds=5)
    assert bridge.read_back(since=later) == []


def test_a_create_whose_answer_was_lost_is_found_by_number_and_not_made_twice(bridge, xero):
    xero.admin.set_faults(drop_next_writes=1, drop_mode="502", paths=["/api.xro/2.0/Invoices"], methods=["PUT"])
    try:
        first = _put(bridge, _invoice("BR-4"))            # 502 after the commit, retried with the same key
    finally:
        xero.admin.clear_faults()
    assert first.status == 200 and first.body["Invoices"][0]["InvoiceNumber"] == "BR-4"
    assert [i["InvoiceNumber"] for i in xero.admin.dump(xero.tenant_id, "Invoices")].count("BR-4") == 1
    assert [j["outcome"] for j in xero.admin.journal(xero.tenant_id) if j["method"] == "PUT"][-2:] == [
        "dropped:502", "replayed"]


def test_a_burst_is_refused_with_the_limit_named_and_the_bridge_paces_under_it(tmp_path):
    settings = EmulatorSettings(clients={CLIENT_ID: CLIENT_SECRET}, time_scale=60, requests_per_minute=5,
                                requests_per_day=12)
    with run_emulator(tmp_path / "narrow.sqlite3", settings) as xero:
        token = xero.admin.mint_tokens(xero.tenant_id, CLIENT_ID)["access_token"]
        headers = {"Authorization": f"Bearer {token}", "xero-tenant-id": xero.tenant_id, "Accept": "application/json"}
        answers = [httpx.get(f"{xero.api_url}/Organisation", headers=headers) for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        assert answers[-1].headers["X-Rate-Limit-Problem"] == "minute"
        assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
        time.sleep(1.1)                                             # the emulated minute passes
        limits = XeroLimits(requests_per_minute=5, requests_per_day=6, time_scale=60)
        with _destination(xero, tmp_path, limits=limits) as bridge:
            for _ in range(6):
                assert bridge.client.get("/Organisation").ok
            assert bridge.client.stats.throttled == 0                     # paced, never refused
            with pytest.raises(DailyLimitSpent, match="daily limit of 6"):
                bridge.client.get("/Organisation")                       # not sent: the budget is spent
        assert not [j for j in xero.admin.journal(xero.tenant_id) if j["status"] == 429 and j["seq"] > 7]


def test_the_webhook_receiver_takes_xeros_signature_and_passes_intent_to_receive(tmp_path):
    key = "webhook-key-for-tests"
    spool = webhooks.spool(tmp_path / "spool")
    with serving(webhooks.receiver_app(key, spool)) as receiver_url:
        url = receiver_url + webhooks.PATH
        settings = EmulatorSettings(clients={CLIENT_ID: CLIENT_SECRET}, time_scale=SCALE, webhook_url=url,
                                    webhook_key=key)
        with run_emulator(tmp_path / "hooks.sqlite3", settings) as xero:
            assert xero.admin.intent_to_receive() == {"signed": 200, "badly_signed": 401, "ok": True}
            assert spool.pending() == []
            with _destination(xero, tmp_path) as bridge:
                _put(bridge, _invoice("BR-W1"))
            deadline = time.monotonic() + 5
            while not spool.pending() and time.monotonic() < deadline:
                time.sleep(0.05)
            [notice] = spool.pending()
            assert {e["name"] for e in notice.entities} >= {"INVOICE", "CONTACT"}
        body = json.dumps({"events": []}).encode()
        assert httpx.post(url, content=body, headers={"x-xero-signature": sign("other-key", body)}).status_code == 401
        assert httpx.post(url, content=b"{}", headers={"x-xero-signature": sign(key, b"{}")}).status_code == 400


def _refresh_in_child(store: str, api_url: str, token_url: str, tenant_id: str, start_at: float, out) -> None:
    try:
        destination = XeroDestination(api_url=api_url, token_url=token_url, client_id=CLIENT_ID,
                                      client_secret=CLIENT_SECRET, token_store=store, tenant_id=tenant_id,
                                      limits=XeroLimits(time_scale=SCALE))
        time.sleep(max(0.0, start_at - time.time()))
        out.put(("ok", destination.client.get("/Organisation").status, destination.session.refreshes))
    except Exception as problem:  # reported to the parent, which fails the test with it
        out.put(("failed", repr(problem), 0))


def test_two_processes_refreshing_the_same_token_at_once_lose_nothing(xero, tmp_path):
    context = warm_forkserver("bridge_assets.destinations.xero.adapter")
    for shared in (True, False):                     # one token file (the kit's lock), or two copies (Xero's grace)
        first = tmp_path / f"race-{shared}-a.json"
        with _destination(xero, tmp_path, store=first.name) as seeded:
            seeded.client.get("/Organisation")       # stores a first pair
        second = first if shared else tmp_path / f"race-{shared}-b.json"
        if not shared:
            second.write_bytes(first.read_bytes())
        xero.admin.expire_tokens(xero.tenant_id)     # both must refresh
        out = context.Queue()
        start_at = time.time() + 1.0
        children = [context.Process(target=_refresh_in_child, args=(str(path), xero.api_url, xero.token_url,
                                                                   xero.tenant_id, start_at, out))
                    for path in (first, second)]
        for child in children:
            child.start()
        answers = [out.get(timeout=30) for _ in children]
        for child in children:
            child.join(timeout=10)
        assert [a[:2] for a in answers] == [("ok", 200), ("ok", 200)], answers
        if shared:
            assert sorted(a[2] for a in answers) == [0, 1]         # one refreshed, the other used its token
        stored = TokenStore(second).load()
        with _destination(xero, tmp_path, store=second.name, refresh=False) as later:
            xero.admin.expire_tokens(xero.tenant_id)
            assert later.client.get("/Organisation").ok             # the rotated token survived
            assert TokenStore(second).load().refresh_token != stored.refresh_token
