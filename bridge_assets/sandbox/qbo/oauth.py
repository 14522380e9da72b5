"""Intuit's OAuth 2.0 server, as the bridge meets it: the kit's provider configured as Intuit's.

    POST /oauth2/v1/tokens/bearer     form-encoded, HTTP Basic client id/secret;
                                      grant_type=authorization_code (code, redirect_uri) or
                                      grant_type=refresh_token (refresh_token)
    POST /v2/oauth2/tokens/revoke     HTTP Basic; JSON or form {"token": access or refresh token}
    GET  /connect/oauth2              the consent page, auto-approved: redirects to redirect_uri with
                                      code, state and realmId (emulator: ?realmId= picks the company)

Access tokens live `access_token_lifetime_s` (3600) and refresh tokens `refresh_token_lifetime_s`
(100 days, rolling), both divided by `time_scale`. `expires_in` is always the API's own number: the
client is told 3600 even when the emulator lets the token die after one scaled minute, so the
"expired early, got 401, refreshed" path is exercised like in production.

Refresh-token rotation follows `refresh_token_rotation`. Once a refresh token has been replaced by a
new value, presenting the old one is `400 {"error": "invalid_grant"}` (no grace: API_FACTS.md says the
old value fails at once; `refresh_token_grace_s` can soften it): the failure behind most broken
QuickBooks integrations (two workers refreshing at once, or a rotated token not saved). Revoking
either token of a grant ends the whole grant.
"""

from __future__ import annotations

import dataclasses
import secrets
from typing import Callable

from starlette.responses import Response

from bridge_assets.sandbox.kit.oauth import OAuthError, OAuthPolicy, OAuthProvider, TokenFormat
from bridge_assets.sandbox.qbo import errors
from bridge_assets.sandbox.qbo.settings import EmulatorSettings
from bridge_assets.sandbox.qbo.store import Store

TOKEN_PATH = "/oauth2/v1/tokens/bearer"
REVOKE_PATH = "/v2/oauth2/tokens/revoke"
AUTHORIZE_PATH = "/connect/oauth2"
SCOPE = "com.intuit.quickbooks.accounting"

__all__ = ["AUTHORIZE_PATH", "REVOKE_PATH", "SCOPE", "TOKEN_PATH", "Caller", "OAuthError", "OAuthServer"]

# Intuit answers most refusals with the bare error; these carry a description.
ERRORS = {
    "refresh_missing": ("invalid_request", 400, "refresh_token is required"),
    "code_missing": ("invalid_request", 400, "code is required"),
}
TOKENS = TokenFormat(access=lambda *_: "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0.." + secrets.token_urlsafe(48),
                     refresh=lambda: "AB11" + secrets.token_urlsafe(36),
                     code=lambda: "AB11" + secrets.token_urlsafe(24))
ROTATION = {"always": "always", "daily": "periodic", "never": "never"}


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who a valid bearer token speaks for."""

    realm_id: str
    client_id: str
    grant_id: str


def policy(settings: EmulatorSettings) -> OAuthPolicy:
    return OAuthPolicy(
        grants=("authorization_code", "refresh_token"),
        access_token_lifetime_s=settings.access_token_lifetime_s,
        refresh_token_lifetime_s=settings.refresh_token_lifetime_s,
        authorization_code_lifetime_s=settings.authorization_code_lifetime_s,
        rotation=ROTATION[settings.refresh_token_rotation],
        rotation_period_s=settings.refresh_token_rotation_period_s,
        grace_s=settings.refresh_token_grace_s,
        refresh_expiry_field="x_refresh_token_expires_in",
        time_scale=settings.time_scale,
    )


class OAuthServer(OAuthProvider):
    def __init__(self, store: Store, settings: EmulatorSettings,
                 ensure_company: Callable[[str], object] | None = None) -> None:
        super().__init__(store, policy(settings), clients=settings.clients, errors=ERRORS, tokens=TOKENS)
        self.settings = settings
        # Consent creates the company when it is new, like connecting a fresh sandbox company.
        self.authorize_endpoint = self.consent_endpoint(
            scope=SCOPE, subject_param="realmId", default_subject=settings.default_realm_id,
            on_consent=ensure_company or (lambda realm_id: None))

    def mint_tokens(self, subject: str, client_id: str) -> dict:
        self.check_client(client_id)
        return super().mint_tokens(subject, client_id)

    def expire_access_tokens(self, realm_id: str | None = None, access_token: str | None = None) -> int:
        """Admin: make access tokens expire now (all, one company's, or one token)."""
        return self.expire(("access",), subject=realm_id, token=access_token)["access"]

    def authenticate(self, authorization: str | None, realm_id: str) -> Caller | Response:
        """The caller behind `Authorization: Bearer ...`, or the 401 QuickBooks answers."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return errors.authentication_failed("Authorization header missing or not a Bearer token")
        token = authorization[7:].strip()
        found = self.access(token)
        if found is None:
            return errors.authentication_failed("Token invalid")
        if found.state == "revoked":
            return errors.authentication_failed("Token revoked")
        if found.state == "expired":
            return errors.authentication_failed(f"Token expired: {token[-12:]}")
        if found.subject != realm_id:
            return errors.authentication_failed(f"Token was not issued for company {realm_id}")
        return Caller(found.subject, found.client_id, found.grant_id)
