"""OData v4 as Business Central's API v2.0 speaks it: paths, $filter/$top/$skip, ETags, error bodies.

    companies(<guid>)/salesInvoices(<guid>)/salesInvoiceLines      -> [("companies", id), ("salesInvoices", id),
                                                                      ("salesInvoiceLines", None)]
    $filter: field eq|ne|gt|ge|lt|le value, joined by `and`; values 'text' (with '' for a quote), numbers,
             true/false, null, dates 2026-09-01 and date-times 2026-09-01T10:00:00Z

Errors: {"error": {"code": "<Category_Name>", "message": "...  CorrelationId:  <guid>."}} (facts §10).
"""

from __future__ import annotations

import base64
import re
import uuid
from decimal import Decimal
from typing import Any

SEGMENT = re.compile(r"^([A-Za-z.$]+)(?:\((.*)\))?$")
CLAUSE = re.compile(r"^\s*(\w+)\s+(eq|ne|gt|ge|lt|le)\s+(.+?)\s*$")


class ODataError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": f"{self.message}  CorrelationId:  {uuid.uuid4()}."}}


def not_found(path: str) -> ODataError:
    return ODataError(404, "BadRequest_NotFound", f"No HTTP resource was found that matches the request URI '{path}'.")


def segments(path: str) -> list[tuple[str, str | None]]:
    out = []
    for part in [p for p in path.strip("/").split("/") if p]:
        match = SEGMENT.match(part)
        if not match:
            raise not_found(path)
        key = match.group(2)
        out.append((match.group(1), key.strip("'") if key is not None else None))
    return out


def _value(text: str) -> Any:
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return text.replace("Z", "")
    try:
        return Decimal(text)
    except Exception:
        raise ODataError(400, "BadRequest_InvalidFilter", f"Invalid filter value {text!r}.") from None


def parse_filter(text: str | None) -> list[tuple[str, str, Any]]:
    if not text:
        return []
    clauses = []
    for part in re.split(r"\s+and\s+", text.strip()):
        match = CLAUSE.match(part)
        if not match:
            raise ODataError(400, "BadRequest_InvalidFilter", f"The $filter '{text}' is not supported here.")
        clauses.append((match.group(1), match.group(2), _value(match.group(3))))
    return clauses


def _comparable(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Decimal(str(value))
    if isinstance(value, str):
        return value.replace("Z", "")
    return value


def matches(record: dict[str, Any], clauses: list[tuple[str, str, Any]]) -> bool:
    for field, op, wanted in clauses:
        if field not in record:
            raise ODataError(400, "BadRequest_PropertyNotFound", f"Could not find a property named '{field}'.")
        have, want = _comparable(record[field]), _comparable(wanted)
        if op in ("eq", "ne"):
            if (have == want) != (op == "eq"):
                return False
            continue
        if have is None or want is None:
            return False
        if not {"gt": have > want, "ge": have >= want, "lt": have < want, "le": have <= want}[op]:
            return False
    return True


def etag(record: dict[str, Any]) -> str:
    raw = f"{record.get('_etag', 1)};{record['id']};".encode()
    return 'W/"' + base64.b64encode(b"JzE7" + raw).decode() + '"'


def check_if_match(record: dict[str, Any], header: str | None) -> None:
    if not header:
        raise ODataError(400, "BadRequest_InvalidToken",
                         "Could not validate the client concurrency token required by the service. Please provide a "
                         "valid token in the client request.")
    if header.strip() != "*" and header.strip() != etag(record):
        raise ODataError(409, "Request_EntityChanged", "Another user has already changed the record.")


def rendered(record: dict[str, Any]) -> dict[str, Any]:
    """What the API answers: the record without internal fields, with its @odata.etag first."""
    return {"@odata.etag": etag(record), **{k: v for k, v in record.items() if not k.startswith("_")}}
