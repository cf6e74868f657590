"""Column tables on disk: CSV (always available) or Parquet (``pip install 'v2x-sim[parquet]'``).

A table is a dict of column name -> numpy array. Writing follows `v2x_sim.tables.schema`
("none" as an empty cell or a null, flags as 1/0 or booleans); reading gives back the
same dtypes: text ids stay text (``"007"`` is not ``7``), flags are booleans, integer
columns that may hold "none" use ``-1`` for it. A folder may hold either form of a
table; `find_table` prefers the Parquet file when both exist.

Errors name the file and, for CSV, the line: `InputFileError`.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import math
import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.atomic import write_bytes_atomic
from v2x_sim._core.csv_table import read_csv_records
from v2x_sim._core.errors import InputFileError
from v2x_sim.tables.schema import bool_columns, nullable_columns, text_columns

Table = dict[str, NDArray[Any]]
PARQUET_EXTRA = "pip install 'v2x-sim[parquet]'"


class TableFormat(StrEnum):
    """How a run's tables are written (``output.format``)."""

    CSV = "csv"
    PARQUET = "parquet"


def parquet_available() -> bool:
    """Whether pyarrow, which reads and writes Parquet, is installed."""
    return importlib.util.find_spec("pyarrow") is not None


def _cells(values: NDArray[Any], *, exact: bool, nullable: bool) -> list[str]:
    """CSV cells of one column: NaN and "none" empty, flags 1/0, floats rounded."""
    if nullable and values.dtype.kind in "iu":
        return ["" if v < 0 else str(v) for v in values.tolist()]
    if values.dtype.kind == "f":
        if exact:
            return ["" if not math.isfinite(v) else repr(v) for v in values.tolist()]
        return ["" if not math.isfinite(v) else repr(round(v, 6)) for v in values.tolist()]
    if values.dtype.kind == "b":
        return ["1" if v else "0" for v in values.tolist()]
    return ["" if v is None else str(v) for v in values.tolist()]


def table_csv_text(table: Table, *, exact: bool = False, stem: str = "") -> str:
    """CSV text of a column table (text quoted where CSV needs it).

    Floats are rounded to 6 decimals, or written at full precision with ``exact`` (for
    tables read back as input, such as ``network.csv``); the "none" columns of ``stem``
    (`v2x_sim.tables.schema.NULLABLE_INT`) write ``-1`` as an empty cell.
    """
    names = list(table)
    nullable = nullable_columns(stem)
    columns = [_cells(np.asarray(table[n]), exact=exact, nullable=n in nullable) for n in names]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(zip(*columns, strict=True))
    return buffer.getvalue()


def _require_pyarrow(path: Path) -> Any:
    if not parquet_available():
        raise InputFileError(path, f"Parquet needs pyarrow: {PARQUET_EXTRA}")
    import pyarrow as pa

    return pa


def parquet_bytes(table: Table, *, stem: str = "") -> bytes:
    """A Parquet file of a column table, in memory ("none" and NaN as nulls)."""
    pa = _require_pyarrow(Path(f"{stem or 'table'}.parquet"))
    import pyarrow.parquet as pq

    nullable = nullable_columns(stem)
    arrays, names = [], []
    for name, raw in table.items():
        values = np.asarray(raw)
        if values.dtype.kind in "iu" and name in nullable:
            arrays.append(pa.array(values, mask=values < 0))
        elif values.dtype.kind == "f":
            arrays.append(pa.array(values, mask=~np.isfinite(values)))
        elif values.dtype.kind in "OUS":
            arrays.append(pa.array(["" if v is None else str(v) for v in values.tolist()],
                                   type=pa.string()))
        else:
            arrays.append(pa.array(values))
        names.append(name)
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(arrays, names=names), sink)
    return bytes(sink.getvalue().to_pybytes())


def write_table(folder: Path, stem: str, table: Table, fmt: TableFormat = TableFormat.CSV,
                *, exact: bool = False) -> Path:
    """Write ``folder/<stem>.csv`` or ``.parquet`` atomically; returns the path."""
    if fmt == TableFormat.PARQUET:
        return write_bytes_atomic(folder / f"{stem}.parquet", parquet_bytes(table, stem=stem))
    text = table_csv_text(table, exact=exact, stem=stem)
    return write_bytes_atomic(folder / f"{stem}.csv", text.encode("utf-8"))


def find_table(folder: Path, stem: str) -> Path | None:
    """``<stem>.parquet`` or ``<stem>.csv`` in ``folder`` (Parquet first), or None."""
    for suffix in (".parquet", ".csv"):
        path = folder / f"{stem}{suffix}"
        if path.is_file():
            return path
    return None


_PLAIN_NUMBERS = re.compile(r"[0-9.eE+\-]+(?:,[0-9.eE+\-]+)*")  # cells joined by commas


