"""LogHistogram: bins against a plain-Python rule, quantiles within the documented bound."""

from __future__ import annotations

import bisect
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from v2x_sim.metrics.histogram import (
    BINS_PER_DECADE,
    HI_EXP,
    LO_EXP,
    N_BINS,
    LogHistogram,
    bin_edges,
    bin_index,
)

# Relative error bound of a quantile: one bin width, 10**(1/50) - 1 ≈ 4.7 %.
REL_BOUND = 10.0 ** (1.0 / BINS_PER_DECADE) - 1.0
# Python-computed lower edges of bins 1..N_BINS-1: 10**(LO_EXP + k/BPD).
REF_EDGES = [10.0 ** ((LO_EXP * BINS_PER_DECADE + k) / BINS_PER_DECADE)
             for k in range(N_BINS - 1)]
QS = (0.5, 0.9, 0.95, 0.99)

latency_lists = st.lists(
    st.floats(min_value=0.0, max_value=1e5, allow_nan=False, allow_infinity=False),
    max_size=60,
)


def reference_bin(value: float) -> int:
    """The bin rule in plain Python: 0 below 1e-7, then one bin per edge passed."""
    return bisect.bisect_right(REF_EDGES, value)


def histogram_of(values: np.ndarray) -> LogHistogram:
    hist = LogHistogram()
    hist.add(values)
    return hist


def test_constants_and_edges() -> None:
    """552 bins; edges are 0, the 551 powers 10**(-7 + k/50), then inf; decades exact."""
    assert N_BINS == 2 + 11 * 50 == 552
    edges = bin_edges()
    assert edges.shape == (N_BINS + 1,)
    assert edges[0] == 0.0
    assert edges[-1] == math.inf
    assert edges[1:-1].tolist() == REF_EDGES
    assert edges[1] == 1e-7
    assert edges[-2] == 10.0**HI_EXP == 1e4
    assert np.all(np.diff(edges) > 0)


def test_bin_index_matches_reference_on_random_values() -> None:
    """Log-uniform values over 1e-9 .. 1e6 s fall in the bin the plain rule gives."""
    rng = np.random.default_rng(1)
    values = 10.0 ** rng.uniform(-9.0, 6.0, 20_000)
    expected = [reference_bin(v) for v in values.tolist()]
    assert bin_index(values).tolist() == expected


def test_bin_index_exactly_on_edges() -> None:
    """A value on a lower edge goes to that bin; one ulp below goes to the bin before."""
    edges = np.array(REF_EDGES)
    on = bin_index(edges)
    below = bin_index(np.nextafter(edges, 0.0))
    assert on.tolist() == list(range(1, N_BINS))
    assert below.tolist() == list(range(0, N_BINS - 1))
    assert bin_index(np.nextafter(edges, np.inf)).tolist() == list(range(1, N_BINS))


def test_bin_index_extremes() -> None:
    """Zero and subnormals go to bin 0; 1e4, huge values and inf to the overflow bin."""
    values = [0.0, 5e-324, 1e-300, 9.99e-8, 1e4, 1e300, math.inf]
    assert bin_index(values).tolist() == [0, 0, 0, 0, N_BINS - 1, N_BINS - 1, N_BINS - 1]
    assert bin_index(np.zeros((2, 3))).shape == (2, 3)
    assert bin_index(0.5).shape == ()
    assert bin_index(0.5) == reference_bin(0.5)
    assert bin_index([]).shape == (0,)


@pytest.mark.parametrize("bad", [-1e-12, -1.0, math.nan, -math.inf])
def test_negative_or_nan_raises(bad: float) -> None:
    """Latencies are never negative or NaN; both the function and the histogram refuse."""
    values = np.array([0.1, bad, 0.2])
    with pytest.raises(ValueError, match="non-negative"):
        bin_index(values)
    hist = LogHistogram()
    with pytest.raises(ValueError, match="non-negative"):
        hist.add(values)
    assert hist == LogHistogram()  # nothing was counted


@pytest.fixture(autouse=True, scope="module")
def _compiled_counting_loaded() -> None:
    """Load the compiled counting once, outside hypothesis' per-example deadline (the
    first call of a process loads or compiles it: ~0.4 s)."""
    LogHistogram().add(np.array([1e-3, 2e-3]))


