"""Reading user CSV files with errors that name file, line and column.

Shared by every input format (network nodes and links, trip lists): UTF-8 with an
optional byte-order mark, a header row, blank lines skipped but still counted in the
1-based physical line numbers that errors report.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from v2x_sim._core.errors import InputFileError


def read_csv_records(path: Path) -> list[tuple[int, list[str]]]:
    """Non-blank CSV records with their 1-based physical line numbers."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            try:
                # a row is blank when every cell is; most rows' first cell already says no
                return [(reader.line_num, r) for r in reader
                        if r and (r[0].strip() or any(f.strip() for f in r))]
            except csv.Error as exc:
                raise InputFileError(path, f"not valid CSV: {exc}", line=reader.line_num) from None
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except UnicodeDecodeError:
        raise InputFileError(path, "not UTF-8 text") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot read file: {exc.strerror}") from None


def check_header(path: Path, line: int, names: list[str], required: Iterable[str],
                 optional: Iterable[str]) -> None:
    """Every column known and unique, every required column present."""
    required, optional = tuple(required), tuple(optional)
    allowed = (*required, *optional)
    for name in names:
        if name not in allowed:
            raise InputFileError(path, f"unknown column {name!r}; expected columns: "
                                       f"{', '.join(allowed)}", line=line, column=name)
        if names.count(name) > 1:
            raise InputFileError(path, f"column {name!r} appears more than once",
                                 line=line, column=name)
    for name in required:
        if name not in names:
            raise InputFileError(path, f"required column {name!r} is missing",
                                 line=line, column=name)
