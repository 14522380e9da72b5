"""python -m bridge_assets.sandbox.sap_business_one --port 0 --state b1.sqlite3

The first line on stdout is `SAP Business One emulator listening on http://HOST:PORT` (flushed)."""

from __future__ import annotations

import sys

from bridge_assets.sandbox.sap_business_one.server import KIND

if __name__ == "__main__":
    sys.exit(KIND.main())
