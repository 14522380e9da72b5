"""Building a destination adapter from its configured name."""

from __future__ import annotations

from bridge_assets.destinations.base import Destination, DestinationError
from bridge_assets.destinations.iif import IifDestination
from bridge_assets.destinations.qbo import QboDestination
from bridge_assets.destinations.staging_csv import StagingCsvDestination
from bridge_assets.settings import BridgeSettings

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
