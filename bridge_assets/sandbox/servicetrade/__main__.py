"""python -m bridge_assets.sandbox.servicetrade --host 127.0.0.1 --port 0 --state st.sqlite3 [--seed 7 --lines 300]

The first line on stdout is `ServiceTrade emulator listening on http://HOST:PORT` (flushed), so a parent
process can start it on port 0 and learn the URL. The API is under `/api` of that URL. Logs go to stderr.
"""

from __future__ import annotations

import sys

from bridge_assets.sandbox.servicetrade.server import KIND

if __name__ == "__main__":
    sys.exit(KIND.main())
