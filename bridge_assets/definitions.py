"""The code location: everything the modules under defs/ define (assets, checks, jobs, sensors, schedules),
found by Dagster's folder loading, bound to the bridge's resources."""

from pathlib import Path

import dagster as dg

from bridge_assets.defs.resources import bridge_resources


def build_definitions(home: str | Path | None = None) -> dg.Definitions:
    """`home` overrides BRIDGE_HOME (tests run the code location in a temporary folder)."""
    folder = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    return folder.with_resources(bridge_resources(home))


defs = build_definitions()
