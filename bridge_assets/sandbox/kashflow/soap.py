"""SOAP 1.1 envelopes as KashFlow's service speaks them: a request's operation and its values, an answer with
`<Op>Result`, `Status` and `StatusDetail`, and a `soap:Fault` (HTTP 500)."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from starlette.responses import Response

from bridge_assets.sandbox.kashflow.wsdl import NS

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
CUSTOMER = ("CustomerID", "Code", "Name")
LINE = ("Quantity", "Description", "Rate", "ChargeType", "VatAmount", "VatRate", "Sort", "ProductID")
INVOICE = ("InvoiceDBID", "InvoiceNumber", "InvoiceDate", "DueDate", "CustomerID", "CustomerReference", "NetAmount",
           "VatAmount", "AmountPaid", "Lines")


class Fault(Exception):
    """Answered as `soap:Fault` with this faultstring, HTTP 500."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _value(element: ET.Element) -> Any:
    children = list(element)
    if not children:
        return element.text or ""
    if all(_local(child.tag) == "InvoiceLine" for child in children):
        return [_value(child) for child in children]
    return {_local(child.tag): _value(child) for child in children}


def parse(raw: bytes) -> tuple[str, dict[str, Any]]:
    """(operation, its values by local name) of a request envelope; Fault when it is not one."""
    try:
        envelope = ET.fromstring(raw)
    except ET.ParseError as error:
        raise Fault(f"Server was unable to read request. ---> There is an error in XML document ({error}).") from None
    body = envelope.find(f"{{{SOAP_NS}}}Body")
    if _local(envelope.tag) != "Envelope" or body is None or not list(body):
        raise Fault("Server did not recognize the value of HTTP Header SOAPAction: not a SOAP 1.1 envelope.")
    operation = list(body)[0]
    if not operation.tag.startswith(f"{{{NS}}}"):
        raise Fault(f"Server did not recognize the request element {operation.tag}.")
    return _local(operation.tag), {_local(child.tag): _value(child) for child in operation}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):
        return f"{value.isoformat()}T00:00:00"
    return escape(str(value))


def _xml(name: str, value: Any, order: tuple[str, ...] = ()) -> str:
    if isinstance(value, list):
        return f"<{name}>" + "".join(_xml("InvoiceLine", item, LINE) for item in value) + f"</{name}>"
    if isinstance(value, dict):
        keys = order or tuple(value)
        inner = "".join(_xml(key, value[key], INVOICE if key == "Inv" else ()) for key in keys if value.get(key) is not None)
        return f"<{name}>{inner}</{name}>"
    return f"<{name}>{_text(value)}</{name}>"


def answer(operation: str, result: Any = None, *, ok: bool = True, detail: str = "",
           order: tuple[str, ...] = ()) -> Response:
    inner = _xml(f"{operation}Result", result, order) if result is not None else ""
    body = (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body>'
            f'<{operation}Response xmlns="{NS}">{inner}<Status>{"OK" if ok else "NO"}</Status>'
            f'<StatusDetail>{escape(detail)}</StatusDetail></{operation}Response></soap:Body></soap:Envelope>')
    return Response(body, media_type="text/xml; charset=utf-8")


def fault(message: str) -> Response:
    body = (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body><soap:Fault>'
            f'<faultcode>soap:Server</faultcode><faultstring>{escape(message)}</faultstring></soap:Fault>'
            f'</soap:Body></soap:Envelope>')
    return Response(body, status_code=500, media_type="text/xml; charset=utf-8")
