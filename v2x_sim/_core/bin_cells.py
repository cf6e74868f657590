"""Exact bin lookup tables keyed by a float's leading bits, shared by two binning twins.

Both the queue kernel's `compute.kernel_bins._bin_exact` and the metrics'
`metrics.bin_counts` replace a binning function (a fast logarithm, or the histogram's
edges) by a table: the bits of a non-negative float, shifted right so that only its
exponent and top mantissa bits remain, are a *cell key*; the bits order non-negative
floats, so cells are consecutive float ranges. The table holds the bin of each cell's
first float, and one comparison with the next bin's lower edge decides between that bin
and the next. That is exact only if the binning never decreases and no cell spans more
than two bins, which `cells_span_two_bins_at_most` checks when a table is built.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

BinFunction = Callable[[NDArray[np.float64]], NDArray[np.int64]]


def cell_first_bins(bin_of: BinFunction, keys: NDArray[np.int64], shift: int) -> NDArray[np.int64]:
    """The bin of each cell's first float (cell ``k`` = the floats whose bits >> shift == k)."""
    first = np.ascontiguousarray(np.asarray(keys, np.int64) << shift)
    return np.asarray(bin_of(first.view(np.float64)), np.int64)


def cells_span_two_bins_at_most(bin_of: BinFunction, keys: NDArray[np.int64],
                                first_bins: NDArray[np.int64], shift: int) -> bool:
    """Whether every cell's last float lies in its first float's bin or the next one."""
    last = np.ascontiguousarray(((np.asarray(keys, np.int64) + 1) << shift) - 1)
    spread = np.asarray(bin_of(last.view(np.float64)), np.int64) - first_bins
    return bool(spread.size == 0 or (spread.min() >= 0 and spread.max() <= 1))
