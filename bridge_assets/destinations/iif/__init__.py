"""The QuickBooks Desktop IIF file destination."""
