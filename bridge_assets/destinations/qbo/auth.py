"""QuickBooks Online OAuth tokens: Intuit's facts for the kit's token store, and QuickBooks' errors.

Intuit rotates refresh tokens: once a new value is issued, the old one answers `invalid_grant`
(API_FACTS.md, OAuth 2.0). The shared file, its lock, saving a rotated refresh token before the
access token is used, and re-reading the file on `invalid_grant` are the kit's
(`destinations.kit.oauth`); what is QuickBooks' own is the data below: HTTP Basic client auth,
form-encoded grants, one-hour access tokens, `x_refresh_token_expires_in`, and the settings a
person fixes (QBO_REFRESH_TOKEN, QBO_CLIENT_ID / QBO_CLIENT_SECRET).
"""

from __future__ import annotations

from bridge_assets.destinations.base import DestinationError
from bridge_assets.destinations.kit.oauth import (
    OAuthProvider,
    OAuthSession,
    TokenEndpointUnavailable,
    Tokens,
    TokenStore,
    fingerprint,
)

__all__ = ["QboAuthError", "QboReconnectRequired", "QboTokenEndpointUnavailable", "qbo_provider",
           "OAuthSession", "Tokens", "TokenStore", "fingerprint"]

# Refresh this long before Intuit's stated expiry, so a token never dies between check and use.
EXPIRY_LEEWAY_S = 120.0
TOKEN_ENDPOINT_TRIES = 3


class QboAuthError(DestinationError):
    """QuickBooks Online refuses the bridge's credentials; a person must fix the configuration."""


class QboReconnectRequired(QboAuthError):
    """The stored refresh token is dead and nobody saved a newer one: authorize the app again."""


class QboTokenEndpointUnavailable(TokenEndpointUnavailable):
    """Intuit's token endpoint did not answer usefully after a few tries (transient)."""


def qbo_provider(token_url: str) -> OAuthProvider:
    """Intuit's OAuth 2.0 as the kit's data, for the token endpoint at `token_url`."""
    return OAuthProvider(
        platform="QuickBooks Online",
        token_url=token_url,
        client_auth="basic",
        body_format="form",
        access_lifetime_s=3600.0,
        refresh_lifetime_field="x_refresh_token_expires_in",
        expiry_leeway_s=EXPIRY_LEEWAY_S,
        refresh_token_setting="QBO_REFRESH_TOKEN",
        client_settings="QBO_CLIENT_ID and QBO_CLIENT_SECRET",
        app_console=" on developer.intuit.com",
        endpoint_tries=TOKEN_ENDPOINT_TRIES,
        auth_error=QboAuthError,
        reconnect_error=QboReconnectRequired,
        unavailable_error=QboTokenEndpointUnavailable,
    )
