"""The staging CSV destination."""
