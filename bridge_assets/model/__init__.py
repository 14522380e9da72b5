"""The canonical document, money, the content hash (Python and SQL side by side), Action / Outcome / Status."""
