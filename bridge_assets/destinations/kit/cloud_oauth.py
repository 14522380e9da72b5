"""The OAuth 2.0 wiring the small cloud ledgers (FreshBooks, Zoho Books, Sage, FreeAgent, MYOB) share: where their
settings come from, the token store seeded with the configured refresh token, the paced client and the bearer
header, and closing both clients.

    class SageDestination(OAuthCloudDestination):
        def __init__(self, ...):
            super().__init__()
            self.connect(provider(token_url), client_id=..., client_secret=..., token_store=...,
                         refresh_token=..., limits=Limits(...), timeout=timeout, transport=transport,
                         extra={"X-Business": business_id})

        @classmethod
        def from_env(cls, settings=None, environ=None):
            env, tokens = settings_env(settings, environ, "Sage Accounting", "sage")
            ... tokens: where the token store lives unless SAGE_TOKEN_STORE says (BRIDGE_HOME/secrets/sage_tokens.json)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from bridge_assets.destinations.kit import settings as kit_settings
from bridge_assets.destinations.kit.cloud import CloudDestination
from bridge_assets.destinations.kit.http import (
    Backoff, GaveUp, PacedClient, Platform, PlatformUnavailable, Retry, default_retryable,
)
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.kit.oauth import BearerAuth, OAuthProvider, OAuthSession, TokenStore


def provider(platform: str, prefix: str, token_url: str, *, app_console: str, auth_error: type[Exception],
             reconnect_error: type[Exception], credentials: tuple[str, str] = ("CLIENT_ID", "CLIENT_SECRET"),
             **facts: Any) -> OAuthProvider:
    """The platform's OAuth facts (`facts`: client_auth, body_format, lifetimes...) with the names a person is
    told to fix: `<prefix>_REFRESH_TOKEN` and the app's `<prefix>_<credentials>`, found `app_console`."""
    client_id, client_secret = credentials
    return OAuthProvider(platform=platform, token_url=token_url, refresh_token_setting=f"{prefix}_REFRESH_TOKEN",
                         client_settings=f"{prefix}_{client_id} and {prefix}_{client_secret}", app_console=app_console,
                         auth_error=auth_error, reconnect_error=reconnect_error, **facts)


def settings_env(settings: Any, environ: Mapping[str, str] | None, platform: str,
                 name: str) -> tuple[kit_settings.Env, Path]:
    """The platform's settings (the process environment unless `environ` is given) and the default place of its
    token store: `<home>/secrets/<name>_tokens.json`, home being the bridge's settings' or BRIDGE_HOME ("var")."""
    env = kit_settings.Env(os.environ if environ is None else environ, platform)
    home = Path(getattr(settings, "home", None) or env.text("BRIDGE_HOME", "var")).absolute()
    return env, home / "secrets" / f"{name}_tokens.json"


class OAuthCloudDestination(CloudDestination):
    """A `CloudDestination` that calls its platform with an OAuth 2.0 access token (`session`, `http`, `auth`)."""

    session: OAuthSession
    http: PacedClient
    auth: BearerAuth

    def connect(self, provider: OAuthProvider, *, client_id: str, client_secret: str, token_store: Path | str,
                refresh_token: str | None, limits: Limits, timeout: float,
                transport: httpx.BaseTransport | None, backoff_max_s: float = 60.0,
                retryable: Callable[[httpx.Response], bool] = default_retryable,
                headers: Mapping[str, str] | None = None, extra: Mapping[str, str] | None = None,
                scheme: str = "Bearer") -> None:
        """The token store (seeded with `refresh_token` when one is configured), the OAuth session, the paced
        client (four tries, backing off from one second to `backoff_max_s`) and the header every call carries;
        a token endpoint that does not answer is the platform being unavailable (RETRY)."""
        store = TokenStore(token_store, provider)
        if refresh_token:
            store.seed(refresh_token)
        self.session = OAuthSession(store, store.provider, client_id, client_secret, timeout=timeout,
                                    transport=transport)
        platform = Platform(self.platform, limits=limits, retryable=retryable,
                            retry=Retry(tries=4, backoff=Backoff(first_s=1.0, max_s=backoff_max_s)))
        self.http = PacedClient(platform, timeout=timeout, transport=transport, headers=headers)
        self.auth = BearerAuth(self.session, extra=extra, scheme=scheme, unavailable=lambda why: PlatformUnavailable(
            GaveUp(self.platform, "token refresh", why, 1)))

    def close(self) -> None:
        self.http.close()
        self.session.close()
