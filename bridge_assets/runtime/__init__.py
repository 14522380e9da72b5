"""Configuration, the DuckDB file, fsync and process checks: used by every layer."""
