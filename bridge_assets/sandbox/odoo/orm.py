"""The slice of Odoo's ORM the external API exposes: search domains, search/read/search_read, field
rendering (many2one as [id, display_name], empty values as False), `write_date` stamping.

Records are plain dicts in the store (many2one as an id or False, x2many as lists of ids); what each
model allows to be created or changed lives in models.py and account.py.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Callable

from bridge_assets.sandbox.odoo.errors import UserError, ValidationError
from bridge_assets.sandbox.odoo.store import Store

# field -> the model it points to, per model (how `read` renders a many2one).
MANY2ONE: dict[str, dict[str, str]] = {
    "account.move": {"partner_id": "res.partner", "reversed_entry_id": "account.move", "company_id": "res.company",
                     "journal_id": "account.journal", "currency_id": "res.currency"},
    "account.move.line": {"move_id": "account.move", "product_id": "product.product", "partner_id": "res.partner"},
    "account.payment": {"partner_id": "res.partner", "journal_id": "account.journal", "move_id": "account.move"},
    "account.payment.register": {},
    "account.move.reversal": {},
    "res.partner": {"company_id": "res.company"},
    "product.product": {},
    "res.company": {},
    "account.journal": {},
    "res.currency": {},
}
DATETIME_FIELDS = {"write_date", "create_date"}
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "not in", "like", "ilike", "=like", "=ilike", "not ilike")


class Clock:
    """The emulator's clock: real time, run `time_scale` times faster from the moment it starts."""

    def __init__(self, time_scale: float = 1.0) -> None:
        self.scale = time_scale
        self.started = time.time()

    def now(self) -> dt.datetime:
        elapsed = (time.time() - self.started) * self.scale
        return dt.datetime.fromtimestamp(self.started + elapsed, dt.timezone.utc).replace(tzinfo=None, microsecond=0)

    def stamp(self) -> str:
        return self.now().strftime("%Y-%m-%d %H:%M:%S")


def display_name(model: str, record: dict[str, Any]) -> str:
    return str(record.get("name") or f"{model},{record['id']}")


def _text(value: Any) -> str:
    return "" if value is False or value is None else str(value)


def _like(pattern: str, value: str, insensitive: bool, anchored: bool) -> bool:
    import fnmatch
    if insensitive:
        pattern, value = pattern.lower(), value.lower()
    if anchored:
        return fnmatch.fnmatchcase(value, pattern.replace("%", "*").replace("_", "?"))
    return pattern in value


def matches_leaf(record: dict[str, Any], leaf: list | tuple) -> bool:
    if not isinstance(leaf, (list, tuple)) or len(leaf) != 3:
        raise ValueError(f"Invalid leaf {leaf!r}")
    field, operator, wanted = leaf
    if operator not in OPERATORS:
        raise ValueError(f"Invalid leaf {list(leaf)!r}: operator {operator!r} is not supported")
    value = record.get(field, False)
    if isinstance(value, list) and operator in ("=", "in"):           # x2many: any of its ids
        wanted_ids = wanted if isinstance(wanted, (list, tuple)) else [wanted]
        return bool(set(value) & set(wanted_ids))
    if operator == "=":
        return value == wanted or (wanted is False and value in (None, "", False))
    if operator == "!=":
        return not (value == wanted or (wanted is False and value in (None, "", False)))
    if operator == "in":
        return value in list(wanted)
    if operator == "not in":
        return value not in list(wanted)
    if operator in ("like", "ilike", "=like", "=ilike", "not ilike"):
        hit = _like(str(wanted), _text(value), "ilike" in operator, operator.startswith("="))
        return not hit if operator == "not ilike" else hit
    if value is False or value is None:
        return False
    return {"<": value < wanted, "<=": value <= wanted, ">": value > wanted, ">=": value >= wanted}[operator]


def matches(record: dict[str, Any], domain: list) -> bool:
    """Odoo's prefix-notation domain: leaves ANDed unless '&', '|', '!' say otherwise."""
    stack: list[bool] = []
    for item in reversed(list(domain or [])):
        if item == "!":
            stack.append(not stack.pop())
        elif item in ("&", "|"):
            first, second = stack.pop(), stack.pop()
            stack.append(first and second if item == "&" else first or second)
        else:
            stack.append(matches_leaf(record, item))
    return all(stack)


def order_key(order: str | None) -> Callable[[dict[str, Any]], Any]:
    parts = []
    for term in (order or "id").split(","):
        words = term.split()
        if words:
            parts.append((words[0], len(words) > 1 and words[1].lower() == "desc"))

    def key(record: dict[str, Any]) -> tuple:
        out = []
        for field, desc in parts:
            value = _text(record.get(field)) if not isinstance(record.get(field), (int, float)) else record[field]
            out.append(_Reverse(value) if desc else value)
        return tuple(out)
    return key


class _Reverse:
    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: "_Reverse") -> bool:
        return other.value < self.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reverse) and other.value == self.value


class Orm:
    """Generic reads over the store; `visible` is the record rule of the calling user."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def browse(self, model: str, ids: Any) -> list[dict[str, Any]]:
        ids = [ids] if isinstance(ids, int) else list(ids or [])
        found = []
        for record_id in ids:
            if not isinstance(record_id, int):
                raise ValueError(f"Invalid id {record_id!r} for {model}")
            record = self.store.get(model, record_id)
            if record is None:
                raise MissingError(model, record_id)
            found.append(record)
        return found

    def search(self, model: str, domain: list, offset: int = 0, limit: int | None = None,
               order: str | None = None, active_test: bool = True) -> list[int]:
        if model not in MANY2ONE:
            raise ValueError(f"Object {model} doesn't exist")
        rows = [r for r in self.store.all(model) if matches(r, domain)]
        if active_test and not any(isinstance(leaf, (list, tuple)) and leaf[0] == "active" for leaf in domain or []):
            rows = [r for r in rows if r.get("active", True) is not False]
        rows.sort(key=order_key(order))
        rows = rows[int(offset or 0):]
        if limit:
            rows = rows[:int(limit)]
        return [r["id"] for r in rows]

    def read(self, model: str, ids: Any, fields: list[str] | None = None) -> list[dict[str, Any]]:
        return [self.render(model, record, fields) for record in self.browse(model, ids)]

    def render(self, model: str, record: dict[str, Any], fields: list[str] | None = None) -> dict[str, Any]:
        names = list(fields) if fields else [k for k in record if not k.startswith("_")]
        out: dict[str, Any] = {"id": record["id"]}
        for name in names:
            if name not in record and name != "display_name":
                raise ValueError(f"Invalid field {name!r} on model {model!r}")
            value = display_name(model, record) if name == "display_name" else record[name]
            target = MANY2ONE.get(model, {}).get(name)
            if target and value:
                linked = self.store.get(target, value)
                value = [value, display_name(target, linked) if linked else str(value)]
            out[name] = False if value is None or value == "" else value
        return out

    def stamp(self, record: dict[str, Any], *, created: bool = False) -> dict[str, Any]:
        now = self.clock.stamp()
        record["write_date"] = now
        if created:
            record["create_date"] = now
        return record


class MissingError(UserError):
    def __init__(self, model: str, record_id: int) -> None:
        super().__init__(f"Record does not exist or has been deleted.\n(Record: {model}({record_id},), User: 2)")


__all__ = ["Clock", "MissingError", "Orm", "UserError", "ValidationError", "matches"]
