"""Odoo: the emulator driven by Python's own `xmlrpc.client` (unmodified, pointed at it by URL, as at any
Odoo), and the adapter against it: what a posted ERP document allows, lock dates, payments over several
invoices, lost answers, refusals as sentences, secrets kept out of them."""

from __future__ import annotations

import datetime as dt
import xmlrpc.client
from pathlib import Path
from typing import Iterator

import pytest

from bridge_assets.destinations.base import Action, DestinationError, PostRequest, Status
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.odoo.adapter import OdooDestination
from bridge_assets.model.document import AccountingDocument
from bridge_assets.sandbox.odoo import ADVISER, BILLING, INTERNAL, EmulatorHandle, EmulatorSettings, run_emulator
from bridge_assets_tests.destinations import erp_documents
from bridge_assets_tests.destinations.erp_documents import create

LOGIN, KEY = "bridge@example.com", "bridge-sandbox-api-key"


@pytest.fixture(scope="module")
def odoo(tmp_path_factory) -> Iterator[EmulatorHandle]:
    with run_emulator(tmp_path_factory.mktemp("odoo") / "odoo.sqlite3", EmulatorSettings(time_scale=60)) as handle:
        yield handle


@pytest.fixture
def books(odoo: EmulatorHandle) -> Iterator[EmulatorHandle]:
    odoo.admin.reset()
    yield odoo


@pytest.fixture
def adapter(books: EmulatorHandle) -> Iterator[OdooDestination]:
    with OdooDestination(url=books.base_url, database=books.database, login=LOGIN, api_key=KEY,
                         limits=Limits(time_scale=60)) as destination:
        yield destination


def rpc(odoo: EmulatorHandle, service: str) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(f"{odoo.base_url}/xmlrpc/2/{service}")


def document(number: str, *, customer: str = "Smith, J", **given) -> AccountingDocument:
    return erp_documents.document(number, customer=customer, customer_key="C" + customer[:3].upper(), site="1 Main St",
                                  **given)


def moves(odoo: EmulatorHandle, **where) -> list[dict]:
    return [m for m in odoo.admin.records("account.move") if all(m.get(k) == v for k, v in where.items())]


# --- the emulator, as any XML-RPC client meets Odoo ------------------------------------------------------

def test_the_standard_librarys_xmlrpc_client_posts_an_invoice_through_execute_kw(books: EmulatorHandle):
    common, models = rpc(books, "common"), rpc(books, "object")
    assert common.version()["server_version"] == "17.0"
    assert common.authenticate(books.database, LOGIN, "wrong-key", {}) is False
    uid = common.authenticate(books.database, LOGIN, KEY, {})
    db = books.database
    partner = models.execute_kw(db, uid, KEY, "res.partner", "create", [{"name": "Smith, J", "ref": "C001"}])
    invoice = models.execute_kw(db, uid, KEY, "account.move", "create", [{
        "move_type": "out_invoice", "partner_id": partner, "invoice_date": "2026-09-01", "ref": "100",
        "invoice_line_ids": [(0, 0, {"name": "Monitoring", "quantity": 2, "price_unit": 14.99})]}])
    [draft] = models.execute_kw(db, uid, KEY, "account.move", "read", [[invoice]], {"fields": ["name", "state"]})
    assert (draft["name"], draft["state"]) == ("/", "draft")            # numbered only when posted
    models.execute_kw(db, uid, KEY, "account.move", "action_post", [[invoice]])
    [posted] = models.execute_kw(db, uid, KEY, "account.move", "search_read", [[["ref", "=", "100"]]],
                                 {"fields": ["name", "state", "amount_total", "partner_id", "payment_state"]})
    assert posted["name"] == "INV/2026/00001" and posted["state"] == "posted"
    assert posted["amount_total"] == 29.98 and posted["partner_id"] == [partner, "Smith, J"]
    with pytest.raises(xmlrpc.client.Fault) as edit:                       # a posted invoice is not edited
        models.execute_kw(db, uid, KEY, "account.move", "write", [[invoice], {"invoice_date": "2026-09-02"}])
    assert edit.value.faultCode == 2 and "posted entry" in edit.value.faultString
    with pytest.raises(xmlrpc.client.Fault) as denied:                     # stateless: the key rides on every call
        models.execute_kw(db, uid, "stolen", "account.move", "search", [[]])
    assert denied.value.faultCode == 3


