"""The webhook receiver on loopback: a wrong signature is refused and changes nothing; a signed
notification is recorded and becomes one mirror refresh; end to end with the QuickBooks emulator
sending its own signed notifications when a person edits an invoice after posting."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from typing import Iterator

import dagster as dg
import httpx
import pytest

from bridge_assets.destinations.qbo import webhooks
from bridge_assets.definitions import build_definitions
from bridge_assets.defs.reconciliation import quickbooks_webhook_sensor, reconcile_after_books_change_sensor
from bridge_assets.defs.resources import BridgeResource
from bridge_assets.sandbox.kit import serving
from bridge_assets.sandbox.qbo import run_emulator

from .conftest import line, write_export
from .qbo_books import EMULATOR_SETTINGS, Books
from .test_reconciliation import check_of, run_job

VERIFIER = "verifier-7c1e-not-for-logs"
NOTIFICATION = json.dumps({"eventNotifications": [{"realmId": "9341453000000000", "dataChangeEvent": {"entities": [
    {"name": "Invoice", "id": "42", "operation": "Update", "lastUpdated": "2026-09-03T10:33:39-07:00"}]}}]}).encode()


@pytest.fixture
def receiver(settings) -> Iterator[tuple[str, webhooks.RefreshSpool]]:
    spool = webhooks.RefreshSpool(webhooks.spool_folder(settings.home))
    app = webhooks.create_app(VERIFIER, spool)
    with serving.serve_in_thread(serving.uvicorn_config(app), name="webhook receiver", thread_name="webhooks") as url:
        yield url + webhooks.PATH, spool


def _tick(settings, cursor: str | None = None):
    context = dg.build_sensor_context(cursor=cursor, resources={"bridge": BridgeResource(home=str(settings.home))})
    return quickbooks_webhook_sensor(context)


def test_a_wrong_or_missing_signature_is_refused_and_records_nothing(settings, receiver):
    url, spool = receiver
    forged = webhooks.signature("someone-elses-token", NOTIFICATION)
    tampered = webhooks.signature(VERIFIER, NOTIFICATION)
    answers = [
        httpx.post(url, content=NOTIFICATION, headers={"intuit-signature": forged}),
        httpx.post(url, content=NOTIFICATION),
        httpx.post(url, content=NOTIFICATION + b" ", headers={"intuit-signature": tampered}),
    ]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert VERIFIER not in "".join(a.text for a in answers)
    assert not spool.folder.exists()                                    # nothing recorded
    assert not settings.database_path.exists()                          # DuckDB is never touched
    assert not _tick(settings).run_requests


def test_a_signed_notification_is_recorded_once_and_becomes_one_mirror_refresh_run(settings, receiver):
    url, spool = receiver
    signed = {"intuit-signature": webhooks.signature(VERIFIER, NOTIFICATION)}
    started = time.monotonic()
    first = httpx.post(url, content=NOTIFICATION, headers=signed)
    assert first.status_code == 200 and time.monotonic() - started < 3    # Intuit wants an answer within 3 s
    assert httpx.post(url, content=NOTIFICATION, headers=signed).status_code == 200   # Intuit delivers it again
    (request,) = spool.pending()
    assert request.entities[0] == {"realm_id": "9341453000000000", "name": "Invoice", "id": "42",
                                   "operation": "Update", "last_updated": "2026-09-03T10:33:39-07:00"}
    assert VERIFIER not in request.path.read_text()
    assert not settings.database_path.exists()

    tick = _tick(settings)
    (run,) = tick.run_requests
    assert run.run_key == f"qbo-webhook:{request.key[:40]}" and run.job_name in (None, "quickbooks_mirror_job")
    assert spool.pending()                                              # kept until the run is surely requested
    later = _tick(settings, tick.cursor)
    assert not later.run_requests and spool.pending() == []

    assert httpx.post(url, content=NOTIFICATION, headers=signed).status_code == 200   # a late retry
    (again,) = _tick(settings, later.cursor).run_requests
    assert again.run_key == run.run_key                                 # the same notification, the same run key


def test_a_hand_edit_in_quickbooks_reaches_reconciliation_through_a_signed_webhook(settings, db, tmp_path, receiver,
                                                                                  monkeypatch):
    url, spool = receiver
    emulator = dataclasses.replace(EMULATOR_SETTINGS, webhook_url=url, webhook_verifier_token=VERIFIER)
    with run_emulator(tmp_path / "qbo.sqlite3", emulator) as qbo:
        books = Books(qbo, tmp_path)
        for name, value in {**books.env(), "BRIDGE_DESTINATIONS": "qbo"}.items():
            monkeypatch.setenv(name, value)
        instance = dg.DagsterInstance.ephemeral()
        write_export(settings.inbox / "sep.csv", [line(number="5", date="09/01/2026"), line(number="6", date="09/02/2026")])
        assert check_of(run_job(settings, "2026-09", "2026-09", instance)).passed
        (invoice,) = [i for i in qbo.admin.dump(books.realm_id, "Invoice") if i["DocNumber"] == "6"]
        _wait_for(lambda: any(e["id"] == invoice["Id"] for r in spool.pending() for e in r.entities))
        spool.done(spool.pending())                                     # the bridge's own postings, seen

        books.change_line("Invoice", invoice["Id"], "3", "29.95")       # a person edits it in QuickBooks
        _wait_for(lambda: any(e["id"] == invoice["Id"] and e["operation"] == "Update"
                              for r in spool.pending() for e in r.entities))

        defs = build_definitions(settings.home)
        (refresh,) = _tick(settings).run_requests
        mirrored = defs.resolve_job_def("quickbooks_mirror_job").execute_in_process(
            instance=instance, tags=refresh.tags)
        assert mirrored.success
        tick = reconcile_after_books_change_sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        (reconcile_run,) = tick.run_requests
        assert (reconcile_run.tags[RANGE_START_TAG], reconcile_run.tags[RANGE_END_TAG]) == ("2026-09", "2026-09")
        reconciled = defs.resolve_job_def("reconciliation_job").execute_in_process(
            instance=instance, tags=reconcile_run.tags)

        check = check_of(reconciled)
        assert not check.passed and "Invoice 6 was changed in QuickBooks after posting" in check.description
        assert [(f["doc_number"], f["kind"]) for f in check.metadata["failing"].value] == [("6", "edited_by_hand")]
        books.close()


RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the emulator's webhook did not arrive"
        time.sleep(0.05)


def test_bridge_webhooks_serves_the_receiver_and_refuses_to_start_without_a_verifier_token(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != webhooks.VERIFIER_TOKEN_ENV} | {"BRIDGE_HOME": str(tmp_path)}
    command = [sys.executable, "-m", "bridge_assets.cli", "webhooks", "--port", "0"]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "QBO_WEBHOOK_VERIFIER_TOKEN is not set" in refused.stderr

    process = subprocess.Popen(command, env=env | {webhooks.VERIFIER_TOKEN_ENV: VERIFIER}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        first = process.stdout.readline()
        url = re.search(r"(http://\S+)", first).group(1)
        answer = _post_when_up(url, NOTIFICATION, {"intuit-signature": webhooks.signature(VERIFIER, NOTIFICATION)})
        assert answer.status_code == 200
        (request,) = webhooks.RefreshSpool(tmp_path / "spool" / "qbo_webhooks").pending()
        assert request.entities[0]["id"] == "42"
    finally:
        process.terminate()
        output = first + process.communicate(timeout=30)[0]
    assert VERIFIER not in output


def _post_when_up(url: str, body: bytes, headers: dict, timeout: float = 20.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.post(url, content=body, headers=headers)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_cloud_events_notifications_are_understood_too():
    body = [{"specversion": "1.0", "type": "qbo.invoice.updated.v1", "intuitentityid": "42",
             "intuitaccountid": "9341453000000000", "time": "2026-09-03T17:33:39Z"}]
    assert webhooks.changed_entities(body) == [{"realm_id": "9341453000000000", "name": "Invoice", "id": "42",
                                                "operation": "Updated", "last_updated": "2026-09-03T17:33:39Z"}]


@pytest.mark.parametrize("body, reason", [
    (b'{"eventNotifications": "Invoice 42 changed"}', "eventNotifications must be a list of objects"),
    (b'{"eventNotifications": [{"realmId": "1", "dataChangeEvent": []}]}', "dataChangeEvent must be an object"),
    (b'{"eventNotifications": [{"dataChangeEvent": {"entities": ["Invoice"]}}]}', "entities must be a list of objects"),
    (b'[1, 2]', "CloudEvents body must be a list of objects"),
    (b'{"hello": "world"}', "expected"),
    (b'not json at all', "not JSON"),
])
def test_a_signed_body_of_the_wrong_shape_is_answered_400_with_the_reason_and_records_nothing(
        settings, receiver, body, reason):
    url, spool = receiver
    answer = httpx.post(url, content=body, headers={"intuit-signature": webhooks.signature(VERIFIER, body)})
    assert answer.status_code == 400, answer.text
    assert reason in answer.json()["error"]
    assert not spool.pending()


def test_a_huge_body_is_refused_413_while_reading_not_after_reading_it_whole(settings):
    """20 MB sent in 64 KB chunks without a Content-Length: the receiver stops asking for more soon
    after the 1 MB limit (a declared Content-Length over the limit is refused before reading anything)."""
    import asyncio

    app = webhooks.create_app(VERIFIER, webhooks.RefreshSpool(webhooks.spool_folder(settings.home)))
    chunk, chunks = b"x" * 65536, 20 * 16

    def call(headers: list[tuple[bytes, bytes]]) -> tuple[int, int]:
        pulled, status = 0, []

        async def receive():
            nonlocal pulled
            pulled += 1
            return {"type": "http.request", "body": chunk, "more_body": pulled < chunks}

        async def send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])

        scope = {"type": "http", "method": "POST", "path": webhooks.PATH, "raw_path": webhooks.PATH.encode(),
                 "query_string": b"", "headers": headers, "http_version": "1.1", "scheme": "http",
                 "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000), "root_path": ""}
        asyncio.run(app(scope, receive, send))
        return status[0], pulled

    status, pulled = call([])
    assert status == 413
    assert pulled * len(chunk) <= webhooks.MAX_BODY_BYTES + len(chunk), f"read {pulled} chunks of {chunks}"
    status, pulled = call([(b"content-length", str(chunks * len(chunk)).encode())])
    assert (status, pulled) == (413, 0)
