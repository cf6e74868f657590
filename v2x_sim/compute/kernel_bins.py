"""The queue kernel's latency bins: a fast logarithm (`_bin`) and its exact table twin.

`_bin` places a latency in the log bins of `metrics.histogram` from the float's
exponent and a table of log2 on the mantissa; it may differ from `bin_index` within
1e-7 (relative) of a bin edge, and every result the simulator has written is binned by
it. `_bin_exact` returns exactly `_bin`'s bin, for every value, at a fraction of the
cost: `_bin` never decreases as its argument grows (checked when the tables are built,
at every point where it could), so its bin of ``x`` is fixed by where ``x`` lies among
the smallest floats of each bin (``_BIN_START``). A coarse key from the float's bits
(exponent and top 8 mantissa bits: cells 0.4 % wide, ten times narrower than a bin)
gives the bin of the cell's first float; one comparison with the next bin's start
decides between it and the next. Both tables are built at import from `bin_of`, a
numpy twin of `_bin` (the same operations; tests compare the two value for value), so
that importing the kernels runs no compiled code.
"""

from __future__ import annotations

import math

import numpy as np
from numba import types
from numba.extending import intrinsic
from numpy.typing import NDArray

from v2x_sim._core.bin_cells import cell_first_bins, cells_span_two_bins_at_most
from v2x_sim._core.jit import njit
from v2x_sim.metrics.histogram import BINS_PER_DECADE, HI_EXP, LO_EXP, N_BINS


@intrinsic
def _float_bits(typingctx, x):  # type: ignore[no-untyped-def]  # pragma: no cover
    """The IEEE-754 bits of a float64 as an int64 (a bit cast, no conversion)."""
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], context.get_value_type(types.int64))
    return types.int64(types.float64), codegen


@intrinsic
def _bits_float(typingctx, x):  # type: ignore[no-untyped-def]  # pragma: no cover
    """The float64 whose IEEE-754 bits are the int64 given (inverse of `_float_bits`)."""
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], context.get_value_type(types.float64))
    return types.float64(types.int64), codegen


_TABLE_SIZE = 2048
# log2(m) on a grid of m in [0.5, 1] for the kernel's fast logarithm (see `_bin`)
_LOG2_TABLE = np.log2(0.5 + np.arange(_TABLE_SIZE + 1) / (2.0 * _TABLE_SIZE))
_LOG10_2 = math.log10(2.0)


