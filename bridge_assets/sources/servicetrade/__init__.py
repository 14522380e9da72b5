"""ServiceTrade: the client, the field mapping, the sync into canonical rows and the write-back."""
