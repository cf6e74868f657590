"""Hazard warnings: addressed by route, repeated while active, counted per vehicle.

Hand cases on a small two-way road in deterministic mode (every delay its mean, BSMs,
status reports and aggregates off, so the PC5 channel is idle):

    0 ==e0== 1 ==e1== 2 ==e2== 3        x = 0, 1000, 2000, 3000 m (y = 0)
             |                          links e* eastbound, w* westbound
             s (north, 1000 m) 4        a side road from node 1 to node 4 (1000, 1000)

The hazard stands on e2 at 500 m from 100 s to 250.5 s; a camera at it sees it in its
first frame (cameras watch the middle of e1 and e2).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from v2x_sim import build_world
from v2x_sim.comms.channels import FibreLink
from v2x_sim.compute.warning_dissemination import route_distance_m
from v2x_sim.compute.warning_metrics import reaching
from v2x_sim.scenario import scenario_from_dict

NODES = {0: (0, 0), 1: (1000, 0), 2: (2000, 0), 3: (3000, 0), 4: (1000, 1000), 5: (1500, -500)}
# name: (from, to, length_m)
LINKS = {"e0": (0, 1, 1000), "e1": (1, 2, 1000), "e2": (2, 3, 1000),
         "w2": (3, 2, 1000), "w1": (2, 1, 1000), "w0": (1, 0, 1000),
         "s": (1, 4, 1000), "n": (4, 1, 1000)}
# a bypass of e1 for the detour cases: 1 -> 5 -> 2 (two 800 m links)
BYPASS = {"b1": (1, 5, 800), "b2": (5, 2, 800)}
EDGE_XY = (1500.0, 300.0)
SPEED = 20.0  # m/s, every link
HAZARD = {"link": "e2", "position_m": 500}


def write_network(folder: Path, links: dict[str, tuple[int, int, int]],
                  lanes: int = 2) -> dict[str, Any]:
    nodes = ["id,x_m,y_m"] + [f"{k},{x},{y}" for k, (x, y) in NODES.items()]
    rows = ["id,from,to,length_m,lanes,free_speed_mps,capacity_vph_per_lane,"
            "jam_density_vpkm_per_lane"]
    rows += [f"{name},{a},{b},{length},{lanes},{SPEED},1800,140"
             for name, (a, b, length) in links.items()]
    (folder / "nodes.csv").write_text("\n".join(nodes) + "\n")
    (folder / "links.csv").write_text("\n".join(rows) + "\n")
    return {"generator": "file", "file": {"nodes": "nodes.csv", "links": "links.csv"},
            "signals": {"enabled": False}}


def scenario(folder: Path, trips: list[dict[str, Any]], *, links: dict[str, Any] | None = None,
             incident: dict[str, Any] | None = None, v2x: dict[str, Any] | None = None,
             compliance: float = 0.0, horizon_s: float = 400) -> Any:
    rsus = [{"x_m": x, "y_m": 0} for x in range(250, 3000, 500)]
    rsus += [{"x_m": 1000, "y_m": 500}, {"x_m": 1500, "y_m": -400}]
    data = {
        "simulation": {"horizon_s": horizon_s, "seed": 5, "deterministic": True},
        "road": write_network(folder, links or LINKS),
        "demand": {"trips": trips},
        "vehicles": {"classes": {"car": {"share": 1.0, "connected_share": 1.0,
                                         "compliance": compliance},
                                 "truck": {"share": 0.0}, "delivery": {"share": 0.0}}},
        "incidents": [incident or {**HAZARD, "start_s": 100, "end_s": 250.5,
                                   "lanes_closed": 1}],
        "roadside": {"rsu": {"placement": {"mode": "list", "positions": rsus}, "range_m": 400},
                     "sensors": [{"kind": "camera", "detection_probability": 1.0,
                                  "range_m": 150, "placement": {
                                      "mode": "list", "positions": [{"x_m": 1500, "y_m": 0},
                                                   {"x_m": 2500, "y_m": 0}]}}]},
        "edge": {"nodes": 1, "positions": [{"x_m": EDGE_XY[0], "y_m": EDGE_XY[1]}]},
        "messages": {"bsm": {"enabled": False}, "status": {"enabled": False},
                     "aggregate": {"enabled": False}},
        "v2x": {"warning_distance_m": 2500, "queue_tails": False, **(v2x or {})},
    }
    return scenario_from_dict(data, base_dir=folder)


def trip(depart_s: float, origin: int, destination: int) -> dict[str, Any]:
    return {"depart_s": depart_s, "origin": origin, "destination": destination,
            "connected": True}


def rows_of(result: Any, hazard: int = 0) -> dict[int, int]:
    """vehicle -> row of warnings.csv for ``hazard``."""
    w = result.tables["warnings"]
    return {int(v): i for i, v in enumerate(w["vehicle"]) if int(w["hazard"][i]) == hazard}


# ---------------------------------------------------------------------------- recipients
def test_route_distance_walks_the_route_to_the_hazard() -> None:
    """On link 0 (1000 m) at 300 m, route [1, 2], hazard on link 2 at 400 m:
    d = (1000 - 300) + 1000 + 400 = 2100 m; off the route, or beyond the limit from the
    link's end (1000 + 400 > 1200), inf."""
    length = [1000.0, 1000.0, 1000.0]
    assert route_distance_m(0, 300.0, [1, 2], 2, 400.0, length, 2500.0) == 2100.0
    assert route_distance_m(0, 300.0, [1], 2, 400.0, length, 2500.0) == math.inf
    assert route_distance_m(0, 300.0, [1, 2], 2, 400.0, length, 1200.0) == math.inf
    # on the hazard link before the point: position - offset; past it: not addressed
    assert route_distance_m(2, 100.0, [], 2, 400.0, length, 2500.0) == 300.0
    assert route_distance_m(2, 500.0, [], 2, 400.0, length, 2500.0) == math.inf


