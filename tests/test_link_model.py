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

from v2x_sim._core.errors import ScenarioError
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


def test_a_work_zone_takes_the_closed_lanes_storage_and_leaks_nothing(line_scenario) -> None:
    """Both lanes of a 2-lane, 1 km link closed over 200 m for 20 min: the link holds
    2 x 1000 x 0.14 - 2 x 200 x 0.14 = 280 - 56 = 224 vehicles (no space comes back:
    nothing leaves), nothing passes the zone while it lasts, nobody is moved on (a line
    has no other way), and the exit resumes at the closure's end (1,200 s)."""
    scenario = line_scenario(
        [{"lanes": 2}, {"lanes": 2}, {"lanes": 2}],
        simulation={"horizon_s": 1300, "moved_on_after_s": 120, **DETERMINISTIC},
        demand={"flows": [{"origin": 0, "destination": 3, "rate_vph": 3000,
                           "vehicle_class": "car"}]},
        incidents=[{"link": 1, "start_s": 0, "end_s": 1200, "lanes_closed": 2,
                    "position_m": 500, "length_m": 200}],
        v2x=NO_V2X,
    )
    world = build_world(scenario)
    world.env.run(until=1199.0)
    assert world.traffic.vehicles_on(1) == 224
    assert link_exits(world, 1).size == 0
    assert world.traffic.moved_on == 0
    world.env.run(until=1300.0)
    assert link_exits(world, 1)[0] == pytest.approx(1200.0, abs=1e-9)


def test_one_closed_lane_over_a_zone_discharges_one_lane(line_scenario) -> None:
    """One of two lanes closed over 200 m: the link passes one lane's 1,800 veh/h of a
    3,000 veh/h demand, and its storage is 280 - 200 x 0.14 = 252, of which the space
    of the exits of the last L / w = 230 s (0.5 veh/s x 230 s = 115) is still on its
    way back: at most 252 - 115 = 137 vehicles on the link (a point closure: 165)."""
    scenario = line_scenario(
        [{"lanes": 2}, {"lanes": 2}, {"lanes": 2}],
        simulation={"horizon_s": 1800, **DETERMINISTIC},
        demand={"flows": [{"origin": 0, "destination": 3, "rate_vph": 3000,
                           "vehicle_class": "car"}]},
        incidents=[{"link": 1, "start_s": 0, "end_s": 1800, "lanes_closed": 1,
                    "length_m": 200}],
        v2x=NO_V2X,
    )
    world = build_world(scenario)
    most = 0
    for t in np.arange(600.0, 1801.0, 20.0):
        world.env.run(until=t)
        most = max(most, world.traffic.vehicles_on(1))
    assert most in (136, 137)
    exits = link_exits(world, 1)
    assert ((exits >= 900) & (exits < 1800)).sum() * 4 == pytest.approx(1800, abs=8)


def _write_two_way_fork(folder: Path) -> dict:
    """The fork of `_write_fork` with b's opposite direction b2 (2 -> 1) and b 1 km."""
    road = _write_fork(folder)
    (folder / "nodes.csv").write_text("id,x_m,y_m\n0,0,0\n1,1000,0\n2,2000,0\n3,1500,500\n")
    links = (folder / "links.csv").read_text().replace("b,1,2,7.2,", "b,1,2,1000,")
    (folder / "links.csv").write_text(links + "b2,2,1,1000,1,20,1800,140\n")
    return road


def test_a_vehicle_behind_a_full_closure_turns_back_after_the_limit(tmp_path: Path) -> None:
    """b is closed; a vehicle on a, b reaches b's end at 1000 / 20 x 2 = 100 s, waits
    the 120 s limit and turns back (moved on, counted) onto b2 at 220 s, then takes
    c, d to node 2: out of b2 at 270 s, c at 320 s, d at 370 s. Nothing left b forward."""
    scenario = make_scenario(
        tmp_path, road=_write_two_way_fork(tmp_path),
        simulation={"horizon_s": 600, "moved_on_after_s": 120, **DETERMINISTIC},
        demand={"trips": [{"depart_s": 0.0, "origin": 0, "destination": 2}]},
        incidents=[{"link": "b", "start_s": 0, "end_s": 600, "lanes_closed": 1}],
        v2x=NO_V2X,
    )
    world = build_world(scenario)
    result = world.run()
    log = world.traversals.to_numpy()
    ids = world.network.link_ids
    assert [str(ids[k]) for k in log["link"]] == ["a", "b", "b2", "c", "d"]
    assert log["t_out"].tolist() == pytest.approx([50.0, 220.0, 270.0, 320.0, 370.0])
    assert result.summary["moved_on"] == 1
    assert result.trips["travel_time_s"][0] == pytest.approx(370.0)


