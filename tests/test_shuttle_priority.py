"""Transit signal priority: the shuttle's request and the edge's grant, as messages.

A ring 0 -> 1 -> 2 -> 3 -> 0 of 700 m links at 20 m/s (35 s a link), one lane, plus a
cross street 4 -> 1 -> 5 of 600 m links (30 s). Node 1 is signalised from a plan file: cycle 60 s,
the ring's approach (link 0) green [0, 30) s, the cross street (link 4) green [30, 60) s,
no amber, no start-up loss (effective green = displayed green). A shuttle leaves node 0
at 0 s and is expected at node 1's stop line at 35 s: 5 s into the red. A car leaves
node 4 at 0 s and reaches node 1 at 30 s, as its green starts. Deterministic mode.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import make_scenario

from v2x_sim.world import build_world

XY = [(0, 0), (1000, 0), (1000, 1000), (0, 1000), (1000, -1000), (2000, 0)]
LINKS = [(0, 1, 700), (1, 2, 700), (2, 3, 700), (3, 0, 700), (4, 1, 600), (1, 5, 600)]


def _scenario(folder: Path, **priority: object):
    (folder / "nodes.csv").write_text(
        "id,x_m,y_m\n" + "".join(f"{i},{x},{y}\n" for i, (x, y) in enumerate(XY)))
    (folder / "links.csv").write_text(
        "id,from,to,length_m,lanes,free_speed_mps,capacity_vph_per_lane\n"
        + "".join(f"{i},{a},{b},{n},1,20,1800\n" for i, (a, b, n) in enumerate(LINKS)))
    (folder / "signals.csv").write_text(
        "node,link,cycle_s,green_start_s,green_s,amber_s\n1,0,60,0,30,0\n1,4,60,30,30,0\n")
    return make_scenario(
        folder,
        road={"generator": "file", "file": {"nodes": "nodes.csv", "links": "links.csv"},
              "signals": {"plan": "file", "file": "signals.csv", "startup_lost_s": 0,
                          "amber_usable_share": 0, "amber_s": 0, "all_red_s": 0}},
        simulation={"horizon_s": 200, "deterministic": True, "seed": 1},
        demand={"trips": [{"depart_s": 0, "origin": 4, "destination": 5,
                           "vehicle_class": "car"}]},
        vehicles={"shuttle_lines": [{"name": "ring", "stops": [0, 2], "holding": "none"}],
                  "transit_priority": priority},
        roadside={"rsu": {"placement": {"mode": "spacing", "spacing_m": 200},
                          "range_m": 400}})


def _exits(world, link: int) -> list[float]:
    log = world.traversals.to_numpy()
    return sorted(float(t) for t, k in zip(log["t_out"], log["link"], strict=True) if k == link)


def test_without_priority_the_shuttle_waits_for_the_next_green(tmp_path: Path) -> None:
    world = build_world(_scenario(tmp_path, enabled=False))
    world.run()
    assert _exits(world, 0)[0] == pytest.approx(60.0)  # the next green
    assert _exits(world, 4)[0] == pytest.approx(30.0)  # the car goes as its green starts
    assert world.priority is None


def test_a_grant_extends_the_green_by_exactly_the_granted_seconds(tmp_path: Path) -> None:
    """The edge grants an extension of 5 s (into the red) + 2 s (margin) = 7 s from the
    green's end at 30 s: the shuttle leaves at its arrival, 35 s, and the cross street's
    green starts 7 s late, so the car leaves at 37 s instead of 30 s."""
    world = build_world(_scenario(tmp_path, enabled=True, max_extension_s=10, margin_s=2))
    result = world.run()
    table = result.tables["priority"]
    first = next(i for i, k in enumerate(table["link"]) if k == "0")
    assert table["outcome"][first] == "extension"
    assert table["granted_s"][first] == pytest.approx(7.0)
    assert table["cross_lost_green_s"][first] == pytest.approx(7.0)  # one cross approach
    assert _exits(world, 0)[0] == pytest.approx(35.0)
    assert _exits(world, 4)[0] == pytest.approx(37.0)
    summary = result.summary["transit"]["priority"]
    assert summary["grants"] >= 1
    assert summary["requests"] == sum(summary["by_outcome"].values())


def test_the_request_and_grant_latency_is_exact_in_deterministic_mode(tmp_path: Path) -> None:
    """PC5 on an idle channel (airtime 0.5 ms + access 2 ms), fibre from the RSU to its
    edge node, the edge's mean service time (no queue at 0 s), fibre from the edge node
    to the junction: each from the configuration and the device positions."""
    scenario = _scenario(tmp_path, enabled=True)
    world = build_world(scenario)
    result = world.run()
    table = result.tables["priority"]
    i = next(j for j, k in enumerate(table["link"]) if k == "0")
    dev, channels = world.v2x.devices, world.v2x.channels
    rsu, edge = int(table["rsu"][i]), int(table["edge"][i])
    pc5 = scenario.channels.pc5
    fibre = scenario.channels.fibre
    hops = fibre.rsu_hops

    def fibre_s(dx: float, dy: float) -> float:
        return float(channels.fibre.delay_s(math.hypot(dx, dy), hops))

    up = pc5.airtime_s + pc5.access_delay_s + fibre_s(
        dev.x_m[rsu] - dev.edge_x_m[edge], dev.y_m[rsu] - dev.edge_y_m[edge])
    service = scenario.edge.service["hazard_warning"].mean_s
    down = fibre_s(dev.edge_x_m[edge] - 1000.0, dev.edge_y_m[edge] - 0.0)
    assert table["edge_arrival_s"][i] == pytest.approx(up, rel=1e-9)
    assert table["edge_start_s"][i] == pytest.approx(up, rel=1e-9)
    assert table["latency_s"][i] == pytest.approx(up + service + down, rel=1e-9)


def test_out_of_limits_and_early_green(tmp_path: Path) -> None:
    """With a 4 s extension limit the 7 s extension is out; an early green needs the
    next green (60 s) minus 35 s + 2 s = 27 s: out too with max_early_s 10; with 30 s
    the ring's green starts at 33 s, the cross street's green ends 27 s early (at 33 s),
    and the shuttle leaves at its arrival, 35 s."""
    world = build_world(_scenario(tmp_path, enabled=True, max_extension_s=4, max_early_s=10))
    table = world.run().tables["priority"]
    assert table["outcome"][list(table["link"]).index("0")] == "out_of_limits"
    world = build_world(_scenario(tmp_path, enabled=True, max_extension_s=4, max_early_s=30))
    table = world.run().tables["priority"]
    i = list(table["link"]).index("0")
    assert table["outcome"][i] == "early"
    assert table["granted_s"][i] == pytest.approx(27.0)
    assert _exits(world, 0)[0] == pytest.approx(35.0)
