"""The code location: everything under defs/ (assets, checks, jobs, sensors, schedules, resources)."""

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from bridge_assets.defs.alerts import sensors as alert_sensors
from bridge_assets.defs.assets import assets
from bridge_assets.defs.held import held_document_decision, released_documents_sensor
from bridge_assets.defs.jobs import bridge_job
from bridge_assets.defs.reconciliation import reconciliation_assets, reconciliation_jobs, reconciliation_sensors
from bridge_assets.defs.resources import BridgeResource
from bridge_assets.defs.revert import revert_job
from bridge_assets.defs.schedules import schedules
from bridge_assets.defs.sensors import sensors
from bridge_assets.runtime.settings import BridgeSettings


def build_definitions(home: str | Path | None = None) -> dg.Definitions:
    settings = BridgeSettings.from_env(home)
    return dg.Definitions(
        assets=[*assets, *reconciliation_assets],
        jobs=[bridge_job, revert_job, held_document_decision, *reconciliation_jobs],
        sensors=[*sensors, *alert_sensors, *reconciliation_sensors, released_documents_sensor],
        schedules=schedules,
        resources={
            "bridge": BridgeResource(home=str(settings.home)),
            # The storage seam: swap for another database resource to grow past one machine.
            "duckdb": DuckDBResource(database=str(settings.database_path)),
        },
    )


defs = build_definitions()
