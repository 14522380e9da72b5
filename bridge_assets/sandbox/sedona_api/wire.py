"""What goes over the wire: SedonaOffice dates, modification timestamps, JSON numbers, error bodies.

Dates are `MM/DD/YYYY` and `12/30/1899` means "no date" (SedonaOffice's zero date, which is also
the OLE Automation epoch). ModifiedDate has no documented format; `timestamp_format` picks one.
Time stamps are the tenant's wall-clock time with no offset, to the second.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.responses import Response

from bridge_assets.sandbox.kit import wire as json_codec

from bridge_assets.sandbox.sedona_api.settings import EmulatorSettings

NULL_DATE = "12/30/1899"
JSON_MEDIA_TYPE = "application/json; charset=utf-8"
_SEDONA_TIMESTAMP = "%m/%d/%Y %H:%M:%S"
_ISO_TIMESTAMP = "%Y-%m-%dT%H:%M:%S"


def sedona_date(day: dt.date | None) -> str:
    return NULL_DATE if day is None else f"{day.month:02d}/{day.day:02d}/{day.year:04d}"


def parse_sedona_date(text: str) -> dt.date | None:
    """`MM/DD/YYYY` as a date (None for the null date); ValueError for anything else."""
    text = text.strip()
    if text == NULL_DATE:
        return None
    return dt.datetime.strptime(text, "%m/%d/%Y").date()


def iso_date(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def timestamp_text(moment: dt.datetime, style: str) -> str:
    return moment.strftime(_SEDONA_TIMESTAMP if style == "sedona" else _ISO_TIMESTAMP)


def parse_timestamp(text: str) -> dt.datetime:
    """A `modifiedSince` value: either timestamp style, or a bare `MM/DD/YYYY` (midnight)."""
    text = text.strip()
    for pattern in (_SEDONA_TIMESTAMP, "%m/%d/%Y %H:%M", "%m/%d/%Y"):
        try:
            return dt.datetime.strptime(text, pattern)
        except ValueError:
            pass
    moment = dt.datetime.fromisoformat(text)
    return moment.replace(tzinfo=None, microsecond=0)


def dumps(payload: Any) -> bytes:
    return json_codec.dumps(payload, ascii_only=False)  # as a .NET decimal serialises: 2.00 stays 2.0


loads = json_codec.loads


def json_response(payload: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(payload), status_code=status_code, media_type=JSON_MEDIA_TYPE, headers=headers)


def error_response(settings: EmulatorSettings, status: int, message: str, *,
                   headers: dict[str, str] | None = None) -> Response:
    """An error in the configured style (the real body is not public)."""
    if settings.error_style == "problem":
        body = {"type": "about:blank", "title": _REASONS.get(status, "Error"), "status": status, "detail": message}
        return Response(dumps(body), status_code=status, media_type="application/problem+json", headers=headers)
    if settings.error_style == "text":
        return Response(message, status_code=status, media_type="text/plain; charset=utf-8", headers=headers)
    return json_response({"Message": message}, status, headers)


def service_unavailable() -> Response:
    """What IIS answers when the application pool is down: HTML, whatever the API's own style."""
    return Response("<html><head><title>Service Unavailable</title></head><body><h1>Service Unavailable</h1>"
                    "<p>HTTP Error 503. The service is unavailable.</p></body></html>",
                    status_code=503, media_type="text/html")


def bad_gateway() -> Response:
    return Response("502 Bad Gateway", status_code=502, media_type="text/plain")


_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
            500: "Internal Server Error"}
