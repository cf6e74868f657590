"""The link and node model against hand values: backward waves, waking on reroute.

Deterministic mode throughout; the V2X model is off (the road is the subject). Urban
defaults give the issue's wave speed: q = 1,800 veh/h = 0.5 veh/s per lane, v_f = 50
km/h = 13.8889 m/s, k_j = 140 veh/km, so w = q / (k_j - q / v_f) = 0.5 / (0.14 - 0.036)
= 0.5 / 0.104 = 4.8077 m/s and a 1 km link's wave time L / w = 1000 / 4.8077 = 208.0 s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_scenario

from v2x_sim.world import build_world

DETERMINISTIC = {"deterministic": True, "seed": 3}
NO_V2X = {"enabled": False}
URBAN = {"free_speed_mps": 50 / 3.6, "capacity_vph_per_lane": 1800.0,
         "jam_density_vpkm_per_lane": 140.0}


def link_exits(world, link: int) -> np.ndarray:
    """Sorted exit times of every vehicle that left ``link``."""
    log = world.traversals.to_numpy()
    return np.sort(log["t_out"][log["link"] == link])


def test_jam_release_reaches_the_upstream_link_after_the_backward_wave(line_scenario) -> None:
    """A fully closed 1 km link fills with a jam; the closure ends at 900 s. Its head
    leaves at 900 s, and the vehicle waiting at the end of the upstream link may enter
    only when that freed space has travelled back: 900 + L / w = 900 + 208.0 = 1,108 s
    (without the wave it entered at 900.0 s)."""
    scenario = line_scenario(
        [URBAN, URBAN, URBAN],
        simulation={"horizon_s": 1300, "moved_on_after_s": 5000, **DETERMINISTIC},
        demand={"flows": [{"origin": 0, "destination": 3, "rate_vph": 1200,
                           "vehicle_class": "car"}]},
        incidents=[{"link": 1, "start_s": 0, "end_s": 900, "lanes_closed": 1}],
        v2x=NO_V2X,
    )
    world = build_world(scenario)
    world.run()
    jammed = link_exits(world, 1)
    assert jammed[0] == pytest.approx(900.0, abs=1e-9)
    upstream = link_exits(world, 0)
    after = upstream[upstream > 800.0]
    assert after[0] == pytest.approx(1108.0, abs=1e-6)


def test_a_queue_discharging_at_q_holds_the_congested_density_of_q(line_scenario) -> None:
    """Newell: a link discharging at flow q holds k_j L - q L / w, not k_j L.

    Link 0 (2 lanes, 1 km: k_j L = 280 vehicles, w = 0.5 / (0.14 - 0.025) = 4.3478 m/s
    per lane, the same for the link, L / w = 230 s) feeds a one-lane link (q = 0.5
    veh/s). Demand 3,000 veh/h exceeds q, so link 0 queues; in the queue the link holds
    280 - 0.5 x 230 = 165 vehicles (the congested density k_j - q / w = 0.165 veh/m),
    and never the 280 a point queue would stack.
    """
    scenario = line_scenario(
        [{"lanes": 2, "length_m": 1000.0}, {"lanes": 1, "length_m": 1000.0}],
        simulation={"horizon_s": 1800, **DETERMINISTIC},
        demand={"flows": [{"origin": 0, "destination": 2, "rate_vph": 3000,
                           "vehicle_class": "car"}]},
        v2x=NO_V2X,
    )
    world = build_world(scenario)
    most = 0
    for t in np.arange(300.0, 1801.0, 20.0):
        world.env.run(until=t)
        most = max(most, world.traffic.vehicles_on(0))
    # the 115 or 116 exits in the last 230 s (one every 2 s) still hold their space
    assert most in (164, 165)
    assert world.traffic.waiting_at_origin(0) > 0


def _write_fork(folder: Path) -> dict:
    """A fork: link a (0 -> 1, 1 km), then b (1 -> 2, 7.2 m: storage 1 vehicle) or the
    detour c (1 -> 3, 1 km), d (3 -> 2, 1 km)."""
    (folder / "nodes.csv").write_text("id,x_m,y_m\n0,0,0\n1,1000,0\n2,1007.2,0\n3,1000,1000\n")
    (folder / "links.csv").write_text(
        "id,from,to,length_m,lanes,free_speed_mps,capacity_vph_per_lane,"
        "jam_density_vpkm_per_lane\n"
        "a,0,1,1000,1,20,1800,140\nb,1,2,7.2,1,20,1800,140\n"
        "c,1,3,1000,1,20,1800,140\nd,3,2,1000,1,20,1800,140\n")
    return {"generator": "file", "file": {"nodes": "nodes.csv", "links": "links.csv"},
            "signals": {"enabled": False}}


def test_a_rerouted_blocked_head_vehicle_leaves_at_once(tmp_path: Path) -> None:
    """A vehicle stands at the end of a, blocked: b holds one vehicle (7.2 m x 140
    veh/km = 1.008) and that one is stuck behind b's full closure. Rerouted at 300 s onto
    the free detour c, d, it leaves a at 300 s, not at the moved-on deadline (it reached
    the end of a at 1000 / 20 = 50 s, so the deadline is 50 + 1,000 = 1,050 s)."""
    scenario = make_scenario(
        tmp_path, road=_write_fork(tmp_path),
        simulation={"horizon_s": 600, "moved_on_after_s": 1000, **DETERMINISTIC},
        demand={"trips": [{"depart_s": 0.0, "origin": 1, "destination": 2},
                          {"depart_s": 0.0, "origin": 0, "destination": 2}]},
        incidents=[{"link": "b", "start_s": 0, "end_s": 600, "lanes_closed": 1}],
        v2x=NO_V2X,
    )
    world = build_world(scenario)
    net = world.network
    a, b, c, d = (net.link_index(x) for x in "abcd")
    world.env.run(until=300.0)
    fleet = world.fleet
    mover = int(np.flatnonzero(fleet.column("origin") == net.node_index(0))[0])
    assert int(fleet.link[mover]) == a
    assert world.traffic.remaining_route(mover) == [b]
    assert world.traffic.reroute(mover, [c, d])
    world.env.run(until=600.0)
    log = world.traversals.to_numpy()
    mine = log["vehicle"] == mover
    assert log["link"][mine].tolist() == [a, c, d]
    assert log["t_out"][mine].tolist() == pytest.approx([300.0, 350.0, 400.0], abs=1e-9)
