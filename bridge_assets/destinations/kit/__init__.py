"""What every platform shares, so a new platform is its payloads, its auth data and its error table.

- `limits`: a platform's limits as data (per minute, per day, concurrent, batch) and the pacer;
- `http`: the paced HTTP client with full-jitter backoff, Retry-After and the platform's hooks;
- `oauth`: the OAuth2 token store (atomic, locked, a rotated refresh token saved before use);
- `secrets`: credentials that never print, and redaction of text passed on;
- `files` and `cells`: run files written durably, and spreadsheet-safe cells;
- `changes`: "a platform said something changed": the webhook spool, signature check and body limit;
- `cloud`: the Destination protocol for a ledger that takes one document per request (look-up before a
  create, read before an update or void, held by a closing date); a platform fills in its wire hooks;
- `settings`: a platform's settings read from the environment, with sentences naming the variable.
"""