def test_the_lock_date_refuses_posting_with_odoos_sentence_and_access_rights_are_enforced(books: EmulatorHandle):
    models, db = rpc(books, "object"), books.database
    uid = rpc(books, "common").authenticate(db, LOGIN, KEY, {})
    partner = models.execute_kw(db, uid, KEY, "res.partner", "create", [{"name": "Lee, A"}])
    invoice = models.execute_kw(db, uid, KEY, "account.move", "create", [{
        "move_type": "out_invoice", "partner_id": partner, "invoice_date": "2026-09-15",
        "invoice_line_ids": [(0, 0, {"name": "Service", "quantity": 1, "price_unit": 100})]}])
    books.admin.set_lock_dates(period_lock_date="2026-09-30")
    with pytest.raises(xmlrpc.client.Fault) as locked:
        models.execute_kw(db, uid, KEY, "account.move", "action_post", [[invoice]])
    assert locked.value.faultCode == 2
    assert "prior to and inclusive of the lock date 09/30/2026" in locked.value.faultString
    assert "'Adviser' role" in locked.value.faultString          # the period lock binds all but Advisers
    admin_uid = rpc(books, "common").authenticate(db, "admin", "admin-sandbox-password", {})
    models.execute_kw(db, admin_uid, "admin-sandbox-password", "account.move", "action_post", [[invoice]])
    books.admin.add_user("viewer@example.com", "viewer-key", [INTERNAL])
    viewer = rpc(books, "common").authenticate(db, "viewer@example.com", "viewer-key", {})
    with pytest.raises(xmlrpc.client.Fault) as refused:
        models.execute_kw(db, viewer, "viewer-key", "account.move", "search_read", [[]])
    assert refused.value.faultCode == 4 and "Accounting/Billing" in refused.value.faultString
    assert ADVISER not in EmulatorSettings().users[LOGIN]["groups"] and BILLING in EmulatorSettings().users[LOGIN]["groups"]


def test_reverse_and_create_invoice_leaves_a_credit_note_and_a_new_draft(books: EmulatorHandle):
    models, db = rpc(books, "object"), books.database
    uid = rpc(books, "common").authenticate(db, LOGIN, KEY, {})
    partner = models.execute_kw(db, uid, KEY, "res.partner", "create", [{"name": "Jones, K"}])
    invoice = models.execute_kw(db, uid, KEY, "account.move", "create", [{
        "move_type": "out_invoice", "partner_id": partner, "invoice_date": "2026-09-01", "ref": "7",
        "invoice_line_ids": [(0, 0, {"name": "Monitoring", "quantity": 1, "price_unit": 29.95})]}])
    models.execute_kw(db, uid, KEY, "account.move", "action_post", [[invoice]])
    wizard = models.execute_kw(db, uid, KEY, "account.move.reversal", "create", [{"reason": "price"}],
                               {"context": {"active_model": "account.move", "active_ids": [invoice]}})
    action = models.execute_kw(db, uid, KEY, "account.move.reversal", "modify_moves", [[wizard]])
    found = models.execute_kw(db, uid, KEY, "account.move", "search_read", [[["partner_id", "=", partner]]],
                              {"fields": ["name", "state", "move_type", "payment_state", "reversed_entry_id", "ref"]})
    by_id = {m["id"]: m for m in found}
    assert by_id[invoice]["payment_state"] == "reversed"
    [note] = [m for m in found if m["move_type"] == "out_refund"]
    assert note["state"] == "posted" and note["reversed_entry_id"][0] == invoice and note["name"] == "RINV/2026/00001"
    assert by_id[action["res_id"]]["state"] == "draft" and by_id[action["res_id"]]["ref"] == "7"


