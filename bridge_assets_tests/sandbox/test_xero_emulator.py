"""The Xero emulator's identity server and gatekeeping, as Xero documents them: authorization code and
client credentials, refresh tokens that rotate with a 30-minute grace and then `invalid_grant`, the
organisations a connection reaches, `xero-tenant-id` required, XML unless JSON is asked for, and state
that survives a restart."""

from __future__ import annotations

import time

import httpx
import pytest

from bridge_assets.sandbox.xero import EmulatorSettings, run_emulator

CLIENT_ID, CLIENT_SECRET = "emulator-app", "emulator-secret"
SCALE = 600           # Xero's 30-minute grace lasts three seconds, a code half a second


@pytest.fixture(scope="module")
def xero(tmp_path_factory):
    settings = EmulatorSettings(clients={CLIENT_ID: CLIENT_SECRET}, time_scale=SCALE)
    with run_emulator(tmp_path_factory.mktemp("xero-emulator") / "xero.sqlite3", settings) as emulator:
        yield emulator


def _token(xero, **form) -> httpx.Response:
    return httpx.post(xero.token_url, data=form)


def test_authorization_code_then_refresh_rotates_with_a_grace_then_invalid_grant(xero):
    consent = httpx.get(xero.authorize_url, params={"client_id": CLIENT_ID, "redirect_uri": "http://localhost/cb",
                                                    "response_type": "code", "scope": "openid accounting.transactions",
                                                    "state": "s1"})
    assert consent.status_code == 302 and "state=s1" in consent.headers["location"]
    code = httpx.URL(consent.headers["location"]).params["code"]
    first = _token(xero, grant_type="authorization_code", code=code, redirect_uri="http://localhost/cb",
                   client_id=CLIENT_ID, client_secret=CLIENT_SECRET).json()
    assert first["expires_in"] == 1800 and first["token_type"] == "Bearer"
    second = _token(xero, grant_type="refresh_token", refresh_token=first["refresh_token"], client_id=CLIENT_ID,
                    client_secret=CLIENT_SECRET).json()
    assert second["refresh_token"] != first["refresh_token"]                   # rotated on every refresh
    lost = _token(xero, grant_type="refresh_token", refresh_token=first["refresh_token"], client_id=CLIENT_ID,
                  client_secret=CLIENT_SECRET).json()
    assert lost["refresh_token"] == second["refresh_token"]                    # the answer was lost: forgiven
    time.sleep(1800 / SCALE + 0.1)
    late = _token(xero, grant_type="refresh_token", refresh_token=first["refresh_token"], client_id=CLIENT_ID,
                  client_secret=CLIENT_SECRET)
    assert (late.status_code, late.json()) == (400, {"error": "invalid_grant"})
    wrong = _token(xero, grant_type="refresh_token", refresh_token=second["refresh_token"], client_id=CLIENT_ID,
                   client_secret="not-it")
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


def test_connections_name_the_organisations_and_every_call_needs_a_tenant_it_reaches(tmp_path):
    with run_emulator(tmp_path / "xero.sqlite3", EmulatorSettings(clients={CLIENT_ID: CLIENT_SECRET})) as xero:
        _connections_and_tenants(xero)


def _connections_and_tenants(xero) -> None:
    other = xero.admin.create_organisation(name="Someone else's books")
    token = _token(xero, grant_type="client_credentials", client_id=CLIENT_ID,
                   client_secret=CLIENT_SECRET).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    [connection] = httpx.get(xero.connections_url, headers=bearer).json()
    assert connection["tenantId"] == xero.tenant_id and connection["tenantType"] == "ORGANISATION"
    assert httpx.get(f"{xero.api_url}/Invoices", headers=bearer).status_code == 403
    assert httpx.get(f"{xero.api_url}/Invoices", headers={**bearer, "xero-tenant-id": other}).status_code == 403
    assert httpx.get(f"{xero.api_url}/Invoices", headers={"xero-tenant-id": xero.tenant_id}).status_code == 401
    xml = httpx.get(f"{xero.api_url}/Organisation", headers={"Authorization": f"Bearer {token}",
                                                             "xero-tenant-id": xero.tenant_id})
    assert xml.headers["content-type"].startswith("text/xml") and b"<Organisation><OrganisationID>" in xml.content
    json_answer = httpx.get(f"{xero.api_url}/Organisation", headers={**bearer, "xero-tenant-id": xero.tenant_id})
    assert json_answer.json()["Organisations"][0]["OrganisationID"] == xero.tenant_id


def test_the_books_and_the_tokens_survive_a_restart(tmp_path):
    settings = EmulatorSettings(clients={CLIENT_ID: CLIENT_SECRET}, time_scale=60)
    with run_emulator(tmp_path / "xero.sqlite3", settings) as xero:
        tokens = xero.admin.mint_tokens(xero.tenant_id, CLIENT_ID)
        headers = {"Authorization": f"Bearer {tokens['access_token']}", "xero-tenant-id": xero.tenant_id,
                   "Accept": "application/json"}
        made = httpx.put(f"{xero.api_url}/Contacts", headers=headers, json={"Contacts": [{"Name": "Kept, K"}]})
        assert made.status_code == 200
    with run_emulator(tmp_path / "xero.sqlite3", settings) as again:
        headers["Authorization"] = "Bearer " + httpx.post(again.token_url, data={
            "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET}).json()["access_token"]
        names = [c["Name"] for c in httpx.get(f"{again.api_url}/Contacts", headers=headers).json()["Contacts"]]
        assert names == ["Kept, K"]
        duplicate = httpx.put(f"{again.api_url}/Contacts", headers=headers, json={"Contacts": [{"Name": "kept, k"}]})
        assert duplicate.status_code == 400 and "must be unique across all active contacts" in duplicate.text
