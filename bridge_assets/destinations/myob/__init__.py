"""MYOB Business (AccountRight) as a destination: `MyobDestination` (adapter.py), its fields and errors (payloads.py)."""
