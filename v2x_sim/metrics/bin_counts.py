"""Counting latencies into the log bins of `metrics.histogram`, compiled.

`LogHistogram.add` binned a batch with some ten numpy calls (log10, scaling, clipping,
two corrections against the bin edges, a bincount): on the per-window batches of the
flows (a few thousand values) that was mostly call overhead, ~3 % of a full-zone run.
Here one loop does it. The bin of a value is defined by the edges alone
(``lower[i] <= v < upper[i]``); the exponent and mantissa of the float give a first
guess (within about one bin, no logarithm) that the loop then corrects by as many
steps as needed, so the counts equal `histogram.bin_index`'s
exactly (a test compares them, at and around every edge). Imported on first use, so
importing `metrics` does not import numba.
"""

from __future__ import annotations

import math

import numpy as np

from v2x_sim._core.jit import njit

_LOG10_2 = math.log10(2.0)
_2_TO_MINUS_52 = 2.0 ** -52


@njit(cache=True, nogil=True)
def count_bins(values, lower, upper, lo_exp, bins_per_decade, counts):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Add 1 to ``counts[i]`` for each value, i the bin with lower[i] <= v < upper[i].

    ``values`` are >= 0 and not NaN (checked by the caller); ``upper``'s last entry is
    NaN, so the last bin takes everything from its lower edge up, inf included.
    """
    last = counts.shape[0] - 1
    bits = values.view(np.int64)
    for k in range(values.shape[0]):
        v = values[k]
        # first guess without a logarithm: v = (1 + f) 2^e from the float's bits, and
        # log2(v) ~ e + f, off by < 0.09 (about one bin); the loops below correct it.
        # (Zero and subnormals guess bin 0, inf and NaN-free huge values the last.)
        b = bits[k]
        log2 = ((b >> 52) & 0x7FF) - 1023.0 + (b & 0xFFFFFFFFFFFFF) * _2_TO_MINUS_52
        t = (log2 * _LOG10_2 - lo_exp) * bins_per_decade + 1.0
        t = 0.0 if t < 0.0 else (last if t > last else t)
        i = int(t)
        while i > 0 and v < lower[i]:
            i -= 1
        while i < last and v >= upper[i]:
            i += 1
        counts[i] += 1
