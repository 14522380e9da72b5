"""What goes over the wire: JSON with exact money, QuickBooks time stamps, the `intuit_tid` header.

QuickBooks reports times in the company's zone with an offset ("2015-07-24T10:33:39-07:00"); the
emulator's companies live in Pacific time like Intuit's sample companies. Request bodies are parsed
with Decimal so that 0.1 + 0.2 problems never reach a money rule.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from starlette.responses import Response

from bridge_assets.sandbox.kit import wire as json_codec

try:
    from zoneinfo import ZoneInfo

    COMPANY_ZONE: dt.tzinfo = ZoneInfo("America/Los_Angeles")
except Exception:  # pragma: no cover - a system without tz data still works, in UTC
    COMPANY_ZONE = dt.timezone.utc

CENT = Decimal("0.01")
JSON_MEDIA_TYPE = "application/json;charset=UTF-8"


def cents(value: Decimal) -> Decimal:
    """Round half-up to the cent, as QuickBooks does for line amounts and tax."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def to_decimal(value: Any) -> Decimal | None:
    """A JSON number (or numeric string) as Decimal; None when it is not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def dumps(payload: Any) -> bytes:
    return json_codec.dumps(payload)


loads = json_codec.loads


def company_now(epoch: float | None = None) -> dt.datetime:
    return dt.datetime.fromtimestamp(time.time() if epoch is None else epoch, COMPANY_ZONE)


def meta_time(epoch: float) -> str:
    """MetaData.CreateTime / LastUpdatedTime: seconds precision with the company's offset."""
    return company_now(epoch).replace(microsecond=0).isoformat()


def response_time(epoch: float | None = None) -> str:
    """The "time" member of every JSON answer: milliseconds with offset."""
    return company_now(epoch).isoformat(timespec="milliseconds")


def today() -> dt.date:
    return company_now().date()


def parse_timestamp(text: str) -> float | None:
    """An ISO-8601 date or date-time as epoch seconds; a bare date or naive time is company time."""
    try:
        if len(text) == 10:
            moment = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), COMPANY_ZONE)
        else:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=COMPANY_ZONE)
    except ValueError:
        return None
    return moment.timestamp()


def new_intuit_tid() -> str:
    """Shaped like Intuit's trace ids ("1-5f5b3c4d-..."); quoted to support when a call goes wrong."""
    return f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"


def json_response(payload: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(payload), status_code=status_code, media_type=JSON_MEDIA_TYPE, headers=headers)
