"""python -m bridge_assets.sandbox.qbo --host 127.0.0.1 --port 0 --state state.sqlite3 [--time-scale 60]

The first line on stdout is `QBO emulator listening on http://HOST:PORT` (flushed), so a parent
process can start it on port 0 and learn the URL. Logs go to stderr.
"""

from __future__ import annotations

import sys

from bridge_assets.sandbox.qbo.server import KIND

if __name__ == "__main__":
    sys.exit(KIND.main())
