"""Xero's identity server as the kit's OAuth provider, and who may reach which organisation.

Grants: authorization code (the consent page approves at once; `tenantId` names the organisation the
user picks, the default one otherwise) and client credentials (a custom connection: the client is
connected to one organisation). Access tokens live 30 minutes; every refresh rotates the refresh token,
and the rotated one still answers for 30 minutes (a lost response), then `invalid_grant`. Unused
refresh tokens die after 60 days. The client authenticates by HTTP Basic or in the form (the official
SDK sends client_id and client_secret in the form).
"""

from __future__ import annotations

import uuid

from starlette.requests import Request

from bridge_assets.sandbox.kit.oauth import AccessToken, OAuthPolicy, OAuthProvider
from bridge_assets.sandbox.xero import errors
from bridge_assets.sandbox.xero.settings import EmulatorSettings
from bridge_assets.sandbox.xero.store import Store

TOKEN_PATH = "/connect/token"
REVOKE_PATH = "/connect/revocation"
AUTHORIZE_PATH = "/identity/connect/authorize"
SCOPE = "accounting.transactions"


def provider(store: Store, settings: EmulatorSettings) -> OAuthProvider:
    policy = OAuthPolicy(
        grants=("authorization_code", "client_credentials", "refresh_token"),
        access_token_lifetime_s=settings.access_token_lifetime_s,
        refresh_token_lifetime_s=settings.refresh_token_lifetime_s,
        authorization_code_lifetime_s=settings.authorization_code_lifetime_s,
        rotation="always", grace_s=settings.refresh_token_grace_s, rolling_refresh_expiry=False,
        basic_client_auth=True, form_client_auth=True, form_only=True, token_type="Bearer",
        time_scale=settings.time_scale)
    oauth = OAuthProvider(store, policy, clients=settings.clients)
    for client_id in settings.clients:               # each app of the settings is connected to the default org
        store.connect(client_id, settings.default_tenant_id, str(uuid.uuid5(uuid.NAMESPACE_URL, client_id)))
    return oauth


def connect_consenting(store: Store, settings: EmulatorSettings, tenant_id: str) -> None:
    store.ensure_organisation(tenant_id, settings.organisation_name)
    store.connect(tenant_id, tenant_id, str(uuid.uuid5(uuid.NAMESPACE_URL, "consent:" + tenant_id)))


def caller(oauth: OAuthProvider, request: Request) -> AccessToken:
    """The grant a bearer token speaks for; 401 when there is none, it expired or was revoked."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() != "bearer ":
        raise errors.unauthorized("AuthenticationUnsuccessful")
    access = oauth.access(header[7:].strip())
    if access is None:
        raise errors.unauthorized("AuthenticationUnsuccessful")
    if access.state == "expired":
        raise errors.unauthorized("TokenExpired: token expired")
    if access.state != "valid":
        raise errors.unauthorized("AuthenticationUnsuccessful")
    return access


def tenant_of(store: Store, access: AccessToken, request: Request) -> str:
    """The organisation the `xero-tenant-id` header names, which this grant must be connected to (403)."""
    tenant_id = (request.headers.get("xero-tenant-id") or "").strip()
    if not tenant_id:
        raise errors.forbidden("AuthorizationUnsuccessful: the xero-tenant-id header is required")
    if tenant_id.lower() not in {c["tenant_id"].lower() for c in store.connections(access.subject)}:
        raise errors.forbidden("AuthorizationUnsuccessful: this connection cannot reach that organisation")
    return next(c["tenant_id"] for c in store.connections(access.subject) if c["tenant_id"].lower() == tenant_id.lower())
