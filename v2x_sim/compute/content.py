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
        """The records of ``ids`` (each taken once), columns in the order of ``ids``.

        Chunks are kept in the order they were added, so their first ids are already
        sorted; a take whose ids all lie in one chunk (the usual case: one window's
        reports finishing together) is one gather per column.
        """
        ids = np.asarray(ids, dtype=np.int64)
        if not ids.size or not self._chunks:
            return {}
        starts = np.fromiter(self._chunks, dtype=np.int64, count=len(self._chunks))
        lo, hi = int(ids.min()), int(ids.max())
        k = int(np.searchsorted(starts, lo, side="right")) - 1
        first = int(starts[k])
        columns, left = self._chunks[first]
        if hi < first + len(next(iter(columns.values()))):
            out = {name: values[ids - first] for name, values in columns.items()}
            self._release(first, columns, left - ids.size)
            return out
        which = starts[np.searchsorted(starts, ids, side="right") - 1]
        out = {}
        for start in np.unique(which).tolist():
            rows = which == start
            columns, left = self._chunks[start]
            for name, values in columns.items():
                if name not in out:
                    out[name] = np.empty(ids.size, dtype=values.dtype)
                out[name][rows] = values[ids[rows] - start]
            self._release(start, columns, left - int(rows.sum()))
        return out

    def _release(self, start: int, columns: dict[str, NDArray[np.generic]], left: int) -> None:
        """Keep a chunk's count of untaken records; drop the chunk when none is left."""
        if left <= 0:
            del self._chunks[start]
        else:
            self._chunks[start] = (columns, left)

    def __len__(self) -> int:
        """Records stored and not yet taken."""
        return sum(left for _, left in self._chunks.values())
