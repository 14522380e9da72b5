"""python -m bridge_assets.sandbox.freshbooks --port 0 --state fb.sqlite3: prints the URL it listens on first."""

from __future__ import annotations

import sys

from bridge_assets.sandbox.freshbooks.server import KIND

if __name__ == "__main__":
    sys.exit(KIND.main())
