"""SedonaAPI records as read: the wire's names and dates, and one record's raw JSON beside its typed fields.

Everything here is pure (no network, no database): the client, the extraction and the store build on it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any, Mapping

from bridge_assets.sources.sedona_api.config import SedonaApiAnswerError

# Unconfirmed names, kept in one place: the time stamp, and what identifies and dates each model.
# The sandbox emulator uses the same spellings.
MODIFIED_FIELD = "ModifiedDate"
RECORD_IDS = {
    "Customer": "CustomerId", "CustomerSite": "CustomerSiteId", "CustomerRecurring": "CustomerRecurringId",
    "CustomerInvoice": "InvoiceId", "CustomerCredit": "CreditId", "CustomerPayment": "PaymentId",
    "ServiceTicket": "ServiceTicketId", "AccountingPeriod": "AccountingPeriodId",
}
RECORD_NUMBERS = {
    "Customer": "CustomerNumber", "CustomerInvoice": "InvoiceNumber", "CustomerCredit": "CreditNumber",
    "CustomerPayment": "PaymentNumber", "ServiceTicket": "TicketNumber",
}
RECORD_DATES = {
    "CustomerInvoice": "InvoiceDate", "CustomerCredit": "CreditDate", "CustomerPayment": "PaymentDate",
    "ServiceTicket": "TicketDate",
}

PERIOD_MODELS = ("CustomerInvoice", "CustomerCredit", "ServiceTicket", "CustomerPayment")
REFERENCE_MODELS = ("Customer", "CustomerSite", "CustomerRecurring")
DEFAULT_MODELS = REFERENCE_MODELS + PERIOD_MODELS

NULL_DATE = dt.date(1899, 12, 30)           # SedonaOffice's "no date" (12/30/1899)


@dataclasses.dataclass(frozen=True)
class AccountingPeriod:
    period: str             # YYYY-MM
    start: dt.date
    end: dt.date
    status: str             # Future | Open | Closed | Re-Open

    @property
    def accepts_posting(self) -> bool:
        """SedonaOffice posts only into an Open period; a re-opened one is taken as open again."""
        return self.status in ("Open", "Re-Open")


# --- wire values ---------------------------------------------------------------------------------

def sedona_date_text(day: dt.date) -> str:
    return f"{day.month:02d}/{day.day:02d}/{day.year:04d}"


def parse_sedona_time(text: str) -> dt.date | dt.datetime | None:
    """`MM/DD/YYYY` -> date, with a time -> datetime, ISO forms too; the null date -> None.

    Raises ValueError for anything else.
    """
    text = text.strip()
    value: dt.date | dt.datetime
    for pattern, is_date in (("%m/%d/%Y", True), ("%m/%d/%Y %H:%M:%S", False), ("%m/%d/%Y %H:%M", False),
                             ("%m/%d/%Y %I:%M:%S %p", False)):
        try:
            moment = dt.datetime.strptime(text, pattern)
        except ValueError:
            continue
        value = moment.date() if is_date else moment
        break
    else:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        value = moment.date() if len(text) == 10 else moment.replace(tzinfo=None)
    day = value.date() if isinstance(value, dt.datetime) else value
    return None if day == NULL_DATE else value


def _typed(key: str, value: Any, problems: list[str], where: str) -> Any:
    if isinstance(value, dict):
        return {k: _typed(k, v, problems, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(key, v, problems, where) for v in value]
    if isinstance(value, str) and key.endswith("Date"):
        try:
            parsed = parse_sedona_time(value)
        except ValueError:
            problems.append(f"{where} {key} {value!r} is not a SedonaOffice date")
            return value
        if key != MODIFIED_FIELD and isinstance(parsed, dt.datetime) and parsed.time() == dt.time():
            return parsed.date()
        return parsed
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def period_bounds(period: str) -> tuple[dt.date, dt.date]:
    try:
        start = dt.datetime.strptime(period, "%Y-%m").date()
    except ValueError:
        raise ValueError(f"a period looks like 2026-08, not {period!r}") from None
    following = dt.date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return start, following - dt.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class SedonaRecord:
    """One record as read: the raw JSON (what the API said) beside typed fields (what we read in it)."""

    model: str
    record_id: str
    period: str | None
    modified: dt.datetime | None
    modified_text: str | None           # ModifiedDate exactly as the server wrote it
    fields: Mapping[str, Any]           # dates as date (None for 12/30/1899), numbers as Decimal
    raw_json: str
    fingerprint: str
    problems: tuple[str, ...] = ()      # values that could not be read; kept as text in `fields`

    @property
    def number(self) -> str | None:
        value = self.fields.get(RECORD_NUMBERS.get(self.model, ""))
        return None if value is None else str(value)


def parse_record(model: str, raw: Mapping[str, Any], period: str | None = None) -> SedonaRecord:
    """A record from the API (parsed with Decimal numbers) as a SedonaRecord."""
    id_field = RECORD_IDS.get(model)
    if id_field is None or raw.get(id_field) is None:
        raise SedonaApiAnswerError(f"a {model} record has no {id_field or 'id field'}; the client's RECORD_IDS "
                                   "table must name the field this tenant uses")
    raw_json = json.dumps(raw, default=_json_default, ensure_ascii=False, separators=(",", ":"))
    canonical = json.dumps(raw, default=_json_default, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    problems: list[str] = []
    record_id = str(raw[id_field])
    fields = _typed("", dict(raw), problems, f"{model} {record_id}")
    modified = fields.get(MODIFIED_FIELD)
    modified_text = raw.get(MODIFIED_FIELD)
    if modified_text is not None and not isinstance(modified, dt.datetime):
        if isinstance(modified, dt.date):
            modified = dt.datetime.combine(modified, dt.time())
        else:
            raise SedonaApiAnswerError(f"{model} {record_id} has {MODIFIED_FIELD} {modified_text!r}, which is not a "
                                       "time stamp the client can compare; incremental extraction cannot go on")
    if period is None and model in RECORD_DATES:
        day = fields.get(RECORD_DATES[model])
        period = f"{day:%Y-%m}" if isinstance(day, dt.date) else None
    return SedonaRecord(model, record_id, period, modified, modified_text, fields, raw_json,
                        hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:20], tuple(problems))


def record_from_json(model: str, raw_json: str, period: str | None = None) -> SedonaRecord:
    return parse_record(model, json.loads(raw_json, parse_float=Decimal), period)
