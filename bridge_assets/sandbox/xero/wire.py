"""Xero's wire: JSON with .NET dates (`/Date(ms+0000)/`) or XML when JSON was not asked for.

Inside the emulator dates are ISO text (`2026-09-01`) and moments epoch seconds (`_updated`); `render`
turns a stored object into what Xero answers: every date field as `/Date(ms+0000)/` plus its helper
`...String`, `UpdatedDateUTC` from `_updated`, private keys (leading `_`) left out. Requests may carry
dates as `YYYY-MM-DD`, an ISO date-time, or `/Date(ms)/` (the official SDK sends the last).
"""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from typing import Any
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response

from bridge_assets.sandbox.kit import wire as kit_wire

JSON_MEDIA_TYPE = "application/json; charset=utf-8"
XML_MEDIA_TYPE = "text/xml; charset=utf-8"
DATE_FIELDS = ("Date", "DueDate", "PeriodLockDate", "EndOfYearLockDate", "FullyPaidOnDate")
MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
PROVIDER = "Invoice bridge sandbox"


def loads(raw: bytes | str) -> Any:
    return kit_wire.loads(raw)


def dumps(payload: Any) -> bytes:
    return kit_wire.dumps(payload)


def ms(moment: float) -> str:
    return f"/Date({int(round(moment * 1000))}+0000)/"


def ms_date(day: str) -> str:
    moment = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), tzinfo=dt.timezone.utc)
    return ms(moment.timestamp())


def parse_date(value: Any) -> dt.date:
    """A request date as Xero takes it; ValueError when it is none of its forms."""
    text = str(value).strip()
    match = MS_DATE.match(text)
    if match:
        moment = dt.datetime.fromtimestamp(int(match.group(1)) / 1000, tz=dt.timezone.utc)
        return moment.date()
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(f"'{text}' is not a valid date") from None


def render(obj: Any) -> Any:
    """A stored object as Xero answers it (recursively)."""
    if isinstance(obj, list):
        return [render(item) for item in obj]
    if not isinstance(obj, dict):
        return obj
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if key.startswith("_"):
            continue
        if key in DATE_FIELDS and isinstance(value, str) and value and not MS_DATE.match(value):
            out[key] = ms_date(value)
            out[key + "String"] = f"{value}T00:00:00"
        else:
            out[key] = render(value)
    if "_updated" in obj:
        out["UpdatedDateUTC"] = ms(obj["_updated"])
    return out


def envelope(key: str | None = None, items: Any = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"Id": str(uuid.uuid4()), "Status": "OK", "ProviderName": PROVIDER,
                            "DateTimeUTC": ms(time.time())}
    if key is not None:
        body[key] = render(items)
    body.update(extra)
    return body


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "").lower()


def _singular(name: str) -> str:
    return {"Elements": "DataContractBase", "Addresses": "Address"}.get(
        name, name[:-1] if name.endswith("s") else name)


def _xml(name: str, value: Any) -> str:
    if isinstance(value, dict):
        inner = "".join(_xml(key, item) for key, item in value.items())
        return f"<{name}>{inner}</{name}>"
    if isinstance(value, list):
        child = _singular(name)
        return f"<{name}>{''.join(_xml(child, item) for item in value)}</{name}>"
    if value is None:
        return f"<{name} />"
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return f"<{name}>{escape(text)}</{name}>"


def to_xml(body: dict[str, Any], root: str = "Response") -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?>' + _xml(root, body)).encode("utf-8")


def respond(request: Request, body: dict[str, Any], status: int = 200, *, root: str = "Response",
            headers: dict[str, str] | None = None) -> Response:
    """JSON when the client asked for it, else XML (Xero's default)."""
    if wants_json(request):
        return Response(dumps(body), status, media_type=JSON_MEDIA_TYPE, headers=headers)
    return Response(to_xml(body, root), status, media_type=XML_MEDIA_TYPE, headers=headers)
