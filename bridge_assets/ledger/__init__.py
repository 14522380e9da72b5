"""Exactly-once state: the ledger, the plan, posting, revert, the held queue and number reuse."""
