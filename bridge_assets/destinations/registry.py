"""Building a destination adapter from its configured name."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Iterable, Iterator

from bridge_assets.destinations.base import Destination, DestinationError
from bridge_assets.destinations.iif.adapter import IifDestination
from bridge_assets.destinations.qbo.adapter import QboDestination
from bridge_assets.destinations.staging_csv.adapter import StagingCsvDestination
from bridge_assets.runtime.settings import BridgeSettings

KNOWN = ("qbo", "staging_csv", "qbd_iif")


def build_destination(name: str, settings: BridgeSettings) -> Destination:
    if name == "qbo":
        return QboDestination.from_env(settings)
    if name == "staging_csv":
        return StagingCsvDestination(settings.output / "staging", closed_through=settings.books_closed_through)
    if name == "qbd_iif":
        return IifDestination(settings.output / "qbd_iif", max_docnum=settings.iif_max_docnum,
                              closed_through=settings.books_closed_through)
    raise DestinationError(
        f"BRIDGE_DESTINATIONS names '{name}', which is not a destination this bridge knows; "
        f"use a comma-separated list of: {', '.join(KNOWN)}"
    )


@contextlib.contextmanager
def opened(name: str, settings: BridgeSettings) -> Iterator[Destination]:
    """A destination for the length of a block; network adapters close their connections after it."""
    destination = build_destination(name, settings)
    try:
        yield destination
    finally:
        close = getattr(destination, "close", None)
        if close is not None:
            close()


def book_close_dates(names: Iterable[str], settings: BridgeSettings) -> dict[str, dt.date | None]:
    """Where each destination's books are closed through (None: nothing closed)."""
    dates = {}
    for name in names:
        with opened(name, settings) as destination:
            dates[name] = destination.book_close_date()
    return dates
