"""The kit's OAuth 2.0 provider, over real HTTP: grants, rotation with and without a grace window, revoke.

Driven through `kit_toy`, a made-up platform that stands on the kit alone, and through the QuickBooks
emulator for a state file written before the kit existed.
"""

from __future__ import annotations

import sqlite3
import time
from urllib.parse import parse_qs, urlparse

import httpx

from bridge_assets.sandbox.qbo import EmulatorSettings, run_emulator
from bridge_assets_tests.sandbox import kit_toy
from bridge_assets_tests.sandbox.kit_toy import AUTHORIZE_PATH, CLIENT_ID, CLIENT_SECRET, REVOKE_PATH, TOKEN_PATH

AUTH = (CLIENT_ID, CLIENT_SECRET)


def token(handle, **form: str) -> httpx.Response:
    return httpx.post(handle.base_url + TOKEN_PATH, data=form, auth=AUTH)


def notes(handle, access_token: str) -> int:
    return httpx.get(handle.base_url + "/api/notes", headers={"Authorization": f"Bearer {access_token}"}).status_code


def test_client_credentials_give_a_token_pair_that_reads_the_api(tmp_path):
    with kit_toy.KIND.run(tmp_path / "notebook.sqlite3") as handle:
        answer = token(handle, grant_type="client_credentials")
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
        pair = answer.json()
        assert pair["token_type"] == "bearer" and pair["expires_in"] == 1800 and pair["refresh_token"]
        assert notes(handle, pair["access_token"]) == 200
        assert notes(handle, "not-a-token") == 401
        wrong = httpx.post(handle.base_url + TOKEN_PATH, data={"grant_type": "client_credentials"},
                           auth=(CLIENT_ID, "guess"))
        assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
        assert token(handle, grant_type="password").json()["error"] == "unsupported_grant_type"


def test_an_authorization_code_from_the_consent_page_is_single_use(tmp_path):
    with kit_toy.KIND.run(tmp_path / "notebook.sqlite3") as handle:
        consent = httpx.get(handle.base_url + AUTHORIZE_PATH, params={
            "client_id": CLIENT_ID, "redirect_uri": "http://localhost/back", "response_type": "code",
            "scope": "notes", "state": "s1", "org": "org-7"})
        assert consent.status_code == 302
        query = parse_qs(urlparse(consent.headers["location"]).query)
        assert query["state"] == ["s1"] and query["org"] == ["org-7"]
        form = {"grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": "http://localhost/back"}
        assert token(handle, **form).status_code == 200
        again = token(handle, **form)
        assert (again.status_code, again.json()) == (400, {"error": "invalid_grant"})


def test_without_grace_a_rotated_refresh_token_is_refused_at_once(tmp_path):
    with kit_toy.KIND.run(tmp_path / "notebook.sqlite3") as handle:
        first = token(handle, grant_type="client_credentials").json()
        second = token(handle, grant_type="refresh_token", refresh_token=first["refresh_token"])
        assert second.status_code == 200 and second.json()["refresh_token"] != first["refresh_token"]
        lost_answer_retried = token(handle, grant_type="refresh_token", refresh_token=first["refresh_token"])
        assert (lost_answer_retried.status_code, lost_answer_retried.json()) == (400, {"error": "invalid_grant"})
        newest = second.json()["refresh_token"]
        assert token(handle, grant_type="refresh_token", refresh_token=newest).status_code == 200


