"""python -m bridge_assets.sandbox.bill_com --host 127.0.0.1 --port 0 --state bill.sqlite3 [--time-scale 60]

The first line on stdout is `BILL emulator listening on http://HOST:PORT`; the API is `/connect/v3` of that URL.
"""

from __future__ import annotations

import sys

from bridge_assets.sandbox.bill_com.server import KIND

if __name__ == "__main__":
    sys.exit(KIND.main())
