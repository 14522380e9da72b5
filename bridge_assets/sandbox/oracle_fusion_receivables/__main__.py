"""python -m bridge_assets.sandbox.oracle_fusion_receivables --port 0 --state ar.sqlite3

The first line on stdout is `Oracle Fusion Receivables emulator listening on http://HOST:PORT` (flushed)."""

from __future__ import annotations

import sys

from bridge_assets.sandbox.oracle_fusion_receivables.server import KIND

if __name__ == "__main__":
    sys.exit(KIND.main())
