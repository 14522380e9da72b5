"""python -m bridge_assets.sandbox.qbd --port 0 --state qbd.sqlite3 --settings-json '{"service_url": ...}'

The first line on stdout is `QuickBooks Desktop emulator listening on http://HOST:PORT` (flushed).
"""

from __future__ import annotations

import sys

from bridge_assets.sandbox.qbd.server import KIND

if __name__ == "__main__":
    sys.exit(KIND.main())
