"""Results on disk: every file is written under a temporary name, then renamed.

An interrupted or failed run therefore never leaves a half-written file that looks
whole; whole folders are swapped in at once by `v2x_sim._core.staged`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.atomic import write_text_atomic
from v2x_sim._core.errors import InputFileError


def ensure_folder(folder: Path) -> Path:
    """Create ``folder`` (and parents); an `InputFileError` if that is impossible."""
    if folder.exists() and not folder.is_dir():
        raise InputFileError(folder, "output path exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputFileError(folder, f"cannot create the output folder: {exc.strerror}") from None
    return folder


def json_text(data: Any) -> str:
    """Strict JSON (NaN not allowed: write it as null), indented."""
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


def write_json_atomic(path: Path, data: Any) -> Path:
    """Strict JSON (NaN written as null), indented, atomically."""
    return write_text_atomic(path, json_text(data))


def _format_column(values: NDArray[Any], exact: bool = False) -> list[str]:
    if values.dtype.kind == "f":
        if exact:
            return ["" if not math.isfinite(v) else repr(v) for v in values.tolist()]
        return ["" if not math.isfinite(v) else repr(round(v, 6)) for v in values.tolist()]
    if values.dtype.kind == "b":
        return ["1" if v else "0" for v in values.tolist()]
    return [str(v) for v in values.tolist()]


def table_csv_text(table: dict[str, NDArray[Any]], *, exact: bool = False) -> str:
    """CSV text of a column table (NaN as empty; text quoted where CSV needs it).

    Floats are rounded to 6 decimals, or written at full precision with ``exact`` (for
    tables read back as input, such as ``network.csv``).
    """
    names = list(table)
    columns = [_format_column(np.asarray(table[name]), exact) for name in names]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(zip(*columns, strict=True))
    return buffer.getvalue()


def write_table_csv(path: Path, table: dict[str, NDArray[Any]], *, exact: bool = False) -> Path:
    """Write a column table as CSV, atomically (``exact``: floats at full precision)."""
    return write_text_atomic(path, table_csv_text(table, exact=exact))


def write_rows_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Write rows of plain values as CSV, atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return write_text_atomic(path, buffer.getvalue())
