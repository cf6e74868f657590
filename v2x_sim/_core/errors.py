"""Exception types: every user-facing failure carries what, where and what was expected.

The CLI turns any `V2XSimError` into one line on stderr and exit code 2; the library
never prints or exits. Errors cross process boundaries intact (a study's worker
processes, Dask workers): every subclass pickles with its message and attributes,
whatever its constructor's signature.
"""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any

MAX_SHOWN_CHARS = 80
"""Longest rendering of a value inside an error message."""

_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxdict = _REPR.maxlist = _REPR.maxtuple = _REPR.maxset = 4
_REPR.maxstring = _REPR.maxother = MAX_SHOWN_CHARS


def show_value(value: Any) -> str:
    """A short rendering of ``value`` for a message, in bounded time and memory.

    `reprlib` stops after a few items per level and a few levels, so a huge or
    self-similar structure (a YAML alias bomb) costs no more than a small one.
    """
    try:
        text = _REPR.repr(value)
    except Exception:  # a user object whose __repr__ fails must not hide the error
        text = f"<{type(value).__name__}>"
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 3] + "..."


def _rebuild(cls: type[V2XSimError], args: tuple[Any, ...],
             state: dict[str, Any]) -> V2XSimError:
    """Unpickle an error without calling its ``__init__``: args and attributes as sent."""
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class V2XSimError(Exception):
    """Base class for errors caused by user input (scenario, files, flags).

    A subclass keeps its constructor's positional arguments as ``args`` and its text in
    ``message``: simpy re-raises a failed process's exception as ``type(e)(*e.args)``,
    and pickling (to and from worker processes) sends ``args`` and the attributes.
    """

    message: str | None = None

    def __str__(self) -> str:
        return self.message if self.message is not None else super().__str__()

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's default pickling would call cls(*args) after all; rebuilding
        # without __init__ also serves subclasses whose args differ from their signature
        return _rebuild, (type(self), self.args, dict(self.__dict__))


class ScenarioError(V2XSimError):
    """A scenario field holds a value we cannot use.

    Attributes:
        path: dotted path of the field, e.g. ``incidents[0].link``.
        value: the offending value.
        reason: what was expected instead.
    """

    def __init__(self, path: str, value: Any, reason: str) -> None:
        super().__init__(path, value, reason)
        self.path = path
        self.value = value
        self.reason = reason
        self.message = f"{path or '(scenario)'} = {show_value(value)}: {reason}"

    def __reduce__(self) -> tuple[Any, ...]:
        # the value travels as its short rendering: it may be huge or not picklable
        shown = show_value(self.value)
        return _rebuild, (type(self), (self.path, shown, self.reason),
                          {**self.__dict__, "value": shown})


class InputFileError(V2XSimError):
    """A data file (network CSV, trip list, YAML) is missing or malformed.

    Attributes:
        file: the file's path.
        line: 1-based line number, or None when the whole file is at fault.
        column: the column name, or None.
        reason: what is wrong.
    """

    def __init__(self, file: str | Path, reason: str, line: int | None = None,
                 column: str | None = None) -> None:
        super().__init__(str(file), reason, line, column)
        self.file = str(file)
        self.line = line
        self.column = column
        self.reason = reason
        where = self.file
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        self.message = f"{where}: {reason}"


def describe_exception(error: BaseException, limit: int = 200) -> str:
    """``Type: message`` of an exception in one line, at most ``limit`` characters."""
    detail = " ".join(str(error).split())
    text = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class PolicyError(V2XSimError):
    """A user's rerouting policy raised an exception.

    The message names ``control.policy``, the policy and the exception in one line;
    raised ``from`` the original exception (the CLI's ``--debug`` shows its traceback).

    Attributes:
        policy: the policy's ``package.module:Class``.
        during: the method that raised (``decide``, ``__init__``).
        detail: the exception as ``Type: message``.
    """

    def __init__(self, policy: str, during: str, detail: str) -> None:
        super().__init__(policy, during, detail)
        self.policy = policy
        self.during = during
        self.detail = detail
        self.message = (f"control.policy = {show_value(policy)}: the policy raised {detail} "
                        f"in {during}() (run with --debug for the traceback)")


class MissingExtraError(V2XSimError, ImportError):
    """An optional library is needed and not installed; the message names the extra."""
