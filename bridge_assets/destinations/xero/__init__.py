"""Xero (Accounting API 2.0, OAuth 2): the second cloud ledger. See `adapter.py`."""
