"""The connected vehicles on links: the compiled scan equals the numpy filter it replaced.

`traffic.connected.connected_on_links` feeds every flow window and warning broadcast;
results for a fixed seed must not move, so it must return the rows, in the order, and
the columns the numpy form took (``out[connected[out] & (link[out] >= 0)]`` over the
fleet's active set) exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from v2x_sim.traffic.connected import ConnectedVehicles, connected_on_links
from v2x_sim.traffic.fleet import VehicleTable


def _numpy_form(fleet: VehicleTable) -> tuple[np.ndarray, ...]:
    out = fleet.unfinished()
    ids = out[fleet.connected[out] & (fleet.link[out] >= 0)]
    return ids, fleet.link[ids], fleet.entered_s[ids], fleet.ready_s[ids]


def _fleet(seed: int, n: int) -> VehicleTable:
    """n trips: some connected, some on a link, some waiting at the origin, some arrived."""
    rng = np.random.default_rng(seed)
    fleet = VehicleTable(capacity=8)  # grows while trips are added
    rows = fleet.add_many(kind=np.zeros(n, np.int64), connected=rng.random(n) < 0.4,
                          origin=np.zeros(n, np.int64), destination=np.ones(n, np.int64),
                          depart_s=np.sort(rng.uniform(0.0, 100.0, n)), pce=np.ones(n))
    on = rng.random(n) < 0.7
    fleet.link[rows[on]] = rng.integers(0, 50, int(on.sum()))
    fleet.entered_s[rows[on]] = rng.uniform(0.0, 100.0, int(on.sum()))
    fleet.ready_s[rows[on]] = fleet.entered_s[rows[on]] + rng.uniform(0.0, 60.0, int(on.sum()))
    done = rng.random(n) < 0.2
    fleet.arrive_s[rows[done]] = 150.0
    fleet.link[rows[done]] = -1
    return fleet


@pytest.mark.parametrize(("seed", "n"), [(0, 0), (1, 1), (2, 50), (3, 5000)])
def test_the_compiled_scan_equals_the_numpy_filter(seed: int, n: int) -> None:
    fleet = _fleet(seed, n)
    got = connected_on_links(fleet)
    want = _numpy_form(_fleet(seed, n))  # its own fleet: unfinished() keeps state
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        assert g.tobytes() == w.tobytes()


def test_connected_on_links_by_hand() -> None:
    """Four trips: connected on link 7; connected at its origin; not connected; arrived."""
    fleet = VehicleTable()
    fleet.add_many(kind=np.zeros(4, np.int64), connected=np.array([True, True, False, True]),
                   origin=np.zeros(4, np.int64), destination=np.ones(4, np.int64),
                   depart_s=np.zeros(4), pce=np.ones(4))
    fleet.link[[0, 2]] = [7, 3]
    fleet.entered_s[[0, 2]] = [10.0, 11.0]
    fleet.ready_s[[0, 2]] = [40.0, 41.0]
    fleet.arrive_s[3] = 5.0
    ids, link, entered, ready = connected_on_links(fleet)
    assert ids.tolist() == [0]
    assert link.tolist() == [7]
    assert entered.tolist() == [10.0]
    assert ready.tolist() == [40.0]


@pytest.mark.parametrize(("seed", "n", "share"), [(4, 0, 0.5), (5, 3000, 0.0), (6, 3000, 0.1),
                                                  (7, 3000, 1.0)])
def test_the_scan_on_some_links_is_the_full_scan_filtered(seed: int, n: int,
                                                          share: float) -> None:
    """A broadcast's scan: the full scan's rows on the wanted links, in the same order."""
    wanted = np.random.default_rng(seed).random(50) < share
    got = ConnectedVehicles(_fleet(seed, n)).on(wanted)
    full = connected_on_links(_fleet(seed, n))
    keep = wanted[full[1]]
    if n and 0.0 < share < 1.0:
        assert 0 < keep.sum() < keep.size  # some rows dropped, some kept
    for g, w in zip(got, full, strict=True):
        assert g.dtype == w.dtype
        assert g.tobytes() == w[keep].tobytes()


def test_the_scan_on_some_links_by_hand() -> None:
    """Connected trips on links 7, 3 and 7 (and one at its origin): links {7} wanted."""
    fleet = VehicleTable()
    fleet.add_many(kind=np.zeros(4, np.int64), connected=np.ones(4, bool),
                   origin=np.zeros(4, np.int64), destination=np.ones(4, np.int64),
                   depart_s=np.zeros(4), pce=np.ones(4))
    fleet.link[[0, 1, 3]] = [7, 3, 7]
    fleet.ready_s[[0, 1, 3]] = [40.0, 41.0, 42.0]
    wanted = np.zeros(10, bool)
    wanted[7] = True
    ids, link, _, ready = ConnectedVehicles(fleet).on(wanted)
    assert ids.tolist() == [0, 3]
    assert link.tolist() == [7, 7]
    assert ready.tolist() == [40.0, 42.0]
