"""Exception types: every user-facing failure carries what, where and what was expected.

The CLI turns any `V2XSimError` into one line on stderr and exit code 2; the library
never prints or exits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class V2XSimError(Exception):
    """Base class for errors caused by user input (scenario, files, flags)."""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class ScenarioError(V2XSimError):
    """A scenario field holds a value we cannot use.

    Attributes:
        path: dotted path of the field, e.g. ``incidents[0].link``.
        value: the offending value.
        reason: what was expected instead.
    """

    def __init__(self, path: str, value: Any, reason: str) -> None:
        self.path = path
        self.value = value
        self.reason = reason
        where = path or "(scenario)"
        super().__init__(f"{where} = {_show(value)}: {reason}")


class InputFileError(V2XSimError):
    """A data file (network CSV, trip list, YAML) is missing or malformed.

    Attributes:
        file: the file's path.
        line: 1-based line number, or None when the whole file is at fault.
        column: the column name, or None.
        reason: what is wrong.
    """

    def __init__(
        self,
        file: str | Path,
        reason: str,
        *,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = str(file)
        self.line = line
        self.column = column
        self.reason = reason
        where = self.file
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {reason}")
