"""python -m bridge_assets.sandbox.business_central --port 0 --state bc.sqlite3

The first line on stdout is `Business Central emulator listening on http://HOST:PORT` (flushed)."""

from __future__ import annotations

import sys

from bridge_assets.sandbox.business_central.server import KIND

if __name__ == "__main__":
    sys.exit(KIND.main())
