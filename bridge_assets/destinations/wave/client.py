"""GraphQL over the kit's paced client: one document and its variables in, the `data` out.

Wave answers a GraphQL error in `errors` (with `extensions.code`), a refused mutation as `didSucceed:
false` with `inputErrors` (left to the caller), an expired token as 401 / `UNAUTHENTICATED` (the token is
refreshed once and the request sent again), and 429 / 5xx are retried by the kit with backoff.
"""

from __future__ import annotations

from typing import Any

import httpx

from bridge_assets.destinations.kit.http import GaveUp, PacedClient, Platform, PlatformUnavailable, Retry
from bridge_assets.destinations.wave.auth import BearerAuth, WaveAuthError, WaveLimits


class WaveUnavailable(PlatformUnavailable):
    """Wave did not answer usefully after every try: the outcome of a write is unknown."""


class WaveRefused(Exception):
    """Wave answered the document with GraphQL errors: the bridge's document or data is wrong."""

    def __init__(self, what: str, errors: list[dict]) -> None:
        messages = "; ".join(f"{e.get('message')} ({(e.get('extensions') or {}).get('code', '?')})" for e in errors)
        super().__init__(f"Wave refused {what}: {messages}")
        self.codes = {(e.get("extensions") or {}).get("code") for e in errors}


def _unauthenticated(response: httpx.Response) -> bool:
    return response.status_code == 401


class WaveClient:
    def __init__(self, graphql_url: str, auth: BearerAuth, limits: WaveLimits, *, timeout: float = 60.0,
                 tries: int = 5) -> None:
        platform = Platform("Wave", limits=limits, retry=Retry(tries=tries), give_up=WaveUnavailable)
        self.graphql_url = graphql_url
        self.auth = auth
        self.http = PacedClient(platform, headers={"Accept": "application/json"},
                                timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)))

    def close(self) -> None:
        self.http.close()

    def call(self, document: str, variables: dict[str, Any], what: str) -> dict[str, Any]:
        """The `data` of one GraphQL request; WaveRefused on GraphQL errors, WaveUnavailable when gone."""
        response = self.http.send("POST", self.graphql_url, json={"query": document, "variables": variables},
                                  auth=self.auth, what=what)
        try:
            body = response.json()
        except ValueError:
            raise WaveUnavailable(GaveUp("Wave", what, f"HTTP {response.status_code}, not JSON", 1,
                                         response.status_code, response)) from None
        errors = body.get("errors") or []
        if _unauthenticated(response) or any((e.get("extensions") or {}).get("code") == "UNAUTHENTICATED"
                                             for e in errors):
            raise WaveAuthError("Wave refused the bridge's access token even after refreshing it: connect the app "
                                "to the business again and set WAVE_REFRESH_TOKEN (and WAVE_BUSINESS_ID).")
        if errors or body.get("data") is None:
            raise WaveRefused(what, errors or [{"message": f"HTTP {response.status_code} without data"}])
        return body["data"]
