"""QuickBooks Online: adapter, client, payloads, auth and the webhook receiver."""
