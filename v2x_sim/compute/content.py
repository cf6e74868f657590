"""What content-carrying messages carry, held until their message finishes service.

A status report or an aggregate is a row in a queue stream (no object per message); its
content waits here under an integer id, the stream's ``payload``. When the queue that
processes the message reports its departure, the content is taken out and handed to
the platform's stores at that instant; content of a message that never departs (lost,
still queued at the horizon) is simply never taken.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]


class ContentStore:
    """Columnar records under consecutive ids, added in chunks and taken back by id.

    The rows live in one buffer per column, row ``id - base`` (ids are consecutive), so
    a take is one gather per column whichever chunks its ids come from (a window's
    departures mix its own reports with those carried from the last window). Each
    chunk counts its rows not yet taken; when the buffer is full, the rows before the
    oldest chunk still waiting are dropped first, so memory follows the messages still
    on their way, not the run's length. Every add must carry the same columns.
    """

    def __init__(self) -> None:
        self._next = 0
        self._base = 0  # id of buffer row 0
        self._columns: dict[str, NDArray[np.generic]] = {}
        self._left: dict[int, int] = {}  # first id of each chunk -> rows not yet taken

    def add(self, **columns: NDArray[np.generic]) -> IntArray:
        """Store one record per row of ``columns`` (equal lengths); their ids."""
        values = {k: np.asarray(v) for k, v in columns.items()}
        n = len(next(iter(values.values())))
        first = self._next
        if n:
            if not self._columns:
                self._columns = {k: np.empty(max(n, 1024), v.dtype) for k, v in values.items()}
            elif values.keys() != self._columns.keys():
                raise ValueError(f"content columns {sorted(values)} differ from the store's "
                                 f"{sorted(self._columns)}")
            self._make_room(n)
            at = first - self._base
            for name, column in self._columns.items():
                column[at:at + n] = values[name]
            self._left[first] = n
        self._next += n
        return np.arange(first, first + n, dtype=np.int64)

    def _make_room(self, n: int) -> None:
        """Room for ``n`` more rows: drop the rows before the oldest waiting chunk, grow."""
        capacity = len(next(iter(self._columns.values())))
        if self._next + n - self._base <= capacity:
            return
        keep_from = next(iter(self._left), self._next)  # chunks are kept in id order
        live = self._next - keep_from
        size = max(capacity, 2 * (live + n))
        start = keep_from - self._base
        for name, column in self._columns.items():
            grown = np.empty(size, column.dtype)
            grown[:live] = column[start:start + live]
            self._columns[name] = grown
        self._base = keep_from

    def take(self, ids: IntArray) -> dict[str, NDArray[Any]]:
        """The records of ``ids`` (each taken once), columns in the order of ids."""
        ids = np.asarray(ids, dtype=np.int64)
        if not ids.size or not self._left:
            return {}
        rows = ids - self._base
        out = {name: column[rows] for name, column in self._columns.items()}
        starts = np.fromiter(self._left, dtype=np.int64, count=len(self._left))
        taken = np.bincount(np.searchsorted(starts, ids, side="right") - 1,
                            minlength=starts.size)
        for start, n in zip(starts[taken > 0].tolist(), taken[taken > 0].tolist(),
                            strict=True):
            left = self._left[start] - n
            if left <= 0:
                del self._left[start]
            else:
                self._left[start] = left
        return out

    def __len__(self) -> int:
        """Records stored and not yet taken."""
        return sum(self._left.values())
