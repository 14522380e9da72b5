"""python -m bridge_assets.sandbox.netsuite --port 0 --state ns.sqlite3

The first line on stdout is `NetSuite emulator listening on http://HOST:PORT` (flushed)."""

from __future__ import annotations

import sys

from bridge_assets.sandbox.netsuite.server import KIND

if __name__ == "__main__":
    sys.exit(KIND.main())
