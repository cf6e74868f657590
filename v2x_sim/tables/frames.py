"""Column tables as pandas or polars DataFrames (optional: neither is a core dependency).

``pip install 'v2x-sim[pandas]'`` or ``'v2x-sim[polars]'``. "None" in the integer
columns that may hold it (``-1`` in numpy tables) becomes a missing value: ``<NA>`` in
a pandas ``Int64`` column, null in polars.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from v2x_sim._core.errors import MissingExtraError
from v2x_sim.tables.formats import Table
from v2x_sim.tables.schema import nullable_columns


def _import(module: str, extra: str, what: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(f"{what} needs {module}: pip install 'v2x-sim[{extra}]'"
                                ) from None


def to_pandas(table: Table, stem: str = "") -> Any:
    """A pandas DataFrame of a column table (``stem`` names it, for its "none" columns)."""
    pd = _import("pandas", "pandas", "to_pandas()")
    nullable = nullable_columns(stem)
    data: dict[str, Any] = {}
    for name, raw in table.items():
        values = np.asarray(raw)
        if name in nullable and values.dtype.kind in "iu":
            column = pd.array(values, dtype="Int64")
            column[values < 0] = pd.NA
            data[name] = column
        elif values.dtype.kind == "O":
            data[name] = values.astype(str)
        else:
            data[name] = values
    return pd.DataFrame(data, index=pd.RangeIndex(len(next(iter(table.values()), ()))))


def to_polars(table: Table, stem: str = "") -> Any:
    """A polars DataFrame of a column table (``stem`` names it, for its "none" columns)."""
    pl = _import("polars", "polars", "to_polars()")
    nullable = nullable_columns(stem)
    columns = []
    for name, raw in table.items():
        values = np.asarray(raw)
        if name in nullable and values.dtype.kind in "iu":
            columns.append(pl.Series(name, [None if v < 0 else v for v in values.tolist()],
                                     dtype=pl.Int64))
        elif values.dtype.kind in "OU":
            columns.append(pl.Series(name, values.astype(str).tolist(), dtype=pl.Utf8))
        else:
            columns.append(pl.Series(name, values))
    return pl.DataFrame(columns)
