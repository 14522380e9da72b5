"""Settings from the environment, with embedded defaults that run the whole bridge locally.

Every value can be set by an environment variable (a `.env` file in development). Nothing secret
lives here; destinations that need credentials read them from the environment themselves.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path


# The folders intake works in (here so configuration needs nothing from the sources).
@dataclasses.dataclass(frozen=True)
class Folders:
    inbox: Path
    archive: Path
    quarantine: Path
    work: Path
    duplicates_folder: Path | None = None     # default: `duplicates` beside the quarantine folder

    @property
    def duplicates(self) -> Path:
        return self.duplicates_folder or self.quarantine.parent / "duplicates"

    @property
    def columnar(self) -> Path:
        """The columnar (Parquet) copies of the received files' rows, beside the files themselves."""
        return self.archive.parent / "columnar"

    def create(self) -> "Folders":
        for folder in (self.inbox, self.archive, self.quarantine, self.work):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def _date_setting(name: str) -> dt.date | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a date; write it as YYYY-MM-DD (e.g. 2026-09-30)") from None


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclasses.dataclass(frozen=True)
class BridgeSettings:
    home: Path
    database_path: Path
    inbox: Path
    archive: Path
    quarantine: Path
    output: Path
    work: Path
    destinations: tuple[str, ...]
    doc_number_prefix: str
    header_aliases_file: str | None
    max_rejected_share: float
    max_rmr_change: float
    iif_max_docnum: int
    first_period: str
    books_closed_through: dt.date | None
    # API sources: each is on when its base URL is set (credentials are read by its client).
    sedona_api_enabled: bool = False
    sedona_api_full_pull_hours: float = 20.0
    full_credit_means_cancelled: bool = False
    servicetrade_enabled: bool = False
    servicetrade_doc_prefix: str = "ST-"
    servicetrade_books: str = ""
    # Whether servicetrade_pending_sensor polls (the safety net under ServiceTrade's webhooks; keep it on).
    servicetrade_polling: bool = True
    # A file in the inbox is taken only once nothing has written to it for this long.
    inbox_quiet_seconds: float = 120.0
    duplicates: Path | None = None
    # When the nightly run starts (cron), in the company's time zone.
    nightly_cron: str = "0 2 * * *"
    timezone: str = "America/New_York"
    # An interval schedule of the open period besides the nightly run: "hourly", "every 3 hours",
    # "daily at 18:30" (runtime/intervals.py), in `timezone`; empty: none.
    run_interval: str = ""

    @property
    def folders(self) -> Folders:
        return Folders(self.inbox, self.archive, self.quarantine, self.work, self.duplicates)

    @classmethod
    def from_env(cls, home: Path | str | None = None) -> "BridgeSettings":
        base = Path(home or _env("BRIDGE_HOME", "var")).absolute()
        try:
            share = float(_env("BRIDGE_MAX_REJECTED_SHARE", "0.05"))
            rmr = float(_env("BRIDGE_MAX_RMR_CHANGE", "0.5"))
            docnum = int(_env("BRIDGE_IIF_MAX_DOCNUM", "12"))
            quiet = float(_env("BRIDGE_INBOX_QUIET_SECONDS", "120"))
        except ValueError as exc:
            raise ValueError(f"a numeric BRIDGE_* setting is not a number: {exc}") from None
        return cls(
            home=base,
            database_path=Path(_env("BRIDGE_DATABASE", str(base / "bridge.duckdb"))),
            inbox=Path(_env("BRIDGE_INBOX", str(base / "inbox"))),
            archive=Path(_env("BRIDGE_ARCHIVE", str(base / "archive"))),
            quarantine=Path(_env("BRIDGE_QUARANTINE", str(base / "quarantine"))),
            output=Path(_env("BRIDGE_OUTPUT", str(base / "output"))),
            work=Path(_env("BRIDGE_WORK", str(base / "work"))),
            destinations=tuple(d.strip() for d in _env("BRIDGE_DESTINATIONS", "staging_csv,qbd_iif").split(",") if d.strip()),
            doc_number_prefix=_env("BRIDGE_SEDONA_DOC_PREFIX", ""),
            header_aliases_file=os.environ.get("BRIDGE_HEADER_ALIASES") or None,
            max_rejected_share=share,
            max_rmr_change=rmr,
            iif_max_docnum=docnum,
            first_period=os.environ.get("BRIDGE_FIRST_PERIOD", "").strip(),   # "": see canonical/periods.py
            books_closed_through=_date_setting("BRIDGE_BOOKS_CLOSED_THROUGH"),
            inbox_quiet_seconds=max(quiet, 0.0),
            duplicates=Path(_env("BRIDGE_DUPLICATES", str(base / "duplicates"))),
            nightly_cron=_env("BRIDGE_NIGHTLY_CRON", "0 2 * * *"),
            timezone=_env("BRIDGE_TIMEZONE", "America/New_York"),
            run_interval=_env("BRIDGE_RUN_INTERVAL", ""),
            **_source_settings(),
        )


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}={value!r} is not true or false")


def _source_settings() -> dict:
    try:
        hours = float(_env("SEDONA_API_FULL_PULL_HOURS", "20"))
    except ValueError:
        raise ValueError("SEDONA_API_FULL_PULL_HOURS is not a number of hours") from None
    destinations = [d.strip() for d in _env("BRIDGE_DESTINATIONS", "staging_csv,qbd_iif").split(",") if d.strip()]
    books = _env("BRIDGE_SERVICETRADE_BOOKS", destinations[0] if destinations else "")
    if destinations and books not in destinations:
        raise ValueError(f"BRIDGE_SERVICETRADE_BOOKS={books!r} is not one of BRIDGE_DESTINATIONS ({', '.join(destinations)}); "
                         "name the destination whose outcome ServiceTrade should be told")
    return {
        "sedona_api_enabled": bool(os.environ.get("SEDONA_API_BASE_URL", "").strip()),
        "sedona_api_full_pull_hours": hours,
        "full_credit_means_cancelled": _flag("BRIDGE_SEDONA_FULL_CREDIT_MEANS_CANCELLED", False),
        "servicetrade_enabled": bool(os.environ.get("SERVICETRADE_BASE_URL", "").strip()),
        "servicetrade_doc_prefix": os.environ.get("BRIDGE_SERVICETRADE_DOC_PREFIX", "ST-"),
        "servicetrade_books": books,
        "servicetrade_polling": _flag("BRIDGE_SERVICETRADE_POLLING", True),
    }
