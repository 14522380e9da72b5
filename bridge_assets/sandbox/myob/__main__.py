"""python -m bridge_assets.sandbox.myob --port 0 --state myob.sqlite3: prints the URL it listens on first."""

from __future__ import annotations

import sys

from bridge_assets.sandbox.myob.server import KIND

if __name__ == "__main__":
    sys.exit(KIND.main())
