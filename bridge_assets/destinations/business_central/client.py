"""The wire side of the Business Central adapter: Entra client-credentials tokens, OData calls and $batch
over the kit's paced HTTP, nothing about documents.

Auth (`ClientCredentials`): a token for scope `https://api.businesscentral.dynamics.com/.default` from
`{BC_TOKEN_URL}` with the app's id and secret, kept in memory until a minute before it expires; a 401
fetches a new one once (the kit's `Auth.renew`). No refresh token is involved, so nothing is stored.

Limits (facts §9): 6,000 requests per 5 minutes and 100 at once per service principal; the pacer keeps
under 1,200 a minute (6,000 / 5) and 429's Retry-After is honoured. A read is retried on 429, 5xx and
dropped connections; a write is sent again only when the answer proves BC never took it (429, 503),
otherwise its outcome is unknown (`BcUnavailable(sent=True)`) and the adapter looks before writing again.
An error answer is `BcError` with BC's code (`Request_EntityChanged`, `Application_DialogException`...) and
message, the CorrelationId kept for support. The secret and tokens never appear in a message or log line.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Mapping

import httpx

from bridge_assets.destinations.kit.erp import send_unless_doubled
from bridge_assets.destinations.kit.http import Backoff, PacedClient, Platform, Retry
from bridge_assets.destinations.kit.limits import Limits

PLATFORM = "Business Central"
SCOPE = "https://api.businesscentral.dynamics.com/.default"


class BcError(Exception):
    def __init__(self, status: int, code: str, message: str, call: str) -> None:
        self.status, self.code, self.call = status, code, call
        self.message = message.split("  CorrelationId:")[0].strip()
        super().__init__(f"{call}: {code} {self.message}")


class BcUnavailable(Exception):
    def __init__(self, problem: str, call: str, sent: bool, http_status: int | None = None) -> None:
        super().__init__(f"Business Central did not answer {call} ({problem})")
        self.problem, self.sent, self.http_status = problem, sent, http_status


class BcAuthError(Exception):
    """The app's credentials are refused: a person fixes BC_CLIENT_ID / BC_CLIENT_SECRET or the app's registration."""


class ClientCredentials:
    """The kit's `Auth` for an Entra app: headers() with a live token, renew() after a 401."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, http: PacedClient) -> None:
        self.token_url, self.client_id = token_url, client_id
        self._secret = client_secret
        self._http = http
        self._token: str | None = None
        self._until = 0.0

    def __repr__(self) -> str:
        return f"ClientCredentials(client_id={self.client_id!r})"

    def headers(self) -> Mapping[str, str]:
        if self._token is None or time.monotonic() >= self._until:
            self._fetch()
        return {"Authorization": f"Bearer {self._token}"}

    def renew(self, rejected: Mapping[str, str]) -> bool:
        self._token = None
        self._fetch()
        return True

    def _fetch(self) -> None:
        response = self._http.send("POST", self.token_url, data={
            "grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self._secret,
            "scope": SCOPE}, what="token request")
        if response.status_code != 200:
            try:
                detail = response.json().get("error_description") or response.json().get("error")
            except ValueError:
                detail = f"HTTP {response.status_code}"
            raise BcAuthError(
                f"Microsoft Entra ID refused a token for the app {self.client_id} ({detail}); check BC_CLIENT_ID, "
                f"BC_CLIENT_SECRET and BC_TENANT, and that the app is registered in Business Central (Microsoft Entra "
                f"Applications) with API.ReadWrite.All consented")
        answer = response.json()
        self._token = answer["access_token"]
        lifetime = float(answer.get("expires_in", 3599))
        self._until = time.monotonic() + self._http.platform.limits.seconds(max(lifetime - 60, lifetime / 2))


def bc_platform(limits: Limits, tries: int) -> Platform:
    return Platform(PLATFORM, limits=limits, retry=Retry(tries=tries, backoff=Backoff(first_s=0.5, max_s=30.0)))


@dataclasses.dataclass
class BcClient:
    api_root: str                    # .../v2.0/{tenant}/{environment}/api/v2.0
    token_url: str
    client_id: str
    client_secret: str = dataclasses.field(repr=False)
    limits: Limits = Limits()
    tries: int = 5
    timeout: httpx.Timeout | float = 60.0
    transport: httpx.BaseTransport | None = None

    def __post_init__(self) -> None:
        self.http = PacedClient(bc_platform(self.limits, self.tries), headers={"Accept": "application/json"},
                                timeout=self.timeout, transport=self.transport)
        self.auth = ClientCredentials(self.token_url, self.client_id, self.client_secret, self.http)
        self.company_path = ""

    def close(self) -> None:
        self.http.close()

    def url(self, path: str) -> str:
        return f"{self.api_root.rstrip('/')}/{path.lstrip('/')}"

    def call(self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
             headers: Mapping[str, str] | None = None, write: bool | None = None) -> tuple[int, Any]:
        write = method != "GET" if write is None else write
        what = f"{method} {path.split('?')[0]}"
        response = send_unless_doubled(
            self.http, method, self.url(path), write=write, what=what, tries=self.tries, json=json, params=params,
            headers=headers, auth=self.auth,
            unavailable=lambda problem, status, sent: BcUnavailable(problem, what, sent=sent, http_status=status))
        return response.status_code, self._body(response, what)

    @staticmethod
    def _body(response: httpx.Response, what: str) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            body = response.json()
        except ValueError:
            raise BcUnavailable(f"an answer that is not JSON (HTTP {response.status_code})", what, sent=False,
                                http_status=response.status_code) from None
        if response.status_code == 401:
            raise BcAuthError(f"Business Central refused the app's token on {what}; check that the app is registered "
                              f"in Business Central with API.ReadWrite.All")
        if response.status_code >= 400:
            error = (body or {}).get("error") or {}
            raise BcError(response.status_code, str(error.get("code") or "Unknown"), str(error.get("message") or ""),
                          what)
        return body

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params or None)[1]

    def batch(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One $batch: the answers in the order of `requests` ({"status", "body"}); ids are the positions."""
        items = [{"id": str(i), **r, "url": f"{self.company_path}/{r['url']}".lstrip("/")} for i, r in enumerate(requests)]
        writes = any(r.get("method", "GET") != "GET" for r in requests)
        _, body = self.call("POST", "$batch", json={"requests": items}, write=writes)
        by_id = {str(r.get("id")): r for r in (body or {}).get("responses", [])}
        return [by_id.get(str(i), {"status": None, "body": None}) for i in range(len(requests))]
