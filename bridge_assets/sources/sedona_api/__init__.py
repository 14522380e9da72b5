"""SedonaAPI: the client, its rows and the sync into canonical rows."""
