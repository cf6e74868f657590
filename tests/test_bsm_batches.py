"""The compiled grouping of a window's BSMs equals the numpy steps it replaced, bit for bit."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from v2x_sim.comms.bsm_batches import _bucket_argsort, to_edges, to_edges_reference

N_RSU, N_EDGES = 400, 8


def _window(seed: int, n: int, start_s: float, ties: bool = False) -> tuple:
    """A window's BSMs: random RSUs, send times, air delays, which were heard."""
    rng = np.random.default_rng(seed)
    fibre = rng.uniform(1e-5, 5e-4, N_RSU)
    fibre[:50] = 0.0  # some RSUs beside their edge node
    edge = rng.integers(0, N_EDGES, N_RSU + 100)  # devices: RSUs first, then sensors
    rsu = rng.integers(0, N_RSU, n)
    born = start_s + np.sort(rng.random(n))
    air = rng.exponential(0.002, n)
    if ties:  # arrivals at the same nanosecond, and exactly half-way between two
        rsu[: n // 2] = rng.integers(0, 50, n // 2)
        air[: n // 2] = 0.0
        born[: n // 2] = start_s + (rng.integers(0, 1000, n // 2) + 0.5) / 1e9
    ok = rng.random(n) < 0.9
    service = rng.exponential(1e-4, int(ok.sum()))
    return ok, rsu, born, air, service, fibre, edge


@pytest.mark.parametrize(("n", "start_s", "ties"), [
    (0, 10.0, False), (7, 10.0, False), (300, 1234.5, False), (8000, 2041.25, False),
    (6000, 0.0, True), (6000, 3300.0, True)])
def test_the_compiled_grouping_equals_the_numpy_steps(n: int, start_s: float,
                                                      ties: bool) -> None:
    args = _window(n, n, start_s, ties)
    got = to_edges(*args, N_EDGES, start_s)
    want = to_edges_reference(*args, N_EDGES, start_s)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        assert g.tobytes() == w.tobytes()
    arrival, _, _, bounds, _, per_rsu = got
    assert bounds[-1] == arrival.size == per_rsu.sum() == int(args[0].sum())
    for a, b in pairwise(bounds):  # each edge node's slice sorted (to the nanosecond)
        assert np.all(np.diff(np.rint((arrival[a:b] - start_s) * 1e9)) >= 0)
    if ties and start_s == 0.0:
        offsets = arrival * 1e9
        assert np.count_nonzero(offsets - np.floor(offsets) == 0.5) > 100  # rounding ties


def test_keys_too_wide_to_pack_take_the_numpy_path() -> None:
    """Arrivals over 2**40 ns (~18 min) after the origin: group_by's wide keys."""
    args = _window(1, 500, 2000.0)
    got = to_edges(*args, N_EDGES, 0.0)
    want = to_edges_reference(*args, N_EDGES, 0.0)
    for g, w in zip(got, want, strict=True):
        assert g.tobytes() == w.tobytes()


def test_keys_bunched_in_a_few_buckets_fall_back_to_the_radix_sort() -> None:
    """Most arrivals within a microsecond, one late: one bucket holds nearly all keys."""
    n, start_s = 6000, 500.0
    ok, rsu, born, air, service, fibre, edge = _window(3, n, start_s)
    rng = np.random.default_rng(3)
    born = start_s + rng.random(n) * 1e-6  # not in time order
    born[0] = start_s + 0.9
    air[:] = 0.0
    got = to_edges(ok, rsu, born, air, service, fibre, edge, N_EDGES, start_s)
    want = to_edges_reference(ok, rsu, born, air, service, fibre, edge, N_EDGES, start_s)
    for g, w in zip(got, want, strict=True):
        assert g.tobytes() == w.tobytes()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_bucket_sort_is_numpys_stable_sort_or_gives_up(seed: int) -> None:
    rng = np.random.default_rng(seed)
    spread = rng.integers(0, 1 << 33, 5000)  # even over the range: sorted by buckets
    spread[::7] = spread[3]  # with ties, which keep their input order
    order, done = _bucket_argsort(spread, int(spread.min()), int(spread.max()))
    assert done
    assert order.tolist() == np.argsort(spread, kind="stable").tolist()
    bunched = np.concatenate([rng.integers(0, 1000, 5000), [1 << 33]])  # one bucket
    assert not _bucket_argsort(bunched, 0, 1 << 33)[1]
