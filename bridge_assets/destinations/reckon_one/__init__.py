"""Reckon One by its API v2 (REST, OAuth 2 and an Azure APIM subscription key)."""
