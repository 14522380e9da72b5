"""Building a destination adapter from its configured name."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Callable, Iterable, Iterator

from bridge_assets.destinations.base import Destination, DestinationError
from bridge_assets.destinations.freeagent.adapter import FreeAgentDestination
from bridge_assets.destinations.freshbooks.adapter import FreshbooksDestination
from bridge_assets.destinations.iif.adapter import IifDestination
from bridge_assets.destinations.myob.adapter import MyobDestination
from bridge_assets.destinations.business_central.adapter import BusinessCentralDestination
from bridge_assets.destinations.iif.adapter import IifDestination
from bridge_assets.destinations.netsuite.adapter import NetSuiteDestination
from bridge_assets.destinations.sap_business_one.adapter import SapBusinessOneDestination
from bridge_assets.destinations.odoo.adapter import OdooDestination
from bridge_assets.destinations.oracle_fusion_receivables.adapter import OracleReceivablesDestination
from bridge_assets.destinations.qbo.adapter import QboDestination
from bridge_assets.destinations.sage.adapter import SageDestination
from bridge_assets.destinations.staging_csv.adapter import StagingCsvDestination
from bridge_assets.destinations.xero.adapter import XeroDestination
from bridge_assets.destinations.zoho_books.adapter import ZohoBooksDestination
from bridge_assets.runtime.settings import BridgeSettings

def _staging_csv(settings: BridgeSettings) -> Destination:
    return StagingCsvDestination(settings.output / "staging", closed_through=settings.books_closed_through)


def _qbd_iif(settings: BridgeSettings) -> Destination:
    return IifDestination(settings.output / "qbd_iif", max_docnum=settings.iif_max_docnum,
                          closed_through=settings.books_closed_through)


# Every destination the bridge knows: its BRIDGE_DESTINATIONS name and how it is built from the settings.
# One line here turns a platform on (README, "Adding a platform"); the platform scenario test walks them all.
REGISTRY: dict[str, Callable[[BridgeSettings], Destination]] = {
    "qbo": QboDestination.from_env,
    "staging_csv": _staging_csv,
    "qbd_iif": _qbd_iif,
    "xero": XeroDestination.from_env,
    "freshbooks": FreshbooksDestination.from_env,
    "zoho_books": ZohoBooksDestination.from_env,
    "sage": SageDestination.from_env,
    "freeagent": FreeAgentDestination.from_env,
    "myob": MyobDestination.from_env,
    "odoo": OdooDestination.from_env,
    "business_central": BusinessCentralDestination.from_env,
    "netsuite": NetSuiteDestination.from_env,
    "sap_business_one": SapBusinessOneDestination.from_env,
    "oracle_fusion_receivables": OracleReceivablesDestination.from_env,
}
KNOWN = tuple(REGISTRY)


def build_destination(name: str, settings: BridgeSettings) -> Destination:
    build = REGISTRY.get(name)
    if build is None:
        raise DestinationError(
            f"BRIDGE_DESTINATIONS names '{name}', which is not a destination this bridge knows; "
            f"use a comma-separated list of: {', '.join(KNOWN)}"
        )
    return build(settings)


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
