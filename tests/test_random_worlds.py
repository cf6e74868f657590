"""Invariants of the traffic model over random small worlds (Hypothesis).

Each example draws a network (a grid of 2-4 x 2-4 nodes with random spacing, lanes,
speeds and capacities; inner roads two-way or one-way in either direction, the outer
ring two-way so the network stays strongly connected), a vehicle mix (cars, trucks of
2 PCE, delivery vehicles with stops, a shuttle), incidents (lane closures up to a full
closure, speed caps, capacity factors), signals and a demand level. V2X is off: the
traffic model is the subject (a run then costs ~0.02 s instead of ~0.5 s), so each
property gets hundreds of examples. Examples are derandomized: CI sees the same worlds.

Checked at a dozen checkpoints of every run, from sources kept apart:
* conservation: trips departed = arrived (trip table) + on links (the links' queues) +
  waiting at origins + dwelling; the trip table's arrivals equal the engine's counter;
* per link, the vehicles whose trip row says they are on it are the ones in its queue,
  and its occupancy is the sum of their PCE;
* storage is never exceeded, except on links that received a forced entry (a vehicle
  moved on after waiting past the limit), each such link found from the event log;
and after the run: FIFO per link, no traversal faster than free flow, no negative times,
and determinism (a second world from the same scenario gives identical tables).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from v2x_sim.result import collect_result
from v2x_sim.scenario import scenario_from_dict
from v2x_sim.world import World, build_world

FOLDER = Path(tempfile.mkdtemp(prefix="v2x-random-worlds-"))
SETTINGS = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    """A random small world as a scenario dict (network files written to FOLDER)."""
    rows, cols = draw(st.integers(2, 4)), draw(st.integers(2, 4))
    spacing = draw(st.sampled_from([150.0, 300.0, 500.0]))
    nodes = ["id,x_m,y_m"] + [f"{r * cols + c},{c * spacing},{r * spacing}"
                              for r in range(rows) for c in range(cols)]
    links = ["id,from,to,length_m,lanes,free_speed_mps,capacity_vph_per_lane"]
    roads = [(r * cols + c, r * cols + c + 1, r in (0, rows - 1))
             for r in range(rows) for c in range(cols - 1)]
    roads += [(r * cols + c, (r + 1) * cols + c, c in (0, cols - 1))
              for r in range(rows - 1) for c in range(cols)]
    link_lanes: list[int] = []
    for a, b, outer in roads:
        direction = "both" if outer else draw(st.sampled_from(["both", "both", "ab", "ba"]))
        lanes = draw(st.integers(1, 3))
        speed = draw(st.sampled_from([8.0, 13.9, 22.2]))
        capacity = draw(st.sampled_from([900, 1800, 2200]))
        pairs = {"both": [(a, b), (b, a)], "ab": [(a, b)], "ba": [(b, a)]}[direction]
        for u, v in pairs:
            links.append(f"{len(links) - 1},{u},{v},{spacing},{lanes},{speed},{capacity}")
            link_lanes.append(lanes)
    n_links = len(links) - 1
    folder = FOLDER / f"w{draw(st.integers(0, 3))}"
    folder.mkdir(exist_ok=True)
    (folder / "nodes.csv").write_text("\n".join(nodes) + "\n")
    (folder / "links.csv").write_text("\n".join(links) + "\n")

    incidents = []
    for _ in range(draw(st.integers(0, 2))):
        link = draw(st.integers(0, n_links - 1))
        start = draw(st.floats(0.0, 400.0))
        incidents.append({
            "link": link, "start_s": start, "end_s": start + draw(st.floats(30.0, 400.0)),
            "lanes_closed": draw(st.integers(0, link_lanes[link])),  # up to a full closure
            "speed_cap_kmh": draw(st.one_of(st.none(), st.sampled_from([5.0, 20.0]))),
            "capacity_factor": draw(st.sampled_from([1.0, 0.5]))})
    weights = draw(st.lists(st.sampled_from([0, 1, 4]), min_size=3, max_size=3))
    weights[0] = weights[0] or (0 if sum(weights) else 1)
    shares = [w / sum(weights) for w in weights]
    corner = rows * cols - 1
    return {
        "simulation": {"horizon_s": 600.0, "seed": draw(st.integers(0, 1000)),
                       "moved_on_after_s": draw(st.sampled_from([30.0, 120.0, 300.0])),
                       "deterministic": draw(st.booleans())},
        "road": {"generator": "file", "file": {"nodes": "nodes.csv", "links": "links.csv"},
                 "fundamental_diagram": draw(st.sampled_from(["triangular", "greenshields"])),
                 "signals": {"enabled": draw(st.booleans()),
                             "cycle_s": draw(st.sampled_from([40.0, 90.0])),
                             "lost_time_s": draw(st.sampled_from([0.0, 10.0])),
                             "min_approaches": draw(st.integers(2, 3))}},
        "demand": {"random": {"rate_vph": draw(st.sampled_from([300.0, 2000.0, 6000.0]))}},
        "vehicles": {"classes": {"car": {"share": shares[0]}, "truck": {"share": shares[1]},
                                 "delivery": {"share": shares[2], "stops": 1, "dwell_s": 20,
                                              "radius_m": 2 * spacing}},
                     "shuttle_lines": ([{"name": "s", "stops": [0, corner], "dwell_s": 15}]
                                       if draw(st.booleans()) else [])},
        "incidents": incidents,
        "v2x": {"enabled": False},
        "_folder": str(folder),
    }


def build(data: dict[str, Any]) -> World:
    """The world of a drawn scenario (network files in its folder)."""
    data = dict(data)
    folder = Path(data.pop("_folder"))
    return build_world(scenario_from_dict(data, base_dir=folder))


def forced_entries(world: World) -> set[int]:
    """Links a vehicle was forced into (moved on after waiting past the limit): the link
    each moved-on vehicle entered at the instant of its event (traversal log or, if it
    is still on it, its trip row)."""
    log = world.traversals.to_numpy()
    fleet = world.fleet
    links = set()
    for event in world.events.events:
        if event.kind != "moved_on":
            continue
        v, t = int(event.vehicle), float(event.time_s)
        hit = log["link"][(log["vehicle"] == v) & (log["t_in"] == t)]
        if hit.size:
            links.update(hit.tolist())
        elif fleet.link[v] >= 0 and fleet.entered_s[v] == t:
            links.add(int(fleet.link[v]))
    return links


def check_state(world: World) -> None:
    """Conservation and storage at the current instant, from independent sources."""
    traffic, fleet, n_links = world.traffic, world.fleet, world.network.n_links
    n = len(fleet)
    arrived = int((~np.isnan(fleet.arrive_s[:n])).sum())
    assert arrived == traffic.arrived
    queues = np.array([traffic.vehicles_on(link) for link in range(n_links)])
    origins = sum(traffic.waiting_at_origin(link) for link in range(n_links))
    assert n == arrived + int(queues.sum()) + origins + traffic.dwelling
    link = fleet.link[:n]
    on = link >= 0
    np.testing.assert_array_equal(np.bincount(link[on], minlength=n_links), queues)
    pce = np.bincount(link[on], weights=fleet.pce[:n][on], minlength=n_links)
    np.testing.assert_allclose(traffic.occupancy, pce, atol=1e-9)
    over = np.flatnonzero(np.asarray(traffic.occupancy) > world.network.storage_veh + 1e-9)
    if over.size:
        assert set(over.tolist()) <= forced_entries(world), (over, forced_entries(world))
    # departures so far: plan rows up to now, plus shuttle rounds
    trips = int((fleet.line[:n] < 0).sum())
    plan = world.plan.depart_s
    assert (plan < world.env.now).sum() <= trips <= (plan <= world.env.now).sum()


def check_log(world: World) -> None:
    """FIFO per link and movement, no traversal faster than free flow, no negative times.

    One-lane links are FIFO; on wider links a vehicle may pass one whose next link is
    blocked (`traffic.lane_groups`), so FIFO holds among vehicles taking the same next
    link (the link after it in the vehicle's log or the one it is on now; -1: none, or
    a stop first: a gap before the next entry). Vehicles whose next link changed while
    they waited (rerouted or moved on) are left out there: they were passed on another.
    """
    log = world.traversals.to_numpy()
    free = world.network.free_flow_time_s[log["link"]]
    assert np.all(log["t_out"] - log["t_in"] >= free - 1e-9)
    assert np.all(log["t_in"] >= 0)
    open_v, open_l, open_t = world.traffic.open_traversals()
    all_v = np.concatenate([log["vehicle"], open_v])
    all_l = np.concatenate([log["link"], open_l])
    all_in = np.concatenate([log["t_in"], open_t])
    all_out = np.concatenate([log["t_out"], np.full(open_t.size, np.inf)])
    by = np.lexsort((all_in, all_v))
    following = np.full(all_v.size, -1)
    joined = (all_v[by[1:]] == all_v[by[:-1]]) & (all_in[by[1:]] <= all_out[by[:-1]] + 1e-9)
    following[by[:-1]] = np.where(joined, all_l[by[1:]], -1)
    movement = following[: log["link"].size]
    changed = world.fleet.reroutes[log["vehicle"]] + world.fleet.moved_on[log["vehicle"]] > 0
    lanes = world.network.lanes
    for link in np.unique(log["link"]).tolist():
        groups = [np.ones_like(changed)]
        if lanes[link] > 1:
            groups = [(movement == m) & ~changed
                      for m in np.unique(movement[log["link"] == link])]
        for group in groups:
            mine = (log["link"] == link) & group
            order = np.lexsort((log["t_out"][mine], log["t_in"][mine]))
            assert np.all(np.diff(log["t_out"][mine][order]) >= 0), link
    # every vehicle's links join up (reroutes only replace what lies past its next node)
    net = world.network
    order = np.lexsort((log["t_in"], log["vehicle"]))
    vehicle, link = log["vehicle"][order], log["link"][order]
    same = vehicle[1:] == vehicle[:-1]
    np.testing.assert_array_equal(net.to_node[link[:-1]][same], net.from_node[link[1:]][same])
    trips = world.fleet
    n = len(trips)
    done = ~np.isnan(trips.arrive_s[:n])
    assert np.all(trips.arrive_s[:n][done] >= trips.depart_s[:n][done])
    entered = ~np.isnan(trips.first_entry_s[:n])
    assert np.all(trips.first_entry_s[:n][entered] >= trips.depart_s[:n][entered])


@SETTINGS
@given(worlds(), st.lists(st.floats(1.0, 599.0), min_size=12, max_size=12))
def test_conservation_and_storage_at_every_checkpoint(data: dict[str, Any],
                                                      checkpoints: list[float]) -> None:
    world = build(data)
    for t in sorted(set(checkpoints)):
        world.env.run(until=t)
        check_state(world)
    world.env.run(until=600.0)
    check_state(world)
    check_log(world)


def tables_equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for column in a:
        np.testing.assert_array_equal(a[column], b[column], err_msg=column)


@SETTINGS
@given(worlds())
def test_same_world_twice_gives_identical_results(data: dict[str, Any]) -> None:
    """Determinism: two worlds from one scenario give identical trips, links, events and
    summary, whether run in one go or stepped through checkpoints."""
    first, second = build(data), build(data)
    assert first is not None
    assert second is not None
    a = first.run()
    for t in (37.5, 150.0, 333.3, 600.0):
        second.env.run(until=t)
    b = collect_result(second)
    tables_equal(a.trips, b.trips)
    tables_equal(a.links, b.links)
    assert json.dumps(a.summary, sort_keys=True) == json.dumps(b.summary, sort_keys=True)
    assert a.events == b.events


POLICIES = ["dynamic_shortest", "probabilistic", "at_departure", "incident_detour", "oracle"]
PARAMS: dict[str, dict[str, Any]] = {"dynamic_shortest": {"threshold": 0.0},
                                     "oracle": {"threshold": 0.0},
                                     "probabilistic": {"k": 3, "theta": 0.05}}


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(worlds(), st.sampled_from(POLICIES), st.sampled_from(["uu", "edge"]),
       st.lists(st.floats(1.0, 299.0), min_size=6, max_size=6), st.data())
def test_conservation_with_v2x_and_rerouting(data: dict[str, Any], policy: str, via: str,
                                             checkpoints: list[float],
                                             more: st.DataObject) -> None:
    """The same invariants with the V2X model on and a rerouting policy moving vehicles
    (fewer examples: a run with V2X costs ~10 times more): reroutes keep every route
    joined up, and conservation and storage hold at every checkpoint. A heavy demand and
    a severe incident from 20 s make the policies reroute (most examples do)."""
    n_links = len((Path(data["_folder"]) / "links.csv").read_text().splitlines()) - 1
    incident = {"link": more.draw(st.integers(0, n_links - 1)), "start_s": 20.0,
                "end_s": 290.0, "speed_cap_kmh": 5.0, "capacity_factor": 0.2,
                "lanes_closed": 0}
    data = dict(data, simulation={**data["simulation"], "horizon_s": 300.0},
                demand={"random": {"rate_vph": 4000.0}}, incidents=[incident],
                v2x={"enabled": True, "tick_s": 1.0},
                control={"policy": policy, "period_s": 30, "advice_via": via,
                         "params": PARAMS.get(policy, {})},
                vehicles={**data["vehicles"], "classes": {
                    **data["vehicles"]["classes"],
                    "car": {**data["vehicles"]["classes"]["car"], "connected_share": 1.0}}},
                edge={"nodes": 1, "cores": 2},
                roadside={"rsu": {"placement": {"mode": "spacing", "spacing_m": 300}},
                          "sensors": []})
    world = build(data)
    for t in sorted(set(checkpoints)):
        world.env.run(until=t)
        check_state(world)
    world.env.run(until=300.0)
    check_state(world)
    check_log(world)
