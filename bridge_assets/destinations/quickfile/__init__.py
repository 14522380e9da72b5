"""QuickFile (UK) by its JSON API v1.2: every call in the `payload` envelope with an MD5-signed header."""
