"""Reckon One's HTTP: OAuth 2 (identity server, client by HTTP Basic; refresh tokens rotated through the kit's
token store) plus the APIM subscription key on every call, paced by the kit's client.

Reads and replacements are retried by the kit (429, 5xx, dropped connections: doing them twice is harmless).
A create is not: Reckon has no idempotency key and `reference` (where the bridge's number travels) is not
unique, so a create is retried only after a 429 (APIM refuses before anything is done); any other failure
leaves its outcome unknown, and the ledger looks it up by reference on the next run.
"""

from __future__ import annotations

from typing import Any, Mapping

import httpx

from bridge_assets.destinations.base import DestinationError
from bridge_assets.destinations.kit.http import PacedClient, Platform, PlatformUnavailable, Retry
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.kit.oauth import OAuthProvider, OAuthSession, TokenEndpointUnavailable
from bridge_assets.destinations.kit.small_ledger import send_once

RECKON_API_URL = "https://api.reckon.com/r1/v2"
RECKON_TOKEN_URL = "https://identity.reckon.com/connect/token"


class ReckonAuthError(DestinationError):
    """Reckon refuses the bridge's credentials or subscription key: a person fixes the settings."""


class ReckonUnavailable(PlatformUnavailable):
    """Reckon did not answer usefully after every try: the outcome of a write is unknown."""


class ReckonRefused(Exception):
    def __init__(self, what: str, status: int, body: Any) -> None:
        body = body if isinstance(body, dict) else {}
        details = "; ".join(f"{e.get('location')}: {e.get('message')}" for e in body.get("errors") or [])
        super().__init__(f"Reckon One refused {what} (HTTP {status}): {body.get('message') or ''} {details}".strip())
        self.status = status


def reckon_provider(token_url: str) -> OAuthProvider:
    return OAuthProvider(platform="Reckon One", token_url=token_url, client_auth="basic", body_format="form",
                         refresh_token_setting="RECKON_REFRESH_TOKEN",
                         client_settings="RECKON_CLIENT_ID and RECKON_CLIENT_SECRET",
                         app_console=" on developer.reckon.com", auth_error=ReckonAuthError)


class _Auth:
    def __init__(self, session: OAuthSession, subscription_key: str) -> None:
        self.session, self._key = session, subscription_key

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self.session.access_token()}", "Ocp-Apim-Subscription-Key": self._key}

    def renew(self, rejected: Mapping[str, str]) -> bool:
        self.session.refresh(rejected.get("Authorization", "").removeprefix("Bearer "))
        return True


class ReckonClient:
    def __init__(self, api_url: str, book_id: str, session: OAuthSession, subscription_key: str, limits: Limits, *,
                 tries: int = 5, timeout: float = 60.0) -> None:
        self.book_id, self.session, self.tries = book_id, session, tries
        self.auth = _Auth(session, subscription_key)
        self.http = PacedClient(Platform("Reckon One", limits=limits, retry=Retry(tries=tries),
                                         give_up=ReckonUnavailable),
                                base_url=f"{api_url.rstrip('/')}/{book_id}",
                                timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
                                headers={"Accept": "application/json"})

    def close(self) -> None:
        self.http.close()
        self.session.close()

    def call(self, method: str, path: str, *, params: dict | None = None, json: Any = None,
             once: bool = False) -> httpx.Response:
        """One call; `once`: a write that must not be repeated blindly (only a 429 is tried again)."""
        request = {"params": params, "json": json, "auth": self.auth}
        if not once:
            return self._checked(self.http.send(method, path, **request), method, path)
        return self._checked(send_once(self.http, method, path, unavailable=ReckonUnavailable, tries=self.tries,
                                       **request), method, path)

    def _checked(self, response: httpx.Response, method: str, path: str) -> httpx.Response:
        if response.status_code in (401, 403):
            raise ReckonAuthError(
                f"Reckon One refused {method} {path} (HTTP {response.status_code}): check RECKON_SUBSCRIPTION_KEY, "
                f"RECKON_BOOK_ID and the connection (RECKON_REFRESH_TOKEN); the book must be one the app was granted")
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            raise ReckonRefused(f"{method} {path}", response.status_code, body)
        return response