def test_moved_on_goes_to_a_link_with_space_not_into_the_full_one(tmp_path: Path) -> None:
    """b holds one vehicle, stuck behind b's closure (it may not turn back: it has no
    way round). The vehicle behind it on a waits the 120 s limit at a's end (from 50 s)
    and is moved on at 170 s to c, which has space, not pushed into the full b: c out
    at 220 s, d at 270 s."""
    scenario = make_scenario(
        tmp_path, road=_write_fork(tmp_path),
        simulation={"horizon_s": 600, "moved_on_after_s": 120, **DETERMINISTIC},
        demand={"trips": [{"depart_s": 0.0, "origin": 1, "destination": 2},
                          {"depart_s": 0.0, "origin": 0, "destination": 2}]},
        incidents=[{"link": "b", "start_s": 0, "end_s": 600, "lanes_closed": 1}],
        v2x=NO_V2X,
    )
    world = build_world(scenario)
    world.run()
    net = world.network
    log = world.traversals.to_numpy()
    mover = int(np.flatnonzero(world.fleet.column("origin") == net.node_index(0))[0])
    mine = log["vehicle"] == mover
    assert log["link"][mine].tolist() == [net.link_index(x) for x in "acd"]
    assert log["t_out"][mine].tolist() == pytest.approx([170.0, 220.0, 270.0])
    assert world.traffic.moved_on == 1
    assert world.traffic.vehicles_on(net.link_index("b")) == 1


def test_a_work_zone_past_the_link_end_is_an_error_naming_the_field(line_scenario) -> None:
    """A zone from 900 m over 200 m does not end on a 1,000 m link: one clear error."""
    scenario = line_scenario(
        [{"lanes": 2}],
        simulation={"horizon_s": 60, **DETERMINISTIC},
        demand={"trips": [{"depart_s": 0.0, "origin": 0, "destination": 1}]},
        incidents=[{"link": 0, "start_s": 0, "end_s": 60, "lanes_closed": 1,
                    "position_m": 900, "length_m": 200}],
        v2x=NO_V2X,
    )
    with pytest.raises(ScenarioError, match=r"incidents\[0\]\.length_m.*1000 m long"):
        build_world(scenario)


def test_delivery_stops_avoid_nodes_an_expressway_touches(tmp_path: Path) -> None:
    """Nodes 0 - 1 = 2 - 3 on a line, both directions, 1 = 2 an expressway: only 0 and 3
    are touched by arterials alone, so every delivery stop is 0 or 3 (the trips start
    anywhere an arterial touches: all four nodes)."""
    (tmp_path / "nodes.csv").write_text("id,x_m,y_m\n0,0,0\n1,500,0\n2,1000,0\n3,1500,0\n")
    rows = ["id,from,to,length_m,lanes,free_speed_mps,capacity_vph_per_lane,road_class"]
    for k, (a, b, cls) in enumerate([(0, 1, "arterial"), (1, 2, "expressway"),
                                     (2, 3, "arterial")]):
        rows += [f"f{k},{a},{b},500,1,15,1800,{cls}", f"r{k},{b},{a},500,1,15,1800,{cls}"]
    (tmp_path / "links.csv").write_text("\n".join(rows) + "\n")
    scenario = make_scenario(
        tmp_path, road={"generator": "file", "file": {"nodes": "nodes.csv", "links": "links.csv"},
                        "signals": {"enabled": False}},
        simulation={"horizon_s": 600, "seed": 4},
        demand={"random": {"rate_vph": 600}},
        vehicles={"classes": {"car": {"share": 0.0}, "truck": {"share": 0.0},
                              "delivery": {"share": 1.0, "stops": 2, "radius_m": 5000}}},
        v2x=NO_V2X,
    )
    plan = build_world(scenario).plan
    assert len(plan) > 50
    stops = {s for trip in plan.waypoints for s in trip}
    assert stops == {0, 3}
    assert set(plan.origin.tolist()) == {0, 1, 2, 3}


def _fork_with_two_lanes(folder: Path, a_length_m: float) -> dict:
    """The fork of `_write_fork` with a two-lane link a of ``a_length_m``."""
    road = _write_fork(folder)
    links = (folder / "links.csv").read_text().replace("a,0,1,1000,1,", f"a,0,1,{a_length_m},2,")
    (folder / "links.csv").write_text(links)
    return road


