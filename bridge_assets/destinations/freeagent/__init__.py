"""FreeAgent as a destination: `FreeAgentDestination` (adapter.py), its fields and errors (payloads.py)."""
