"""The resources every asset, op and sensor is given: the bridge's settings and the DuckDB file."""

from pathlib import Path

import dagster as dg
import duckdb as duckdb_errors
from dagster_duckdb import DuckDBResource

from bridge_assets.runtime.settings import BridgeSettings
from bridge_assets.runtime.storage import Database, DatabaseBusy

from .dead_runs import settle_dead_runs


class BridgeResource(dg.ConfigurableResource):
    """Where the bridge keeps its files and database, and how it maps and posts.

    Every setting comes from the environment (see README, "Configuration"), read in one place
    (`runtime/settings.py`); `home` overrides BRIDGE_HOME, which tests use to run in a temporary folder.
    """

    home: str | None = None

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """At the start of every run, before its first step asks for a pool slot: a run that died
        without a word (its process gone) is marked failed and its slots freed, so this run proceeds."""
        if context.instance is None or context.run is None:
            return
        run_id = context.run.run_id
        settled = settle_dead_runs(context.instance, exclude=run_id, who=f"run {run_id[:8]} as it started")
        if (settled.failed or settled.freed) and context.log:
            context.log.warning(settled.describe())

    def settings(self) -> BridgeSettings:
        return BridgeSettings.from_env(self.home)


def bridge_resources(home: str | Path | None = None) -> dict[str, dg.ConfigurableResource]:
    """The code location's resources, built once from the settings: `bridge`, and `duckdb`, the one way
    to the bridge's DuckDB file (the storage seam: swap it for another database resource to grow past one
    machine)."""
    settings = BridgeSettings.from_env(home)
    return {
        "bridge": BridgeResource(home=_from_environment("BRIDGE_HOME", str(settings.home), given=home)),
        "duckdb": DuckDBResource(database=_from_environment("BRIDGE_DATABASE", str(settings.database_path),
                                                            given=home)),
    }


def _from_environment(variable: str, value: str, *, given) -> str | dg.EnvVar:
    """`dg.EnvVar(variable)` when the deployment sets it and no home was given (the UI's Resources tab
    then names the variable), else the value the settings resolved. Dagster 1.13's EnvVar has no default,
    so an unset variable would make the embedded defaults (README's first command) fail: those stay values."""
    if given is None and dg.EnvVar(variable).get_value():
        return dg.EnvVar(variable)
    return value


BUSY = "busy"
NOTHING_YET = "nothing yet"


def read_briefly(duckdb: DuckDBResource, read, *, lock_timeout_s: float):
    """(read(con), "") on the bridge database opened read-only for a moment (a sensor between runs'
    writes); (None, BUSY) when a run holds the file; (None, NOTHING_YET) when the tables read are not made yet."""
    try:
        with ledger_database(duckdb, lock_timeout_s=lock_timeout_s).connect(read_only=True) as con:
            return read(con), ""
    except DatabaseBusy:
        return None, BUSY
    except duckdb_errors.CatalogException:
        return None, NOTHING_YET


def ledger_database(duckdb: DuckDBResource, lock_timeout_s: float | None = None) -> Database:
    """The bridge's DuckDB file as the `duckdb` resource names it, opened briefly with the lock wait and the
    memory cap of `runtime/storage.py`: how assets and sensors reach the database."""
    return Database(duckdb.database) if lock_timeout_s is None else Database(duckdb.database, lock_timeout_s=lock_timeout_s)
