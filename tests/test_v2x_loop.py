"""The road-vehicle-cloud loop end to end: message books that add up, causal timestamps,
hand-derived latencies in deterministic mode, the BSM fallback detector, device
placement, radio coverage, configuration errors, reproducibility and edge capacity.

Every run here is short (<= 1,200 s simulated) on a small network, or builds only.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from v2x_sim import build_world, load_scenario
from v2x_sim._core.errors import ScenarioError
from v2x_sim.cli import main
from v2x_sim.comms.channels import FibreLink
from v2x_sim.compute.roadside import CELL_M, MAX_HEARD, point_on_link, undirected_roads
from v2x_sim.scenario import scenario_from_dict

KINDS = ("bsm", "status", "perception", "aggregate", "hazard_warning")
GOLDEN = 0.6180339887498949  # sender phases are frac(id x golden ratio) x period


def periodic_off() -> dict[str, Any]:
    """messages section with BSM, status and aggregate disabled (perception/warnings stay)."""
    return {
        "bsm": {"enabled": False, "rate_hz": 10, "size_bytes": 300, "deadline_s": 0.1},
        "status": {"enabled": False, "rate_hz": 1, "size_bytes": 300, "deadline_s": 1.0},
        "aggregate": {"enabled": False, "rate_hz": 0.2, "size_bytes": 1200, "deadline_s": 1.0},
    }


def edge_service(perception_s: float, hazard_s: float = 0.002) -> dict[str, Any]:
    return {"bsm": {"mean_s": 0.00013}, "perception": {"mean_s": perception_s},
            "hazard_warning": {"mean_s": hazard_s}}


def positions(*xy: tuple[float, float]) -> list[dict[str, float]]:
    return [{"x_m": x, "y_m": y} for x, y in xy]


def small_grid(seed: int = 1, horizon_s: float = 600, **extra: Any) -> dict[str, Any]:
    """4x4 grid (400 m), ~2,500 veh/h, one lane closed on link 20 from 120 s."""
    data: dict[str, Any] = {
        "simulation": {"horizon_s": horizon_s, "seed": seed},
        "road": {"generator": "grid", "grid": {"rows": 4, "cols": 4, "spacing_m": 400}},
        "demand": {"random": {"rate_vph": 2500}},
        "incidents": [{"link": 20, "start_s": 120, "end_s": 500, "lanes_closed": 1}],
        "edge": {"nodes": 2, "cores": 2},
    }
    data.update(extra)
    return data


# ---------------------------------------------------------------------------- shared runs
@pytest.fixture(scope="module")
def reroute_result():  # type: ignore[no-untyped-def]
    """incident_reroute, first 1,200 s (the blockage starts at 900 s)."""
    return build_world(load_scenario("incident_reroute", ["simulation.horizon_s=1200"])).run()


@pytest.fixture(scope="module")
def grid_result():  # type: ignore[no-untyped-def]
    return build_world(scenario_from_dict(small_grid())).run()


@pytest.fixture(scope="module")
def demo_by_cores():  # type: ignore[no-untyped-def]
    """demo_zone for 120 s with 4 and with 16 cores per edge node: cores -> summary."""
    return {cores: build_world(load_scenario(
        "demo_zone", ["simulation.horizon_s=120", f"edge.cores={cores}"])).run().summary
        for cores in (4, 16)}


RUNS = pytest.mark.parametrize("run_name", ["reroute_result", "grid_result"])


# ---------------------------------------------------------------------------- 1. conservation
@RUNS
def test_every_message_is_delivered_lost_or_in_flight(run_name: str,
                                                      request: pytest.FixtureRequest) -> None:
    """For every kind: sent (counted at generation) == delivered (counted by the queue
    kernel or at delivery) + lost (counted on the channels) + in_flight (counted at the
    horizon); every periodic kind is generated and delivered, and a detected incident
    sends warnings. (Exact volumes against rates: test_message_volumes.py.)
    """
    result = request.getfixturevalue(run_name)
    latency = result.summary["latency"]
    assert result.summary["hazards"]["detected"] >= 1
    assert set(KINDS) <= set(latency)  # route_advice joins them when a policy runs
    for kind, entry in latency.items():
        assert entry["sent"] > 0, kind
        assert entry["sent"] == entry["delivered"] + entry["lost"] + entry["in_flight"], (
            kind, entry)
        assert entry["delivered"] > 0, kind


# ---------------------------------------------------------------------------- 2. causality
@RUNS
def test_warnings_are_causal(
        run_name: str, request: pytest.FixtureRequest) -> None:
    """A warning is detected, reaches the edge, starts, finishes and is delivered in that
    order, never before the hazard began.
    """
    result = request.getfixturevalue(run_name)
    w = result.tables["warnings"]
    assert len(w["hazard"]) > 0
    done = w["delivered"].astype(bool)
    assert done.any()
    assert (w["t_detect_s"] >= w["t_hazard_s"]).all()
    assert (w["t_edge_arrival_s"] >= w["t_detect_s"]).all()
    assert (w["t_edge_start_s"] >= w["t_edge_arrival_s"]).all()
    assert (w["t_edge_done_s"] >= w["t_edge_start_s"]).all()
    assert (w["t_delivered_s"][done] >= w["t_hazard_s"][done]).all()
    assert (w["t_delivered_s"][done] >= w["t_rsu_s"][done]).all()
    assert (w["latency_s"][done] >= 0).all()


# ---------------------------------------------------------------------------- 3. exactness
HAZARD_X = 2500.0  # link 8 runs from expressway node 2 (x = 2000) to node 3; hazard at 500 m
RSUS = ((500, 0), (1500, 0), (2500, 0), (3000, 600))
EDGE_XY = (1200.0, 300.0)


def corridor_loop(*, p: float = 0.9, cores: int = 4, perception_s: float = 0.0001,
                  load_sensors: int = 0) -> dict[str, Any]:
    """Deterministic corridor: one camera sees the hazard; one connected car upstream.

    Only sensor frames load the single edge node (BSM, status, aggregate off);
    ``load_sensors`` radars near x = 300 m (far from the hazard) add frames.
    """
    sensors = [{"kind": "camera", "placement": {"mode": "list",
                                                "positions": positions((2450, 0))},
                "range_m": 150, "detection_probability": p, "frame_rate_hz": 10}]
    if load_sensors:
        sensors.append({"kind": "radar", "placement": {"mode": "list", "positions": positions(
            *[(300 + 50 * i, 0) for i in range(load_sensors)])}, "range_m": 100,
            "detection_probability": 0.9, "frame_rate_hz": 10})
    return {
        "simulation": {"horizon_s": 300, "seed": 3, "deterministic": True},
        "road": {"generator": "corridor",
                 "corridor": {"segments": 3, "segment_length_m": 1000, "offset_m": 600}},
        "demand": {"trips": [{"depart_s": 50, "origin": 0, "destination": 3,
                              "connected": True}]},
        "vehicles": {"classes": {"car": {"share": 1.0, "connected_share": 0.0},
                                 "truck": {"share": 0.0}, "delivery": {"share": 0.0}}},
        "incidents": [{"link": 8, "start_s": 100, "end_s": 250, "lanes_closed": 2,
                       "position_m": 500}],
        "roadside": {"rsu": {"placement": {"mode": "list", "positions": positions(*RSUS)},
                             "range_m": 400},
                     "sensors": sensors},
        "edge": {"nodes": 1, "positions": positions(EDGE_XY), "cores": cores,
                 "service": edge_service(perception_s)},
        "messages": periodic_off(),
        "v2x": {"warning_distance_m": 2000},
    }


def expected_hops(result: Any, row: int) -> dict[str, float]:
    """The hand-derived legs of warning ``row`` (single edge node at EDGE_XY)."""
    scenario = result.scenario
    fibre = FibreLink.from_params(scenario.channels.fibre)
    hops = scenario.channels.fibre.rsu_hops
    dev = result.tables["devices"]
    camera = int(np.flatnonzero(dev["kind"] == "camera")[0])
    sensor_rsu = int(dev["rsu"][camera])
    vehicle_rsu = int(result.tables["warnings"]["rsu"][row])

    def to_edge(rsu: int) -> float:
        return float(fibre.delay_s(math.hypot(dev["x_m"][rsu] - EDGE_XY[0],
                                              dev["y_m"][rsu] - EDGE_XY[1]), hops))

    pc5 = scenario.channels.pc5
    cbr = 0.0  # no BSMs: the channel is idle
    return {"camera": camera,
            "up": scenario.roadside.sensor_link_s + to_edge(sensor_rsu),
            "service": scenario.edge.service["hazard_warning"].mean_s,
            "down": to_edge(vehicle_rsu),
            "pc5": pc5.airtime_s + pc5.access_delay_s / (1.0 - cbr)}


@pytest.mark.parametrize("p", [0.9, 0.25])
def test_deterministic_warning_latency_is_the_sum_of_its_legs(p: float) -> None:
    """Deterministic mode: detection at the round(1/p)-th frame at or after the start;
    t_delivered - t_detect = sensor link + fibre(sensor's RSU -> edge) + 0 queue (idle
    edge) + hazard service mean + fibre(edge -> vehicle's RSU) + PC5 mean delay.
    """
    result = build_world(scenario_from_dict(corridor_loop(p=p))).run()
    w = result.tables["warnings"]
    assert len(w["hazard"]) == 1
    assert bool(w["delivered"][0])
    legs = expected_hops(result, 0)
    [hazard] = [h for h in result.summary["hazards"]["by_hazard"] if h["cause"] == "incident"]
    assert hazard["detected_by"] == "camera"

    # detection: first frame of the camera at or after the start, then round(1/p) - 1 more
    period = 1.0 / 10
    phase = (legs["camera"] * GOLDEN) % 1.0 * period
    start = hazard["start_s"]
    first = start + (phase - start) % period
    frames = max(1, round(1.0 / p))
    assert w["t_detect_s"][0] == pytest.approx(first + (frames - 1) * period, rel=1e-12)

    # the edge is far from busy: no queue at all
    queue = w["t_edge_start_s"][0] - w["t_edge_arrival_s"][0]
    assert queue == 0.0
    expected = legs["up"] + queue + legs["service"] + legs["down"] + legs["pc5"]
    assert w["t_delivered_s"][0] - w["t_detect_s"][0] == pytest.approx(expected, rel=1e-9)
    assert w["latency_s"][0] == pytest.approx(expected, rel=1e-9)
    assert w["t_edge_arrival_s"][0] - w["t_detect_s"][0] == pytest.approx(legs["up"], rel=1e-9)
    assert w["t_rsu_s"][0] - w["t_edge_done_s"][0] == pytest.approx(legs["down"], rel=1e-9)

    # the vehicle's RSU is the RSU nearest to it (it is on the expressway, y = 0)
    vehicle_x = HAZARD_X - w["distance_m"][0]
    dev = result.tables["devices"]
    rsu = dev["kind"] == "rsu"
    d = np.hypot(dev["x_m"][rsu] - vehicle_x, dev["y_m"][rsu])
    assert int(w["rsu"][0]) == int(np.argmin(d))
    assert d.min() <= 400


def test_deterministic_warning_waits_behind_the_frame_backlog() -> None:
    """With one core loaded past capacity by sensor frames, the report queues: the legs
    still add up with the queue term read from the row, that term is positive, and it
    is the backlog of the frames that reached the edge before the report (FIFO replay).
    """
    perception_s = 0.0255  # 4 sensors x 10 Hz x 25.5 ms = 1.02 erlang on one core
    result = build_world(scenario_from_dict(corridor_loop(
        cores=1, perception_s=perception_s, load_sensors=3))).run()
    w = result.tables["warnings"]
    assert len(w["hazard"]) == 1
    assert bool(w["delivered"][0])
    legs = expected_hops(result, 0)
    arrival, begin = w["t_edge_arrival_s"][0], w["t_edge_start_s"][0]
    queue = begin - arrival
    assert queue > 0
    expected = legs["up"] + queue + legs["service"] + legs["down"] + legs["pc5"]
    assert w["t_delivered_s"][0] - w["t_detect_s"][0] == pytest.approx(expected, rel=1e-9)

    # replay every frame of every sensor through one FIFO core up to the report's arrival
    scenario = result.scenario
    fibre = FibreLink.from_params(scenario.channels.fibre)
    dev = result.tables["devices"]
    frames = []
    for s in np.flatnonzero(dev["kind"] != "rsu"):
        rsu = int(dev["rsu"][s])
        backhaul = scenario.roadside.sensor_link_s + float(fibre.delay_s(
            math.hypot(dev["x_m"][rsu] - EDGE_XY[0], dev["y_m"][rsu] - EDGE_XY[1]),
            scenario.channels.fibre.rsu_hops))
        born = (s * GOLDEN) % 1.0 * 0.1 + 0.1 * np.arange(int(arrival / 0.1) + 2)
        frames.append(born + backhaul)
    at = np.sort(np.concatenate(frames))
    # the detecting camera's own frame arrives with the report (same instant): whether it
    # goes first is a floating-point tie, so accept the backlog with or without it
    candidates = []
    for cut in (at[at < arrival - 1e-9], at[at < arrival + 1e-9]):
        free = 0.0
        for a in cut:
            free = max(free, a) + perception_s
        candidates.append(max(arrival, free))
    assert any(begin == pytest.approx(c, rel=1e-12) for c in candidates), (begin, candidates)


# ---------------------------------------------------------------------------- 4. BSM fallback
LINE_RSUS = positions((100, 0), (900, 0), (1100, 0), (1900, 0))
CAR_ONLY = {"classes": {"car": {"share": 1.0, "connected_share": 1.0},
                        "truck": {"share": 0.0}, "delivery": {"share": 0.0}}}


def bsm_only_world(line_scenario, *, links, demand, incident, confirm_s: float):  # type: ignore[no-untyped-def]
    scenario = line_scenario(
        links, simulation={"horizon_s": 400, "seed": 2, "deterministic": True},
        demand=demand, incidents=[incident], vehicles=CAR_ONLY,
        roadside={"rsu": {"placement": {"mode": "list", "positions": LINE_RSUS}},
                  "sensors": []},
        edge={"nodes": 1}, v2x={"bsm_confirm_s": confirm_s})
    return build_world(scenario).run()


@pytest.mark.parametrize("confirm_s", [2.0, 7.5])
def test_unsensed_hazard_is_inferred_from_a_standing_vehicle(line_scenario,  # type: ignore[no-untyped-def]
                                                             confirm_s: float) -> None:
    """No sensor anywhere: the hazard is detected by "bsm" at the first tick when a
    connected vehicle has stood at the blocked link's end for bsm_confirm_s, so
    detect_s >= start_s + bsm_confirm_s; its warning still reaches the vehicle.
    """
    result = bsm_only_world(
        line_scenario, links=[{"lanes": 2}, {"lanes": 2}],
        demand={"trips": [{"depart_s": 10, "origin": 0, "destination": 2, "connected": True}]},
        incident={"link": 0, "start_s": 20, "end_s": 300, "lanes_closed": 2},
        confirm_s=confirm_s)
    [hazard] = [h for h in result.summary["hazards"]["by_hazard"] if h["cause"] == "incident"]
    assert hazard["detected_by"] == "bsm"
    assert hazard["detect_s"] >= hazard["start_s"] + confirm_s
    # the car entered link 0 at depart + origin wait and could have left 1000 m / 20 m/s later
    trips = result.trips
    ready = trips["depart_s"][0] + trips["origin_wait_s"][0] + 1000.0 / 20.0
    tick = result.scenario.v2x.tick_s
    polls = math.ceil((ready + confirm_s - hazard["start_s"]) / tick - 1e-9)
    assert hazard["detect_s"] == pytest.approx(hazard["start_s"] + polls * tick)
    assert hazard["delivered"] == 1
    assert result.summary["latency"]["hazard_warning"]["delivered"] == 1


def test_bsm_inference_never_precedes_the_confirmation_time(line_scenario) -> None:  # type: ignore[no-untyped-def]
    """Even when connected vehicles already queue on the link (a downstream bottleneck),
    a hazard inferred from BSMs is detected no earlier than start_s + bsm_confirm_s.
    """
    result = bsm_only_world(
        line_scenario, links=[{"lanes": 2}, {"lanes": 1, "capacity_vph_per_lane": 600}],
        demand={"flows": [{"origin": 0, "destination": 2, "rate_vph": 1200}]},
        incident={"link": 0, "start_s": 300, "end_s": 390, "lanes_closed": 2},
        confirm_s=2.0)
    [hazard] = [h for h in result.summary["hazards"]["by_hazard"] if h["cause"] == "incident"]
    assert hazard["detected_by"] == "bsm"
    assert hazard["detect_s"] >= hazard["start_s"] + 2.0, hazard


# ---------------------------------------------------------------------------- 5. placement
def test_demo_zone_places_the_real_zones_4769_devices() -> None:
    """demo_zone: 500 RSUs, 2,000 cameras, 1,800 radars, 469 lidars; every sensor is
    wired to its nearest RSU and every RSU (with its sensors) to its nearest edge node.
    """
    result = build_world(load_scenario("demo_zone", ["simulation.horizon_s=10"])).run()
    roadside = result.summary["roadside"]
    assert roadside["devices"] == 4769
    assert {k: roadside[k] for k in ("rsu", "camera", "radar", "lidar")} == {
        "rsu": 500, "camera": 2000, "radar": 1800, "lidar": 469}
    assert roadside["edge_nodes"] == 8

    dev = result.tables["devices"]
    is_rsu = dev["kind"] == "rsu"
    rx, ry = dev["x_m"][is_rsu], dev["y_m"][is_rsu]
    sensors = np.flatnonzero(~is_rsu)
    d = np.hypot(dev["x_m"][sensors, None] - rx, dev["y_m"][sensors, None] - ry)
    wired = d[np.arange(sensors.size), dev["rsu"][sensors]]
    np.testing.assert_allclose(wired, d.min(axis=1), rtol=0, atol=1e-9)
    assert (dev["rsu"][is_rsu] == np.flatnonzero(is_rsu)).all()

    edges = dev["edge"]
    assert set(np.unique(edges[is_rsu])) == set(range(8))
    assert (edges[sensors] == edges[dev["rsu"][sensors]]).all()
    per_edge = [result.summary["edges"][f"edge-{e}"]["rsus"] for e in range(8)]
    assert sum(per_edge) == 500
    assert min(per_edge) > 0
    model = build_world(load_scenario("demo_zone", ["simulation.horizon_s=10"])).v2x
    assert model is not None
    ex, ey = model.devices.edge_x_m, model.devices.edge_y_m
    nearest_edge = np.hypot(rx[:, None] - ex, ry[:, None] - ey).argmin(axis=1)
    assert (nearest_edge == edges[is_rsu]).all()


def test_spacing_placement_gives_road_length_over_spacing() -> None:
    """Spacing placement puts round(total road length / spacing) devices on the roads
    (each two-way road counted once), every one of them on a road.
    """
    spacing = 350.0
    world = build_world(scenario_from_dict(small_grid(roadside={
        "rsu": {"placement": {"mode": "spacing", "spacing_m": spacing}}, "sensors": []})))
    assert world.v2x is not None
    network, dev = world.network, world.v2x.devices
    total = float(network.length_m[undirected_roads(network)].sum())
    assert total == pytest.approx(24 * 400.0)
    assert len(dev.kind) == round(total / spacing)
    assert abs(len(dev.kind) - total / spacing) <= 0.5
    on_road = (np.isclose(dev.x_m % 400, 0) | np.isclose(dev.x_m % 400, 400)
               | np.isclose(dev.y_m % 400, 0) | np.isclose(dev.y_m % 400, 400))
    assert on_road.all()


def test_list_placement_snaps_positions_onto_the_nearest_road() -> None:
    """Listed positions land at their orthogonal projection on the nearest road."""
    given = [(130, 40), (390, 215), (805, 620), (1150, 1180)]
    expect = [(130, 0), (400, 215), (800, 620), (1150, 1200)]
    world = build_world(scenario_from_dict(small_grid(roadside={
        "rsu": {"placement": {"mode": "list", "positions": positions(*given)}},
        "sensors": [{"kind": "lidar", "placement": {"mode": "list",
                                                    "positions": positions((610, 20))}}]})))
    assert world.v2x is not None
    dev = world.v2x.devices
    np.testing.assert_allclose(np.c_[dev.x_m[:4], dev.y_m[:4]], expect, atol=1e-9)
    np.testing.assert_allclose([dev.x_m[4], dev.y_m[4]], [610, 0], atol=1e-9)
    x, y = point_on_link(world.network, dev.link, dev.offset_m)
    np.testing.assert_allclose(np.c_[x, y], np.c_[dev.x_m, dev.y_m], atol=1e-9)


def test_more_edge_nodes_than_rsus_names_edge_nodes() -> None:
    """edge.nodes above the number of RSUs is a ScenarioError on ``edge.nodes``."""
    data = small_grid(roadside={"rsu": {"placement": {"mode": "count", "count": 5}}},
                      edge={"nodes": 6})
    with pytest.raises(ScenarioError, match="more edge nodes than RSUs") as info:
        build_world(scenario_from_dict(data))
    assert info.value.path == "edge.nodes"
    assert info.value.value == 6


def test_fewer_rsus_than_max_heard_still_builds() -> None:
    """A zone with three RSUs (fewer than MAX_HEARD) builds a coverage table."""
    assert MAX_HEARD == 4
    data = small_grid(roadside={"rsu": {"placement": {"mode": "count", "count": 3}}},
                      edge={"nodes": 1})
    world = build_world(scenario_from_dict(data))
    assert world.v2x is not None
    assert world.v2x.devices.n_rsu == 3


# ---------------------------------------------------------------------------- 6. coverage
def test_coverage_maps_each_cell_to_its_nearest_rsu_in_range() -> None:
    """Every 25 m cell maps to the RSU nearest its centre when that one is within range
    (brute force), else to -1; heard_by lists the in-range RSUs nearest first.
    """
    world = build_world(scenario_from_dict(small_grid(roadside={
        "rsu": {"placement": {"mode": "spacing", "spacing_m": 500}, "range_m": 150},
        "sensors": []})))
    assert world.v2x is not None
    network, dev, cov = world.network, world.v2x.devices, world.v2x.coverage
    link = np.repeat(np.arange(network.n_links), cov.n_cells)
    offset = np.minimum((np.arange(link.size) - cov.first_cell[link] + 0.5) * CELL_M,
                        network.length_m[link])
    cx, cy = point_on_link(network, link, offset)
    n = dev.n_rsu
    d = np.hypot(cx[:, None] - dev.x_m[:n], cy[:, None] - dev.y_m[:n])
    best = d.min(axis=1)
    covered = best <= dev.range_m[0]
    assert covered.any()
    assert (~covered).any()
    assert (cov.nearest[~covered] == -1).all()
    assert (cov.nearest[covered] >= 0).all()
    mapped = d[np.flatnonzero(covered), cov.nearest[covered]]
    np.testing.assert_allclose(mapped, best[covered], atol=1e-9)
    np.testing.assert_allclose(cov.distance_m[covered], best[covered], atol=1e-9)
    for cell in np.flatnonzero(covered)[::7]:
        in_range = np.flatnonzero(d[cell] <= dev.range_m[0])
        heard = cov.heard_by[cell][cov.heard_by[cell] >= 0]
        assert len(heard) == min(len(in_range), MAX_HEARD)
        assert set(heard) <= set(in_range)
        assert (np.diff(d[cell, heard]) >= 0).all()

    # any position maps through its cell: at most half a cell farther than the best RSU
    rng = np.random.default_rng(0)
    links = rng.integers(0, network.n_links, 500)
    offsets = rng.uniform(0, network.length_m[links])
    px, py = point_on_link(network, links, offsets)
    rsu = cov.nearest[cov.cell_of(links, offsets)]
    dp = np.hypot(px[:, None] - dev.x_m[:n], py[:, None] - dev.y_m[:n])
    ok = rsu >= 0
    assert ok.any()
    assert (dp[np.flatnonzero(ok), rsu[ok]] <= dp[ok].min(axis=1) + CELL_M).all()
    assert (dp[~ok].min(axis=1) > dev.range_m[0] - CELL_M).all()


def test_bsms_from_uncovered_cells_are_lost_as_no_coverage(line_scenario) -> None:  # type: ignore[no-untyped-def]
    """RSUs only near the start of a 3 km line: a car driving only beyond their range
    loses every BSM as ``no_coverage``; a car crossing both parts loses some, and each
    BSM an RSU received is delivered or still in flight.
    """
    rsus = positions((100, 0), (200, 0), (300, 0), (400, 0))

    def run(origin: int):  # type: ignore[no-untyped-def]
        scenario = line_scenario(
            [{}, {}, {}], simulation={"horizon_s": 300, "seed": 4},
            demand={"trips": [{"depart_s": 5, "origin": origin, "destination": 3,
                               "connected": True}]},
            roadside={"rsu": {"placement": {"mode": "list", "positions": rsus},
                              "range_m": 300}, "sensors": []},
            edge={"nodes": 1})
        return build_world(scenario).run()

    far = run(origin=2)
    bsm = far.summary["latency"]["bsm"]
    assert bsm["sent"] > 0
    assert bsm["lost_by_reason"] == {"no_coverage": bsm["sent"]}
    assert bsm["delivered"] == bsm["in_flight"] == 0
    assert far.tables["rsus"]["bsm_received"].sum() == 0

    whole = run(origin=0)
    bsm = whole.summary["latency"]["bsm"]
    received = int(whole.tables["rsus"]["bsm_received"].sum())
    assert bsm["lost_by_reason"]["no_coverage"] > bsm["sent"] / 2
    assert received > 0
    assert received == bsm["delivered"] + bsm["in_flight"]
    assert bsm["sent"] == received + bsm["lost"]


# ---------------------------------------------------------------------------- 7. CLI errors
TINY = """\
name: tiny
simulation: {horizon_s: 120, seed: 1}
road:
  generator: grid
  grid: {rows: 3, cols: 3, spacing_m: 200}
demand:
  random: {rate_vph: 300}
"""


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # a stray results/ folder lands in tmp_path
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize(("overrides", "expected"), [
    (["roadside.sensors=[{kind: camera, frame_rate_hz: 2.5}]"], ["v2x.tick_s", "2.5 Hz"]),
    (["roadside.rsu.placement.mode=list"], ["roadside.rsu.placement", "positions"]),
    (["edge.nodes=2", "edge.positions=[{x_m: 0, y_m: 0}]"], ["edge", "positions", "2 nodes"]),
    (["edge.nodes=50"], ["edge.nodes"]),
], ids=["frame-rate-vs-tick", "list-without-positions", "edge-positions-count",
        "edge-nodes"])
def test_bad_v2x_config_is_one_line_and_exit_2(tiny: Path, capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path, command: str,
                                               overrides: list[str],
                                               expected: list[str]) -> None:
    """Each bad V2X setting: exit code 2, one stderr line naming the field, no traceback."""
    argv = [command, str(tiny)] + [a for o in overrides for a in ("--set", o)]
    if command == "run":
        argv += ["-q", "-o", str(tmp_path / "out")]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("v2x-sim: error: ")
    for text in expected:
        assert text in lines[0], (text, lines[0])
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("rate", "tick"), [(3, 1.0), (2.5, 2.0), (10, 0.5)])
def test_whole_frames_per_tick_are_accepted(tiny: Path, capsys: pytest.CaptureFixture[str],
                                            rate: float, tick: float) -> None:
    """A frame rate giving a whole number of frames per tick validates (exit 0)."""
    code = main(["validate", str(tiny), "--set",
                 f"roadside.sensors=[{{kind: radar, frame_rate_hz: {rate}}}]",
                 "--set", f"v2x.tick_s={tick}"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "valid" in out


# ---------------------------------------------------------------------------- 8. seeds
def test_same_seed_same_latency_and_v2x_never_changes_demand() -> None:
    """Same seed: identical latency summary. The trips (and so the whole traffic) are the
    same with the V2X model on or off, because channel draws use their own streams (with
    warned vehicles not reacting: reactions change the traffic on purpose); a different
    seed changes the BSM radio losses.
    """
    data = small_grid(seed=7, horizon_s=300)
    data["v2x"] = {**data.get("v2x", {}), "warning_reaction": False}
    first = build_world(scenario_from_dict(data)).run()
    again = build_world(scenario_from_dict(data)).run()
    assert first.summary["latency"] == again.summary["latency"]
    assert first.summary["hazards"] == again.summary["hazards"]

    off = dict(data, v2x={"enabled": False})
    plain_world = build_world(scenario_from_dict(off))
    v2x_world = build_world(scenario_from_dict(data))
    for name in ("depart_s", "origin", "destination", "kind", "connected"):
        np.testing.assert_array_equal(getattr(plain_world.plan, name),
                                      getattr(v2x_world.plan, name), err_msg=name)
    plain = plain_world.run()
    assert "latency" not in plain.summary
    for column, values in first.trips.items():
        np.testing.assert_array_equal(values, plain.trips[column], err_msg=column)

    other = build_world(scenario_from_dict(small_grid(seed=8, horizon_s=300))).run()
    radio = [r.summary["latency"]["bsm"]["lost_by_reason"].get("radio", 0)
             for r in (first, other)]
    assert radio[0] > 0
    assert radio[1] > 0
    assert radio[0] != radio[1]


# ---------------------------------------------------------------------------- 9. edge cores
def edge_utilisation(summary: dict[str, Any]) -> float:
    return float(np.mean([v["utilisation_mean"] for k, v in summary["edges"].items()
                          if k.startswith("edge-")]))


def test_more_edge_cores_lower_utilisation_and_queueing(demo_by_cores) -> None:  # type: ignore[no-untyped-def]
    """demo_zone, 120 s: with 4 cores per edge node the sensor frames and BSMs overload
    the nodes (offered load ~5.4 erlang per node: saturated, a growing queue, perception
    p99 past its 100 ms deadline); with 16 cores the same messages use about a third of
    the cores and hardly queue. Measured: utilisation 1.00 vs 0.33, mean queue 82,721 vs
    0.0 messages, perception p99 46 s vs 1.9 ms.
    """
    few, many = demo_by_cores[4], demo_by_cores[16]
    assert edge_utilisation(few) > 0.99
    assert edge_utilisation(many) < 0.5 * edge_utilisation(few)
    assert many["latency"]["perception"]["p99_s"] < 0.1 < few["latency"]["perception"]["p99_s"]
    queue = [np.mean([v["queue_mean"] for k, v in s["edges"].items() if k.startswith("edge-")])
             for s in (few, many)]
    assert queue[1] < 1.0 < 1000.0 < queue[0]
