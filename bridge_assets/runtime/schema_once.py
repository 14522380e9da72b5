"""A package's tables made once per process per database file, and only believed in once committed.

Each owner of tables (canonical/, ledger/) has one schema module whose `ensure_schema` calls `made_once`:
the first call in a process runs the owner's DDL and migrations (idempotent) and writes a token of its
own into `schema_made`; from then on the same transaction is not asked twice, and a call from any other
transaction that sees the token knows the making committed and remembers it, so later calls cost
nothing. A transaction that rolls back takes the token with it, and the next call makes the tables
again. An in-memory database is its own each time and is never remembered.
"""

from __future__ import annotations

import os
import threading
import uuid
import weakref
from typing import Callable

import duckdb

# One row per making (never replaced, so two transactions making at once do not collide).
MARKER_DDL = "CREATE TABLE IF NOT EXISTS schema_made (owner VARCHAR NOT NULL, token VARCHAR NOT NULL)"

_ready: set[tuple] = set()
# Made by this process, not yet seen committed: by which connection, in which transaction, with which token.
_made_in: dict[tuple, tuple[weakref.ref, int, str]] = {}
_lock = threading.Lock()


def made_once(con: duckdb.DuckDBPyConnection, owner: str, create: Callable[[duckdb.DuckDBPyConnection], None]) -> None:
    """Run `create(con)` unless this process has seen `owner`'s tables committed in `con`'s database."""
    database = _database_key(con)
    if database is None:
        create(con)
        return
    key = (owner, *database)
    if key in _ready:
        return
    with _lock:
        txid = con.execute("SELECT txid_current()").fetchall()[0][0]
        made = _made_in.get(key)
        if made is not None and made[0]() is con and made[1] == txid:
            return                                      # made earlier in this same transaction
        if made is not None and _committed(con, owner, made[2]):
            _ready.add(key)                             # another transaction sees it: it committed
            del _made_in[key]
            return
        create(con)
        token = f"{os.getpid()}:{uuid.uuid4()}"
        con.execute(MARKER_DDL)
        con.execute("INSERT INTO schema_made VALUES (?, ?)", [owner, token])
        _made_in[key] = (weakref.ref(con), txid, token)


def _database_key(con: duckdb.DuckDBPyConnection) -> tuple[str, int, int] | None:
    """The database file behind `con` (its path and inode, so a file made again under the same name is
    new), or None for an in-memory database."""
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()[0][0]
    if not path or not os.path.exists(path):
        return None
    stat = os.stat(path)
    return os.path.realpath(path), stat.st_dev, stat.st_ino


def _committed(con: duckdb.DuckDBPyConnection, owner: str, token: str) -> bool:
    """This transaction sees the token of the making (so the transaction that made it committed)."""
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_made' "
                         "AND schema_name = current_schema() AND database_name = current_database()").fetchall()[0][0]
    return bool(exists) and con.execute("SELECT count(*) FROM schema_made WHERE owner = ? AND token = ?",
                                        [owner, token]).fetchall()[0][0] > 0
