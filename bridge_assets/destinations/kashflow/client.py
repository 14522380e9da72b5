"""KashFlow's SOAP calls: a SOAP 1.1 document/literal envelope in namespace `KashFlowAPI` with `UserName` and
`Password` in every call (no session), sent through the kit's paced client; the answer's `<Op>Result`, `Status`
and `StatusDetail` read back. A `soap:Fault` about the credentials is a setting to fix; any other fault, a 5xx
or a dropped connection is tried again (an invoice number is unique in KashFlow, so a create that landed before
its answer was lost is refused the second time and recognised by the adapter).
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

import httpx

from bridge_assets.destinations.base import DestinationError
from bridge_assets.destinations.kit.http import PacedClient, Platform, PlatformUnavailable, Retry
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.kit.secrets import Secret

KASHFLOW_SERVICE_URL = "https://securedwebapp.com/api/service.asmx"
NS = "KashFlowAPI"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
_CREDENTIAL_FAULTS = ("username or password", "API access")


class KashFlowAuthError(DestinationError):
    """KashFlow refuses the bridge's user name or API password: a person fixes the settings."""


class KashFlowUnavailable(PlatformUnavailable):
    """KashFlow did not answer usefully after every try: the outcome of a write is unknown."""


class KashFlowNo(Exception):
    """KashFlow answered Status NO: `detail` is its StatusDetail."""

    def __init__(self, operation: str, detail: str) -> None:
        super().__init__(f"KashFlow refused {operation}: {detail}")
        self.detail = detail


def _fault(response: httpx.Response) -> str | None:
    if response.status_code != 500:
        return None
    try:
        node = ET.fromstring(response.content).find(f".//{{{SOAP_NS}}}Fault/faultstring")
    except ET.ParseError:
        return None
    return node.text if node is not None else None


def _retryable(response: httpx.Response) -> bool:
    fault = _fault(response)
    if fault is not None:
        return not any(words in fault for words in _CREDENTIAL_FAULTS)
    return response.status_code in (429, 500, 502, 503, 504)


def _xml(name: str, value: Any) -> str:
    if isinstance(value, list):
        return f"<{name}>" + "".join(_xml("InvoiceLine", item) for item in value) + f"</{name}>"
    if isinstance(value, dict):
        return f"<{name}>" + "".join(_xml(k, v) for k, v in value.items() if v is not None) + f"</{name}>"
    if isinstance(value, (dt.date, dt.datetime)):
        text = (value.date() if isinstance(value, dt.datetime) else value).isoformat() + "T00:00:00"
    elif isinstance(value, Decimal):
        text = format(value, "f")
    else:
        text = escape(str(value))
    return f"<{name}>{text}</{name}>"


def _value(element: ET.Element) -> Any:
    children = list(element)
    if not children:
        return element.text or ""
    if all(child.tag == f"{{{NS}}}InvoiceLine" for child in children):
        return [_value(child) for child in children]
    return {child.tag.rsplit("}", 1)[-1]: _value(child) for child in children}


class KashFlowClient:
    def __init__(self, service_url: str, username: str, password: str, limits: Limits, *, tries: int = 5,
                 timeout: float = 60.0) -> None:
        self.service_url, self.username, self._password = service_url, username, Secret(password)
        self.http = PacedClient(Platform("KashFlow", limits=limits, retry=Retry(tries=tries), retryable=_retryable,
                                         give_up=KashFlowUnavailable),
                                timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)))

    def close(self) -> None:
        self.http.close()

    def call(self, operation: str, **values: Any) -> Any:
        """`<operation>Result` of a call answered Status OK; KashFlowNo for Status NO."""
        inner = _xml("UserName", self.username) + _xml("Password", self._password.reveal()) + "".join(
            _xml(name, value) for name, value in values.items())
        envelope = (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body>'
                    f'<{operation} xmlns="{NS}">{inner}</{operation}></soap:Body></soap:Envelope>').encode()
        response = self.http.send("POST", self.service_url, content=envelope, what=operation, headers={
            "Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{NS}/{operation}"'})
        fault = _fault(response)
        if fault is not None:
            raise KashFlowAuthError(f"KashFlow refused {operation}: {fault}. Check KASHFLOW_USERNAME and "
                                    f"KASHFLOW_PASSWORD (the API password), and that the API is enabled in KashFlow "
                                    f"(Apps > API Settings > Enable SOAP API; allowed IP addresses)")
        try:
            answer = ET.fromstring(response.content).find(f".//{{{NS}}}{operation}Response")
        except ET.ParseError:
            answer = None
        if answer is None:
            raise KashFlowNo(operation, f"HTTP {response.status_code} without a SOAP answer")
        fields = {child.tag.rsplit("}", 1)[-1]: child for child in answer}
        status = fields.get("Status")
        if status is None or status.text != "OK":
            detail = fields.get("StatusDetail")
            raise KashFlowNo(operation, (detail.text if detail is not None else None) or "no reason given")
        result = fields.get(f"{operation}Result")
        return None if result is None else _value(result)
