"""What content-carrying messages carry, held until their message finishes service.

A status report or an aggregate is a row in a queue stream (no object per message); its
content waits here under an integer id, the stream's ``payload``. When the queue that
processes the message reports its departure, the content is taken out and handed to
the platform's stores at that instant; content of a message that never departs (lost,
still queued at the horizon) is simply never taken.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]


class ContentStore:
    """Columnar records under consecutive ids, added in chunks and taken back by id.

    A chunk is dropped once every id in it was taken, so memory follows the messages
    still on their way, not the run's length.
    """

    def __init__(self) -> None:
        self._next = 0
        self._chunks: dict[int, tuple[dict[str, NDArray[np.generic]], int]] = {}

    def add(self, **columns: NDArray[np.generic]) -> IntArray:
        """Store one record per row of ``columns`` (equal lengths); their ids."""
        n = len(next(iter(columns.values())))
        first = self._next
        self._next += n
        if n:
            self._chunks[first] = ({k: np.asarray(v) for k, v in columns.items()}, n)
        return np.arange(first, first + n, dtype=np.int64)

    def take(self, ids: IntArray) -> dict[str, NDArray[np.generic]]:
        """The records of ``ids`` (each taken once), columns in the order of ``ids``."""
        starts = np.fromiter(self._chunks, dtype=np.int64, count=len(self._chunks))
        order = np.argsort(starts)
        starts = starts[order]
        which = starts[np.searchsorted(starts, ids, side="right") - 1]
        out: dict[str, NDArray[np.generic]] = {}
        for start in np.unique(which).tolist():
            rows = which == start
            columns, left = self._chunks[start]
            for name, values in columns.items():
                if name not in out:
                    out[name] = np.empty(len(ids), dtype=values.dtype)
                out[name][rows] = values[ids[rows] - start]
            left -= int(rows.sum())
            if left <= 0:
                del self._chunks[start]
            else:
                self._chunks[start] = (columns, left)
        return out

    def __len__(self) -> int:
        """Records stored and not yet taken."""
        return sum(left for _, left in self._chunks.values())
