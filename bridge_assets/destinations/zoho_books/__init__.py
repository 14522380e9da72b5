"""Zoho Books as a destination: `ZohoBooksDestination` (adapter.py), its fields and errors (payloads.py)."""
