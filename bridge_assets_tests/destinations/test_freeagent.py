"""FreeAgent: what the adapter promises beyond the platform scenario. FreeAgent publishes no Python SDK (the
PyPI packages are third-party and of unknown provenance), so its wire is driven by the adapter and by plain
HTTP here."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from bridge_assets.destinations.base import BY_HAND_CODES, Status
from bridge_assets.destinations.freeagent.adapter import FreeAgentDestination
from bridge_assets.sandbox import freeagent as sandbox
from bridge_assets.sandbox.freeagent import EmulatorHandle

from .cloud_documents import connected, create, document, running, update


@pytest.fixture(scope="module")
def freeagent(tmp_path_factory) -> Iterator[EmulatorHandle]:
    yield from running(sandbox, tmp_path_factory.mktemp("freeagent"))


@pytest.fixture
def destination(freeagent: EmulatorHandle, tmp_path: Path) -> Iterator[FreeAgentDestination]:
    yield from connected(freeagent, FreeAgentDestination, tmp_path)


def test_a_sent_invoice_is_changed_by_going_back_to_draft_and_sent_again(freeagent: EmulatorHandle,
                                                                         destination: FreeAgentDestination):
    [made] = destination.post([create("freeagent", document("F-1", lines=(("RMR", "1", "100.00", "8.88"),)))])
    [held] = freeagent.admin.documents("invoices")
    assert held["status"] == "Open" and held["total_value"] == "108.88" and held["invoice_items"][0]["sales_tax_rate"] == "8.88"
    changed = document("F-1", lines=(("RMR", "1", "120.00", "10.66"),))
    [updated] = destination.post([update("freeagent", changed, made.dest_id, made.version)])
    assert updated.status is Status.UPDATED and updated.after["total"] == "130.66" and updated.before["total"] == "108.88"
    assert [i["status"] for i in freeagent.admin.documents("invoices")] == ["Open"]
    moves = [r["path"].rsplit("/", 1)[1] for r in freeagent.admin.journal() if "/transitions/" in r["path"]]
    assert moves == ["mark_as_sent", "mark_as_draft", "mark_as_sent"]


def test_a_locked_period_is_held_and_a_payment_pays_one_invoice_or_is_left_to_a_person(
        freeagent: EmulatorHandle, destination: FreeAgentDestination):
    destination.post([create("freeagent", document("P-1")), create("freeagent", document("P-2"))])
    one = document("R-1", doc_type="payment", applies=(("P-1", "29.95"),), total="29.95")
    two = document("R-2", doc_type="payment", applies=(("P-1", "10"), ("P-2", "10")), total="20.00")
    paid, left = destination.post([create("freeagent", one), create("freeagent", two)])
    assert paid.status is Status.CREATED and destination.find("payment", "R-1").dest_id == paid.dest_id
    assert left.error_code == BY_HAND_CODES["links_payments"] and "exactly one invoice" in left.message
    assert {i["reference"]: i["status"] for i in freeagent.admin.documents("invoices")} == {"P-1": "Paid", "P-2": "Open"}
    freeagent.admin.set_lock_date("2026-09-30")
    [locked] = destination.post([create("freeagent", document("P-3", date=dt.date(2026, 9, 15)))])
    assert locked.status is Status.HELD and "locked" in locked.message
    freeagent.admin.set_lock_date(None)


def test_every_call_needs_a_user_agent_and_refreshes_are_capped_at_five_a_minute(freeagent: EmulatorHandle):
    freeagent.admin.reset()
    token = freeagent.admin.mint_tokens()
    bare = httpx.get(f"{freeagent.base_url}/v2/invoices", headers={"Authorization": f"Bearer {token['access_token']}",
                                                                   "User-Agent": ""})
    assert bare.status_code == 400 and "User-Agent" in bare.json()["errors"][0]["message"]
    secret = freeagent.settings.clients[freeagent.client_id]
    refresh, answers = token["refresh_token"], []
    for _ in range(6):
        answer = httpx.post(f"{freeagent.base_url}/v2/token_endpoint", auth=(freeagent.client_id, secret),
                            data={"grant_type": "refresh_token", "refresh_token": refresh})
        answers.append(answer.status_code)
        refresh = answer.json().get("refresh_token", refresh)
    assert answers == [200] * 5 + [429]
