"""The wire side of the SAP Business One adapter: Service Layer sessions and calls over the kit's paced HTTP.

Sessions, not tokens: `POST /Login {CompanyDB, UserName, Password}` answers the cookies `B1SESSION` (and `ROUTEID`
behind SAP's load balancer), sent on every call; a session dies after `SessionTimeout` idle minutes. `B1Session`
is the kit's `Auth`: it logs in on first use, and on a 401 (code 301, "Invalid session") logs in again once and
the call is sent again; a refused login is a configuration problem naming SAPB1_USERNAME / SAPB1_PASSWORD. The
session is ended (`Logout`) when the adapter closes, since every session holds a licence seat.

Writes are sent once more only when the answer proves the Service Layer never took them (429, 503); a dropped
answer leaves the outcome unknown and the adapter looks before writing again. The password and the session id
never appear in a message or log line.
"""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import quote

import httpx

from bridge_assets.destinations.base import DestinationError
from bridge_assets.destinations.kit.erp import send_unless_doubled
from bridge_assets.destinations.kit.http import Backoff, PacedClient, Platform, PlatformUnavailable, Retry
from bridge_assets.destinations.kit.limits import Limits

PLATFORM = "SAP Business One"


class B1LoginRefused(DestinationError):
    pass


class B1Error(Exception):
    def __init__(self, status: int, code: Any, value: str, call: str) -> None:
        self.status, self.code, self.value, self.call = status, code, value, call
        super().__init__(f"{call}: {code} {value}")


class B1Unavailable(Exception):
    def __init__(self, problem: str, call: str, sent: bool, http_status: int | None = None) -> None:
        super().__init__(f"SAP Business One did not answer {call} ({problem})")
        self.problem, self.sent, self.http_status = problem, sent, http_status


def error_of(response: httpx.Response) -> tuple[Any, str]:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        return None, f"HTTP {response.status_code}"
    message = error.get("message")
    return error.get("code"), str(message.get("value") if isinstance(message, dict) else message)


class B1Session:
    """The kit's `Auth` for the Service Layer: a B1SESSION cookie, logged in again when it times out."""

    def __init__(self, http: PacedClient, company_db: str, user: str, password: str) -> None:
        self.http, self.company_db, self.user = http, company_db, user
        self._password = password
        self._cookie: str | None = None
        self.logins = 0

    def __repr__(self) -> str:
        return f"B1Session(company_db={self.company_db!r}, user={self.user!r})"

    def headers(self) -> Mapping[str, str]:
        if self._cookie is None:
            self._login()
        return {"Cookie": self._cookie}

    def renew(self, rejected: Mapping[str, str]) -> bool:
        self._cookie = None
        self._login()
        return True

    def _login(self) -> None:
        response = self.http.send("POST", "Login", json={"CompanyDB": self.company_db, "UserName": self.user,
                                                        "Password": self._password}, what="Login")
        if response.status_code != 200:
            code, value = error_of(response)
            raise B1LoginRefused(f"SAP Business One refused the login of {self.user!r} to company {self.company_db!r} "
                                 f"({code} {value}); check SAPB1_USERNAME, SAPB1_PASSWORD and SAPB1_COMPANY_DB")
        parts = [f"B1SESSION={response.cookies.get('B1SESSION') or response.json()['SessionId']}"]
        if response.cookies.get("ROUTEID"):
            parts.append(f"ROUTEID={response.cookies['ROUTEID']}")
        self.http.cookies.clear()              # the cookie rides in our header, not in the client's jar
        self._cookie = "; ".join(parts)
        self.logins += 1

    def logout(self) -> None:
        if self._cookie is not None:
            try:
                self.http.send("POST", "Logout", headers={"Cookie": self._cookie}, tries=1, what="Logout")
            except PlatformUnavailable:
                pass
            self._cookie = None


class B1Client:
    def __init__(self, service_url: str, company_db: str, user: str, password: str, *, limits: Limits = Limits(),
                 tries: int = 5, timeout: httpx.Timeout | float = 60.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.http = PacedClient(Platform(PLATFORM, limits=limits, retry=Retry(tries=tries, backoff=Backoff(0.5, 20.0))),
                                base_url=service_url.rstrip("/") + "/", timeout=timeout, transport=transport,
                                headers={"Accept": "application/json"})
        self.session = B1Session(self.http, company_db, user, password)
        self.tries = tries

    def close(self) -> None:
        self.session.logout()
        self.http.close()

    def call(self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
             headers: Mapping[str, str] | None = None, missing_ok: bool = False) -> Any:
        write, what = method != "GET", f"{method} {path.split('?')[0]}"
        response = send_unless_doubled(
            self.http, method, path, write=write, what=what, tries=self.tries, json=json, params=params,
            headers=headers, auth=self.session,
            unavailable=lambda problem, status, sent: B1Unavailable(problem, what, sent=sent, http_status=status))
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 400:
            code, value = error_of(response)
            raise B1Error(response.status_code, code, value, what)
        return response.json() if response.content else None

    def rows(self, entity: str, filter_: str | None = None, page: int = 500) -> list[dict[str, Any]]:
        """Every row of an entity set matching `filter_`, following `odata.nextLink`."""
        out: list[dict[str, Any]] = []
        path: str | None = entity + (f"?$filter={quote(filter_)}" if filter_ else "")
        while path:
            answer = self.call("GET", path, headers={"Prefer": f"odata.maxpagesize={page}"})
            out += answer.get("value", [])
            path = answer.get("odata.nextLink")
        return out
