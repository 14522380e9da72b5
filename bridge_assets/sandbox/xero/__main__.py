"""python -m bridge_assets.sandbox.xero --host 127.0.0.1 --port 0 --state xero.sqlite3 [--time-scale 60]

The first line on stdout is `Xero emulator listening on http://HOST:PORT` (flushed).
"""

from __future__ import annotations

import sys

from bridge_assets.sandbox.xero.server import KIND

if __name__ == "__main__":
    sys.exit(KIND.main())
