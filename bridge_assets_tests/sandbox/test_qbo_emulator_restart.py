"""The emulator's books live in SQLite: a restart, or a kill -9 mid-life, loses nothing committed."""

from __future__ import annotations

import subprocess
import sys

import httpx

from bridge_assets.sandbox.qbo import EmulatorSettings, run_emulator, spawn_emulator
from bridge_assets_tests.sandbox.conftest import QboCompany, invoice_body

SETTINGS = EmulatorSettings(time_scale=60)


def test_books_tokens_and_requestids_survive_a_restart(tmp_path):
    state = tmp_path / "qbo.sqlite3"
    with run_emulator(state, SETTINGS) as handle:
        company = QboCompany(handle, handle.admin.create_company("1111"))
        customer = company.customer()
        original = company.post("/invoice", invoice_body(customer, doc_number="R-1"), requestid="restart-1")
        tokens = company.tokens
        company.close()
    with run_emulator(state, SETTINGS) as handle:
        http = httpx.Client(base_url=handle.company_url("1111"),
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
        replay = http.post("/invoice", json=invoice_body(customer, doc_number="R-1"), params={"requestid": "restart-1"})
        assert replay.content == original.content
        answer = http.get("/query", params={"query": "SELECT * FROM Invoice"}).json()["QueryResponse"]
        assert [i["DocNumber"] for i in answer["Invoice"]] == ["R-1"]
        # Ids keep counting where they were.
        assert http.post("/customer", json={"DisplayName": "Second"}).json()["Customer"]["Id"] == "2"
        http.close()


def test_kill_9_of_the_emulator_process_loses_no_committed_write(tmp_path):
    state = tmp_path / "qbo.sqlite3"
    with spawn_emulator(state, SETTINGS) as handle:
        realm_id = handle.admin.create_company("2222")
        tokens = handle.admin.mint_tokens(realm_id)
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        created = httpx.post(handle.company_url(realm_id) + "/customer", json={"DisplayName": "Survivor"},
                             headers=headers)
        assert created.status_code == 200
        port = int(handle.base_url.rsplit(":", 1)[1])
        handle.kill()
        assert not handle.alive
    with spawn_emulator(state, SETTINGS, port=port) as handle:
        assert handle.base_url.endswith(f":{port}")  # the bridge's configured URL still works
        read = httpx.get(handle.company_url(realm_id) + f"/customer/{created.json()['Customer']['Id']}",
                         headers=headers)
        assert read.status_code == 200 and read.json()["Customer"]["DisplayName"] == "Survivor"


def test_cli_prints_the_url_it_listens_on_as_its_first_line(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge_assets.sandbox.qbo", "--host", "127.0.0.1", "--port", "0",
         "--state", str(tmp_path / "cli.sqlite3"), "--time-scale", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first_line = process.stdout.readline().strip()
        assert first_line.startswith("QBO emulator listening on http://127.0.0.1:")
        base_url = first_line.rsplit(" ", 1)[1]
        assert httpx.get(base_url + "/_emulator/health", timeout=10).json()["status"] == "ok"
    finally:
        process.kill()
        process.wait()
