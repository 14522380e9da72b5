"""The wire side of the NetSuite adapter: OAuth 2.0 (the kit's token store) and the REST Record Service over the
kit's paced HTTP, nothing about documents.

OAuth 2.0 is NetSuite's preferred REST auth: an integration record's client id and secret, a refresh token from
the consent step, rotated on refresh and saved by `kit.oauth` before use. Access tokens last an hour.

Writes are `PUT /record/v1/<type>/eid:<externalId>` upserts: sending one again gives the same record, so the
kit retries them like reads (429, 5xx, dropped connections). The one write that is not an upsert, the
credit-memo transform, carries its own externalId, so a second one is refused as `DUP_RCRD`, never doubled.
Errors are `NsError` with NetSuite's `o:errorCode` and detail. Tokens never appear in a message or log line.
"""

from __future__ import annotations

from typing import Any, Mapping

import httpx

from bridge_assets.destinations.base import DestinationError
from bridge_assets.destinations.kit.http import Backoff, PacedClient, Platform, PlatformUnavailable, Retry
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.kit.oauth import BearerAuth, OAuthProvider, OAuthSession, TokenEndpointUnavailable

PLATFORM = "NetSuite"
ROOT = "/services/rest/record/v1"


class NetSuiteAuthError(DestinationError):
    """NetSuite refuses the integration's credentials; a person fixes the configuration."""


class NsError(Exception):
    def __init__(self, status: int, code: str, detail: str, call: str) -> None:
        self.status, self.code, self.call = status, code, call
        self.detail = detail.removeprefix("Error while accessing resource: ")
        super().__init__(f"{call}: {code} {self.detail}")


class NsUnavailable(Exception):
    def __init__(self, problem: str, http_status: int | None = None) -> None:
        super().__init__(f"NetSuite did not answer ({problem})")
        self.problem, self.http_status = problem, http_status


def netsuite_provider(token_url: str) -> OAuthProvider:
    return OAuthProvider(platform=PLATFORM, token_url=token_url, client_auth="basic", body_format="form",
                         access_lifetime_s=3600.0, refresh_token_setting="NETSUITE_REFRESH_TOKEN",
                         client_settings="NETSUITE_CLIENT_ID and NETSUITE_CLIENT_SECRET",
                         app_console=" (Setup > Integration > Manage Integrations)", auth_error=NetSuiteAuthError,
                         reconnect_error=NetSuiteAuthError)


class NsClient:
    def __init__(self, base_url: str, session: OAuthSession, *, limits: Limits, tries: int = 5,
                 timeout: httpx.Timeout | float = 60.0, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.auth = BearerAuth(session)
        self.http = PacedClient(Platform(PLATFORM, limits=limits, retry=Retry(tries=tries, backoff=Backoff(0.5, 20.0))),
                                base_url=self.base_url, timeout=timeout, transport=transport,
                                headers={"Accept": "application/json", "X-NetSuite-PropertyNameValidation": "Error"})

    def close(self) -> None:
        self.http.close()
        self.session.close()

    def call(self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
             missing_ok: bool = False) -> tuple[Any, httpx.Headers]:
        what = f"{method} {path.split('?')[0]}"
        try:
            response = self.http.send(method, ROOT + path, json=json, params=params, auth=self.auth, what=what)
        except PlatformUnavailable as failure:
            raise NsUnavailable(failure.gave_up.problem, failure.gave_up.status) from None
        except TokenEndpointUnavailable as failure:
            raise NsUnavailable(str(failure)) from None
        if response.status_code == 404 and missing_ok:
            return None, response.headers
        if response.status_code == 401:
            raise NetSuiteAuthError(f"NetSuite refused the integration's token on {what} (INVALID_LOGIN); check the "
                                    f"integration record, the role's permissions and NETSUITE_ACCOUNT")
        if response.status_code >= 400:
            try:
                detail = (response.json().get("o:errorDetails") or [{}])[0]
            except ValueError:
                detail = {"detail": f"HTTP {response.status_code}"}
            raise NsError(response.status_code, str(detail.get("o:errorCode") or "ERROR"),
                          str(detail.get("detail") or ""), what)
        return (response.json() if response.content else None), response.headers

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params or None)[0]

    def record(self, kind: str, key: str) -> dict[str, Any] | None:
        return self.call("GET", f"/{kind}/{key}", params={"expandSubResources": "true"}, missing_ok=True)[0]

    def ids(self, kind: str, q: str | None = None) -> list[str]:
        out, offset = [], 0
        while True:
            params = {"limit": 1000, "offset": offset, **({"q": q} if q else {})}
            page = self.get(f"/{kind}", **params)
            out += [str(item["id"]) for item in page.get("items", [])]
            if not page.get("hasMore"):
                return out
            offset += 1000
