"""The DuckDB file every stage reads and writes, opened briefly and never held across a network call.

DuckDB allows one writing process per file. Connections here are short-lived; when another process
holds the file, opening waits and retries (with a message that names the file if it gives up)
instead of failing a run that would have succeeded a second later.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Iterator

import duckdb


class DatabaseBusy(Exception):
    pass


class Database:
    def __init__(self, path: Path | str, *, lock_timeout_s: float = 120.0, memory_limit: str | None = None):
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        # DuckDB takes up to 80% of RAM by default; the bridge shares its machine with Dagster and the
        # destinations, so it is capped (and spills to disk beyond the cap). 640MB keeps the whole process
        # of a million-line transform under 1 GB (the polars frames and Python's share come on top; measured
        # 943 MB peak against 1.3 GB with a 1GB cap: README "Speed").
        self.memory_limit = memory_limit or os.environ.get("BRIDGE_DUCKDB_MEMORY_LIMIT", "640MB")

    def __repr__(self) -> str:
        return f"Database({str(self.path)!r})"

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.05
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only and self.path.exists(),
                                     config={"memory_limit": self.memory_limit})
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise DatabaseBusy(
                        f"the bridge database {self.path} is in use by another process and stayed locked for "
                        f"{self.lock_timeout_s:.0f} s; wait for the running job to finish (or stop it) and try again"
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        try:
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