@given(latency_lists)
def test_counts_sum_to_n(values: list[float]) -> None:
    """Every value is counted once: sum(counts) == n == count."""
    hist = histogram_of(np.array(values))
    assert int(hist.counts.sum()) == hist.n == hist.count == len(values)


def _samples() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240601)
    n = 200_003  # q * n is never an integer, so no tie in the quantile's rank
    zeros = np.zeros(n * 6 // 10)
    return {
        "lognormal": rng.lognormal(mean=np.log(0.02), sigma=1.5, size=n),
        "exponential": rng.exponential(0.005, size=n),
        "zeros_mix": np.concatenate([zeros, rng.lognormal(np.log(1e-3), 1.0, n - zeros.size)]),
    }


@pytest.mark.parametrize(("name", "values"), list(_samples().items()))
def test_quantiles_within_documented_bound(name: str, values: np.ndarray) -> None:
    """Each estimate lies in the bin of the exact inverted-CDF quantile.

    So its relative error is below 10**(1/50) - 1; under 1e-7 s (the zeros) the bound is
    absolute, 1e-7 s.
    """
    hist = histogram_of(values)
    exact = np.quantile(values, QS, method="inverted_cdf")
    estimate = hist.quantiles(QS)
    tolerance = np.maximum(REL_BOUND * exact, 10.0**LO_EXP)
    assert np.all(np.abs(estimate - exact) <= tolerance), (name, estimate, exact)
    assert hist.quantile(1.0) == values.max()
    assert hist.max_s == values.max()
    assert hist.mean_s == pytest.approx(values.mean(), rel=1e-12)


def test_quantiles_of_zeros_are_zero_within_bin_zero() -> None:
    """All zeros: every quantile is 0 after clipping to the maximum."""
    hist = histogram_of(np.zeros(1000))
    assert hist.quantiles([0.0, 0.5, 1.0]).tolist() == [0.0, 0.0, 0.0]


def test_overflow_bin_and_clipping_to_max() -> None:
    """Values >= 1e4 s land in the overflow bin; quantiles never exceed the maximum."""
    hist = histogram_of(np.array([1.0, 2e4, 3e4]))
    assert hist.counts[N_BINS - 1] == 2
    assert 1e4 <= hist.quantile(0.9) <= 3e4
    assert hist.quantile(1.0) == 3e4
    single = histogram_of(np.array([0.0123]))  # bin upper edge above the value
    assert single.quantile(0.5) <= 0.0123
    assert single.quantile(1.0) == 0.0123


def test_empty_histogram_is_nan() -> None:
    hist = LogHistogram()
    assert math.isnan(hist.quantile(0.5))
    assert math.isnan(hist.quantile(1.0))
    assert math.isnan(hist.mean_s)
    assert math.isnan(hist.max_s)
    assert hist.count == 0
    hist.add(np.array([]))
    assert hist == LogHistogram()


@pytest.mark.parametrize("q", [-0.1, 1.1, math.nan])
def test_quantile_outside_unit_interval_raises(q: float) -> None:
    with pytest.raises(ValueError, match="q must be"):
        histogram_of(np.array([1.0])).quantile(q)


@settings(max_examples=200)
@given(latency_lists, latency_lists)
def test_merge_equals_histogram_of_concatenation(a: list[float], b: list[float]) -> None:
    """Merging two histograms counts exactly what one histogram of all the data counts."""
    ha, hb = histogram_of(np.array(a)), histogram_of(np.array(b))
    merged = ha.merge(hb)
    whole = histogram_of(np.array(a + b))
    assert np.array_equal(merged.counts, whole.counts)
    assert merged.n == whole.n
    assert merged.max_s == whole.max_s or (math.isnan(merged.max_s) and not a + b)
    assert merged.total_s == pytest.approx(whole.total_s, rel=1e-12, abs=1e-300)
    assert merged == hb.merge(ha)  # float addition of two totals commutes
    ha += hb
    assert ha == merged
    assert hb == histogram_of(np.array(b))  # merge left its inputs alone


@given(latency_lists)
def test_add_binned_equals_add(values: list[float]) -> None:
    """Counting outside (as a compiled kernel would) then add_binned equals add."""
    arr = np.array(values)
    binned = LogHistogram()
    binned.add_binned(np.bincount(bin_index(arr), minlength=N_BINS), float(arr.sum()),
                      float(arr.max()) if arr.size else -math.inf)
    assert binned == histogram_of(arr)


def test_add_binned_rejects_wrong_shape_and_negative_counts() -> None:
    hist = LogHistogram()
    with pytest.raises(ValueError, match="counts"):
        hist.add_binned(np.zeros(N_BINS - 1), 0.0, 0.0)
    with pytest.raises(ValueError, match="counts"):
        hist.add_binned(np.full(N_BINS, -1), 0.0, 0.0)


@given(latency_lists)
def test_dict_round_trip_through_json(values: list[float]) -> None:
    """to_dict is JSON-friendly and from_dict restores the histogram exactly."""
    hist = histogram_of(np.array(values))
    data = json.loads(json.dumps(hist.to_dict(), allow_nan=False))
    assert data["n"] == len(values)
    assert len(data["counts"]) == np.count_nonzero(hist.counts)
    assert LogHistogram.from_dict(data) == hist
    assert LogHistogram.from_dict(hist.to_dict()) == hist


def test_compiled_counting_equals_bin_index_at_and_around_every_edge() -> None:
    """`LogHistogram.add` counts with a compiled loop; its bins must be `bin_index`'s.

    Values on every edge, one ulp either side, random values over all decades, zero,
    tiny and huge ones, inf: the counts must equal a bincount of `bin_index`.
    """
    edges = np.array(REF_EDGES)
    rng = np.random.default_rng(7)
    values = np.concatenate([
        edges, np.nextafter(edges, 0.0), np.nextafter(edges, np.inf),
        10.0 ** rng.uniform(LO_EXP - 2, HI_EXP + 2, 50_000),
        [0.0, -0.0, 5e-324, 1e-300, 1e300, np.inf, 10.0 ** HI_EXP, 10.0 ** LO_EXP]])
    hist = LogHistogram()
    hist.add(values)
    assert hist.counts.tolist() == np.bincount(bin_index(values), minlength=N_BINS).tolist()
    # and by the plain-Python rule: edges[i] <= v < edges[i + 1]
    ref = np.zeros(N_BINS, np.int64)
    for v in values[:2000].tolist():
        ref[bisect.bisect_right(REF_EDGES, v)] += 1
    small = LogHistogram()
    small.add(values[:2000])
    assert small.counts.tolist() == ref.tolist()


def test_one_value_lands_in_the_bin_the_array_path_gives() -> None:
    """Rule: adding one value (the scalar path) counts it exactly as adding it among
    others would: same bin at every bin edge and one ulp either side, same sum and max."""
    from v2x_sim.metrics.histogram import _LOWER

    rng = np.random.default_rng(5)
    values = np.concatenate([10 ** rng.uniform(-9, 5, 5000), _LOWER,
                             np.nextafter(_LOWER, 0.0), np.nextafter(_LOWER, 1.0),
                             [0.0, np.inf, 5e-324]])
    one_by_one, at_once = LogHistogram(), LogHistogram()
    for v in values.tolist():
        one_by_one.add([v])
    at_once.add(values)
    assert np.array_equal(one_by_one.counts, at_once.counts)
    assert one_by_one.n == at_once.n == values.size
    assert one_by_one.max_s == at_once.max_s
    with pytest.raises(ValueError, match="non-negative"):
        one_by_one.add([-1e-3])


def test_a_repeated_value_counts_as_that_many_copies() -> None:
    """Rule: add_repeated(v, n) leaves the histogram exactly as add of n copies of v
    (bin, count, sum and max), for a value on a bin edge and one between edges."""
    from v2x_sim.metrics.histogram import _LOWER

    for value, n in ((float(_LOWER[200]), 7), (0.0123, 1001), (0.0, 3)):
        repeated, copies = LogHistogram(), LogHistogram()
        repeated.add_repeated(value, n)
        copies.add(np.full(n, value))
        assert np.array_equal(repeated.counts, copies.counts)
        assert (repeated.n, repeated.total_s, repeated.max_s) == (
            copies.n, copies.total_s, copies.max_s)
    empty = LogHistogram()
    empty.add_repeated(1.0, 0)
    assert empty.n == 0
    with pytest.raises(ValueError, match="non-negative"):
        empty.add_repeated(float("nan"), 2)
