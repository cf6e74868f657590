"""Scans of the live vehicle state look at the trips still out only, and miss nobody.

`VehicleTable.unfinished` (an active set) lets the ground truth and the sensors' view
skip the trips that have arrived (a run's cost would otherwise grow with the square of its
horizon); what they return must equal a scan of every row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from v2x_sim.traffic.fleet import VehicleTable
from v2x_sim.traffic.observation import vehicle_positions

if TYPE_CHECKING:
    from v2x_sim.traffic.movement import LinkTraffic


def add_trips(table: VehicleTable, n: int) -> None:
    for i in range(n):
        table.add(kind=0, connected=False, origin=0, destination=1, depart_s=float(i),
                  pce=1.0)


def test_the_active_set_holds_the_trips_not_arrived_in_row_order() -> None:
    """Five trips; 0, 1 and 3 arrive: 2 and 4 are out. Two trips are added (5, 6) and
    2 arrives: 4, 5, 6. Once 4, 5 and 6 arrive nobody is out."""
    table = VehicleTable(capacity=2)  # grows while adding: the set reads the new columns
    add_trips(table, 5)
    assert table.unfinished().tolist() == [0, 1, 2, 3, 4]
    for row in (0, 1, 3):
        table.arrive_s[row] = 100.0 + row
    assert table.unfinished().tolist() == [2, 4]
    add_trips(table, 2)
    table.arrive_s[2] = 150.0
    assert table.unfinished().tolist() == [4, 5, 6]
    table.arrive_s[[4, 5, 6]] = 160.0
    assert table.unfinished().tolist() == []


def test_positions_list_every_vehicle_on_a_link_as_the_engine_holds_them() -> None:
    """Mid-run on the zone, with most trips arrived: the vehicles `vehicle_positions`
    places are exactly those the link queues hold (checked against the engine's own
    per-link FIFOs, not the fleet columns the scan reads), in ascending row order."""
    import v2x_sim

    scenario = v2x_sim.load_scenario("demo_zone", ["v2x.enabled=false", "control.policy=none",
                                                   "simulation.horizon_s=1500",
                                                   "simulation.warmup_s=0"])
    world = v2x_sim.build_world(scenario)
    world.env.run(until=1200.0)
    traffic, fleet = world.traffic, world.fleet
    out = fleet.unfinished()
    assert 0 < out.size < len(fleet) // 2  # the skip is exercised: most trips arrived
    held = {v: link for link in range(traffic.n_links)
            for v in traffic._q_veh[link][traffic._head[link]:]}
    link, _, _ = vehicle_positions(traffic)
    rows = np.flatnonzero(fleet.link[:len(fleet)] >= 0)
    assert sorted(held) == rows.tolist()
    assert link.tolist() == [held[v] for v in rows.tolist()]


def _numpy_positions(traffic: LinkTraffic) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`vehicle_positions` as the numpy steps it replaced (the reference it must equal)."""
    now = float(traffic.env.now)
    fleet, net = traffic.fleet, traffic.network
    out = fleet.unfinished()
    on = out[fleet.link[out] >= 0]
    link = fleet.link[on]
    entered, ready = fleet.entered_s[on], fleet.ready_s[on]
    length = net.length_m[link]
    duration = ready - entered
    moving = ready > now
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(duration > 0, (now - entered) / duration, 1.0)
        speed = np.where(moving, length / np.where(duration > 0, duration, 1.0), 0.0)
    offset = np.clip(share, 0.0, 1.0) * length
    standing = np.flatnonzero(~moving)
    order = standing[np.lexsort((ready[standing], link[standing]))]
    lk = link[order]
    spacing = fleet.pce[on][order] / (net.jam_density_vpm_per_lane[lk] * net.lanes[lk])
    ahead = np.cumsum(spacing) - spacing
    starts = np.flatnonzero(np.r_[True, lk[1:] != lk[:-1]])
    ahead -= np.repeat(ahead[starts], np.diff(np.r_[starts, lk.size]))
    offset[order] = np.maximum(length[order] - ahead - spacing / 2, 0.0)
    return link, offset, speed


def test_positions_are_the_numpy_formulas_bit_for_bit_and_queues_pack_from_the_end() -> None:
    """Rule: the compiled scan gives exactly (bit for bit) the numpy steps' link, offset
    and speed at several instants of a congested zone run (so the sensors' readings, and
    the identity pin, do not move). And by hand: on a link with a standing queue, the
    vehicles sorted by earliest exit stand at L - s/2, L - 3s/2, ... for one-PCE cars
    (s = 1 / (k_jam * lanes), never below 0), and every standing one reads speed 0."""
    import v2x_sim

    scenario = v2x_sim.load_scenario("demo_zone", ["v2x.enabled=false", "control.policy=none",
                                                   "simulation.horizon_s=1500",
                                                   "simulation.warmup_s=0"])
    world = v2x_sim.build_world(scenario)
    traffic, fleet, net = world.traffic, world.fleet, world.network
    checked_queue = False
    for until in (300.0, 700.0, 1200.0):
        world.env.run(until=until)
        got = vehicle_positions(traffic)
        for mine, theirs in zip(got, _numpy_positions(traffic), strict=True):
            assert mine.dtype == theirs.dtype
            np.testing.assert_array_equal(mine, theirs)
        link, offset, speed = got
        on = fleet.unfinished()
        on = on[fleet.link[on] >= 0]
        standing = fleet.ready_s[on] <= until
        assert (speed[standing] == 0.0).all()
        assert (speed[~standing] > 0.0).all()
        for lk in np.unique(link[standing]).tolist():
            rows = np.flatnonzero(standing & (link == lk))
            if rows.size < 3 or (fleet.pce[on[rows]] != 1.0).any():
                continue
            rows = rows[np.argsort(fleet.ready_s[on[rows]], kind="stable")]
            s = 1.0 / (net.jam_density_vpm_per_lane[lk] * net.lanes[lk])
            hand = np.maximum(net.length_m[lk] - s / 2 - s * np.arange(rows.size), 0.0)
            np.testing.assert_allclose(offset[rows], hand, rtol=1e-9, atol=1e-9)
            checked_queue = True
    assert checked_queue  # some link held a queue of three or more cars