def test_a_contact_and_a_product_created_through_the_api_are_active_and_found_by_their_reference(
        books: EmulatorHandle):
    models, db = rpc(books, "object"), books.database
    uid = rpc(books, "common").authenticate(db, LOGIN, KEY, {})
    partner = models.execute_kw(db, uid, KEY, "res.partner", "create", [{"name": "Jones, K", "ref": "C02"}])
    product = models.execute_kw(db, uid, KEY, "product.product", "create",
                                [{"name": "RMR-MON", "default_code": "RMR-MON", "type": "service"}])
    found = models.execute_kw(db, uid, KEY, "res.partner", "search_read", [[["ref", "=", "C02"]]],
                              {"fields": ["active"]})
    assert found == [{"id": partner, "active": True}]                   # Odoo's default: a new record is active
    by_code = [[["default_code", "=", "RMR-MON"]]]
    assert models.execute_kw(db, uid, KEY, "product.product", "search", by_code) == [product]
    models.execute_kw(db, uid, KEY, "res.partner", "write", [[partner], {"active": False}])    # archived by a person
    assert models.execute_kw(db, uid, KEY, "res.partner", "search", [[["ref", "=", "C02"]]]) == []
    assert models.execute_kw(db, uid, KEY, "res.partner", "search",
                             [[["ref", "=", "C02"], ["active", "=", False]]]) == [partner]


# --- the adapter ---------------------------------------------------------------------------------------

def test_a_credit_memo_is_applied_to_its_invoice_and_a_payment_over_two_invoices_leaves_the_rest_open(
        adapter: OdooDestination, books: EmulatorHandle):
    first, second = document("201", rate="100.00"), document("202", rate="50.00")
    credit = document("801", doc_type="credit_memo", rate="20.00", applies=(("201", "20.00"),))
    assert [o.status for o in adapter.post([create(first), create(second), create(credit)])] == [Status.CREATED] * 3
    payment = document("CHK-9", doc_type="payment", total="150.00", applies=(("201", "80.00"), ("202", "50.00")))
    [paid] = adapter.post([create(payment)])
    assert paid.status is Status.CREATED and paid.dest_doc_number.startswith("PBNK1/2026/")
    residual = {m["ref"]: (m["amount_residual"], m["payment_state"]) for m in moves(books, move_type="out_invoice")}
    assert residual == {"201": (0.0, "paid"), "202": (0.0, "paid")}
    [record] = books.admin.records("account.payment")
    assert record["ref"] == "CHK-9" and record["amount_unapplied"] == 20.0    # over-payment: outstanding credit
    again = adapter.post([create(payment), create(credit)])                   # a retry adopts, sends no write
    assert [o.status for o in again] == [Status.CREATED, Status.CREATED]
    assert len(books.admin.records("account.payment")) == 1 and len(moves(books, move_type="out_refund")) == 1


def test_the_run_after_a_killed_one_reuses_its_customer_and_product_and_finishes_its_credit_memo(
        adapter: OdooDestination, books: EmulatorHandle):
    credit = document("801", doc_type="credit_memo", rate="20.00", applies=(("201", "20.00"),))
    # the killed run: its customer, product and credit memo created, the credit posted but applied to nothing yet
    # (its invoice not in Odoo), as a run killed between `action_post` and `js_assign_outstanding_line` leaves it
    [posted] = adapter.post([create(credit)])
    assert posted.status is Status.CREATED
    with OdooDestination(url=books.base_url, database=books.database, login=LOGIN, api_key=KEY,
                         limits=Limits(time_scale=60)) as rerun:       # the next run: a new adapter, nothing cached
        outcomes = rerun.post([create(document("201", rate="100.00")), create(credit)])
    assert [o.status for o in outcomes] == [Status.CREATED, Status.CREATED], [o.message for o in outcomes]
    assert outcomes[1].dest_id == posted.dest_id                      # adopted, not refused as number_taken
    assert [(p["id"], p["ref"]) for p in books.admin.records("res.partner")] == [(1, "CSMI")]
    assert [(p["id"], p["default_code"]) for p in books.admin.records("product.product")] == [(1, "RMR-MON")]
    assert [m["amount_residual"] for m in moves(books, move_type="out_invoice")] == [80.0]     # the credit applied


