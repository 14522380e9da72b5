"""FreshBooks as a destination: `FreshbooksDestination` (adapter.py), its fields and errors (payloads.py)."""