@njit(cache=True, nogil=True)
def _bin(x):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Histogram bin of a latency, as `metrics.histogram.bin_index` but ~3x faster.

    log10(x) = (e + log2(m)) log10(2) with x = m 2^e (frexp, read from the float's bits:
    ~10 % of the kernel's time saved against math.frexp) and log2(m) interpolated
    in a 2,048-step table (error < 1e-7 in log2): only values within that of a bin edge
    can land in the neighbouring bin, far below the bins' 4.7 % width.
    """
    if x < 10.0 ** LO_EXP:
        return 0
    if x >= 10.0 ** HI_EXP:
        return N_BINS - 1
    bits = _float_bits(x)  # frexp by hand: x is normal and positive here, so exact
    e = ((bits >> 52) & 0x7FF) - 1022
    m = _bits_float((bits & 0x000FFFFFFFFFFFFF) | 0x3FE0000000000000)
    pos = (m - 0.5) * (2.0 * _TABLE_SIZE)
    i = int(pos)
    log2 = e + _LOG2_TABLE[i] + (pos - i) * (_LOG2_TABLE[i + 1] - _LOG2_TABLE[i])
    b = int((log2 * _LOG10_2 - LO_EXP) * BINS_PER_DECADE) + 1
    return min(max(b, 1), N_BINS - 2)


_KEY_SHIFT = 52 - 8  # a key: the exponent and the top 8 bits of the mantissa


def _float_bits_np(x: NDArray[np.float64]) -> NDArray[np.int64]:
    return np.ascontiguousarray(x, np.float64).view(np.int64)


def _bits_float_np(bits: NDArray[np.int64]) -> NDArray[np.float64]:
    return np.ascontiguousarray(bits, np.int64).view(np.float64)


def bin_of(x: NDArray[np.float64]) -> NDArray[np.int64]:
    """`_bin` of every element, in numpy: the same float operations in the same order.

    The tables below are built with it at import, so importing the kernels compiles and
    runs nothing (a traffic-only run never loads numba's compiler); tests check it
    against the compiled `_bin` value for value.
    """
    x = np.asarray(x, np.float64)
    bits = _float_bits_np(x)
    e = ((bits >> 52) & 0x7FF) - 1022
    m = _bits_float_np((bits & 0x000FFFFFFFFFFFFF) | 0x3FE0000000000000)
    pos = (m - 0.5) * (2.0 * _TABLE_SIZE)
    i = np.clip(pos.astype(np.int64), 0, _TABLE_SIZE - 1)  # in range wherever it is used
    log2 = e + _LOG2_TABLE[i] + (pos - i) * (_LOG2_TABLE[i + 1] - _LOG2_TABLE[i])
    b = ((log2 * _LOG10_2 - LO_EXP) * BINS_PER_DECADE).astype(np.int64) + 1
    b = np.minimum(np.maximum(b, 1), N_BINS - 2)
    return np.where(x < 10.0 ** LO_EXP, 0, np.where(x >= 10.0 ** HI_EXP, N_BINS - 1, b))


def _build_tables(key_shift: int) -> tuple[NDArray[np.float64], int, NDArray[np.int64], bool]:
    """(first float of each bin, first key, bin of each key cell's first float, ok).

    ``start[b]`` is the smallest float x >= 0 with ``_bin(x) >= b`` (bisection on the
    bits, which order non-negative floats; all bins at once), ``start[N_BINS]`` inf.
    ``ok`` is False if `_bin` decreases anywhere (then the table twin would not be
    exact): within one interval of its log2 table `_bin` is a chain of rounded monotone
    operations, so it can only decrease across a grid point (m = 0.5 + j / 4096 in each
    binade), where the float just below is compared; or if a key cell spans more than
    two bins. ~10 ms in numpy.
    """
    start = np.empty(N_BINS + 1)
    start[0] = 0.0
    start[N_BINS] = np.inf
    target = np.arange(1, N_BINS)
    lo = np.zeros(target.size, np.int64)  # bin_of(lo bits) < b <= bin_of(hi bits)
    hi = np.full(target.size, int(_float_bits_np(np.array([np.inf]))[0]))
    while (hi - lo > 1).any():
        mid = lo + (hi - lo) // 2
        up = bin_of(_bits_float_np(mid)) >= target
        hi = np.where(up, mid, hi)
        lo = np.where(up, lo, mid)
    start[1:N_BINS] = _bits_float_np(hi)
    first_e = int(_float_bits_np(start[1:2])[0] >> 52) - 1
    last_e = int(_float_bits_np(start[N_BINS - 1:N_BINS])[0] >> 52) + 1
    e = np.arange(first_e, last_e + 1, dtype=np.int64)[:, None]
    j = np.arange(2 * _TABLE_SIZE, dtype=np.int64)[None, :]
    grid_bits = ((e << 52) | (j << (52 - 12))).ravel()
    ok = not (bin_of(_bits_float_np(grid_bits - 1)) > bin_of(_bits_float_np(grid_bits))).any()
    first_key = int(_float_bits_np(start[1:2])[0] >> key_shift)
    last_key = int(_float_bits_np(start[N_BINS - 1:N_BINS])[0] >> key_shift)
    keys = np.arange(first_key, last_key + 1, dtype=np.int64)
    cell_bin = cell_first_bins(bin_of, keys, key_shift)
    ok = ok and cells_span_two_bins_at_most(bin_of, keys, cell_bin, key_shift)
    return start, first_key, cell_bin, ok


_BIN_START, _FIRST_KEY, _CELL_BIN, _EXACT = _build_tables(_KEY_SHIFT)
_FIRST_LOG_BIN_S = float(_BIN_START[1])
_OVERFLOW_S = float(_BIN_START[N_BINS - 1])


@njit(cache=True, nogil=True)
def _bin_exact(x):  # type: ignore[no-untyped-def]  # pragma: no cover
    """`_bin(x)` for every x >= 0, from the tables: one lookup and one comparison."""
    if x < _FIRST_LOG_BIN_S:
        return 0
    if x >= _OVERFLOW_S:
        return N_BINS - 1
    b = _CELL_BIN[(_float_bits(x) >> _KEY_SHIFT) - _FIRST_KEY]
    if x >= _BIN_START[b + 1]:
        b += 1
    return b
