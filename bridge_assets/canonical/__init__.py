"""The one owner of the canonical tables: the writer, the loader, cancellations, validation."""
