"""`stable_argsort` (radix) gives numpy's stable permutation: ties keep input order."""

from __future__ import annotations

import numpy as np

from v2x_sim.comms.flows import group_by, stable_argsort


def test_ties_keep_their_input_order_by_hand() -> None:
    keys = np.array([5, 3, 5, 3, -2, 5, 3] * 60, dtype=np.int64)  # 420 keys: the radix path
    order = stable_argsort(keys)
    # -2 first (positions 4, 11, ...), then every 3 in input order, then every 5
    n = keys.size
    expected = ([i for i in range(n) if keys[i] == -2] + [i for i in range(n) if keys[i] == 3]
                + [i for i in range(n) if keys[i] == 5])
    assert order.tolist() == expected


def test_equals_numpy_stable_argsort_on_window_like_keys() -> None:
    rng = np.random.default_rng(3)
    for n in (1, 255, 256, 7000):
        for spread in (4, 1 << 20, 1_200_000_000):
            keys = rng.integers(0, 8, n) * (1 << 40) + rng.integers(0, spread, n)
            assert np.array_equal(stable_argsort(keys), np.argsort(keys, kind="stable"))


def test_group_by_sorts_by_key_then_time_with_bounds() -> None:
    keys = np.array([1, 0, 1, 0, 2] * 100)
    times = np.tile([0.3, 0.2, 0.1, 0.2, 0.0], 100)
    order, bounds = group_by(keys, times, 3)
    assert bounds.tolist() == [0, 200, 400, 500]
    # key 0: times 0.2 (positions 1, 3, 6, 8, ...) in input order
    assert order[:4].tolist() == [1, 3, 6, 8]
    # key 1: the 0.1 s messages (positions 2, 7, ...) before the 0.3 s ones (0, 5, ...)
    assert order[200:202].tolist() == [2, 7]
    assert order[300:302].tolist() == [0, 5]


def test_group_by_equals_the_stable_sort_of_the_wide_key() -> None:
    rng = np.random.default_rng(4)
    for origin, spread in ((100.0, 1.05), (0.0, 0.002), (5.0, 3000.0)):
        keys = rng.integers(0, 8, 5000)
        times = origin + rng.random(5000) * spread
        times[::7] = times[1::7][: times[::7].size]  # ties within a nanosecond keep order
        order, _ = group_by(keys, times, 8, origin)
        wide = keys * (1 << 40) + np.round((times - origin) * 1e9).astype(np.int64)
        assert np.array_equal(order, np.argsort(wide, kind="stable"))
