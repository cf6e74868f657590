"""Scans of the live vehicle state look at the trips still out only, and miss nobody.

`VehicleTable.unfinished` (an active set) lets the ground truth and the sensors' view
skip the trips that have arrived (a run's cost would otherwise grow with the square of its
horizon); what they return must equal a scan of every row.
"""

from __future__ import annotations

import numpy as np

from v2x_sim.traffic.fleet import VehicleTable
from v2x_sim.traffic.observation import vehicle_positions


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