def _turning_flows(folder: Path, a_length_m: float, horizon_s: float):  # type: ignore[no-untyped-def]
    """360 veh/h each from node 0 to 2 (through b, closed: it holds one stuck vehicle)
    and to 3 (through c, free); nobody is moved on within the horizon."""
    scenario = make_scenario(
        folder, road=_fork_with_two_lanes(folder, a_length_m),
        simulation={"horizon_s": horizon_s, "moved_on_after_s": 10_000, **DETERMINISTIC},
        demand={"flows": [{"origin": 0, "destination": 2, "rate_vph": 360,
                           "vehicle_class": "car"},
                          {"origin": 0, "destination": 3, "rate_vph": 360,
                           "vehicle_class": "car"}]},
        incidents=[{"link": "b", "start_s": 0, "end_s": horizon_s, "lanes_closed": 1}],
        v2x=NO_V2X,
    )
    world = build_world(scenario)
    world.run()
    net = world.network
    log = world.traversals.to_numpy()
    to_c = np.isin(log["vehicle"], log["vehicle"][log["link"] == net.link_index("c")])
    on_a = (log["link"] == net.link_index("a")) & to_c
    return world, log["t_in"][on_a], log["t_out"][on_a]


def test_a_movement_to_a_free_branch_passes_vehicles_blocked_for_a_closed_one(
        tmp_path: Path) -> None:
    """The issue's case: on two-lane a (1 km, 280 vehicles of storage), vehicles for b
    queue behind b's closure (0.1 veh/s: about 110 by 1,100 s, far from full), while
    those for c pass them: each crosses a in L / v_f = 1000 / 20 = 50 s, plus at most
    the exit's saturation headway 1 / (0.5 x 2) = 1 s (FIFO held them behind the first
    vehicle for b for the whole run)."""
    _, t_in, t_out = _turning_flows(tmp_path, 1000.0, 1200.0)
    assert t_in.size >= 100  # 0.1 veh/s for c over ~1,100 s
    assert np.max(t_out - t_in) <= 50.0 + 1.0 + 1e-9


def test_a_blocked_movement_blocks_all_once_its_lane_is_full(tmp_path: Path) -> None:
    """a is 200 m of two lanes; one lane holds 200 x 0.14 = 28 vehicles. The first
    vehicle for b (out at 5 s) sits on b; the k-th (k >= 2, out at 5 + 10 (k - 1)) stands
    at a's end from 15 + 10 (k - 1). The j-th vehicle for c enters a 1 s after (entry
    headway 1 / (0.5 x 2)) and reaches the end at 16 + 10 (j - 1), with j - 1 vehicles
    for b standing ahead of it. It passes them while they fit in their lane (j - 1 <=
    28): 29 vehicles leave for c, the last at 16 + 280 = 296 s; from the 30th on the
    queue for b has spilled into the shared lane and holds them."""
    world, _, t_out = _turning_flows(tmp_path, 200.0, 1200.0)
    assert t_out.size == 29
    assert t_out.max() == pytest.approx(296.0, abs=1e-9)
    fleet, net = world.fleet, world.network
    n = len(fleet)
    on_a = fleet.link[:n] == net.link_index("a")
    for_c = fleet.column("destination") == net.node_index(3)
    assert np.count_nonzero(on_a & for_c) >= 1


def _ring() -> tuple:  # type: ignore[type-arg]
    """Four nodes on a 100 m square, 0 (0, 0), 1 (100, 0), 2 (100, 100), 3 (0, 100), a
    two-way 100 m road on each side, and a 100 m spur 1 -> 4 -> 1 to a dead end 4."""
    from v2x_sim.road.network import build_network
    from v2x_sim.road.routing import RouteTables

    pairs = [(0, 1), (1, 2), (2, 3), (3, 0), (1, 4)]
    ends = [(a, b) for a, b in pairs] + [(b, a) for a, b in pairs]
    net = build_network(
        x_m=[0, 100, 100, 0, 200], y_m=[0, 0, 100, 100, 0],
        from_node=[a for a, _ in ends], to_node=[b for _, b in ends],
        length_m=[100.0] * 10, lanes=[1] * 10, free_speed_mps=[10.0] * 10,
        capacity_vps_per_lane=[0.5] * 10, jam_density_vpm_per_lane=[0.14] * 10,
        road_class=[0] * 10)
    link = {pair: i for i, pair in enumerate(ends)}
    return net, RouteTables(net, net.free_flow_time_s), link


