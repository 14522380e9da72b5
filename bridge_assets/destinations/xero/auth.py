"""Xero's OAuth 2.0 as data for the kit's token store, the client-credentials grant, and Xero's errors.

Xero's access tokens live 30 minutes; every refresh returns a new refresh token that replaces the old
one (the old one still answers for 30 minutes if the answer was lost, then `invalid_grant`). The
shared file, its lock and saving the rotated token before use are the kit's (`destinations.kit.oauth`).
A custom connection (no XERO_REFRESH_TOKEN) uses the client-credentials grant instead: a token per
30 minutes, nothing to store.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import httpx

from bridge_assets.destinations.base import DestinationError
from bridge_assets.destinations.kit.http import Backoff, GaveUp, PacedClient, Platform, Retry
from bridge_assets.destinations.kit.oauth import OAuthProvider, OAuthSession, TokenEndpointUnavailable, TokenStore

__all__ = ["ClientCredentials", "OAuthSession", "TokenStore", "XeroAuthError", "XeroReconnectRequired",
           "XeroTokenEndpointUnavailable", "xero_provider"]

EXPIRY_LEEWAY_S = 60.0
ACCESS_LIFETIME_S = 1800.0


class XeroAuthError(DestinationError):
    """Xero refuses the bridge's credentials; a person must fix the configuration."""


class XeroReconnectRequired(XeroAuthError):
    """The stored refresh token is dead and nobody saved a newer one: connect the app again."""


class XeroTokenEndpointUnavailable(TokenEndpointUnavailable):
    """Xero's identity server did not answer usefully after a few tries (transient)."""


def xero_provider(token_url: str) -> OAuthProvider:
    return OAuthProvider(
        platform="Xero", token_url=token_url, client_auth="basic", body_format="form",
        access_lifetime_s=ACCESS_LIFETIME_S, expiry_leeway_s=EXPIRY_LEEWAY_S,
        refresh_token_setting="XERO_REFRESH_TOKEN", client_settings="XERO_CLIENT_ID and XERO_CLIENT_SECRET",
        app_console=" on developer.xero.com/app/manage", endpoint_tries=3,
        auth_error=XeroAuthError, reconnect_error=XeroReconnectRequired, unavailable_error=XeroTokenEndpointUnavailable)


class ClientCredentials:
    """A custom connection's access token (grant_type=client_credentials), kept in memory only."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, *, timeout: Any = 30.0,
                 transport: httpx.BaseTransport | None = None, clock: Callable[[], float] = time.time) -> None:
        self.token_url, self._client_id, self._secret, self._clock = token_url, client_id, client_secret, clock
        endpoint = Platform("Xero token endpoint", retry=Retry(tries=3, backoff=Backoff(first_s=1.0, max_s=4.0,
                                                                                        floor_share=0.5)),
                            retryable=lambda r: r.status_code >= 500 or r.status_code == 429, give_up=self._gave_up)
        self._http = PacedClient(endpoint, timeout=timeout, transport=transport, headers={"Accept": "application/json"})
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"ClientCredentials({self.token_url!r})"

    def close(self) -> None:
        self._http.close()

    def access_token(self) -> str:
        with self._lock:
            if self._token and self._expires_at - EXPIRY_LEEWAY_S > self._clock():
                return self._token
            return self._fetch()

    def refresh(self, rejected_access_token: str | None) -> str:
        with self._lock:
            if self._token and self._token != rejected_access_token:
                return self._token
            return self._fetch()

    def _fetch(self) -> str:
        response = self._http.send("POST", self.token_url, what="client credentials grant", auth=None,
                                   data={"grant_type": "client_credentials", "client_id": self._client_id,
                                         "client_secret": self._secret})
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code != 200 or not answer.get("access_token"):
            raise XeroAuthError(f"Xero's token endpoint refused the custom connection's credentials "
                                f"({answer.get('error') or f'HTTP {response.status_code}'}); check XERO_CLIENT_ID and "
                                f"XERO_CLIENT_SECRET against the app on developer.xero.com/app/manage")
        self._token = str(answer["access_token"])
        self._expires_at = self._clock() + float(answer.get("expires_in") or ACCESS_LIFETIME_S)
        self.refreshes += 1
        return self._token

    def _gave_up(self, gave_up: GaveUp) -> Exception:
        return XeroTokenEndpointUnavailable(f"Xero's token endpoint {self.token_url} did not answer "
                                            f"({gave_up.problem}) after {gave_up.tries} tries")
