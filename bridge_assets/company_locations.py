"""One Dagster code location per company of the registry (runtime/companies.py).

A workspace names a company as an attribute of this module:

    load_from:
      - python_module: {module_name: bridge_assets.company_locations, attribute: acme, location_name: acme}

Loading the attribute makes the process company `acme`'s (its settings, home and DuckDB file; no other
company's variables) and then builds the code location as `bridge_assets.definitions` does, with every asset
key prefixed `acme/`, its writing steps in the pool `duckdb_writer_acme` and its runs tagged
`bridge/company=acme`. Dagster runs each code location, and each run of it, in processes of its own, and each
of those loads the attribute again, so a run of company A never opens company B's files.

Why a code location per company rather than company x month partitions: each company keeps its own first
period, schedule, time zone, destinations and sensors, a company's bad code or settings never stop another's
from loading, one company is reloaded or removed without touching the rest, and a deployment past one machine
gives each company its own user-code deployment with its state on its own volume (README, "Many companies").
"""

from __future__ import annotations

import os


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    from bridge_assets.runtime.companies import REGISTRY_VARIABLE, CompanyNotLoaded, enter_company

    company = enter_company(name)
    try:
        from bridge_assets.definitions import defs
    except (ValueError, OSError) as problem:      # a setting of this company's that cannot be used
        raise CompanyNotLoaded(f"company {company.key!r} ({company.title}) of {os.environ[REGISTRY_VARIABLE]} did "
                               f"not load, the other companies run on: {problem}. Correct its [company.{company.key}] "
                               f"table or its {company.variable_prefix}* variables, then reload its code location.") \
            from problem
    return defs
