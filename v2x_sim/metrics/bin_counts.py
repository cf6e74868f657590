"""Counting latencies into the log bins of `metrics.histogram`, compiled.

`LogHistogram.add` binned a batch with some ten numpy calls (log10, scaling, clipping,
two corrections against the bin edges, a bincount): on the per-window batches of the
flows (a few thousand values) that was mostly call overhead, ~3 % of a full-zone run.
Here one loop does it. The bin of a value is defined by the edges alone
(``lower[i] <= v < upper[i]``). A value's float bits, shifted to its exponent and the
top 8 bits of its mantissa, name a cell 0.4 % wide, ten times narrower than a bin
(4.7 %), so a cell holds at most one bin edge: a table gives the bin of each cell's
first float (`histogram.bin_index`, worked out in numpy at import by `_core.bin_cells`,
which the queue kernel's exact bins share) and one comparison with that bin's upper edge
decides between it and the next. So the counts equal
`histogram.bin_index`'s exactly (a test compares them, at and around every edge;
`_check_cells` checks the one-edge-per-cell condition when the table is built), with
no data-dependent loop: about a third of the time of the former first guess from the
bits corrected step by step, whose corrections the branch predictor could not learn
(air delays scatter over neighbouring bins). Imported on first use, so importing
`metrics` does not import numba.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.bin_cells import cell_first_bins, cells_span_two_bins_at_most
from v2x_sim._core.jit import njit
from v2x_sim.metrics.histogram import HI_EXP, LO_EXP, bin_index

_CELL_SHIFT = 52 - 8  # a cell: the exponent and the top 8 bits of the mantissa


def _cell_table() -> tuple[int, NDArray[np.int64]]:
    """(first cell's key, bin of each cell's first float) over [10**LO_EXP, 10**HI_EXP].

    Keys below the first cell are floats under 10**LO_EXP (bin 0), keys past the last
    floats at or over 10**HI_EXP (the overflow bin).
    """
    _, low_exp = math.frexp(10.0 ** LO_EXP)
    _, high_exp = math.frexp(10.0 ** HI_EXP)
    first = (low_exp - 2 + 1023) << (52 - _CELL_SHIFT)  # a binade below 10**LO_EXP
    last = (high_exp + 1 + 1023) << (52 - _CELL_SHIFT)  # a binade past 10**HI_EXP
    keys = np.arange(first, last, dtype=np.int64)
    table = cell_first_bins(bin_index, keys, _CELL_SHIFT)
    _check_cells(keys, table)
    return first, table


def _check_cells(keys: NDArray[np.int64], table: NDArray[np.int64]) -> None:
    """Raise unless every cell's last float is in its first float's bin or the next."""
    if not cells_span_two_bins_at_most(bin_index, keys, table, _CELL_SHIFT):
        raise RuntimeError("a histogram cell spans more than two bins: narrow the cells")


_FIRST_KEY, _TABLE = _cell_table()


def count_bins(values: NDArray[np.float64], upper: NDArray[np.float64],
               counts: NDArray[np.int64]) -> None:
    """Add 1 to ``counts[i]`` for each value, i the bin with lower[i] <= v < upper[i].

    ``values`` are >= 0 and not NaN (checked by the caller); ``upper``'s last entry is
    NaN, so the last bin takes everything from its lower edge up, inf included.
    """
    _count_bins(values, _TABLE, _FIRST_KEY, upper, counts)


@njit(cache=True, nogil=True)
def _count_bins(values, table, first_key, upper, counts):  # type: ignore[no-untyped-def]  # pragma: no cover
    last = counts.shape[0] - 1
    bits = values.view(np.int64)
    n_cells = table.shape[0]
    for k in range(values.shape[0]):
        cell = (bits[k] >> _CELL_SHIFT) - first_key
        if cell < 0:
            i = 0
        elif cell >= n_cells:
            i = last
        else:
            i = table[cell]
            if values[k] >= upper[i]:
                i += 1
        counts[i] += 1
