"""Sage Business Cloud Accounting as a destination: `SageDestination` (adapter.py), its fields and errors (payloads.py)."""
