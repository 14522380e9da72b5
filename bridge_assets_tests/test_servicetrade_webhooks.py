"""ServiceTrade's webhooks, as ServiceTrade documents them: the receiver knows a message by the secret in
its hook URL (ServiceTrade signs nothing), keeps it as one spooled file, and the sensor re-reads each
invoice named and runs its period once; the emulator sends messages for invoices created and changed,
tries three times and then discards, as ServiceTrade does. End to end: an invoice created in ServiceTrade
posts to QuickBooks through the webhook with polling off; a message repeated, late or out of order
causes no second run and no second post."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from decimal import Decimal
from typing import Iterator

import dagster as dg
import httpx
import pytest

from bridge_assets.defs.api_sources import servicetrade_pending_sensor
from bridge_assets.defs.resources import BridgeResource
from bridge_assets.defs.servicetrade_webhooks import servicetrade_webhook_sensor
from bridge_assets.runtime.settings import BridgeSettings
from bridge_assets.sandbox.kit import serving
from bridge_assets.sandbox.servicetrade import EmulatorSettings, run_emulator
from bridge_assets.sources.servicetrade import webhooks

from .conftest import quickbooks
from .test_api_sources_end_to_end import ledger, run_periods

SECRET = "st-hook-9f2c41d07be64a55a1c3e8f0d2b7a6c5"
MESSAGE = json.dumps({"messageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", "timestamp": "1788000000", "data": [
    {"action": "updated", "timestamp": 1788000000, "userId": 1234,
     "entity": {"type": "invoice", "id": 34872, "uri": "https://api.servicetrade.com/api/invoice/34872"},
     "changeset": [{"field": "status", "oldValue": "ok", "newValue": "pending_accounting"}]}]}).encode()


@pytest.fixture
def receiver(settings) -> Iterator[tuple[str, webhooks.InvoiceSpool]]:
    spool = webhooks.InvoiceSpool(webhooks.spool_folder(settings.home))
    app = webhooks.create_app(SECRET, spool)
    with serving.serve_in_thread(serving.uvicorn_config(app), name="ServiceTrade receiver", thread_name="st-hooks") as url:
        yield url + webhooks.PATH_PREFIX, spool


def _tick(settings, cursor: str | None = None):
    context = dg.build_sensor_context(cursor=cursor, resources={"bridge": BridgeResource(home=str(settings.home))})
    return servicetrade_webhook_sensor(context)


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the emulator's webhook message did not arrive"
        time.sleep(0.05)


def test_a_message_to_a_wrong_or_missing_secret_is_refused_and_changes_nothing(settings, receiver):
    url, spool = receiver
    answers = [
        httpx.post(f"{url}/someone-guessing-{SECRET[:20]}", content=MESSAGE),
        httpx.post(f"{url}/{SECRET}x", content=MESSAGE),
        httpx.post(url, content=MESSAGE),                      # no secret at all
        httpx.post(f"{url}/", content=MESSAGE),
    ]
    assert [a.status_code for a in answers] == [404, 404, 404, 404]
    assert SECRET not in "".join(a.text for a in answers)
    assert not spool.folder.exists()                           # nothing recorded
    assert not settings.database_path.exists()                 # DuckDB never touched
    assert _tick(settings).run_requests == []


def test_a_message_is_recorded_once_answered_at_once_and_one_that_is_not_a_message_is_refused(settings, receiver):
    url, spool = receiver
    started = time.monotonic()
    first = httpx.post(f"{url}/{SECRET}", content=MESSAGE)
    assert first.status_code == 200 and time.monotonic() - started < 5     # ServiceTrade waits 5 s
    assert httpx.post(f"{url}/{SECRET}", content=MESSAGE).status_code == 200   # its retry: the same file
    (notice,) = spool.pending()
    assert notice.invoice_ids == ["34872"] and notice.entities[0]["operation"] == "updated"
    assert SECRET not in notice.path.read_text()
    not_json = httpx.post(f"{url}/{SECRET}", content=b"<xml/>")
    job_only = httpx.post(f"{url}/{SECRET}", content=json.dumps(
        {"messageId": "x", "data": [{"action": "updated", "entity": {"type": "job", "id": 5}}]}).encode())
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["error"]
    assert job_only.status_code == 200 and job_only.json()["recorded"] is None
    assert len(spool.pending()) == 1
    with pytest.raises(webhooks.WebhookSettingMissing, match="SERVICETRADE_WEBHOOK_SECRET"):
        webhooks.secret_from_env({"SERVICETRADE_WEBHOOK_SECRET": "short"})


def test_the_emulator_tries_three_times_then_discards_and_counts_a_404_as_delivered(tmp_path, receiver):
    url, _ = receiver
    nobody = "http://127.0.0.1:9/webhooks/servicetrade/x"        # nothing listens on the discard port
    for hook, expect in ((nobody, "discarded"), (f"{url}/not-the-secret", "delivered")):
        settings = EmulatorSettings(webhook_url=hook, time_scale=600, webhook_timeout_s=1)
        with run_emulator(tmp_path / f"st-{expect}.sqlite3", settings) as st:
            (invoice,) = st.admin.create_invoices([{"customer": {"name": "Acme"}, "transaction_date": "2026-08-20"}])
            report = lambda: st.admin._call("GET", "/webhooks")
            _wait_for(lambda: report()["delivered"] or report()["discarded"])
            (entry,) = report()[expect]
            assert entry["body"]["data"][0]["entity"] == {"type": "invoice", "id": invoice["id"],
                                                          "uri": f"{st.api_url}/invoice/{invoice['id']}"}
            if expect == "discarded":
                assert len(entry["attempts"]) == 3                # three strikes, then gone for good
            else:
                assert (entry["status"], entry["attempts"]) == (404, 1)


def test_an_invoice_created_in_servicetrade_posts_through_the_webhook_once_with_polling_off(
        settings, db, tmp_path, monkeypatch, receiver):
    url, spool = receiver
    emulator = EmulatorSettings(webhook_url=f"{url}/{SECRET}", time_scale=600)
    with run_emulator(tmp_path / "st.sqlite3", emulator) as st, quickbooks(tmp_path, monkeypatch) as (qbo, realm):
        for name, value in {"SERVICETRADE_BASE_URL": st.api_url, "SERVICETRADE_USERNAME": "bridge",
                            "SERVICETRADE_PASSWORD": "bridge-sandbox-password",
                            "BRIDGE_SERVICETRADE_POLLING": "false"}.items():
            monkeypatch.setenv(name, value)
        resources = {"bridge": BridgeResource(home=str(settings.home))}
        assert isinstance(servicetrade_pending_sensor(dg.build_sensor_context(resources=resources)), dg.SkipReason)

        (invoice,) = st.admin.create_invoices([{"customer": {"name": "Hook Fire Co"}, "transaction_date": "2026-08-20",
                                                "items": [{"code": "SERVICE", "quantity": 2, "price": "60.00"}]}])
        _wait_for(lambda: any(str(invoice["id"]) in n.invoice_ids for n in spool.pending()))
        tick = _tick(settings)
        (run,) = tick.run_requests
        assert (run.tags["dagster/asset_partition_range_start"], run.tags["dagster/asset_partition_range_end"]) == \
            ("2026-08", "2026-08")
        instance = dg.DagsterInstance.ephemeral()
        run_periods(BridgeSettings.from_env(settings.home), "2026-08", "2026-08", instance)
        number = f"ST-{invoice['invoiceNumber']}"
        (posted,) = [i for i in qbo.admin.dump(realm, "Invoice") if i["DocNumber"] == number]
        assert Decimal(str(posted["TotalAmt"])) == Decimal("120.00")
        assert st.admin.invoice(invoice["id"])["status"] == "processed"

        # The bridge's own write-back is a message too; re-read, it is processed: no run.
        _wait_for(lambda: len(spool.pending()) >= 2)
        later = _tick(settings, tick.cursor)
        assert later.run_requests == []
        # The first message delivered again, late: its invoice is processed now, so no run either.
        assert httpx.post(f"{url}/{SECRET}", content=_body_of(st, 0)).status_code == 200
        assert _tick(settings, later.cursor).run_requests == []

        # Voided in ServiceTrade: one run, which voids it in QuickBooks; the same message again, or the
        # `created` message arriving after it, reads the same state and asks for the same run.
        st.admin.edit_invoice(invoice["id"], status="void")
        _wait_for(lambda: any(m["data"][0].get("changeset", [{}])[0].get("newValue") == "void"
                              for m in _delivered(st)))
        void_tick = _tick(settings, json.dumps([]))
        (void_run,) = void_tick.run_requests
        run_periods(BridgeSettings.from_env(settings.home), "2026-08", "2026-08", instance)
        (voided,) = [i for i in qbo.admin.dump(realm, "Invoice") if i["DocNumber"] == number]
        assert Decimal(str(voided["TotalAmt"])) == 0
        for body in (_body_of(st, -1), _body_of(st, 0)):             # the void again, then the old `created`
            assert httpx.post(f"{url}/{SECRET}", content=body).status_code == 200
        (again,) = _tick(settings, json.dumps([])).run_requests
        assert again.run_key == void_run.run_key                     # Dagster starts no second run
        run_periods(BridgeSettings.from_env(settings.home), "2026-08", "2026-08", instance)
        doc_key = f"servicetrade:invoice:{invoice['id']}"
        assert ledger(db, "SELECT action, outcome FROM ledger_events WHERE doc_key = ? AND destination = 'qbo' "
                          "ORDER BY event_id", [doc_key]) == \
            [("create", "sending"), ("create", "created"), ("void", "sending"), ("void", "voided")]


def _delivered(st) -> list[dict]:
    return [entry["body"] for entry in st.admin._call("GET", "/webhooks")["delivered"]]


def _body_of(st, index: int) -> bytes:
    """A message exactly as the emulator sent it (the receiver keys a message by its bytes)."""
    return json.dumps(_delivered(st)[index]).encode()


def test_bridge_servicetrade_webhooks_serves_the_receiver_and_refuses_to_start_without_a_secret(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != webhooks.SECRET_ENV} | {"BRIDGE_HOME": str(tmp_path)}
    command = [sys.executable, "-m", "bridge_assets.cli", "servicetrade-webhooks", "--port", "0"]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "SERVICETRADE_WEBHOOK_SECRET must be" in refused.stderr

    process = subprocess.Popen(command, env=env | {webhooks.SECRET_ENV: SECRET}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        first = process.stdout.readline()
        base = re.search(r"(http://[^/\s]+)", first).group(1)
        answer = _post_when_up(f"{base}{webhooks.PATH_PREFIX}/{SECRET}", MESSAGE)
        assert answer.status_code == 200
        (notice,) = webhooks.InvoiceSpool(tmp_path / "spool" / "servicetrade_webhooks").pending()
        assert notice.invoice_ids == ["34872"]
    finally:
        process.terminate()
        output = first + process.communicate(timeout=30)[0]
    assert SECRET not in output                                   # not in the banner, not in an access log


def _post_when_up(url: str, body: bytes, timeout: float = 20.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.post(url, content=body)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_an_invoice_runs_only_once_it_reaches_pending_accounting_whatever_the_message_said(
        settings, tmp_path, monkeypatch, receiver):
    url, spool = receiver
    with run_emulator(tmp_path / "st.sqlite3", EmulatorSettings(webhook_url=f"{url}/{SECRET}")) as st:
        for name, value in {"SERVICETRADE_BASE_URL": st.api_url, "SERVICETRADE_USERNAME": "bridge",
                            "SERVICETRADE_PASSWORD": "bridge-sandbox-password"}.items():
            monkeypatch.setenv(name, value)
        (draft,) = st.admin.create_invoices([{"customer": {"name": "Draft Co"}, "transaction_date": "2026-10-02",
                                              "status": "ok"}])
        _wait_for(lambda: spool.pending())
        created = _tick(settings)
        assert created.run_requests == []                        # `created`, but not ready for accounting
        st.admin.edit_invoice(draft["id"], status="pending_accounting")
        _wait_for(lambda: len(spool.pending()) == 2)
        (run,) = _tick(settings, created.cursor).run_requests    # the status change: one run of its period
        assert run.tags["dagster/asset_partition_range_start"] == "2026-10"
        assert run.run_key.startswith("servicetrade-webhook:2026-10:")
