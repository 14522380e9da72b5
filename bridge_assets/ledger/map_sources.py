"""Every source's documents of a set of periods, rebuilt into the canonical tables in one transaction.

A use case, not the canonical tables' owner: it runs each source's mapping and gives them what the
ledger knows (documents posted from earlier data), so it lives beside the plan, above `sources/` and
`canonical/`, which it calls.

The order matters: SedonaOffice invoices and credits first (export files and SedonaAPI loads, one
mapping), then what refers to them (SedonaAPI payments), then ServiceTrade, then the rule that a credit
taking an invoice off in full cancels both (when the user says so).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import duckdb

from bridge_assets.canonical import cancellations
from bridge_assets.sources.sedona_export import intake
from bridge_assets.ledger import store as ledger
from bridge_assets.sources.sedona_export import mapping
from bridge_assets.ledger import schema as ledger_schema
from bridge_assets.sources.sedona_api import sync as sedona_api_sync
from bridge_assets.sources.servicetrade import sync as servicetrade_sync
from bridge_assets.runtime.settings import BridgeSettings


@dataclasses.dataclass(frozen=True)
class CanonicalResult:
    sedona: mapping.MappingResult
    sedona_payments: int
    sedona_payments_rejected: int
    sedona_unconvertible: int
    servicetrade: servicetrade_sync.MapReport
    cancelled_by_full_credit: int

    @property
    def documents(self) -> int:
        return self.sedona.documents + self.sedona_payments + self.servicetrade.documents

    @property
    def rejected(self) -> int:
        return (self.sedona.rejected_documents + self.sedona_payments_rejected + self.sedona_unconvertible
                + self.servicetrade.rejected)


def map_all(con: duckdb.DuckDBPyConnection, periods: Sequence[str], settings: BridgeSettings) -> CanonicalResult:
    """Inside the caller's transaction."""
    intake.ensure_schema(con)
    ledger_schema.ensure_schema(con)
    sedona = mapping.map_periods(con, periods, mapping.MappingSettings(doc_number_prefix=settings.doc_number_prefix),
                                 known_doc_keys_sql=ledger.KNOWN_DOC_KEYS_SQL)
    unconvertible = sedona_api_sync.reject_unconvertible(con, periods)
    payments, payments_rejected = sedona_api_sync.map_payments(
        con, periods, prefix=settings.doc_number_prefix, known_doc_keys_sql=ledger.KNOWN_DOC_KEYS_SQL)
    servicetrade = servicetrade_sync.map_periods(con, periods, doc_number_prefix=settings.servicetrade_doc_prefix)
    full_credit = cancellations.apply_full_credit_rule(con, "sedona", periods, settings.full_credit_means_cancelled)
    return CanonicalResult(sedona, payments, payments_rejected, unconvertible, servicetrade, full_credit)
