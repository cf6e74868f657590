"""Append-only column logs: one record per event, stored as typed arrays, never objects.

`ColumnLog` appends scalars into ``array.array`` columns (a few tens of nanoseconds per
value) and hands them out as numpy arrays at the end. `EventLog` keeps the rarer,
human-readable events (incident start, vehicle moved on) that go to ``events.csv``.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray


class ColumnLog:
    """A table built by appending rows; columns are typed ``array.array`` buffers.

    Args:
        columns: mapping of column name to ``array`` typecode ('d' float, 'q' int).
    """

    def __init__(self, columns: dict[str, str]) -> None:
        self._columns = {name: array(code) for name, code in columns.items()}

    def column(self, name: str) -> array:  # type: ignore[type-arg]
        """The live buffer of one column (append to it directly in hot loops)."""
        return self._columns[name]

    def __len__(self) -> int:
        first = next(iter(self._columns.values()))
        return len(first)

    def to_numpy(self) -> dict[str, NDArray[Any]]:
        """Copy every column into a numpy array."""
        return {name: np.frombuffer(col, dtype=col.typecode).copy() if len(col) else
                np.zeros(0, dtype=col.typecode)
                for name, col in self._columns.items()}


@dataclass(frozen=True, slots=True)
class Event:
    """A notable moment: what happened, when, where and to whom.

    Attributes:
        time_s: simulation time.
        kind: short machine-readable name (``incident_start``, ``moved_on``, ...).
        link: external link id (text), or empty when the event has no link.
        vehicle: trip id, or None (an empty cell in ``events.csv``).
        detail: free text for people.
    """

    time_s: float
    kind: str
    link: str = ""
    vehicle: int | None = None
    detail: str = ""


class EventLog:
    """Ordered list of `Event` records (rare events only: not one per message)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(self, time_s: float, kind: str, *, link: str = "", vehicle: int | None = None,
            detail: str = "") -> None:
        """Record one event (``link`` is the external id, as text)."""
        self.events.append(Event(time_s, kind, str(link), vehicle, detail))

    def __len__(self) -> int:
        return len(self.events)

    def count(self, kind: str) -> int:
        """How many events of one kind."""
        return sum(1 for e in self.events if e.kind == kind)
