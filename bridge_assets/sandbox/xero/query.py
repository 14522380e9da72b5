"""Reading lists as Xero filters them: `where`, `If-Modified-Since`, the id/number/status lists, paging.

`where` takes clauses joined by `AND`: a field path (`Contact.ContactID`), an operator (== != >= <= > <)
and a value: "text", guid("..."), DateTime(y,m,d), a number, true or false. Text compares exactly
(Xero's `.ToLower()` forms and `OR` are not emulated: refused with 400, never silently ignored).
Paging: with `page`, `pageSize` documents (default 100, at most 1000) with their lines and a
`pagination` block; without `page` every match, invoices and credit notes without their lines.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Mapping

from bridge_assets.sandbox.xero import errors

CLAUSE = re.compile(r'^\s*([A-Za-z][\w.]*)\s*(==|!=|>=|<=|>|<)\s*(guid\("([^"]*)"\)|DateTime\((\d+)\s*,\s*(\d+)\s*,'
                    r'\s*(\d+)\)|"((?:[^"\\]|\\.)*)"|true|false|-?\d+(?:\.\d+)?)\s*$')
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, "<": lambda a, b: a < b}
MAX_PAGE_SIZE = 1000


def _value(match: re.Match) -> Any:
    literal = match.group(3)
    if match.group(4) is not None:
        return match.group(4).lower()
    if match.group(5) is not None:
        return dt.date(int(match.group(5)), int(match.group(6)), int(match.group(7))).isoformat()
    if match.group(8) is not None:
        return match.group(8).replace('\\"', '"')
    if literal in ("true", "false"):
        return literal == "true"
    return Decimal(literal)


def _field(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def where_filter(where: str | None) -> Callable[[dict[str, Any]], bool]:
    if not where or not where.strip():
        return lambda obj: True
    tests = []
    for clause in re.split(r"\s+AND\s+", where.strip(), flags=re.IGNORECASE):
        match = CLAUSE.match(clause)
        if match is None:
            raise errors.bad_request(f"The where clause '{clause}' is not supported by this emulator "
                                     f"(field operator value, joined by AND)")
        path, operator, value = match.group(1), OPERATORS[match.group(2)], _value(match)

        def test(obj: dict[str, Any], path=path, operator=operator, value=value) -> bool:
            have = _field(obj, path)
            if isinstance(value, Decimal):
                try:
                    have = Decimal(str(have))
                except (InvalidOperation, ValueError):
                    return False
            elif isinstance(value, str) and have is not None:
                have = str(have).lower() if path.endswith("ID") else str(have)
            try:
                return have is not None and operator(have, value)
            except TypeError:
                return False
        tests.append(test)
    return lambda obj: all(test(obj) for test in tests)


def modified_since(header: str | None) -> float | None:
    """`If-Modified-Since` as epoch seconds (an HTTP date, or ISO 8601 as Xero's SDKs send it)."""
    if not header:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        try:
            moment = dt.datetime.fromisoformat(header.strip().replace("Z", "+00:00"))
        except ValueError:
            raise errors.bad_request(f"If-Modified-Since '{header}' is not a date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.timestamp()


def select(objects: list[dict[str, Any]], params: Mapping[str, str], since: float | None, *, id_field: str,
           number_field: str | None, status_field: str = "Status") -> list[dict[str, Any]]:
    keep = where_filter(params.get("where"))
    ids = {v.strip().lower() for v in (params.get("IDs") or "").split(",") if v.strip()}
    numbers = {v.strip() for v in (params.get(f"{number_field}s") or "").split(",") if v.strip()} if number_field \
        else set()
    statuses = {v.strip().upper() for v in (params.get("Statuses") or "").split(",") if v.strip()}
    contacts = {v.strip().lower() for v in (params.get("ContactIDs") or "").split(",") if v.strip()}
    chosen = []
    for obj in objects:
        if since is not None and obj.get("_updated", 0) < since:
            continue
        if ids and str(obj.get(id_field)).lower() not in ids:
            continue
        if numbers and obj.get(number_field) not in numbers:
            continue
        if statuses and str(obj.get(status_field)) not in statuses:
            continue
        if contacts and str((obj.get("Contact") or {}).get("ContactID")).lower() not in contacts:
            continue
        if keep(obj):
            chosen.append(obj)
    return chosen


def page_of(objects: list[dict[str, Any]], params: Mapping[str, str], default_size: int,
            *, summary_without: str | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """(the page asked for, the pagination block) or, without `page`, every object (lines left out)."""
    if params.get("page") is None:
        if summary_without:
            objects = [{k: v for k, v in obj.items() if k != summary_without} for obj in objects]
        return objects, None
    try:
        page = int(params["page"])
        size = int(params.get("pageSize") or default_size)
    except ValueError:
        raise errors.bad_request("page and pageSize must be whole numbers") from None
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise errors.bad_request(f"page starts at 1 and pageSize is 1 to {MAX_PAGE_SIZE}")
    count = len(objects)
    block = {"page": page, "pageSize": size, "pageCount": (count + size - 1) // size, "itemCount": count}
    return objects[(page - 1) * size: page * size], block
