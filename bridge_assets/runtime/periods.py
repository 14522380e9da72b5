"""The first billing period the bridge keeps, so a fresh install is not mostly "missing" periods.

`BRIDGE_FIRST_PERIOD` wins when set. Otherwise the earliest period in the data (the canonical documents),
remembered in `$BRIDGE_WORK/first_period.txt` once found, so every process that loads the code location
(webserver, daemon, each run) agrees without opening the database while a run writes it. With no data yet:
the last 12 months, the open one included. An export dated before the first period is quarantined with a
note naming BRIDGE_FIRST_PERIOD (sources/sedona_export/watch.py).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb

from bridge_assets.runtime.settings import BridgeSettings

MONTHS_BACK = 12
PIN_FILE = "first_period.txt"
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def months_before(day: dt.date, months: int) -> str:
    """The period `months` - 1 months before `day`'s month: the first of the last `months` months."""
    index = day.year * 12 + day.month - 1 - (months - 1)
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def earliest_in_data(database: Path) -> str | None:
    """The earliest period of the canonical documents, or None (no database, no documents, or it is locked
    by a writer right now: then the caller falls back and asks again at the next load)."""
    if not database.exists():
        return None
    try:
        with duckdb.connect(str(database), read_only=True) as con:
            tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
            if "accounting_documents" not in tables:
                return None
            return con.execute("SELECT min(period) FROM accounting_documents").fetchall()[0][0]
    except duckdb.Error:
        return None


def first_period(settings: BridgeSettings, today: dt.date | None = None) -> str:
    if settings.first_period:
        if not _PERIOD.match(settings.first_period):
            raise ValueError(f"BRIDGE_FIRST_PERIOD={settings.first_period!r} is not a period; write it as YYYY-MM "
                             "(e.g. 2026-01)")
        return settings.first_period
    pin = settings.work / PIN_FILE
    if pin.exists() and _PERIOD.match(pin.read_text().strip()):
        return pin.read_text().strip()
    found = earliest_in_data(settings.database_path)
    if found and _PERIOD.match(found):
        pin.parent.mkdir(parents=True, exist_ok=True)
        pin.write_text(found + "\n")
        return found
    return months_before(today or dt.date.today(), MONTHS_BACK)