def test_within_the_grace_window_a_lost_refresh_answer_is_given_again_and_not_after(tmp_path):
    # Xero's 30 minutes, with a minute lasting a hundredth of a second: the window is 0.3 s.
    settings = kit_toy.Settings(refresh_token_grace_s=1800, time_scale=6000)
    with kit_toy.KIND.run(tmp_path / "notebook.sqlite3", settings) as handle:
        first = token(handle, grant_type="client_credentials").json()
        lost = token(handle, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
        retried = token(handle, grant_type="refresh_token", refresh_token=first["refresh_token"])
        assert retried.status_code == 200
        assert retried.json()["refresh_token"] == lost["refresh_token"]  # the answer that was lost, again
        assert retried.json()["access_token"] != lost["access_token"]
        assert notes(handle, retried.json()["access_token"]) == 200
        time.sleep(0.45)
        late = token(handle, grant_type="refresh_token", refresh_token=first["refresh_token"])
        assert (late.status_code, late.json()) == (400, {"error": "invalid_grant"})
        assert token(handle, grant_type="refresh_token", refresh_token=lost["refresh_token"]).status_code == 200


def test_grace_does_not_revive_a_refresh_token_whose_successor_was_used(tmp_path):
    settings = kit_toy.Settings(refresh_token_grace_s=1800, time_scale=1)
    with kit_toy.KIND.run(tmp_path / "notebook.sqlite3", settings) as handle:
        first = token(handle, grant_type="client_credentials").json()
        second = token(handle, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
        token(handle, grant_type="refresh_token", refresh_token=second["refresh_token"])
        stale = token(handle, grant_type="refresh_token", refresh_token=first["refresh_token"])
        assert (stale.status_code, stale.json()) == (400, {"error": "invalid_grant"})


def test_revoking_a_refresh_token_ends_the_grant_and_its_access_tokens(tmp_path):
    with kit_toy.KIND.run(tmp_path / "notebook.sqlite3") as handle:
        pair = token(handle, grant_type="client_credentials").json()
        other = token(handle, grant_type="client_credentials").json()
        revoked = httpx.post(handle.base_url + REVOKE_PATH, data={"token": pair["refresh_token"]}, auth=AUTH)
        assert revoked.status_code == 200
        assert notes(handle, pair["access_token"]) == 401
        refreshed = token(handle, grant_type="refresh_token", refresh_token=pair["refresh_token"])
        assert refreshed.json() == {"error": "invalid_grant"}
        assert notes(handle, other["access_token"]) == 200  # another grant is untouched


def test_a_qbo_state_file_from_before_the_kit_keeps_its_refresh_token(tmp_path):
    """The sandbox keeps QuickBooks' company in $BRIDGE_HOME/sandbox/ between runs, and the bridge keeps
    the refresh token it was given: after the upgrade that token must still refresh."""
    state = tmp_path / "qbo_company.sqlite3"
    with sqlite3.connect(state) as old:
        old.executescript("""
            CREATE TABLE oauth_clients (client_id TEXT PRIMARY KEY, client_secret TEXT NOT NULL);
            CREATE TABLE oauth_grants (grant_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, realm_id TEXT NOT NULL,
                                       revoked INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL);
            CREATE TABLE oauth_refresh_tokens (token TEXT PRIMARY KEY, grant_id TEXT NOT NULL, issued_at REAL NOT NULL,
                                               expires_at REAL NOT NULL, superseded_at REAL);
            CREATE TABLE oauth_access_tokens (token TEXT PRIMARY KEY, grant_id TEXT NOT NULL, expires_at REAL NOT NULL);
        """)
        now = time.time()
        old.execute("INSERT INTO oauth_grants VALUES ('g1', 'bridge-sandbox-client', '9341453000000000', 0, ?)", (now,))
        old.execute("INSERT INTO oauth_refresh_tokens VALUES ('AB11kept', 'g1', ?, ?, NULL)", (now, now + 86400))
        old.execute("INSERT INTO oauth_refresh_tokens VALUES ('AB11rotated', 'g1', ?, ?, ?)", (now, now + 86400, now))
        old.execute("INSERT INTO oauth_access_tokens VALUES ('eyJold', 'g1', ?)", (now + 3600,))
    with run_emulator(state, EmulatorSettings()) as qbo:
        company = qbo.company_url("9341453000000000") + "/preferences"
        assert httpx.get(company, headers={"Authorization": "Bearer eyJold"}).status_code == 200
        auth = ("bridge-sandbox-client", "bridge-sandbox-secret")
        kept = httpx.post(qbo.token_url, data={"grant_type": "refresh_token", "refresh_token": "AB11kept"}, auth=auth)
        assert kept.status_code == 200
        rotated = httpx.post(qbo.token_url, data={"grant_type": "refresh_token", "refresh_token": "AB11rotated"},
                             auth=auth)
        assert rotated.json() == {"error": "invalid_grant"}


def test_a_servicetrade_state_file_from_before_the_kit_keeps_its_tokens(tmp_path):
    from bridge_assets.sandbox.servicetrade import run_emulator as run_servicetrade

    state = tmp_path / "servicetrade.sqlite3"
    now = time.time()
    with sqlite3.connect(state) as old:
        old.execute("CREATE TABLE oauth_tokens (serial INTEGER PRIMARY KEY AUTOINCREMENT, token TEXT NOT NULL UNIQUE, "
                    "kind TEXT NOT NULL, client_id TEXT NOT NULL, issued_at REAL NOT NULL, expires_at REAL NOT NULL, "
                    "revoked_at REAL, revoked_reason TEXT)")
        old.execute("INSERT INTO oauth_tokens (token, kind, client_id, issued_at, expires_at) VALUES "
                    "('eyJ.old.access', 'access', 'bridge-sandbox-client', ?, ?), "
                    "('rt_old', 'refresh', 'bridge-sandbox-client', ?, ?)", (now, now + 3600, now, now + 86400))
    with run_servicetrade(state) as st:
        read = httpx.get(st.api_url + "/invoice", headers={"Authorization": "Bearer eyJ.old.access"})
        assert read.status_code == 200
        refreshed = httpx.post(st.api_url + "/oauth2/token", data={"grant_type": "refresh_token",
                                                                   "refresh_token": "rt_old"})
        assert refreshed.status_code == 200
        assert [t["revoked_reason"] for t in st.admin.tokens() if t["kind"] == "refresh"] == ["rotated", None]
