"""The decorators every asset, sensor and schedule of the bridge is made with, so each says only what is its own.

A billing-period asset is monthly, backfilled in one run over a range, and writes DuckDB through the
`duckdb_writer` pool (DuckDB allows one writing process per file). Every asset has the same owner, tags for
its stage, domain, source and destination, and a code reference to its function; every sensor and schedule runs by default and shows its docstring in the UI as its
description (Dagster does not take the docstring of a sensor or schedule by itself).
"""

from __future__ import annotations

import inspect
from typing import Callable

import dagster as dg

from .partitions import billing_periods

# Who answers for the assets in the UI: the people who act on held documents and differences.
OWNERS = ["team:bookkeeping"]
WRITER_POOL = "duckdb_writer"


def _code_reference(fn: Callable) -> dict:
    """The asset's defining function, so the UI links the asset to its source file and line."""
    reference = dg.LocalFileCodeReference(file_path=inspect.getsourcefile(fn) or "", line_number=inspect.getsourcelines(fn)[1])
    return {"dagster/code_references": dg.CodeReferencesMetadataValue(code_references=[reference])}


def bridge_asset(stage: str, *, kinds: set[str], group_name: str | None = None, source: str = "all",
                 destination: str = "all", **kwargs) -> Callable:
    """An asset of the bridge: owned, tagged with its stage, domain, the source and the destination it is about
    (`all`: every one configured, `none`: it touches none), linked to its code, writing through the DuckDB pool."""
    tags = {"bridge/stage": stage, "bridge/domain": "billing", "bridge/source": source, "bridge/destination": destination}

    def wrap(fn: Callable):
        return dg.asset(group_name=group_name or stage, kinds=kinds, pool=WRITER_POOL, owners=OWNERS, tags=tags,
                        metadata=_code_reference(fn), **kwargs)(fn)
    return wrap


def period_asset(stage: str, *, kinds: set[str], group_name: str | None = None, **kwargs) -> Callable:
    """A bridge asset partitioned by billing period, run over a range of periods in one run."""
    return bridge_asset(stage, kinds=kinds, group_name=group_name, partitions_def=billing_periods,
                        backfill_policy=dg.BackfillPolicy.single_run(), **kwargs)


def _described(decorator: Callable, **kwargs) -> Callable:
    def wrap(fn: Callable):
        return decorator(description=inspect.cleandoc(fn.__doc__ or ""), name=fn.__name__, **kwargs)(fn)
    return wrap


def bridge_sensor(**kwargs) -> Callable:
    """A sensor that runs by default, described by its docstring."""
    return _described(dg.sensor, default_status=dg.DefaultSensorStatus.RUNNING, **kwargs)


def bridge_run_failure_sensor(**kwargs) -> Callable:
    return _described(dg.run_failure_sensor, default_status=dg.DefaultSensorStatus.RUNNING, **kwargs)


def bridge_asset_sensor(**kwargs) -> Callable:
    return _described(dg.asset_sensor, default_status=dg.DefaultSensorStatus.RUNNING, **kwargs)


def bridge_schedule(**kwargs) -> Callable:
    """A schedule that runs by default, described by its docstring."""
    return _described(dg.schedule, default_status=dg.DefaultScheduleStatus.RUNNING, **kwargs)
