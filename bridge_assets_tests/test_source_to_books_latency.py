"""A payment recorded in SedonaOffice, and an invoice voided in ServiceTrade, reach the books within one
interval or one webhook: measured against the emulators, from the change at the source to the change in
QuickBooks, and printed (`pytest -s` shows the figures)."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from zoneinfo import ZoneInfo

import dagster as dg
from bridge_assets.definitions import build_definitions
from bridge_assets.defs.interval_schedule import interval_schedule
from bridge_assets.defs.resources import BridgeResource
from bridge_assets.defs.servicetrade_webhooks import servicetrade_webhook_sensor
from bridge_assets.runtime.settings import BridgeSettings
from bridge_assets.sandbox.book import generate_book
from bridge_assets.sandbox.servicetrade import EmulatorSettings, run_emulator

from .conftest import quickbooks
from .test_api_sources_end_to_end import ledger, run_periods
from .test_servicetrade_webhooks import SECRET, receiver  # noqa: F401  (the receiver fixture)

WORK_BOUND_S = 120      # the bridge's own work once triggered; generous for a loaded two-core machine


def _run(settings, tags, instance) -> None:
    job = build_definitions(settings.home).resolve_job_def("bridge_job")
    assert job.execute_in_process(instance=instance, tags=tags, run_config={
        "ops": {"sedona_export_lines": {"config": {"min_age_seconds": 0}}}}).success


def test_a_payment_recorded_in_sedonaoffice_reaches_quickbooks_within_one_interval(settings, db, tmp_path, monkeypatch):
    from bridge_assets.sandbox.sedona_api import run_emulator as run_sedona

    with run_sedona(tmp_path / "sedona.sqlite3") as sedona, quickbooks(tmp_path, monkeypatch) as (qbo, realm):
        sedona.admin.seed_book(generate_book(5, 60, "2026-09", 1), open_periods=1)
        for name, value in {**sedona.client_environment(), "BRIDGE_RUN_INTERVAL": "hourly",
                            "BRIDGE_TIMEZONE": "America/New_York"}.items():
            monkeypatch.setenv(name, value)
        instance = dg.DagsterInstance.ephemeral()
        run_periods(BridgeSettings.from_env(settings.home), "2026-09", "2026-09", instance)
        applied = {a["InvoiceNumber"] for p in sedona.admin.records("CustomerPayment") for a in p["Applications"]}
        invoice = next(i for i in sedona.admin.records("CustomerInvoice")
                       if i["InvoiceNumber"] not in applied and Decimal(str(i["Amount"])) > 10)
        (posted,) = [i for i in qbo.admin.dump(realm, "Invoice") if i["DocNumber"] == str(invoice["InvoiceNumber"])]
        (customer,) = [c for c in sedona.admin.records("Customer") if c["CustomerId"] == invoice["CustomerId"]]

        started = time.monotonic()
        sedona.admin.create("CustomerPayment", {
            "PaymentNumber": 590001, "CustomerId": invoice["CustomerId"], "CustomerNumber": customer["CustomerNumber"],
            "PaymentDate": "09/28/2026", "Amount": 10.00, "PaymentMethod": "Check", "CheckNumber": "77001",
            "Applications": [{"InvoiceNumber": invoice["InvoiceNumber"], "Amount": 10.00}], "UnappliedAmount": 0.0})
        schedule = interval_schedule(BridgeSettings.from_env(settings.home))
        tick = dt.datetime(2026, 9, 28, 15, 0, tzinfo=ZoneInfo("America/New_York"))       # the next hourly tick
        (request,) = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=tick)).run_requests
        _run(settings, request.tags, instance)
        (payment,) = [p for p in qbo.admin.dump(realm, "Payment") if p.get("PaymentRefNum") == "590001"]
        elapsed = time.monotonic() - started

        assert [link["TxnId"] for line in payment["Line"] for link in line["LinkedTxn"]] == [posted["Id"]]
        (now,) = [i for i in qbo.admin.dump(realm, "Invoice") if i["Id"] == posted["Id"]]
        assert Decimal(str(now["Balance"])) == Decimal(str(posted["Balance"])) - 10
        print(f"\nSedonaOffice payment -> QuickBooks: {elapsed:.1f} s of work from the hourly tick "
              f"(BRIDGE_RUN_INTERVAL=hourly: at most one interval of waiting before it)")
        assert elapsed < WORK_BOUND_S


def test_an_invoice_voided_in_servicetrade_reaches_quickbooks_through_one_webhook(
        settings, db, tmp_path, monkeypatch, receiver):  # noqa: F811
    url, spool = receiver
    emulator = EmulatorSettings(webhook_url=f"{url}/{SECRET}", time_scale=600)
    with run_emulator(tmp_path / "st.sqlite3", emulator) as st, quickbooks(tmp_path, monkeypatch) as (qbo, realm):
        for name, value in {"SERVICETRADE_BASE_URL": st.api_url, "SERVICETRADE_USERNAME": "bridge",
                            "SERVICETRADE_PASSWORD": "bridge-sandbox-password"}.items():
            monkeypatch.setenv(name, value)
        (invoice,) = st.admin.create_invoices([{"customer": {"name": "Void Me Co"}, "transaction_date": "2026-09-20"}])
        instance = dg.DagsterInstance.ephemeral()
        run_periods(BridgeSettings.from_env(settings.home), "2026-09", "2026-09", instance)
        number = f"ST-{invoice['invoiceNumber']}"
        assert [i for i in qbo.admin.dump(realm, "Invoice") if i["DocNumber"] == number]
        resources = {"bridge": BridgeResource(home=str(settings.home))}
        spool.done(spool.pending())                                       # the created/processed messages, seen

        started = time.monotonic()
        st.admin.edit_invoice(invoice["id"], status="void")
        deadline = time.monotonic() + 10
        while not any(str(invoice["id"]) in n.invoice_ids for n in spool.pending()):
            assert time.monotonic() < deadline, "the webhook message did not arrive"
            time.sleep(0.02)
        arrived = time.monotonic() - started
        (request,) = servicetrade_webhook_sensor(dg.build_sensor_context(resources=resources)).run_requests
        _run(settings, request.tags, instance)
        (voided,) = [i for i in qbo.admin.dump(realm, "Invoice") if i["DocNumber"] == number]
        elapsed = time.monotonic() - started

        assert Decimal(str(voided["TotalAmt"])) == 0 and "Voided" in (voided.get("PrivateNote") or "")
        assert ledger(db, "SELECT state FROM ledger_postings WHERE doc_key = ?",
                      [f"servicetrade:invoice:{invoice['id']}"]) == [("voided",)]
        print(f"\nServiceTrade void -> QuickBooks: {elapsed:.1f} s (the webhook arrived after {arrived:.2f} s; "
              f"add up to 30 s for the sensor's next tick)")
        assert elapsed < WORK_BOUND_S