def test_an_update_of_a_posted_invoice_is_a_reversal_and_a_reissue_and_the_outcome_keeps_both(
        adapter: OdooDestination, books: EmulatorHandle):
    [created] = adapter.post([create(document("300"))])
    changed = document("300", rate="39.95")
    [updated] = adapter.post([PostRequest(Action.UPDATE, changed, "rid-u", dest_id=created.dest_id)])
    assert updated.status is Status.UPDATED and updated.dest_id != created.dest_id
    assert updated.before["name"] == "INV/2026/00001" and updated.after["name"] == "INV/2026/00002"
    assert updated.after["correction"]["credit_note"] == "RINV/2026/00001"
    assert "reversed by credit note RINV/2026/00001" in updated.message
    live = [m for m in moves(books, move_type="out_invoice") if m["payment_state"] != "reversed"]
    assert [(m["ref"], m["amount_total"]) for m in live] == [("300", 39.95)]
    # asked again (the answer lost): found done, nothing more written
    [again] = adapter.post([PostRequest(Action.UPDATE, changed, "rid-u", dest_id=created.dest_id)])
    assert again.status is Status.UPDATED and again.dest_id == updated.dest_id
    assert len(moves(books)) == 3


def test_an_update_cut_off_after_the_reversal_is_finished_by_the_next_attempt(adapter: OdooDestination,
                                                                              books: EmulatorHandle):
    [created] = adapter.post([create(document("310"))])
    books.admin.set_faults(drop_next_writes=1, drop_entities=["account.move.reversal.modify_moves"])
    request = PostRequest(Action.UPDATE, document("310", rate="12.00"), "rid-310", dest_id=created.dest_id)
    [lost] = adapter.post([request])          # the reversal committed (credit note + draft copy), its answer lost
    assert lost.status is Status.RETRY and "looked up" in lost.message
    assert [m["state"] for m in moves(books, ref="310")] == ["posted", "draft"]
    [finished] = adapter.post([request])
    assert finished.status is Status.UPDATED
    live = [m for m in moves(books, move_type="out_invoice") if m["payment_state"] != "reversed"]
    assert [(m["ref"], m["amount_total"], m["state"]) for m in live] == [("310", 12.0, "posted")]
    assert len(moves(books, move_type="out_refund")) == 1


def test_a_create_whose_answer_is_lost_is_found_not_duplicated(adapter: OdooDestination, books: EmulatorHandle):
    books.admin.set_faults(drop_next_writes=1, drop_entities=["account.move"])
    [lost] = adapter.post([create(document("400"))])        # the draft was created, its answer lost
    assert lost.status is Status.RETRY
    assert adapter.find("invoice", "400") is None              # nothing posted: the next run sends it again
    assert len(moves(books, ref="400", state="draft")) == 1
    [done] = adapter.post([create(document("400"))])            # which completes that draft instead of a second one
    assert done.status is Status.CREATED and adapter.find("invoice", "400").dest_id == done.dest_id
    assert [(m["ref"], m["state"]) for m in moves(books, ref="400")] == [("400", "posted")]