@pytest.fixture(scope="module")
def recipients(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A: 0 -> 3 through the hazard (at 100 s on e1's start, 1,500 m before it).
    B: 3 -> 0 on the opposite carriageway (at 100 s on w2, 700 m from the point by road).
    C: 0 -> 4 turning off at node 1 (1,700 m by road, its route never passes it).
    D: 0 -> 3, departs at 105 s, 5 s after the hazard began (2,500 m: in reach at once).
    """
    folder = tmp_path_factory.mktemp("recipients")
    trips = [trip(50, 0, 3), trip(60, 3, 0), trip(60, 0, 4), trip(105, 0, 3)]
    return build_world(scenario(folder, trips, v2x={"warning_reaction": False})).run()


def test_only_vehicles_whose_route_passes_the_hazard_are_warned(recipients: Any) -> None:
    """A and D are warned; B (opposite carriageway) and C (turns off) are not, though
    both were within the warning distance by road when the first broadcast left."""
    rows = rows_of(recipients)
    assert sorted(rows) == [0, 3]
    w = recipients.tables["warnings"]
    assert all(bool(w["delivered"][i]) for i in rows.values())
    # A at the first broadcast: on e1, (t_sent - 100) s x 20 m/s past node 1
    a = rows[0]
    assert w["repetition"][a] == 0
    assert w["distance_m"][a] == pytest.approx(1500.0 - (w["t_sent_s"][a] - 100.0) * SPEED,
                                               rel=1e-9)
    hazards = recipients.summary["hazards"]
    assert hazards["upstream_vehicles"] == 2
    assert hazards["warned"] == hazards["warned_vehicles"] == 2


def test_a_late_arrival_is_warned_by_a_repetition_with_exact_latency(recipients: Any) -> None:
    """D enters e0 at 105 s: the first repetition at or after that (edge_done + k x 1 s)
    warns it. Its latency is the repetition's own: fibre (edge -> D's RSU, 1.3 route
    factor, rsu_hops) + PC5 mean on an idle channel (airtime + access delay)."""
    w = recipients.tables["warnings"]
    d = rows_of(recipients)[3]
    [record] = recipients.summary["hazards"]["by_hazard"]
    done = record["edge_done_s"]
    k = math.ceil(105.0 - done)  # the first repetition instant >= 105 s
    assert w["repetition"][d] == k
    assert w["t_sent_s"][d] == pytest.approx(done + k, rel=1e-12)
    sc = recipients.scenario
    dev = recipients.tables["devices"]
    rsu = int(w["rsu"][d])
    fibre = FibreLink.from_params(sc.channels.fibre).delay_s(
        math.hypot(dev["x_m"][rsu] - EDGE_XY[0], dev["y_m"][rsu] - EDGE_XY[1]),
        sc.channels.fibre.rsu_hops)
    pc5 = sc.channels.pc5.airtime_s + sc.channels.pc5.access_delay_s
    assert w["latency_s"][d] == pytest.approx(float(fibre) + pc5, rel=1e-9)
    assert w["t_delivered_s"][d] == pytest.approx(done + k + float(fibre) + pc5, rel=1e-9)
    # D was 0-20 m into e0 when it was sent: (t_sent - 105) x 20 m/s
    assert w["distance_m"][d] == pytest.approx(2500.0 - (done + k - 105.0) * SPEED, rel=1e-9)


def test_warned_vehicles_are_counted_once_however_many_repetitions(recipients: Any) -> None:
    """Repetitions every 1 s from edge_done until the edge confirmed the clearance: one
    broadcast per instant edge_done + k < clear_done (150.5 s later: k = 0 .. 150); each
    vehicle one row, one attempt, one message in the book (the radio never failed)."""
    [record] = recipients.summary["hazards"]["by_hazard"]
    span = record["clear_done_s"] - record["edge_done_s"]
    assert span == pytest.approx(150.5, rel=1e-9)  # the same camera sees start and end
    assert record["broadcasts"] == 151
    w = recipients.tables["warnings"]
    assert list(w["attempts"]) == [1, 1]
    book = recipients.summary["latency"]["hazard_warning"]
    assert book["sent"] == book["delivered"] == 2


def test_reaching_counts_connected_vehicles_entering_the_hazard_link(recipients: Any) -> None:
    """A enters e2 at 150 s and D at 205 s, both while the hazard is on (to 250.5 s),
    both warned before (at ~100 s and ~105 s); B and C never enter e2."""
    hazards = recipients.summary["hazards"]
    [record] = hazards["by_hazard"]
    assert (record["cv_reaching"], record["cv_reaching_warned"]) == (2, 2)
    assert record["cv_reaching_from_origin"] == 0  # both came from node 0 over e0, e1
    assert hazards["cv_reaching_warned_share"] == 1.0


def test_a_vehicle_a_broadcast_missed_is_tried_again_by_the_next(tmp_path: Path) -> None:
    """Without the RSU at x = 250 m nothing covers the first ~350 m of e0: D (departing
    at 105 s from x = 0) is addressed by every repetition from k0 = ceil(105 - edge_done)
    on, lost ("no_coverage", then "radio" while beyond the PC5 median range: the
    deterministic channel delivers from there) until it drives into range, then warned.
    One row for it:
    attempts = its delivering repetition - k0 + 1; the book's losses are exactly its
    failed attempts (A is covered at once), sent = delivered + lost."""
    trips = [trip(50, 0, 3), trip(105, 0, 3)]
    sc = scenario(tmp_path, trips, v2x={"warning_reaction": False})
    rsus = [p for p in sc.roadside.rsu.placement.positions if p.x_m != 250]
    sc = sc.model_copy(update={"roadside": sc.roadside.model_copy(update={
        "rsu": sc.roadside.rsu.model_copy(update={"placement": sc.roadside.rsu.placement
                                                  .model_copy(update={"positions": rsus})})})})
    result = build_world(sc).run()
    w = result.tables["warnings"]
    d = rows_of(result)[1]
    [record] = result.summary["hazards"]["by_hazard"]
    k0 = math.ceil(105.0 - record["edge_done_s"])
    assert bool(w["delivered"][d])
    assert w["attempts"][d] >= 2
    assert w["attempts"][d] == w["repetition"][d] - k0 + 1
    book = result.summary["latency"]["hazard_warning"]
    # out of every RSU's range, then beyond the PC5 median range (deterministic: lost)
    assert set(book["lost_by_reason"]) == {"no_coverage", "radio"}
    assert sum(book["lost_by_reason"].values()) == int(w["attempts"][d]) - 1
    assert book["sent"] == book["delivered"] + book["lost"] == 2 + int(w["attempts"][d]) - 1
    assert result.summary["hazards"]["warned"] == 2


def test_reaching_counts_each_vehicle_once_in_the_window() -> None:
    """Entries of link 7 (hazard from 100 s to 200 s), connected vehicles 0, 1, 2, 4:
    vehicle 0 enters at 120 and again at 150 (once, at 120; warned at 110: before);
    vehicle 1 at 90 (before the start: not reaching); vehicle 2 at 130, warned at 140
    (after: unwarned), and link 7 is its first link (from its origin); vehicle 3 is not
    connected; vehicle 4 at 200 (the end: not reaching). So (2, 1, 1)."""
    vehicle = np.array([0, 0, 1, 2, 3, 4, 0])
    link = np.array([7, 7, 7, 7, 7, 7, 3])
    t_in = np.array([120.0, 150.0, 90.0, 130.0, 125.0, 200.0, 60.0])
    connected = np.array([True, True, True, False, True])
    first = np.array([60.0, 90.0, 130.0, 125.0, 200.0])
    assert reaching(7, 100.0, 200.0, vehicle, link, t_in, connected,
                    {0: 110.0, 2: 140.0}, first) == (2, 1, 1)


def test_without_repetition_the_late_arrival_is_never_warned(tmp_path: Path) -> None:
    """warning_repeat_s = 0: one broadcast, at edge_done; D, departing later, misses it."""
    trips = [trip(50, 0, 3), trip(105, 0, 3)]
    result = build_world(scenario(tmp_path, trips, v2x={"warning_reaction": False,
                                                        "warning_repeat_s": 0})).run()
    assert sorted(rows_of(result)) == [0]
    assert result.summary["hazards"]["broadcasts"] == 1


# ---------------------------------------------------------------------------- reaction
def reaction_run(folder: Path, compliance: float, lanes_closed: int) -> Any:
    """One car 0 -> 3 (e0 e1 e2) with the bypass 1 -> 5 -> 2; the hazard on e1 at 500 m
    from 10 s; the car departs at 20 s, so it is warned on e0 before node 1."""
    incident = {"link": "e1", "position_m": 500, "start_s": 10, "end_s": 390,
                "lanes_closed": lanes_closed}
    return build_world(scenario(folder, [trip(20, 0, 3)], links={**LINKS, **BYPASS},
                                incident=incident, compliance=compliance,
                                horizon_s=600)).run()


def test_a_compliant_driver_detours_at_the_next_node_around_a_closure(tmp_path: Path) -> None:
    """Compliance 1, both lanes closed: the edge's detour from node 1 (b1 b2, 1,600 m,
    80 s) beats staying (closed: never); the car switches at node 1 and arrives after
    e0 + b1 + b2 + e2 = 1000 + 800 + 800 + 1000 m at 20 m/s = 180 s."""
    result = reaction_run(tmp_path, compliance=1.0, lanes_closed=2)
    [row] = rows_of(result).values()
    assert result.tables["warnings"]["reaction"][row] == "detour"
    hazards = result.summary["hazards"]
    assert (hazards["warned_reacted"], hazards["warned_detoured"]) == (1, 1)
    assert result.trips["reroutes"][0] == 1
    assert result.trips["travel_time_s"][0] == pytest.approx(180.0, rel=1e-9)
    assert hazards["travel_time_warned_reacted_mean_s"] == pytest.approx(180.0, rel=1e-9)


def test_a_non_compliant_driver_only_slows_on_the_hazard_link(tmp_path: Path) -> None:
    """Compliance 0, one of two lanes closed: no detour; the car drives e1 at 0.7 x 20 m/s:
    1000 / 14 = 71.43 s instead of 50 s, so 50 + 71.43 + 50 = 171.43 s in all."""
    result = reaction_run(tmp_path, compliance=0.0, lanes_closed=1)
    [row] = rows_of(result).values()
    assert result.tables["warnings"]["reaction"][row] == "slow"
    assert result.trips["reroutes"][0] == 0
    assert result.trips["travel_time_s"][0] == pytest.approx(100.0 + 1000.0 / 14.0, rel=1e-9)
    hazards = result.summary["hazards"]
    assert (hazards["warned_slowed"], hazards["warned_detoured"]) == (1, 0)


def test_a_compliant_driver_keeps_its_route_when_the_detour_costs_more(tmp_path: Path) -> None:
    """Compliance 1, one lane of two closed and no queue yet: staying (e1, 50 s on the
    map) is cheaper than the bypass (80 s), so the car slows instead."""
    result = reaction_run(tmp_path, compliance=1.0, lanes_closed=1)
    [row] = rows_of(result).values()
    assert result.tables["warnings"]["reaction"][row] == "slow"
    assert result.trips["reroutes"][0] == 0


def test_no_reaction_when_switched_off(tmp_path: Path) -> None:
    result = build_world(scenario(tmp_path, [trip(20, 0, 3)], links={**LINKS, **BYPASS},
                                  incident={"link": "e1", "position_m": 500, "start_s": 10,
                                            "end_s": 390, "lanes_closed": 1},
                                  v2x={"warning_reaction": False}, horizon_s=600)).run()
    assert result.trips["travel_time_s"][0] == pytest.approx(150.0, rel=1e-9)
    assert result.summary["hazards"]["warned_reacted"] == 0
    assert np.all(result.tables["warnings"]["reaction"] == "")


# ---------------------------------------------------------------------------- queue tails
def test_a_queue_tail_hazard_stands_at_the_tail_of_the_standing_queue(line_scenario) -> None:  # type: ignore[no-untyped-def]
    """3,000 veh/h of connected cars into a 1,800 veh/h link: the queue on link 0
    (1,500 m, 2 lanes, 140 veh/km/lane: 1 / 0.28 = 3.571 m of lane-pair per car) is
    warned at its tail, the upstream-most standing car: L - n x 3.571 m for the n cars
    queued up to it (n >= queue_tail_vehicles = 3), not at the link's end."""
    scenario = line_scenario(
        [{"lanes": 2, "length_m": 1500.0}, {"lanes": 1, "length_m": 1000.0}],
        simulation={"horizon_s": 900, "seed": 4, "deterministic": True},
        demand={"flows": [{"origin": 0, "destination": 2, "rate_vph": 3000,
                           "vehicle_class": "car"}]},
        vehicles={"classes": {"car": {"share": 1.0, "connected_share": 1.0},
                              "truck": {"share": 0.0}, "delivery": {"share": 0.0}}},
        v2x={"queue_tail_standing_s": 30, "warning_reaction": False},
    )
    result = build_world(scenario).run()
    tails = [h for h in result.summary["hazards"]["by_hazard"] if h["cause"] == "queue_tail"]
    assert tails
    for record in tails:
        cars = (1500.0 - record["position_m"]) * 2 * 0.140
        assert cars == pytest.approx(round(cars), abs=1e-6)
        assert round(cars) >= 3
    w = result.tables["warnings"]
    first = w["hazard"] == tails[0]["hazard"]
    assert first.any()
    # addressed before the tail: distance = tail - offset, within [0, tail]
    assert (w["distance_m"][first] >= 0).all()
    assert (w["distance_m"][first] <= tails[0]["position_m"] + 1e-9).all()


