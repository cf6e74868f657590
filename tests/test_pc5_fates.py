"""PC5 fates drawn from coverage cells equal `Pc5Channel.draw`'s, bit for bit.

`comms.pc5_fates.Pc5Cells.draw` factors the delivery probability by cell (the distance
ratio, worked out once) and by RSU (the load terms, once per window) and combines them
in one compiled loop; results for a fixed seed must not move, so the fates, the delays
and the generator's state afterwards must all equal `Pc5Channel.draw`'s on the
per-message distances and loads.
"""

from __future__ import annotations

import numpy as np
import pytest

from v2x_sim.comms.channels import Pc5Channel
from v2x_sim.comms.pc5_fates import Pc5Cells
from v2x_sim.scenario.v2x_sections import Pc5Params

PC5 = Pc5Channel.from_params(Pc5Params())


def _window(seed: int, n: int) -> tuple[np.ndarray, ...]:
    """Cells around the median range (some out of any range), loads up to the cap."""
    rng = np.random.default_rng(seed)
    n_cells, n_rsu = 3000, 200
    distance = rng.uniform(0.0, 2.5 * PC5.median_range_m, n_cells)
    distance[::97] = np.inf  # cells no RSU covers: never sent from, but in the table
    cbr = np.minimum(PC5.max_cbr, rng.uniform(0.0, 1.2, n_rsu))
    cbr[:10] = 0.0
    covered = np.flatnonzero(np.isfinite(distance))
    cell = rng.choice(covered, n)
    rsu = rng.integers(0, n_rsu, n)
    return distance, cbr, cell, rsu


@pytest.mark.parametrize(("seed", "n"), [(0, 0), (1, 1), (2, 17), (3, 9000)])
def test_fates_from_cells_equal_the_channel_draw(seed: int, n: int) -> None:
    distance, cbr, cell, rsu = _window(seed, n)
    cells = Pc5Cells(PC5, distance)
    got_rng, want_rng = np.random.default_rng(seed + 100), np.random.default_rng(seed + 100)
    got = cells.draw(cell, rsu, cbr, got_rng)
    want = PC5.draw(distance[cell], cbr[rsu], want_rng)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        assert g.tobytes() == w.tobytes()
    # the same draws were taken from the stream: what follows is the same too
    assert got_rng.random() == want_rng.random()


def test_deterministic_fates_are_the_channel_means() -> None:
    distance, cbr, cell, rsu = _window(5, 500)
    ok, delay = Pc5Cells(PC5, distance).draw(cell, rsu, cbr, np.random.default_rng(0),
                                             deterministic=True)
    # delivered iff r(d)(1 - c cbr) >= 0.5; delay airtime + access / (1 - cbr)
    probability = (1.0 / (1.0 + np.exp((distance[cell] - PC5.median_range_m)
                                       / PC5.range_spread_m))
                   * (1.0 - PC5.collision_loss_at_full_load * cbr[rsu]))
    assert ok.tolist() == (probability >= 0.5).tolist()
    np.testing.assert_allclose(delay, PC5.airtime_s + PC5.access_delay_s / (1.0 - cbr[rsu]),
                               rtol=1e-12)
    assert 0 < ok.sum() < ok.size


def test_delivered_share_follows_distance_and_load() -> None:
    """One cell at the median range (r = 1/2) and an RSU at CBR 0.4: p = 0.5 (1 - 0.4 c)."""
    n = 40_000
    cells = Pc5Cells(PC5, np.array([PC5.median_range_m]))
    cbr = np.array([0.4])
    ok, delay = cells.draw(np.zeros(n, np.int64), np.zeros(n, np.int64), cbr,
                           np.random.default_rng(7))
    p = 0.5 * (1.0 - 0.4 * PC5.collision_loss_at_full_load)
    band = 4.0 * np.sqrt(p * (1.0 - p) / n)  # four binomial standard deviations
    assert abs(ok.mean() - p) < band
    mean_delay = PC5.airtime_s + PC5.access_delay_s / 0.6
    # exponential access delay: its standard error is its mean / sqrt(n)
    assert abs(delay.mean() - mean_delay) < 4.0 * (PC5.access_delay_s / 0.6) / np.sqrt(n)