def test_a_lock_date_moved_after_planning_holds_the_document_and_leaves_no_draft(adapter: OdooDestination,
                                                                                books: EmulatorHandle):
    books.admin.set_lock_dates(period_lock_date="2026-09-30")
    assert adapter.book_close_date() == dt.date(2026, 9, 30) and not adapter.is_period_open(dt.date(2026, 9, 1))
    [held] = adapter.post([create(document("500"))])
    assert held.status is Status.HELD and "lock date (09/30/2026)" in held.message
    assert moves(books, ref="500") == []
    books.admin.set_lock_dates()
    assert adapter.post([create(document("500"))])[0].status is Status.CREATED


def test_a_void_is_a_full_reversal_asked_again_it_is_recognised_as_done(adapter: OdooDestination,
                                                                       books: EmulatorHandle):
    [created] = adapter.post([create(document("600"))])
    voided = adapter.void_or_delete("invoice", created.dest_id, created.version)
    assert voided.status is Status.VOIDED and voided.after["payment_state"] == "reversed"
    again = adapter.void_or_delete("invoice", created.dest_id, created.version)
    assert again.status is Status.VOIDED and "already" in again.message
    assert len(moves(books, move_type="out_refund")) == 1
    status = {d.dest_id: d.status for d in adapter.read_back()}
    assert set(status.values()) == {"voided"}                # the invoice and the credit note reversing it


def test_refusals_and_bad_keys_are_sentences_without_the_key(books: EmulatorHandle):
    books.admin.add_user("clerk@example.com", "clerk-secret-key-9f", [INTERNAL])
    with OdooDestination(url=books.base_url, database=books.database, login="clerk@example.com",
                         api_key="clerk-secret-key-9f") as clerk:
        [refused] = clerk.post([create(document("700"))])
    assert refused.status is Status.FAILED and refused.error_code == "access_error"
    assert "clerk@example.com" in refused.message and "Invoicing / Billing" in refused.message
    assert "clerk-secret-key-9f" not in refused.message
    with OdooDestination(url=books.base_url, database=books.database, login=LOGIN,
                         api_key="expired-key-77") as stale, pytest.raises(DestinationError) as bad:
        stale.post([create(document("701"))])
    assert "ODOO_API_KEY" in str(bad.value) and "expired-key-77" not in str(bad.value)


def test_from_env_names_what_is_missing():
    with pytest.raises(DestinationError) as missing:
        OdooDestination.from_env(environ={"ODOO_URL": "https://example.odoo.com"})
    assert "ODOO_DATABASE, ODOO_USERNAME, ODOO_API_KEY are not set" in str(missing.value)


def test_the_demo_stands_the_odoo_emulator_up_for_the_destination(tmp_path: Path):
    from bridge_assets.sandbox.destinations import platform_sandboxes

    with platform_sandboxes(tmp_path, {"BRIDGE_DESTINATIONS": "odoo"}) as started:
        [(label, url, env)] = started
        with OdooDestination.from_env(environ=env) as destination:
            assert destination.book_close_date() is None and url == env["ODOO_URL"]
    assert label == "Odoo emulator"


def test_reconciliation_reads_the_books_back_first_and_names_an_erp_it_cannot_read(adapter, books, settings, db,
                                                                                   monkeypatch):
    from bridge_assets.books.reconcile import read_back_neutral_books

    adapter.post([create(document("900"))])
    for name, value in {"ODOO_URL": books.base_url, "ODOO_DATABASE": books.database, "ODOO_USERNAME": LOGIN,
                        "ODOO_API_KEY": KEY}.items():
        monkeypatch.setenv(name, value)
    assert read_back_neutral_books(db, ["odoo", "staging_csv"], settings) == [
        ("odoo", "1 document(s) read back (everything)")]
    monkeypatch.setenv("ODOO_API_KEY", "revoked-key")
    [(name, what)] = read_back_neutral_books(db, ["odoo"], settings)
    assert name == "odoo" and "could not be read back" in what and "revoked-key" not in what