def test_the_compiled_recipient_pass_equals_the_numpy_selection() -> None:
    """`_near_and_offsets` picks and places the vehicles as the numpy steps it replaced.

    Random vehicles on random links (some upstream), some warned, some known to pass the
    hazard by on their link, some before entry, past their earliest exit or with zero
    running time: the same positions and bit-identical offsets.
    """
    from v2x_sim.comms.flows import offsets_on_link
    from v2x_sim.compute.warning_dissemination import _near_and_offsets

    rng = np.random.default_rng(3)
    n, n_links, now = 5000, 300, 1234.5
    ids = np.sort(rng.choice(20000, n, replace=False))
    links = rng.integers(0, n_links, n)
    entered = now - rng.uniform(-5.0, 60.0, n)
    ready = entered + np.where(rng.random(n) < 0.05, 0.0, rng.uniform(0.0, 50.0, n))
    upstream = rng.random(n_links) < 0.2
    done = rng.random(20000) < 0.3
    passed_on = np.where(rng.random(20000) < 0.5, rng.integers(0, n_links, 20000), -1)
    passed_on[ids[:200]] = links[:200]
    length = rng.uniform(50.0, 800.0, n_links)
    near = upstream[links] & ~done[ids] & (passed_on[ids] != links)
    want = offsets_on_link(np.full(int(near.sum()), now), entered[near], ready[near],
                           length[links[near]])
    got_at, got = _near_and_offsets(ids, links, entered, ready, upstream, done, passed_on,
                                    now, length)
    assert np.array_equal(got_at, np.flatnonzero(near))
    assert got.tobytes() == want.tobytes()
    assert 100 < got.size < n
    assert (got == 0.0).any()  # before entry
    assert (got == length[links[near]]).any()  # past the earliest exit, or no running time