def test_a_delivery_leg_after_a_stop_goes_round_instead_of_turning_back() -> None:
    """From 0 via a stop at 1 back to 0: arriving at 1 on 0 -> 1, turning back (1 -> 0,
    10 s) is forbidden away from a dead end, so the leg goes round the square: 1 -> 2,
    2 -> 3, 3 -> 0 (3 x 10 s = 30 s). With U-turns allowed anywhere it turns back."""
    from v2x_sim.road.movements import TurnRules
    from v2x_sim.traffic.itinerary import itinerary

    net, tables, link = _ring()
    route, dwell = itinerary(tables, 0, [1], 0, 60.0, TurnRules(net))
    assert route == [link[0, 1], link[1, 2], link[2, 3], link[3, 0]]
    assert dwell == {1: 60.0}
    route, _ = itinerary(tables, 0, [1], 0, 60.0, TurnRules(net, u_turns_anywhere=True))
    assert route == [link[0, 1], link[1, 0]]


def test_a_dead_end_allows_the_u_turn() -> None:
    """4 is a dead end (its only way out goes back to 1): a stop there turns back."""
    from v2x_sim.road.movements import TurnRules
    from v2x_sim.traffic.itinerary import itinerary

    net, tables, link = _ring()
    route, _ = itinerary(tables, 1, [4], 1, 0.0, TurnRules(net))
    assert route == [link[1, 4], link[4, 1]]
    rules = TurnRules(net)
    assert rules.forbidden(link[0, 1], link[1, 0])
    assert not rules.forbidden(link[1, 4], link[4, 1])
    assert not rules.forbidden(link[0, 1], link[1, 2])


def test_advice_to_turn_back_away_from_a_dead_end_is_not_followed(tmp_path: Path) -> None:
    """On the square (as files), a vehicle on 0 -> 1 heading for 2 may not be sent back
    1 -> 0 (then 0 -> 3 -> 2): `reroute` refuses; with `road.u_turns: anywhere` it
    follows."""
    net, _, link = _ring()
    (tmp_path / "nodes.csv").write_text(
        "id,x_m,y_m\n" + "".join(f"{i},{x},{y}\n" for i, (x, y) in
                                 enumerate(zip(net.x_m, net.y_m, strict=True))))
    (tmp_path / "links.csv").write_text(
        "id,from,to,length_m,lanes,free_speed_mps,capacity_vph_per_lane\n" + "".join(
            f"{i},{a},{b},100,1,10,1800\n" for i, (a, b) in
            enumerate(zip(net.from_node, net.to_node, strict=True))))
    back = [link[1, 0], link[0, 3], link[3, 2]]
    for u_turns, followed in (("dead_ends", False), ("anywhere", True)):
        scenario = make_scenario(
            tmp_path, road={"generator": "file", "u_turns": u_turns,
                            "file": {"nodes": "nodes.csv", "links": "links.csv"},
                            "signals": {"enabled": False}},
            simulation={"horizon_s": 100, **DETERMINISTIC},
            demand={"trips": [{"depart_s": 0.0, "origin": 0, "destination": 2}]},
            v2x=NO_V2X)
        world = build_world(scenario)
        world.env.run(until=5.0)
        assert world.traffic.remaining_route(0) == [link[1, 2]]
        assert world.traffic.reroute(0, back) is followed


def test_a_speed_cap_over_a_work_zone_slows_vehicles_over_its_length_only(
        line_scenario) -> None:
    """36 km/h (10 m/s) over 200 m of a 1 km, 20 m/s link: 800 / 20 + 200 / 10 = 60 s
    (over the whole link it would be 100 s); the ground truth says the same to a vehicle
    about to enter. Without a length the cap still acts along the whole link: 100 s."""
    for length_m, expected_s in ((200.0, 60.0), (0.0, 100.0)):
        scenario = line_scenario(
            [{"lanes": 2}],
            simulation={"horizon_s": 300, **DETERMINISTIC},
            demand={"trips": [{"depart_s": 10.0, "origin": 0, "destination": 1}]},
            incidents=[{"link": 0, "start_s": 0, "end_s": 300, "lanes_closed": 0,
                        "speed_cap_kmh": 36, "position_m": 300, "length_m": length_m}],
            v2x=NO_V2X,
        )
        world = build_world(scenario)
        world.env.run(until=5.0)
        assert world.traffic.travel_time_s()[0] == pytest.approx(expected_s, rel=1e-9)
        world.env.run(until=300.0)
        log = world.traversals.to_numpy()
        assert log["t_out"][0] - log["t_in"][0] == pytest.approx(expected_s, rel=1e-9)
