"""BILL's HTTP: a session from `POST /login` (devKey, user, password, organization; 35 minutes idle), sent as the
`devKey` and `sessionId` headers, renewed by logging in again when BILL says it is invalid (BDC_1109).

Reads, changes and archives are retried by the kit (doing them twice is harmless). A create is not: BILL has no
idempotency key for invoices and their numbers are not unique, so a create is retried only after a 429 (BILL
refused it before doing anything); any other failure leaves it unknown, looked up by number on the next run.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, Mapping

import httpx

from bridge_assets.destinations.base import DestinationError
from bridge_assets.destinations.kit.http import PacedClient, Platform, PlatformUnavailable, Retry
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.kit.secrets import Secret
from bridge_assets.destinations.kit.small_ledger import send_once

BILL_API_URL = "https://gateway.prod.bill.com/connect/v3"


class BillAuthError(DestinationError):
    """BILL refuses the bridge's devKey, user or organization: a person fixes the settings."""


class BillUnavailable(PlatformUnavailable):
    """BILL did not answer usefully after every try: the outcome of a write is unknown."""


class BillRefused(Exception):
    def __init__(self, what: str, status: int, body: Any) -> None:
        errors = body if isinstance(body, list) else []
        text = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict))
        super().__init__(f"BILL refused {what} (HTTP {status}): {text or 'no reason given'}")
        self.status = status
        self.codes = {e.get("code") for e in errors if isinstance(e, dict)}


@dataclasses.dataclass(frozen=True)
class BillLimits(Limits):
    requests_per_minute: int | None = 300           # 20,000 an hour per devKey, spread evenly
    concurrent_requests: int | None = 3             # per devKey and organization (BDC_1322)


class Session:
    """The kit's `Auth` for BILL: log in when there is no session, again when BILL calls it invalid."""

    def __init__(self, client: "BillClient", username: str, password: str, organization: str, dev_key: str) -> None:
        self.client, self.username, self.organization = client, username, organization
        self._password, self._dev_key = Secret(password), Secret(dev_key)
        self._session: str | None = None
        self._lock = threading.Lock()
        self.logins = 0

    def headers(self) -> Mapping[str, str]:
        with self._lock:
            if self._session is None:
                self._login()
            return {"devKey": self._dev_key.reveal(), "sessionId": self._session or ""}

    def renew(self, rejected: Mapping[str, str]) -> bool:
        with self._lock:
            if self._session == rejected.get("sessionId"):
                self._login()
        return True

    def _login(self) -> None:
        response = self.client.http.send("POST", "/login", headers={"devKey": self._dev_key.reveal()}, json={
            "username": self.username, "password": self._password.reveal(), "organizationId": self.organization,
            "devKey": self._dev_key.reveal()}, what="POST /login")
        if response.status_code != 200:
            raise BillAuthError(f"BILL refused the bridge's sign-in ({BillRefused('login', response.status_code, _body(response))}"
                                f"): check BILL_USERNAME, BILL_PASSWORD, BILL_ORGANIZATION_ID and BILL_DEV_KEY")
        self._session = response.json()["sessionId"]
        self.logins += 1


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class BillClient:
    def __init__(self, api_url: str, username: str, password: str, organization: str, dev_key: str,
                 limits: Limits, *, tries: int = 5, timeout: float = 60.0) -> None:
        self.organization, self.tries = organization, tries
        self.http = PacedClient(Platform("BILL", limits=limits, retry=Retry(tries=tries), give_up=BillUnavailable),
                                base_url=api_url.rstrip("/"), timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
                                headers={"Accept": "application/json"})
        self.session = Session(self, username, password, organization, dev_key)

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, *, params: dict | None = None, json: Any = None, once: bool = False) -> Any:
        """The decoded answer of one call; `once`: a create retried only after a 429."""
        request = {"params": params, "json": json, "auth": self.session}
        if not once:
            return self._checked(self.http.send(method, path, **request), method, path)
        return self._checked(send_once(self.http, method, path, unavailable=BillUnavailable, tries=self.tries,
                                       **request), method, path)

    def _checked(self, response: httpx.Response, method: str, path: str) -> Any:
        if response.status_code == 401:
            raise BillAuthError(f"BILL refused {method} {path} after signing in again "
                                f"({BillRefused(path, 401, _body(response))}): check BILL_DEV_KEY and BILL_ORGANIZATION_ID")
        if response.status_code >= 400:
            raise BillRefused(f"{method} {path}", response.status_code, _body(response))
        return _body(response)
