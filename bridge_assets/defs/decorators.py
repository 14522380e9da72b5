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

from bridge_assets.runtime.companies import DEFAULT_COMPANY, company_tag

from .partitions import billing_periods

# Who answers for the assets in the UI: the people who act on held documents and differences.
OWNERS = ["team:bookkeeping"]

# The company this code location serves (runtime/companies.py: one process, one company). A deployment with a
# company registry runs one code location per company; asset keys are global to a Dagster instance, so each
# company's assets carry its key as a prefix (acme/accounting_documents), and its writing steps share a pool
# of its own: one DuckDB writer per company's file, different companies at once.
COMPANY = company_tag()
KEY_PREFIX: list[str] = [] if COMPANY == DEFAULT_COMPANY else [COMPANY]
WRITER_POOL = "duckdb_writer" if not KEY_PREFIX else f"duckdb_writer_{COMPANY}"
COMPANY_TAG = "bridge/company"
# On every job: the run queue lets one run per company at a time (dagster.yaml, tag_concurrency_limits).
JOB_TAGS = {COMPANY_TAG: COMPANY}


def asset_key(name: str) -> dg.AssetKey:
    """The key of the bridge's asset `name` in this code location (its company's prefix, if any)."""
    return dg.AssetKey([*KEY_PREFIX, name])


def op_name(name: str) -> str:
    """The op (step) name of the bridge's asset `name`, as run config names it."""
    return "__".join([*KEY_PREFIX, name])


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
                        metadata=_code_reference(fn), key_prefix=KEY_PREFIX or None, **kwargs)(fn)
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
