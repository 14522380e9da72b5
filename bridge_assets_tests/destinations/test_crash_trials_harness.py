"""The shared SIGKILL harness (crash_trials.py), shown on QuickBooks Online: every platform's crash test
is this file with its own target. (test_qbo_crash.py keeps QuickBooks' deeper trials: batch sizes, $0
payments applying credits, one request in ten failing.)"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Mapping

import pytest

from bridge_assets.sandbox.qbo import EmulatorSettings, SpawnedEmulator, spawn_emulator

from .crash_trials import CrashTarget, crash_forkserver, make_template, run_crash_trials

CLIENT_ID, CLIENT_SECRET = "bridge-harness-client", "harness-secret-8c2d"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Iterator[SpawnedEmulator]:
    settings = EmulatorSettings(time_scale=60, clients={CLIENT_ID: CLIENT_SECRET}, refresh_token_rotation="daily",
                                request_timeout_s=120)
    with spawn_emulator(tmp_path_factory.mktemp("qbo") / "books.sqlite3", settings) as handle:
        yield handle


def quickbooks_target(emulator: SpawnedEmulator) -> CrashTarget:
    admin = emulator.admin

    def fresh_books(folder: Path) -> dict[str, str]:
        realm = admin.create_company()
        return {"QBO_BASE_URL": emulator.base_url, "QBO_TOKEN_URL": emulator.token_url, "QBO_REALM_ID": realm,
                "QBO_CLIENT_ID": CLIENT_ID, "QBO_CLIENT_SECRET": CLIENT_SECRET, "QBO_TIME_SCALE": "60",
                "QBO_TIMEOUT_SECONDS": "10", "QBO_TOKEN_STORE": str(folder / "qbo_tokens.json"),
                "QBO_REFRESH_TOKEN": admin.mint_tokens(realm, client_id=CLIENT_ID)["refresh_token"]}

    def held(env: Mapping[str, str]):
        realm = env["QBO_REALM_ID"]
        return ([("invoice", i["DocNumber"], i["Id"]) for i in admin.dump(realm, "Invoice")]
                + [("credit_memo", c["DocNumber"], c["Id"]) for c in admin.dump(realm, "CreditMemo")])

    return CrashTarget(
        name="qbo", fresh_books=fresh_books, held=held,
        hold_next_answer=lambda env: admin.set_faults(env["QBO_REALM_ID"], drop_next_writes=1, drop_mode="timeout",
                                                      drop_entities=["Invoice"]),
        answer_held=lambda env: any(e["outcome"] == "dropped:timeout" for e in admin.journal(env["QBO_REALM_ID"])),
        clear_faults=lambda env: admin.clear_faults(env["QBO_REALM_ID"]),
    )


def test_the_harness_kills_quickbooks_runs_and_finds_every_document_exactly_once(emulator, tmp_path: Path):
    template = make_template(tmp_path / "template")
    figures = run_crash_trials(quickbooks_target(emulator), crash_forkserver(), template, tmp_path, trials=6)
    assert figures.trials == 6
    assert figures.killed_while_answer_held >= 1          # trials 1 and 4 hold an invoice's answer back
    assert figures.killed_mid_run >= 3 and figures.left_unknown >= 1, figures


@pytest.mark.parametrize("expires_in", [300, 1200, 7200])      # Sage's, MYOB's, Wave's access token lives
def test_a_stored_live_token_is_used_as_it_is_so_no_trial_run_begins_with_a_refresh(tmp_path: Path, expires_in: int):
    """The trials kill the posting, not a refresh (a kill inside a refresh of a platform that rotates with
    no grace period loses the connection whatever the client does). The token `store_live_tokens` leaves
    must be one the client uses without calling the token endpoint at all."""
    import httpx

    from bridge_assets.destinations.kit.oauth import OAuthProvider, OAuthSession, TokenStore

    from .crash_trials import store_live_tokens

    store_live_tokens(tmp_path / "tokens.json", {"refresh_token": "r-1", "access_token": "a-1", "expires_in": expires_in})

    def refused(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"the token endpoint was called: {request.url}")

    session = OAuthSession(TokenStore(tmp_path / "tokens.json"), OAuthProvider("Trial", "https://tokens.invalid/token"),
                           "client", "secret", transport=httpx.MockTransport(refused))
    try:
        assert session.access_token() == "a-1"
        assert session.token_calls == 0
    finally:
        session.close()
