"""Rows made in Python, handed to DuckDB as one relation (one statement for a batch, not one per row).

pandas is imported here on first use, not when a module that writes rows is imported: a company's code
location imports every such module to build its definitions but writes no rows, and pandas is most of
what it would otherwise hold in memory (README "Many companies", the memory of a code location).
"""

from __future__ import annotations

from typing import Sequence


def object_frame(rows: Sequence[Sequence], columns: Sequence[str]):
    """A pandas frame of `rows` with every column of dtype object: DuckDB takes each value as it is (a
    Decimal passed as text is cast by the INSERT to the column's DECIMAL, never guessed from the first rows)."""
    import pandas as pd

    return pd.DataFrame(rows, columns=list(columns), dtype=object)
