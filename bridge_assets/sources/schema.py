"""The tables the sources own, made once per process per database (runtime/schema_once.py).

The received SedonaOffice lines and files with SedonaAPI's statements (sources/sedona_lines.py), SedonaAPI's
stored records, watermarks, pulls and unconvertible records (sources/sedona_api/), and ServiceTrade's
invoices (sources/servicetrade/). Each source module calls `ensure_schema` before it reads or writes its
tables; the DDL runs the first time this process meets a database file and costs nothing afterwards. The
canonical tables the sources end in are canonical/'s (canonical/schema.py): a loader calls that too.
"""

from __future__ import annotations

import duckdb

from bridge_assets.runtime.schema_once import made_once


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Every source's own tables exist in `con`'s database (made once per process)."""
    made_once(con, "sources", _create)


def _create(con: duckdb.DuckDBPyConnection) -> None:
    # Imported here, not at the top: the source modules import this one for their `ensure_schema`, and
    # each keeps its DDL beside the code that reads its tables.
    from bridge_assets.sources import sedona_lines
    from bridge_assets.sources.sedona_api import store as sedona_api_store
    from bridge_assets.sources.sedona_api import sync as sedona_api_sync
    from bridge_assets.sources.servicetrade import sync as servicetrade_sync

    sedona_lines.create_schema(con)
    for ddl in (sedona_lines.STATEMENTS_DDL, sedona_api_store.SCHEMA_DDL,
                sedona_api_sync.SCHEMA_DDL, servicetrade_sync.SCHEMA_DDL):
        con.execute(ddl)
