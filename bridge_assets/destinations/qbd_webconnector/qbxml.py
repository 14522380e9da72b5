"""qbXML as the bridge writes and reads it: message sets of requests, and their responses.

Elements are written in the order the qbXML schema fixes (QuickBooks refuses a message whose elements are
out of order), so each builder below lists them in that order. Money is written with two decimals, dates
as YYYY-MM-DD. Each request carries a `requestID` (its position in the set), echoed on its response.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any, Iterable

QBXML_VERSION = "13.0"
REF_NUMBER_MAX = {"Invoice": 11, "CreditMemo": 11, "ReceivePayment": 20}
NAME_MAX = {"Customer": 41, "ItemService": 31}
EDIT_SEQUENCE_MAX = 16
DESC_MAX = 4095


def E(tag: str, *children: Any, **attrs: str) -> ET.Element:
    """An element; children are elements, text (str/Decimal/date/int) or None (left out)."""
    element = ET.Element(tag, {k: v for k, v in attrs.items() if v is not None})
    for child in children:
        if child is None:
            continue
        if isinstance(child, ET.Element):
            element.append(child)
        elif isinstance(child, (list, tuple)):
            for c in child:
                if c is not None:
                    element.append(c)
        else:
            element.text = text(child)
    return element


def text(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def maybe(tag: str, value: Any) -> ET.Element | None:
    return None if value in (None, "") else E(tag, value)


def ref(tag: str, *, full_name: str | None = None, list_id: str | None = None) -> ET.Element:
    return E(tag, maybe("ListID", list_id) if list_id else maybe("FullName", full_name))


def message_set(requests: Iterable[ET.Element], on_error: str = "continueOnError") -> str:
    """The qbXML document for one sendRequestXML: requests numbered by position (`requestID`)."""
    rq = E("QBXMLMsgsRq", onError=on_error)
    for number, request in enumerate(requests):
        request.set("requestID", str(number))
        rq.append(request)
    body = ET.tostring(E("QBXML", rq), encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?><?qbxml version="{QBXML_VERSION}"?>{body}'


@dataclasses.dataclass(frozen=True)
class Response:
    """One `...Rs` of a response: its status, and the `...Ret` elements it carries."""

    tag: str
    request_id: str | None
    code: int
    severity: str
    message: str
    rets: tuple[ET.Element, ...]
    remaining: int = 0                  # iteratorRemainingCount of a query page
    iterator_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def first(self) -> ET.Element | None:
        return self.rets[0] if self.rets else None


class QbxmlUnreadable(ValueError):
    """The answer is not qbXML the bridge can read."""


def parse_responses(document: str) -> list[Response]:
    try:
        root = ET.fromstring(document.split("?>", 2)[-1] if document.lstrip().startswith("<?xml") else document)
    except ET.ParseError as problem:
        raise QbxmlUnreadable(f"the response is not well-formed qbXML ({problem})") from None
    rs = root.find("QBXMLMsgsRs")
    if rs is None:
        raise QbxmlUnreadable("the response has no QBXMLMsgsRs element")
    out = []
    for child in rs:
        out.append(Response(child.tag, child.get("requestID"), int(child.get("statusCode", "0")),
                            child.get("statusSeverity", "Info"), child.get("statusMessage", ""),
                            tuple(e for e in child if e.tag.endswith("Ret")),
                            int(child.get("iteratorRemainingCount") or 0), child.get("iteratorID")))
    return out


def by_request(responses: list[Response]) -> dict[int, Response]:
    return {int(r.request_id): r for r in responses if r.request_id is not None and r.request_id.isdigit()}


# --- reading a Ret --------------------------------------------------------------------------------------


def get(element: ET.Element | None, path: str) -> str | None:
    if element is None:
        return None
    found = element.find(path)
    return None if found is None or found.text is None else found.text


def amount(element: ET.Element | None, path: str) -> Decimal | None:
    value = get(element, path)
    return None if value is None else Decimal(value)


def day(element: ET.Element | None, path: str) -> dt.date | None:
    value = get(element, path)
    return None if value is None else dt.date.fromisoformat(value[:10])


def moment(element: ET.Element | None, path: str) -> dt.datetime | None:
    """A qbXML date-time (with its UTC offset) as naive UTC."""
    value = get(element, path)
    if value is None:
        return None
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed
