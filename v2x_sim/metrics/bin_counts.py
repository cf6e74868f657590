"""Counting latencies into the log bins of `metrics.histogram`, compiled.

`LogHistogram.add` binned a batch with some ten numpy calls (log10, scaling, clipping,
two corrections against the bin edges, a bincount): on the per-window batches of the
flows (a few thousand values) that was mostly call overhead, ~3 % of a full-zone run.
Here one loop does it. The bin of a value is defined by the edges alone
(``lower[i] <= v < upper[i]``); log10 only gives a first guess that the loop then
corrects by as many steps as needed, so the counts equal `histogram.bin_index`'s
exactly (a test compares them, at and around every edge). Imported on first use, so
importing `metrics` does not import numba.
"""

from __future__ import annotations

import numpy as np

from v2x_sim._core.jit import njit


@njit(cache=True, nogil=True)
def count_bins(values, lower, upper, lo_exp, bins_per_decade, counts):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Add 1 to ``counts[i]`` for each value, i the bin with lower[i] <= v < upper[i].

    ``values`` are >= 0 and not NaN (checked by the caller); ``upper``'s last entry is
    NaN, so the last bin takes everything from its lower edge up, inf included.
    """
    last = counts.shape[0] - 1
    for v in values:
        t = (np.log10(max(v, 1e-300)) - lo_exp) * bins_per_decade + 1.0
        t = 0.0 if t < 0.0 else (last if t > last else t)
        i = int(t)
        while i > 0 and v < lower[i]:
            i -= 1
        while i < last and v >= upper[i]:
            i += 1
        counts[i] += 1
