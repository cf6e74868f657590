"""Every trip's static facts and live state as numpy columns (`VehicleTable`).

A row is one trip (a shuttle makes one trip per round of its line). Rows are added as
trips are created and never removed, so a row index is the trip id. Vectorised code
(message flows, policies, summaries) reads these columns; the movement engine writes
the live ones (``link``, ``entered_s``, ``ready_s``) as vehicles move.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

NOT_ON_LINK = -1

_COLUMNS: dict[str, tuple[type, float | int]] = {
    # static facts
    "kind": (np.int8, 0),
    "connected": (np.bool_, False),
    "origin": (np.int64, -1),
    "destination": (np.int64, -1),
    "depart_s": (np.float64, np.nan),
    "line": (np.int64, -1),
    "pce": (np.float64, 1.0),
    # free-flow time of the shortest path from origin through any stops to destination
    "shortest_s": (np.float64, np.nan),
    # the driver follows route advice (drawn once, from the class's compliance share)
    "compliant": (np.bool_, False),
    # live state and outcome
    "link": (np.int64, NOT_ON_LINK),
    "entered_s": (np.float64, np.nan),
    "ready_s": (np.float64, np.nan),
    "first_entry_s": (np.float64, np.nan),
    "arrive_s": (np.float64, np.nan),
    "dwell_s": (np.float64, 0.0),
    "moved_on": (np.int64, 0),
    # the last completed link: what a status report tells the cloud
    "last_link": (np.int64, -1),
    "last_travel_s": (np.float64, np.nan),
    "last_exit_s": (np.float64, np.nan),
    "reroutes": (np.int64, 0),
}


class VehicleTable:
    """Growable struct of arrays, one row per trip.

    Args:
        capacity: rows to allocate up front (grows by doubling).
    """

    kind: NDArray[np.int8]
    connected: NDArray[np.bool_]
    origin: NDArray[np.int64]
    destination: NDArray[np.int64]
    depart_s: NDArray[np.float64]
    line: NDArray[np.int64]
    pce: NDArray[np.float64]
    shortest_s: NDArray[np.float64]
    compliant: NDArray[np.bool_]
    link: NDArray[np.int64]
    entered_s: NDArray[np.float64]
    ready_s: NDArray[np.float64]
    first_entry_s: NDArray[np.float64]
    arrive_s: NDArray[np.float64]
    dwell_s: NDArray[np.float64]
    moved_on: NDArray[np.int64]
    last_link: NDArray[np.int64]
    last_travel_s: NDArray[np.float64]
    last_exit_s: NDArray[np.float64]
    reroutes: NDArray[np.int64]

    def __init__(self, capacity: int = 1024) -> None:
        self._size = 0
        self._out = np.zeros(0, np.int64)  # rows not arrived at the last `unfinished`
        self._listed = 0  # rows added before that call
        self._capacity = max(1, capacity)
        for name, (dtype, fill) in _COLUMNS.items():
            setattr(self, name, np.full(self._capacity, fill, dtype=dtype))

    def __len__(self) -> int:
        return self._size

    def add(self, *, kind: int, connected: bool, origin: int, destination: int,
            depart_s: float, pce: float, line: int = -1) -> int:
        """Append one trip; returns its id (row)."""
        if self._size == self._capacity:
            self._grow(2 * self._capacity)
        row = self._size
        self.kind[row] = kind
        self.connected[row] = connected
        self.origin[row] = origin
        self.destination[row] = destination
        self.depart_s[row] = depart_s
        self.pce[row] = pce
        self.line[row] = line
        self._size += 1
        return row

    def add_many(self, *, kind: NDArray[np.integer], connected: NDArray[np.bool_],
                 origin: NDArray[np.integer], destination: NDArray[np.integer],
                 depart_s: NDArray[np.floating], pce: NDArray[np.floating]) -> NDArray[np.int64]:
        """Append many trips at once; returns their ids."""
        n = len(depart_s)
        if self._size + n > self._capacity:
            self._grow(max(2 * self._capacity, self._size + n))
        rows = np.arange(self._size, self._size + n)
        self.kind[rows] = kind
        self.connected[rows] = connected
        self.origin[rows] = origin
        self.destination[rows] = destination
        self.depart_s[rows] = depart_s
        self.pce[rows] = pce
        self._size += n
        return rows

    def _grow(self, capacity: int) -> None:
        for name, (dtype, fill) in _COLUMNS.items():
            old = getattr(self, name)
            new: NDArray[np.generic] = np.full(capacity, fill, dtype=dtype)
            new[: self._size] = old[: self._size]
            setattr(self, name, new)
        self._capacity = capacity

    def column(self, name: str) -> NDArray[Any]:
        """A view of one column trimmed to the rows in use."""
        if name not in _COLUMNS:
            raise KeyError(f"no column {name!r}; columns: {', '.join(_COLUMNS)}")
        return getattr(self, name)[: self._size]  # type: ignore[no-any-return]

    def unfinished(self) -> NDArray[np.int64]:
        """Rows of the trips that have not arrived (on a link, waiting or dwelling), ascending.

        Kept as an active set: each call checks the rows still out at the previous call
        and the rows added since, so scans of the live state (what sensors see, the
        ground truth) cost the trips on the road, not every trip ever created (a run's
        cost would otherwise grow with the square of its horizon). A trip once arrived
        stays arrived.
        """
        out, n = self._out, self._size
        if n > self._listed:
            out = np.concatenate([out, np.arange(self._listed, n, dtype=np.int64)])
            self._listed = n
        out = out[np.isnan(self.arrive_s[out])]
        self._out = out
        return out

    def on_road(self) -> NDArray[np.bool_]:
        """Trips that departed but have not arrived (on a link, waiting or dwelling)."""
        n = self._size
        return ~np.isnan(self.depart_s[:n]) & np.isnan(self.arrive_s[:n])
