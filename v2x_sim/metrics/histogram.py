"""Mergeable streaming histogram of latencies in seconds, with log-spaced bins.

Counting costs about ten nanoseconds per value and memory is fixed (``N_BINS``
integers), so hundreds of millions of latencies can be summarised and histograms from
parallel runs merged by adding counts. Bins, with ``BPD = BINS_PER_DECADE``:

* bin 0: ``[0, 10**LO_EXP)``,
* bin i, 1 <= i <= N_BINS - 2: ``[10**(LO_EXP + (i-1)/BPD), 10**(LO_EXP + i/BPD))``,
* bin N_BINS - 1: ``[10**HI_EXP, inf)``.

Error bound: a quantile in ``[10**LO_EXP, 10**HI_EXP)`` lies in the same bin as the
exact (inverted-CDF) sample quantile, so its relative error is below
``10**(1/BPD) - 1 ≈ 4.7 %`` (typically about half that, thanks to interpolation).
Below ``10**LO_EXP`` the absolute error is below ``10**LO_EXP`` s; in the overflow bin
the estimate lies in ``[10**HI_EXP, max_s]``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

LO_EXP = -7
HI_EXP = 4
BINS_PER_DECADE = 50
N_BINS = 2 + (HI_EXP - LO_EXP) * BINS_PER_DECADE

# Lower edge of every bin (bin 0 starts at 0.0). Built with Python floats so that
# decade edges are exact powers of ten, e.g. 10.0 ** 4.0 == 1e4.
_LOWER = np.array([0.0] + [10.0 ** ((LO_EXP * BINS_PER_DECADE + k) / BINS_PER_DECADE)
                           for k in range(N_BINS - 1)])
# Upper edges; the last is NaN so that no value (not even inf) is moved past it.
_UPPER = np.append(_LOWER[1:], np.nan)
_LOWER_LIST: list[float] = _LOWER.tolist()
_UPPER_LIST: list[float] = _UPPER.tolist()


def bin_edges() -> NDArray[np.float64]:
    """Lower edge of every bin (0.0 for bin 0) followed by inf: N_BINS + 1 values."""
    return np.append(_LOWER, np.inf)


def _check_latencies(values: NDArray[np.float64]) -> None:
    """Raise ValueError unless every value is >= 0 (NaN fails too)."""
    if values.size and not values.min() >= 0.0:  # min propagates NaN
        raise ValueError("latencies must be non-negative and not NaN")


def _bin_index_unchecked(values: NDArray[np.float64]) -> NDArray[np.int64]:
    """Bin of each value of a 1-d array, assuming all are >= 0; see `bin_index`."""
    # i = floor((log10(v) - LO_EXP) * BPD) + 1, clipped; truncation == floor once >= 0.
    t = np.log10(np.maximum(values, 1e-300))
    t -= LO_EXP
    t *= BINS_PER_DECADE
    t += 1.0
    np.clip(t, 0.0, N_BINS - 1, out=t)
    idx = t.astype(np.int64)
    # log10 may round a value within an ulp of an edge into the neighbouring bin.
    idx -= values < _LOWER[idx]
    idx += values >= _UPPER[idx]
    return idx


def _bin_of(value: float) -> int:
    """The bin of one value (>= 0) in plain floats, as the compiled `count_bins` finds it.

    The logarithm only guesses; the exact edges then decide (``lower[i] <= v <
    upper[i]``), so the bin is `bin_index`'s whatever the rounding of the guess.
    """
    t = (math.log10(max(value, 1e-300)) - LO_EXP) * BINS_PER_DECADE + 1.0
    i = int(min(max(t, 0.0), N_BINS - 1.0))
    while i > 0 and value < _LOWER_LIST[i]:
        i -= 1
    while i < N_BINS - 1 and value >= _UPPER_LIST[i]:
        i += 1
    return i


def bin_index(values: ArrayLike) -> NDArray[np.int64]:
    """Bin of each latency (seconds, any shape): i with ``edges[i] <= v < edges[i+1]``.

    Raises:
        ValueError: if any value is negative or NaN.
    """
    arr = np.asarray(values, dtype=np.float64)
    _check_latencies(arr)
    return _bin_index_unchecked(arr.ravel()).reshape(arr.shape)


class LogHistogram:
    """Counts of latencies per log-spaced bin, plus their exact count, sum and maximum.

    Attributes:
        counts: int64 array of length N_BINS.
        total_s: sum of all values added.
        n: number of values added.
    """

    def __init__(self) -> None:
        self.counts: NDArray[np.int64] = np.zeros(N_BINS, dtype=np.int64)
        self.total_s = 0.0
        self.n = 0
        self._max_s = -math.inf

    def add(self, values: ArrayLike) -> None:
        """Count latencies (seconds, >= 0); raises ValueError on negatives or NaN."""
        arr = np.asarray(values, dtype=np.float64).ravel()
        if arr.size == 0:
            return
        if arr.size == 1:  # one value (a piece of advice arriving): no array passes
            value = float(arr[0])
            if not value >= 0.0:
                raise ValueError("latencies must be non-negative and not NaN")
            self.counts[_bin_of(value)] += 1
            self.n += 1
            self.total_s += value
            self._max_s = max(self._max_s, value)
            return
        _check_latencies(arr)
        from v2x_sim.metrics.bin_counts import count_bins  # compiled: numba on first use

        count_bins(arr, _UPPER, self.counts)
        self.n += int(arr.size)
        self.total_s += float(arr.sum())
        self._max_s = max(self._max_s, float(arr.max()))

    def add_repeated(self, value_s: float, n: int) -> None:
        """``add(np.full(n, value_s))`` without the array passes (one bin, same sum).

        For a hop whose delay is one constant for every message of a batch (the WAN).
        """
        if n <= 0:
            return
        if not value_s >= 0.0:
            raise ValueError("latencies must be non-negative and not NaN")
        self.counts[_bin_of(value_s)] += n
        self.n += n
        self.total_s += float(np.full(n, value_s).sum())  # the sum add() would take
        self._max_s = max(self._max_s, value_s)

    def add_binned(self, counts: ArrayLike, total_s: float, max_s: float) -> None:
        """Add values binned elsewhere, as `bin_index` does (e.g. by a compiled kernel).

        Args:
            counts: N_BINS non-negative counts.
            total_s: sum of the values counted.
            max_s: largest value counted (ignored when all counts are zero).

        Raises:
            ValueError: on a wrong shape, negative counts or a negative/NaN max_s.
        """
        arr = np.asarray(counts, dtype=np.int64)
        if arr.shape != (N_BINS,) or (arr < 0).any():
            raise ValueError(f"counts must be {N_BINS} non-negative integers")
        added = int(arr.sum())
        if added == 0:
            return
        if not max_s >= 0.0:
            raise ValueError("max_s must be non-negative and not NaN")
        self.counts += arr
        self.n += added
        self.total_s += float(total_s)
        self._max_s = max(self._max_s, float(max_s))

    def merge(self, other: LogHistogram) -> LogHistogram:
        """A new histogram holding the values of both."""
        merged = LogHistogram()
        merged += self
        merged += other
        return merged

    def __iadd__(self, other: LogHistogram) -> LogHistogram:
        self.counts += other.counts
        self.n += other.n
        self.total_s += other.total_s
        self._max_s = max(self._max_s, other._max_s)
        return self

    def __eq__(self, other: object) -> bool:
        """Exact equality of counts, n, total and maximum.

        Totals summed in another order (merged versus concatenated data) may differ in
        the last bits, and then the histograms are not equal.
        """
        if not isinstance(other, LogHistogram):
            return NotImplemented
        return (bool(np.array_equal(self.counts, other.counts)) and self.n == other.n
                and self.total_s == other.total_s and self._max_s == other._max_s)

    @property
    def count(self) -> int:
        """Number of values added."""
        return self.n

    @property
    def mean_s(self) -> float:
        """Exact mean, total_s / n; NaN if empty."""
        return self.total_s / self.n if self.n else math.nan

    @property
    def max_s(self) -> float:
        """Exact maximum; NaN if empty."""
        return self._max_s if self.n else math.nan

    def quantile(self, q: float) -> float:
        """Estimate the q-quantile, the smallest v with cdf(v) >= q.

        The bin b is the first whose cumulative count C_b reaches q n; with ``f =
        (q n - C_{b-1}) / counts[b]`` the estimate is ``lo * (hi / lo)**f`` in a log bin,
        ``f * 10**LO_EXP`` in bin 0 and ``10**HI_EXP * (max_s / 10**HI_EXP)**f`` in the
        overflow bin, clipped to ``[0, max_s]``. Relative error below ``10**(1/BPD) - 1
        ≈ 4.7 %`` in ``[10**LO_EXP, 10**HI_EXP)``, absolute below ``10**LO_EXP`` s under it.

        Args:
            q: probability in [0, 1]; q = 1 returns max_s exactly.

        Returns:
            The estimate in seconds, NaN if the histogram is empty.

        Raises:
            ValueError: if q is outside [0, 1].
        """
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"q must be in [0, 1], got {q}")
        if self.n == 0:
            return math.nan
        if q == 1.0:
            return self._max_s
        nonzero = np.flatnonzero(self.counts)
        cum = np.cumsum(self.counts[nonzero])
        k = min(int(np.searchsorted(cum, q * self.n, side="left")), nonzero.size - 1)
        b = int(nonzero[k])
        frac = (q * self.n - (cum[k] - self.counts[b])) / self.counts[b]
        lo = float(_LOWER[b])
        if b == 0:
            value = frac * float(_LOWER[1])
        elif b == N_BINS - 1:
            value = lo * (self._max_s / lo) ** frac
        else:
            value = lo * (_UPPER[b] / lo) ** frac
        return float(min(max(value, 0.0), self._max_s))

    def quantiles(self, qs: ArrayLike) -> NDArray[np.float64]:
        """`quantile` of each probability in ``qs``."""
        return np.array([self.quantile(float(q)) for q in np.ravel(qs)], dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form: n, total_s, max_s (None if empty), sparse counts by bin."""
        return {"n": self.n, "total_s": self.total_s,
                "max_s": self._max_s if self.n else None,
                "counts": {str(i): int(self.counts[i]) for i in np.flatnonzero(self.counts)}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LogHistogram:
        """Inverse of `to_dict` (also after a JSON round trip)."""
        hist = cls()
        for i, c in data["counts"].items():
            hist.counts[int(i)] = int(c)
        hist.n = int(data["n"])
        if hist.n != int(hist.counts.sum()):
            raise ValueError("n does not match the sum of counts")
        hist.total_s = float(data["total_s"])
        hist._max_s = -math.inf if data["max_s"] is None else float(data["max_s"])
        return hist
