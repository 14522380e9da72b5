"""Wave's OAuth 2 and limits, as data for the kit (`destinations/kit/oauth.py`, `kit/limits.py`).

Authorization code with `offline_access` for a refresh token; the client id and secret travel in the form
body of the token request (Wave's OAuth guide). Refresh tokens are taken to rotate on every use (the
strictest reading; the kit saves the new one before the access token is used). Limits: about 60 requests
a minute per token and 5,000 a day per application (Apideck's figures; unconfirmed from Wave).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

from bridge_assets.destinations.base import DestinationError
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.kit.oauth import OAuthProvider, OAuthSession, TokenEndpointUnavailable

WAVE_GRAPHQL_URL = "https://gql.waveapps.com/graphql/public"
WAVE_TOKEN_URL = "https://api.waveapps.com/oauth2/token/"


class WaveAuthError(DestinationError):
    """Wave refuses the bridge's credentials; a person must fix the configuration."""


class WaveReconnectRequired(WaveAuthError):
    """The stored refresh token is dead and nobody saved a newer one: connect the app again."""


class WaveTokenEndpointUnavailable(TokenEndpointUnavailable):
    """Wave's token endpoint did not answer usefully after a few tries (transient)."""


@dataclasses.dataclass(frozen=True)
class WaveLimits(Limits):
    requests_per_minute: int | None = 60
    requests_per_day: int | None = 5000
    concurrent_requests: int | None = 1


def wave_provider(token_url: str) -> OAuthProvider:
    return OAuthProvider(
        platform="Wave", token_url=token_url, client_auth="body", body_format="form", access_lifetime_s=7200.0,
        refresh_token_setting="WAVE_REFRESH_TOKEN", client_settings="WAVE_CLIENT_ID and WAVE_CLIENT_SECRET",
        app_console=" in Wave's Manage Applications", auth_error=WaveAuthError,
        reconnect_error=WaveReconnectRequired, unavailable_error=WaveTokenEndpointUnavailable)


class BearerAuth:
    """The bearer token from the shared session; a 401 refreshes it (kit `Auth`)."""

    def __init__(self, session: OAuthSession) -> None:
        self.session = session

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self.session.access_token()}"}

    def renew(self, rejected: Mapping[str, str]) -> bool:
        self.session.refresh(rejected.get("Authorization", "").removeprefix("Bearer "))
        return True
