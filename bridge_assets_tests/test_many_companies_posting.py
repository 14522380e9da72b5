"""Companies of one registry posting to one QuickBooks Online at once, each in its own process (what
scripts/benchmark_companies.py measures, here on a tiny book): every company's documents are in its own
QuickBooks company exactly once, and none of them in another company's."""

from __future__ import annotations

import sys
from pathlib import Path

from bridge_assets.sandbox.qbo import EmulatorSettings, spawn_emulator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import benchmark_companies as bench  # noqa: E402  (a script, not a package)

TIME_SCALE = 60.0
SEEDS = {"east": 3, "west": 4}


def test_companies_posting_at_once_each_post_every_document_once_in_their_own_quickbooks(tmp_path: Path) -> None:
    with spawn_emulator(tmp_path / "qbo.sqlite3", EmulatorSettings(time_scale=TIME_SCALE)) as emulator:
        setup = bench.stand_up(emulator, tmp_path, list(SEEDS), TIME_SCALE)
        companies = bench.Companies(setup, tmp_path, 80, SEEDS)
        try:
            results = companies.post(list(SEEDS), emulator)
        finally:
            companies.close()
        checks = bench.ledger_check(emulator, setup, {k: r["database"] for k, r in companies.ready.items()})
        numbers = {key: {doc["DocNumber"] for doc in emulator.admin.dump(setup.realms[key], "Invoice")}
                   for key in SEEDS}

    assert setup.realms["east"] != setup.realms["west"]
    for key in SEEDS:
        planned = companies.ready[key]["ready"]
        assert planned >= 20
        assert results[key]["outcomes"] == {"created": planned}, results[key]["failures"]
        assert checks[key]["posted"] == planned
        assert checks[key]["in_realm"] == checks[key]["distinct"] == planned     # each number once in its realm
        assert checks[key]["same"]                                               # and it is the ledger's
        assert checks[key]["foreign"] == 0                                       # no other company's number
    # The books number their invoices alike: only each company's own prefix (its registry setting) tells
    # them apart, so a company posting with another's settings could not pass the checks above.
    bare = {key: {n.split("-", 1)[1] for n in numbers[key]} for key in SEEDS}
    assert bare["east"] & bare["west"]
    assert all(n.startswith("EA-") for n in numbers["east"]) and all(n.startswith("WE-") for n in numbers["west"])