def _plain_numbers(cells: list[str]) -> NDArray[Any] | None:
    """The cells as int64 (all integers) or float64, if each is a plain number, else None.

    The common case (a column this package wrote) parsed by Python's ``int``/``float``,
    several times faster than numpy's string arrays; cells of other characters (empty,
    "nan", spaces, ...) return None and take the general path. For plain numbers both
    parse to the same value (exact integers; floats correctly rounded), so the column is
    the one `_typed` would make either way.
    """
    if not cells or not _PLAIN_NUMBERS.fullmatch(",".join(cells)):
        return None  # (a cell holding a comma passes here and fails to parse below)
    try:
        return np.array([int(c) for c in cells], dtype=np.int64)
    except (ValueError, OverflowError):
        pass
    try:
        return np.array([float(c) for c in cells], dtype=np.float64)
    except ValueError:
        return None


def _typed(stem: str, name: str, cells: list[str], *, text: bool = False) -> NDArray[Any]:
    """A column from CSV cells, typed by `v2x_sim.tables.schema` or by its cells."""
    if not (text or name in text_columns(stem) or name in bool_columns(stem)
            or name.endswith("_unclear")):
        fast = _plain_numbers(cells)
        if fast is not None:
            return fast
    return _typed_by_numpy(stem, name, cells, text=text)


def _typed_by_numpy(stem: str, name: str, cells: list[str], *,
                    text: bool = False) -> NDArray[Any]:
    """`_typed` through numpy's string arrays: any cells (the general path)."""
    raw = np.array(cells, dtype=str)
    if text or name in text_columns(stem):
        return raw
    if name in bool_columns(stem) or name.endswith("_unclear"):
        return np.isin(np.char.lower(np.char.strip(raw)), ("1", "true"))
    empty = np.char.str_len(np.char.strip(raw)) == 0
    if name in nullable_columns(stem):
        try:
            return np.where(empty, "-1", raw).astype(np.int64)
        except (ValueError, OverflowError):  # past int64: read as float below
            pass
    if raw.size and not empty.any():
        try:
            return raw.astype(np.int64)
        except (ValueError, OverflowError):
            pass
    try:
        return np.where(empty, "nan", raw).astype(np.float64)
    except ValueError:
        return raw


def read_csv_table(path: Path, required: tuple[str, ...] = (), text: tuple[str, ...] = (),
                   *, stem: str | None = None) -> Table:
    """A CSV file with a header row as a column table.

    Args:
        path: the file.
        required: columns that must be present.
        text: further columns to keep as text.
        stem: the table's name for its column types (default: the file's stem).

    Raises:
        InputFileError: unreadable, empty, a duplicate or missing required column, or a
            row whose number of cells differs from the header's (line named).
    """
    stem = path.stem if stem is None else stem
    records = read_csv_records(path)
    if not records:
        raise InputFileError(path, "empty file: expected a header row", line=1)
    (_, header), body = records[0], records[1:]
    for line, row in body:
        if len(row) != len(header):
            raise InputFileError(path, f"row has {len(row)} cells but the header has "
                                       f"{len(header)}", line=line)
    names = [h.strip() for h in header]
    _check_names(path, names, required, line=1)
    rows = [row for _, row in body]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return {name: _typed(stem, name, list(cells), text=name in text)
            for name, cells in zip(names, columns, strict=True)}


def _check_names(path: Path, names: list[str], required: tuple[str, ...],
                 line: int | None) -> None:
    for name in names:
        if not name:
            raise InputFileError(path, "empty column name in the header", line=line)
        if names.count(name) > 1:
            raise InputFileError(path, f"column {name!r} appears more than once", line=line,
                                 column=name)
    for name in required:
        if name not in names:
            raise InputFileError(path, f"required column {name!r} is missing "
                                       f"(header: {', '.join(names)})", line=line, column=name)


def read_parquet_table(path: Path, required: tuple[str, ...] = (), *,
                       stem: str | None = None) -> Table:
    """A Parquet file as a column table, typed as `read_csv_table` types CSV.

    Raises:
        InputFileError: pyarrow is missing, the file is not Parquet, or a required
            column is missing.
    """
    _require_pyarrow(path)
    import pyarrow as pa
    import pyarrow.parquet as pq

    stem = path.stem if stem is None else stem
    try:
        data = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputFileError(path, f"not a readable Parquet file: {exc}") from None
    names = list(data.column_names)
    _check_names(path, names, required, line=None)
    out: Table = {}
    for name in names:
        column = data.column(name)
        kind = column.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            out[name] = np.array(column.fill_null("").to_pylist(), dtype=str)
        elif pa.types.is_boolean(kind):
            out[name] = np.array(column.fill_null(False).to_pylist(), dtype=bool)
        elif pa.types.is_integer(kind):
            missing = -1 if name in nullable_columns(stem) else 0
            out[name] = np.asarray(column.fill_null(missing).to_numpy(), dtype=np.int64)
        elif pa.types.is_floating(kind):
            out[name] = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
        else:
            out[name] = np.array([str(v) for v in column.to_pylist()], dtype=str)
        if name in text_columns(stem) and out[name].dtype.kind != "U":
            out[name] = out[name].astype(str)
    return out


def read_table(path: Path, required: tuple[str, ...] = (), *,
               stem: str | None = None) -> Table:
    """A table from ``path``, CSV or Parquet by its suffix."""
    if path.suffix == ".parquet":
        return read_parquet_table(path, required, stem=stem)
    return read_csv_table(path, required, stem=stem)
