"""Intuit's OAuth 2.0 as the bridge meets it: grants, lifetimes, rotation and revocation."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from bridge_assets.sandbox.qbo import EmulatorHandle, EmulatorSettings, run_emulator

CLIENT = ("bridge-sandbox-client", "bridge-sandbox-secret")


def token_call(handle: EmulatorHandle, auth=CLIENT, **form: str) -> httpx.Response:
    return httpx.post(handle.token_url, data=form, auth=auth,
                      headers={"Accept": "application/json"})


def api_status(handle: EmulatorHandle, realm_id: str, access_token: str) -> int:
    return httpx.get(handle.company_url(realm_id) + "/preferences",
                     headers={"Authorization": f"Bearer {access_token}"}).status_code


def test_authorization_code_grant_issues_a_token_pair_once(qbo: EmulatorHandle):
    realm_id = qbo.admin.create_company()
    code = qbo.admin.mint_authorization_code(realm_id, redirect_uri="http://localhost/callback")
    response = token_call(qbo, grant_type="authorization_code", code=code, redirect_uri="http://localhost/callback")
    assert response.status_code == 200
    tokens = response.json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 3600
    assert tokens["x_refresh_token_expires_in"] == 100 * 24 * 3600
    assert api_status(qbo, realm_id, tokens["access_token"]) == 200
    again = token_call(qbo, grant_type="authorization_code", code=code, redirect_uri="http://localhost/callback")
    assert (again.status_code, again.json()) == (400, {"error": "invalid_grant"})


def test_refresh_returns_a_new_refresh_token_and_the_superseded_one_is_invalid_grant(qbo: EmulatorHandle):
    realm_id = qbo.admin.create_company()
    first = qbo.admin.mint_tokens(realm_id)
    refreshed = token_call(qbo, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert refreshed.status_code == 200
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    # Two workers refreshing the same token: the second one loses.
    stale = token_call(qbo, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert (stale.status_code, stale.json()) == (400, {"error": "invalid_grant"})
    assert token_call(qbo, grant_type="refresh_token", refresh_token=second["refresh_token"]).status_code == 200
    # Access tokens already issued stay valid until they expire.
    assert api_status(qbo, realm_id, first["access_token"]) == 200


def test_daily_rotation_returns_the_same_refresh_token_until_it_is_a_day_old(tmp_path):
    settings = EmulatorSettings(time_scale=2 * 86400, refresh_token_rotation="daily")  # a day is half a second
    with run_emulator(tmp_path / "qbo.sqlite3", settings) as handle:
        first = handle.admin.mint_tokens()
        same = token_call(handle, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
        assert same["refresh_token"] == first["refresh_token"]
        time.sleep(0.6)
        rotated = token_call(handle, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
        assert rotated["refresh_token"] != first["refresh_token"]
        old = token_call(handle, grant_type="refresh_token", refresh_token=first["refresh_token"])
        assert (old.status_code, old.json()) == (400, {"error": "invalid_grant"})


def test_access_token_dies_after_an_hour_of_scaled_time_and_a_refresh_brings_access_back(tmp_path):
    with run_emulator(tmp_path / "qbo.sqlite3", EmulatorSettings(time_scale=7200)) as handle:  # an hour: 0.5 s
        realm_id = handle.settings.default_realm_id
        tokens = handle.admin.mint_tokens(realm_id)
        assert api_status(handle, realm_id, tokens["access_token"]) == 200
        time.sleep(0.6)
        assert api_status(handle, realm_id, tokens["access_token"]) == 401
        fresh = token_call(handle, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json()
        assert api_status(handle, realm_id, fresh["access_token"]) == 200


def test_expire_now_makes_the_current_access_token_fail_with_401(qbo: EmulatorHandle):
    realm_id = qbo.admin.create_company()
    tokens = qbo.admin.mint_tokens(realm_id)
    assert qbo.admin.expire_access_tokens(realm_id=realm_id) >= 1
    assert api_status(qbo, realm_id, tokens["access_token"]) == 401


def test_token_endpoint_requires_http_basic_client_credentials(qbo: EmulatorHandle):
    tokens = qbo.admin.mint_tokens()
    for auth in (None, ("bridge-sandbox-client", "wrong"), ("nobody", "x")):
        response = token_call(qbo, auth=auth, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
        assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    # A refresh token only works for the client it was issued to.
    qbo.admin.register_client("other-app", "other-secret")
    response = token_call(qbo, auth=("other-app", "other-secret"), grant_type="refresh_token",
                          refresh_token=tokens["refresh_token"])
    assert response.json() == {"error": "invalid_grant"}


@pytest.mark.parametrize("form, error", [
    ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
    ({}, "invalid_request"),
    ({"grant_type": "refresh_token"}, "invalid_request"),
    ({"grant_type": "refresh_token", "refresh_token": "AB11nonsense"}, "invalid_grant"),
])
def test_token_endpoint_errors(qbo: EmulatorHandle, form: dict, error: str):
    response = token_call(qbo, **form)
    assert (response.status_code, response.json()["error"]) == (400, error)


def test_revoke_ends_the_whole_grant(qbo: EmulatorHandle):
    realm_id = qbo.admin.create_company()
    tokens = qbo.admin.mint_tokens(realm_id)
    response = httpx.post(qbo.revoke_url, json={"token": tokens["refresh_token"]}, auth=CLIENT)
    assert response.status_code == 200
    assert api_status(qbo, realm_id, tokens["access_token"]) == 401
    refreshed = token_call(qbo, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.json() == {"error": "invalid_grant"}


def test_consent_redirects_with_code_state_and_realm_id(qbo: EmulatorHandle):
    response = httpx.get(qbo.authorize_url, params={
        "client_id": CLIENT[0], "response_type": "code", "scope": "com.intuit.quickbooks.accounting",
        "redirect_uri": "http://localhost:8000/callback", "state": "xyz", "realmId": "4620816365000000001"})
    assert response.status_code == 302
    redirect = urlparse(response.headers["location"])
    params = {k: v[0] for k, v in parse_qs(redirect.query).items()}
    assert (params["state"], params["realmId"]) == ("xyz", "4620816365000000001")
    tokens = token_call(qbo, grant_type="authorization_code", code=params["code"],
                        redirect_uri="http://localhost:8000/callback").json()
    assert api_status(qbo, "4620816365000000001", tokens["access_token"]) == 200
