"""Roadside sensors measure their zones; the edge estimates links from those readings.

Hand cases on tiny networks: the zone geometry, readings of vehicles placed by hand, the
estimator on a steady link against the time vehicles live there, its mean under noise
over replications, and that links no sensor watches are known only from vehicles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from v2x_sim._core.errors import ScenarioError
from v2x_sim.compute.estimator import EdgeSensing, RoadFacts, estimate_links
from v2x_sim.compute.roadside import build_devices
from v2x_sim.compute.sensor_kernel import read_kernel
from v2x_sim.compute.sensors import (
    MIN_SPOT_SPEED_MPS,
    ZONE_CELL_M,
    build_zones,
    read_zones,
    watched_length_m,
)
from v2x_sim.road.io import read_network_csv
from v2x_sim.road.network import RoadClass
from v2x_sim.scenario import scenario_from_dict
from v2x_sim.scenario.v2x_sections import EdgeSection, RoadsideSection
from v2x_sim.traffic.observation import vehicle_positions
from v2x_sim.world import build_world

QUIET = {"deterministic": True, "seed": 1}
CARS = {"classes": {"car": {"share": 1.0}, "truck": {"share": 0.0},
                    "delivery": {"share": 0.0}}}
NOISELESS = {"speed_sigma_mps": 0.0, "miss_probability": 0.0, "false_per_hour": 0.0}


def two_way_road(folder: Path) -> dict[str, Any]:
    """Nodes 0 -- 1 -- 2 on a line, 1 km apart; links 0: 0->1, 1: 1->0, 2: 1->2, 3: 2->1.

    One lane each, 20 m/s (50 s), 1,800 veh/h, 140 veh/km jam density; no signals.
    """
    (folder / "nodes.csv").write_text("id,x_m,y_m\n0,0,0\n1,1000,0\n2,2000,0\n")
    (folder / "links.csv").write_text(
        "id,from,to,length_m,lanes,free_speed_mps,capacity_vph_per_lane\n"
        "0,0,1,1000,1,20,1800\n1,1,0,1000,1,20,1800\n"
        "2,1,2,1000,1,20,1800\n3,2,1,1000,1,20,1800\n")
    return {"generator": "file", "file": {"nodes": "nodes.csv", "links": "links.csv"},
            "signals": {"enabled": False}}


def one_radar(link: int, offset_m: float, **params: Any) -> dict[str, Any]:
    return {"rsu": {"placement": {"mode": "spacing", "spacing_m": 300}},
            "sensors": [{"kind": "radar", "placement": {"mode": "list", "positions": [
                {"link": link, "offset_m": offset_m}]}, **params}]}


def zones_on(folder: Path, roadside: dict[str, Any]):  # type: ignore[no-untyped-def]
    two_way_road(folder)
    network = read_network_csv(folder / "nodes.csv", folder / "links.csv")
    devices = build_devices(network, RoadsideSection.model_validate(roadside),
                            EdgeSection(nodes=1))
    return network, build_zones(network, devices)


def test_a_sensor_watches_its_range_either_side_on_both_directions(tmp_path: Path) -> None:
    """Rule: a radar (default range 250 m) at 100 m along link 0 watches [0, 350] of link 0
    (clipped at its start) and, on link 1 (the same road the other way, where it stands
    1,000 - 100 = 900 m from the start), [650, 1000]; nothing on links 2 and 3. Watched:
    350 + 350 = 700 m of 4,000 m of directed road."""
    network, zones = zones_on(tmp_path, one_radar(0, 100.0))
    assert zones.link.tolist() == [0, 1]
    np.testing.assert_allclose(zones.lo_m, [0.0, 650.0])
    np.testing.assert_allclose(zones.hi_m, [350.0, 1000.0])
    watched = watched_length_m(zones, network.length_m)
    np.testing.assert_allclose(watched, [350.0, 350.0, 0.0, 0.0])


def test_noiseless_readings_of_vehicles_placed_by_hand(tmp_path: Path) -> None:
    """Rule: a zone counts the vehicles inside it, averages the spot speeds of the moving
    ones and finds the farthest-upstream standing one. Radar at 500 m on link 0: zone
    [250, 750]. Vehicles on link 0 at 100 (outside), 300 at 10 m/s, 600 at 14 m/s, 700 and
    740 standing; on link 2 at 500 (another road). Count 4, moving 2, speed sum 24 m/s,
    stopped 2, tail 700 m, occupancy 4 * (1000 / 140) m / 500 m = 0.05714."""
    _, zones = zones_on(tmp_path, one_radar(0, 500.0, **NOISELESS))
    link = np.array([0, 0, 0, 0, 0, 2])
    offset = np.array([100.0, 300.0, 600.0, 700.0, 740.0, 500.0])
    speed = np.array([20.0, 10.0, 14.0, 0.0, 0.0, 20.0])
    r = read_zones(zones, link, offset, speed, rng=None)
    forward = int(np.flatnonzero(zones.link == 0)[0])
    assert r.count[forward] == 4
    assert r.moving[forward] == 2
    assert r.speed_sum_mps[forward] == pytest.approx(24.0)
    assert r.stopped[forward] == 2
    assert r.tail_m[forward] == pytest.approx(700.0)
    assert r.occupancy[forward] == pytest.approx(4 * (1000 / 140) / 500, rel=1e-12)


def test_estimate_from_readings_by_hand(tmp_path: Path) -> None:
    """Rule: T = L / v + queue / s + red wait. Same vehicles as above (no signal):
    v = 24 / 2 = 12 m/s, so 1000 / 12 = 83.33 s running; the queue seen reaches from the
    tail at 700 m to the end, (1000 - 700) m * 0.14 veh/m = 42 vehicles, drained at
    1,800 veh/h = 0.5 veh/s: 84 s; total 167.33 s. Density (4 vehicles, no noise to
    correct) / 500 m = 0.008 veh/m. Link 2 is not watched: no estimate."""
    network, zones = zones_on(tmp_path, one_radar(0, 500.0, **NOISELESS))
    r = read_zones(zones, np.array([0, 0, 0, 0, 0, 2]),
                   np.array([100.0, 300.0, 600.0, 700.0, 740.0, 500.0]),
                   np.array([20.0, 10.0, 14.0, 0.0, 0.0, 20.0]), rng=None)
    est = estimate_links(zones, r, RoadFacts.of(network))
    assert est.travel_time_s[0] == pytest.approx(1000 / 12 + 300 * 0.14 / 0.5, rel=1e-9)
    assert est.density_vpm[0] == pytest.approx(4 / 500, rel=1e-9)
    assert est.measured.tolist() == [True, True, False, False]
    assert np.isnan(est.travel_time_s[2])
    # a signal: C = 60 s, effective green 30 s: the queue drains at 0.25 veh/s (168 s)
    signal = RoadFacts.of(network, cycle_s=np.array([60.0, 0, 0, 0]),
                          green_s=np.array([30.0, 0, 0, 0]))
    est = estimate_links(zones, r, signal)
    assert est.travel_time_s[0] == pytest.approx(1000 / 12 + 168.0, rel=1e-9)
    # no queue seen (the standing pair gone): the mean red wait 30^2 / (2 * 60) = 7.5 s
    r = read_zones(zones, np.array([0, 0]), np.array([300.0, 600.0]), np.array([10.0, 14.0]),
                   rng=None)
    est = estimate_links(zones, r, signal)
    assert est.travel_time_s[0] == pytest.approx(1000 / 12 + 7.5, rel=1e-9)


def steady_world(folder: Path, horizon_s: float):  # type: ignore[no-untyped-def]
    """900 veh/h evenly spaced (a vehicle every 4 s, 80 m apart at 20 m/s) from 0 to 2."""
    scenario = scenario_from_dict(
        {"simulation": {"horizon_s": horizon_s, **QUIET}, "road": two_way_road(folder),
         "demand": {"flows": [{"origin": 0, "destination": 2, "rate_vph": 900.0}]},
         "vehicles": CARS, "v2x": {"enabled": False}}, base_dir=folder)
    return build_world(scenario)


def snapshots(world, zones, until_s: float, rng: np.random.Generator | None,
              network) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """(travel time, density) estimates of link 0 once a second from 600 s to ``until_s``."""
    travel, density = [], []
    for t in np.arange(600.0, until_s, 1.0):
        world.env.run(until=float(t))
        est = estimate_links(zones, read_zones(zones, *vehicle_positions(world.traffic), rng),
                             RoadFacts.of(network))
        travel.append(est.travel_time_s[0])
        density.append(est.density_vpm[0])
    return np.array(travel), np.array(density)


def test_estimate_at_steady_flow_without_noise_is_the_time_lived(tmp_path: Path) -> None:
    """Rule: on one link at steady flow, noiseless readings give a travel time within 10 %
    of the time vehicles live there (here exactly L / v_f = 1000 / 20 = 50 s: no queue,
    every spot speed 20 m/s) and a density whose mean over snapshots is q / v =
    0.25 / 20 = 0.0125 veh/m (a 500 m zone holds 6 or 7 of vehicles 80 m apart)."""
    world = steady_world(tmp_path, 900.0)
    network = world.network
    devices = build_devices(network, RoadsideSection.model_validate(one_radar(0, 500.0,
                            **NOISELESS)), EdgeSection(nodes=1))
    zones = build_zones(network, devices)
    travel, density = snapshots(world, zones, 720.0, None, network)
    world.env.run(until=900.0)
    log = world.traversals.to_numpy()
    lived = (log["t_out"] - log["t_in"])[(log["link"] == 0) & (log["t_in"] >= 500)]
    assert float(lived.mean()) == pytest.approx(50.0, rel=1e-9)
    assert float(travel.mean()) == pytest.approx(float(lived.mean()), rel=0.10)
    np.testing.assert_allclose(travel, 50.0, rtol=1e-9)
    assert float(density.mean()) == pytest.approx(0.0125, rel=0.02)


def test_estimates_under_noise_are_unbiased_over_replications(tmp_path: Path) -> None:
    """Rule: with speed error sigma 3 m/s, 20 % of vehicles missed and 360 ghosts an hour,
    the mean of the estimates over 400 independent draws of the same snapshots equals the
    noiseless estimate: density within the 99 % interval of the mean (2.58 standard
    errors; the estimator divides out the misses and subtracts the expected ghosts), and
    travel time within 1 %: L / v-hat is convex in v-hat, so with ~6 moving vehicles and
    sigma 3 m/s it is biased upwards by about T * sigma^2 / (n v^2) = 50 * 9 / (6 * 400)
    = 0.19 s (0.4 %), below the 1 % asked.
    """
    world = steady_world(tmp_path, 700.0)
    network = world.network
    noisy = {"speed_sigma_mps": 3.0, "miss_probability": 0.2, "false_per_hour": 360.0}
    devices = build_devices(network, RoadsideSection.model_validate(one_radar(0, 500.0,
                            **noisy)), EdgeSection(nodes=1))
    zones = build_zones(network, devices)
    world.env.run(until=650.0)
    link, offset, speed = vehicle_positions(world.traffic)
    facts = RoadFacts.of(network)
    clean = estimate_links(zones, read_zones(zones, link, offset, speed, None), facts)
    true_count = ((link == 0) & (offset >= 250) & (offset <= 750)).sum()
    assert clean.density_vpm[0] == pytest.approx(true_count / 500.0, rel=1e-9)
    rng = np.random.default_rng(7)
    draws = [estimate_links(zones, read_zones(zones, link, offset, speed, rng), facts)
             for _ in range(400)]
    density = np.array([d.density_vpm[0] for d in draws])
    travel = np.array([d.travel_time_s[0] for d in draws])
    assert density.std() > 0.1 * clean.density_vpm[0]  # the noise is real
    half_width = 2.58 * density.std(ddof=1) / np.sqrt(density.size)
    assert abs(density.mean() - clean.density_vpm[0]) < half_width
    assert float(travel.mean()) == pytest.approx(clean.travel_time_s[0], rel=0.01)


@pytest.mark.parametrize(("field", "value", "words"), [
    ("miss_probability", 1.0, "less than 1"),
    ("speed_sigma_mps", -1.0, "greater than or equal to 0"),
    ("false_per_hour", -2.0, "greater than or equal to 0"),
    ("range_m", 0.0, "greater than 0"),
])
def test_bad_sensor_noise_is_a_one_line_error(field: str, value: float, words: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict({"roadside": {"sensors": [{"kind": "camera", field: value}]}})
    assert caught.value.path == f"roadside.sensors[0].{field}"
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_each_kind_gets_its_own_range_and_noise_by_default() -> None:
    """Rule: left out, range and noise come from the kind (camera 150 m, radar 250 m,
    lidar 100 m); what a group sets wins."""
    s = scenario_from_dict({"roadside": {"sensors": [
        {"kind": "camera"}, {"kind": "radar"}, {"kind": "lidar", "range_m": 80}]}})
    ranges = [g.range_m for g in s.roadside.sensors]
    assert ranges == [150.0, 250.0, 80.0]
    assert s.roadside.sensors[1].speed_sigma_mps < s.roadside.sensors[0].speed_sigma_mps


def test_the_edge_measures_how_fast_a_standing_queue_drains(tmp_path: Path) -> None:
    """Rule: a zone reaching the link's end counts vehicles leaving; while a queue stands
    there, leavers over the time it stood is the drain rate the estimate uses, whatever
    the nominal capacity says (never above it). Radar at 900 m on link 0 (1 km): zone
    [650, 1000] reaches the end. Ten vehicles stand in it; every 5 s two leave: 2 / 5 =
    0.4 veh/s (both sums fade alike, so the ratio is exact), while the nominal flow is
    0.5 veh/s. The queue seen reaches back to the tail; its wait is queue / 0.4. Once
    nobody leaves,
    the measured drain falls toward zero (at least half a vehicle over the queue time).
    """
    network, zones = zones_on(tmp_path, one_radar(0, 900.0, **NOISELESS))
    at = 1000.0 - 7.0 * np.arange(10)
    leaving = {"n": 2}
    sensing = EdgeSensing(zones, RoadFacts.of(network),
                          lambda: (np.zeros(10, np.int64), at, np.zeros(10)),
                          lambda: np.zeros(leaving["n"], np.int64), np.random.default_rng(0),
                          deterministic=True)
    for k in range(6):
        readings = sensing.snapshot(5.0 * k)
    forward = int(np.flatnonzero(zones.link == 0)[0])
    assert zones.at_end[forward]
    assert sensing.drain_vps()[forward] == pytest.approx(0.4, rel=1e-12)
    queue = (1000.0 - at[-1]) * 0.14  # 63 m of one lane at 140 veh/km: 8.82 vehicles
    est = sensing.estimate(0, readings)
    assert est.travel_time_s[0] == pytest.approx(1000 / 20 + queue / 0.4, rel=1e-9)
    leaving["n"] = 0
    for k in range(6, 40):
        readings = sensing.snapshot(5.0 * k)
    assert sensing.drain_vps()[forward] < 0.05
    assert sensing.estimate(0, readings).travel_time_s[0] > 1000 / 20 + queue / 0.05


def test_an_aggregate_carries_the_links_its_edge_nodes_sensors_watch(tmp_path: Path) -> None:
    """Rule: what an aggregate of edge node e carries is the links some zone of e's
    sensors lies on, in ascending order, with e's own estimates of them (its sensors'
    readings only). Radars at 100 m on link 0 and at 500 m on link 2, RSUs every 300 m
    and two edge nodes: the radars report to different nodes, so each node's aggregate
    names its own road only (links 0 and 1, or 2 and 3); vehicles stand on links 0
    and 2, so the travel times differ by node."""
    two_way_road(tmp_path)
    network = read_network_csv(tmp_path / "nodes.csv", tmp_path / "links.csv")
    roadside = {"rsu": {"placement": {"mode": "spacing", "spacing_m": 300}},
                "sensors": [{"kind": "radar", "placement": {"mode": "list", "positions": [
                    {"link": 0, "offset_m": 100.0}, {"link": 2, "offset_m": 500.0}]},
                    **NOISELESS}]}
    devices = build_devices(network, RoadsideSection.model_validate(roadside),
                            EdgeSection(nodes=2))
    zones = build_zones(network, devices)
    by_road = {int(zones.edge[zones.link == 0][0]), int(zones.edge[zones.link == 2][0])}
    assert by_road == {0, 1}  # one radar per edge node
    link = np.array([0, 0, 2], np.int64)
    sensing = EdgeSensing(zones, RoadFacts.of(network),
                          lambda: (link, np.array([150.0, 200.0, 600.0]), np.zeros(3)),
                          None, np.random.default_rng(0), deterministic=True)
    readings = sensing.snapshot(0.0)
    for edge in (0, 1):
        links, travel, density = sensing.measured(edge, readings)
        watched = sorted(set(zones.link[zones.edge == edge].tolist()))
        assert links.tolist() == watched
        assert len(watched) == 2  # the road both ways
        alone = estimate_links(zones, readings, RoadFacts.of(network), zones.edge == edge,
                               drain_vps=sensing.drain_vps())
        np.testing.assert_array_equal(travel, alone.travel_time_s[links])
        np.testing.assert_array_equal(density, alone.density_vpm[links])
    first = sensing.measured(0, readings)[1][0]
    second = sensing.measured(1, readings)[1][0]
    assert first != second  # each node's own readings, not one shared estimate


@pytest.mark.parametrize("connected_share", [0.0, 1.0])
def test_links_no_sensor_watches_are_known_only_from_vehicles(tmp_path: Path,
                                                              connected_share: float) -> None:
    """Rule: the belief hears of a link from the aggregates only if a sensor watches it;
    otherwise only from connected vehicles' status reports. A radar at 500 m on link 2
    watches links 2 and 3 (its road); trips run 0 -> 2 over links 0 and 2 (a status
    report carries the link completed last, so link 0 is reported while on link 2).
    With nobody connected, link 0 is never measured while link 2 is; with everyone
    connected the status reports measure link 0 too; link 1 nobody drives or watches."""
    everyone = {"connected_share": connected_share}
    scenario = scenario_from_dict(
        {"simulation": {"horizon_s": 400.0, **QUIET}, "road": two_way_road(tmp_path),
         "demand": {"flows": [{"origin": 0, "destination": 2, "rate_vph": 900.0}]},
         "vehicles": {"classes": {"car": {"share": 1.0, **everyone},
                                  "truck": {"share": 0.0}, "delivery": {"share": 0.0}}},
         "roadside": one_radar(2, 500.0), "edge": {"nodes": 1}}, base_dir=tmp_path)
    world = build_world(scenario)
    world.run()
    measured = ~np.isnan(world.v2x.flows.feeds.belief.state(400.0).measured_s)
    assert measured[0] == (connected_share > 0)
    assert not measured[1]
    assert measured[2]
    assert measured[3]


# ---------------------------------------------------------------- realistic placement
def devices_of(roadside: dict[str, Any], road: dict[str, Any]):  # type: ignore[no-untyped-def]
    scenario = scenario_from_dict({"simulation": {"horizon_s": 10.0, **QUIET}, "road": road,
                                   "roadside": roadside, "demand": {"random": {"rate_vph": 10}}})
    world = build_world(scenario)
    return world.network, world.v2x.devices, world.v2x.zones


def test_cameras_at_signalised_approaches_stand_at_every_stop_line() -> None:
    """Rule: ``signalised_approaches`` puts one device at the end of every link that ends
    at a signal. A 3x3 grid (signals at junctions with at least 3 approaches in both
    phases): the centre has 4 approaches, each of the 4 edge-middle nodes 3, the corners
    (2) none: 4 + 4 * 3 = 16 cameras, each at its link's full length (500 m), so each
    zone on its approach reaches the stop line (it sees vehicles leave)."""
    _, devices, zones = devices_of(
        {"sensors": [{"kind": "camera", "placement": {"mode": "signalised_approaches"}}]},
        {"generator": "grid", "grid": {"rows": 3, "cols": 3, "spacing_m": 500}})
    cameras = devices.sensors
    assert cameras.size == 16
    np.testing.assert_allclose(devices.offset_m[cameras], 500.0)
    approach = zones.sensor == cameras[:, None]
    on_own = (zones.link == devices.link[cameras][:, None]) & approach
    assert on_own.sum() == 16
    assert zones.at_end[on_own.any(axis=0)].all()
    np.testing.assert_allclose(zones.lo_m[on_own.any(axis=0)], 350.0)  # 500 - 150


def test_radars_along_the_expressway_only() -> None:
    """Rule: ``road_classes`` limits spacing placement to roads of those classes. The
    corridor's expressway is 6 segments of 1 km: 6,000 m / 500 m = 12 radars, all on
    expressway links; with range 250 m either side they watch the whole expressway both
    ways (12,000 m of 32,400 m of directed road in this corridor)."""
    network, devices, zones = devices_of(
        {"sensors": [{"kind": "radar", "placement": {"mode": "spacing", "spacing_m": 500,
                                                     "road_classes": ["expressway"]}}]},
        {"generator": "corridor", "corridor": {"segments": 6, "segment_length_m": 1000,
                                                "offset_m": 600}})
    radars = devices.sensors
    assert radars.size == 12
    assert (network.road_class[devices.link[radars]] == RoadClass.EXPRESSWAY).all()
    watched = watched_length_m(zones, network.length_m)
    expressway = network.road_class == RoadClass.EXPRESSWAY
    np.testing.assert_allclose(watched[expressway], network.length_m[expressway])
    assert watched[~expressway].sum() == 0.0
    assert float(network.length_m.sum()) == pytest.approx(32_400.0)


@pytest.mark.parametrize(("placement", "path", "words"), [
    ({"mode": "list", "positions": [{"x_m": 0, "y_m": 0}], "road_classes": ["ramp"]},
     "roadside.sensors[0].placement", "applies to modes spacing and count"),
    ({"mode": "spacing", "road_classes": ["motorway"]},
     "roadside.sensors[0].placement.road_classes", "arterial"),
])
def test_bad_placement_is_a_one_line_error(placement: dict[str, Any], path: str,
                                           words: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict({"roadside": {"sensors": [{"kind": "radar",
                                                      "placement": placement}]}})
    assert caught.value.path.startswith(path)
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_road_class_the_network_lacks_is_named() -> None:
    """A grid has no expressway: asking radars along it is an error naming the field."""
    with pytest.raises(ScenarioError) as caught:
        devices_of({"sensors": [{"kind": "radar", "placement": {
            "road_classes": ["expressway"]}}]},
            {"generator": "grid", "grid": {"rows": 2, "cols": 2, "spacing_m": 500}})
    assert caught.value.path == "roadside.sensors[0].placement.road_classes"
    assert "no road of these classes" in str(caught.value)


def test_nominal_drain_is_no_faster_than_the_links_downstream_take(tmp_path: Path) -> None:
    """Rule: without a measured drain, a queue seen drains at the saturation flow or at
    what the next links take in, whichever is less. A two-lane link (1.0 veh/s) into a
    one-lane link (0.5 veh/s): ten vehicles standing at its end, the queue from the tail
    at 1000 - 9 * 7 = 937 m: 63 m * 2 lanes * 0.14 = 17.64 vehicles, drained at 0.5 veh/s
    (35.28 s, not 17.64 s at its own 1.0 veh/s), after 1000 / 20 = 50 s of running."""
    from tests.conftest import write_line_network

    write_line_network(tmp_path, [{"lanes": 2}, {"lanes": 1}])
    network = read_network_csv(tmp_path / "nodes.csv", tmp_path / "links.csv")
    devices = build_devices(network, RoadsideSection.model_validate(one_radar(0, 900.0,
                            **NOISELESS)), EdgeSection(nodes=1))
    zones = build_zones(network, devices)
    facts = RoadFacts.of(network)
    np.testing.assert_allclose(facts.onward_vps, [0.5, np.inf])
    at = 1000.0 - 7.0 * np.arange(10)
    r = read_zones(zones, np.zeros(10, np.int64), at, np.zeros(10), rng=None)
    est = estimate_links(zones, r, facts)
    assert est.travel_time_s[0] == pytest.approx(50.0 + 63.0 * 2 * 0.14 / 0.5, rel=1e-9)


def test_miss_and_speed_error_laws_with_standing_and_moving_vehicles(tmp_path: Path) -> None:
    """Rule: each vehicle in a zone is seen with probability q = 1 - miss; a seen moving
    one reports v + sigma N, a standing one no speed. Five moving at 10..18 m/s and five
    standing in one zone, 4,000 noisy readings each. With q = 0.8: mean count 8 and mean
    stopped 4 within 2.58 standard errors (binomial sd sqrt(10 * 0.8 * 0.2), sqrt(5 *
    0.8 * 0.2)). With nothing missed and sigma = 2 m/s: speed sum mean 70 m/s within
    2.58 standard errors and variance 5 * 2^2 = 20 within 10 % (the standard error of a
    variance from 4,000 samples is ~2.2 %)."""
    speeds = np.array([10.0, 12.0, 14.0, 16.0, 18.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    offset = np.linspace(300.0, 700.0, speeds.size)
    link = np.zeros(speeds.size, np.int64)
    n = 4000
    found = {}
    for miss in (0.2, 0.0):
        _, zones = zones_on(tmp_path, one_radar(0, 500.0, range_m=250.0, miss_probability=miss,
                                                speed_sigma_mps=2.0, false_per_hour=0.0))
        forward = int(np.flatnonzero(zones.link == 0)[0])
        rng = np.random.default_rng(21)
        readings = [read_zones(zones, link, offset, speeds, rng) for _ in range(n)]
        found[miss] = {name: np.array([getattr(r, name)[forward] for r in readings])
                       for name in ("count", "stopped", "speed_sum_mps")}
    assert abs(found[0.2]["count"].mean() - 8.0) < 2.58 * np.sqrt(10 * 0.8 * 0.2 / n)
    assert abs(found[0.2]["stopped"].mean() - 4.0) < 2.58 * np.sqrt(5 * 0.8 * 0.2 / n)
    speed_sum = found[0.0]["speed_sum_mps"]
    assert abs(speed_sum.mean() - 70.0) < 2.58 * np.sqrt(20.0 / n)
    assert speed_sum.var(ddof=1) == pytest.approx(20.0, rel=0.10)



def _numpy_reading(zones, link, offset, speed, rng, exit_link):  # type: ignore[no-untyped-def]
    """A noisy reading as the plain numpy steps: the compiled pass's reference.

    The detections come from `read_kernel` with the same per-pair draws; then the
    ghosts and the stop-line counts as numpy calls, one binomial over every zone.
    """
    n = len(zones)
    cell = zones.cell_first[link] + np.clip((offset / ZONE_CELL_M).astype(np.int64), 0,
                                            zones.cell_span[link] - 1)
    pairs = int((zones.cell_ptr[cell + 1] - zones.cell_ptr[cell]).sum())
    uniform, normal = rng.random(pairs), rng.standard_normal(pairs)
    count, moving, speed_sum, _, _ = read_kernel(
        True, MIN_SPOT_SPEED_MPS, cell, zones.cell_ptr, zones.cell_zone, zones.lo_m,
        zones.hi_m, zones.miss_probability, zones.speed_sigma_mps, offset, speed, uniform,
        normal)
    cum = zones.ghost_cum
    total = float(cum[-1])
    where = np.minimum(np.searchsorted(cum, rng.random(
        rng.poisson(total) if total > 0 else 0) * total, side="right"), n - 1)
    ghosts = np.bincount(where, minlength=n).astype(np.float64)
    ghost_speed = np.bincount(where, weights=zones.free_speed_mps[where]
                              + zones.speed_sigma_mps[where] * rng.standard_normal(where.size),
                              minlength=n)
    count, moving, speed_sum = count + ghosts, moving + ghosts, speed_sum + ghost_speed
    left = np.bincount(exit_link, minlength=zones.first.size - 1)[zones.link]
    exits = np.where(zones.at_end, rng.binomial(left, 1.0 - zones.miss_probability), 0.0)
    return {"count": count, "moving": moving, "speed_sum_mps": speed_sum, "exits": exits,
            "occupancy": count * zones.vehicle_length_m / zones.lane_length_m}


def test_ghosts_and_stop_line_counts_are_numpys_draws_bit_for_bit(tmp_path: Path) -> None:
    """Rule: the compiled pass that places the ghosts, with the binomial stop-line counts
    drawn only for zones somebody passed, gives exactly what the plain numpy steps give
    (one binomial over every zone) and leaves the sensors' stream at the same state:
    numpy's binomial of 0 takes no random number. Two radars (one zone reaching link
    0's end), ghosts at 20,000 an hour, six vehicles, nine leaving links 0 and 1."""
    roadside = {"rsu": {"placement": {"mode": "spacing", "spacing_m": 300}},
                "sensors": [{"kind": "radar", "range_m": 250.0, "miss_probability": 0.3,
                             "speed_sigma_mps": 2.0, "false_per_hour": 20000.0,
                             "placement": {"mode": "list", "positions": [
                                 {"link": 0, "offset_m": 900.0},
                                 {"link": 2, "offset_m": 400.0}]}}]}
    _, zones = zones_on(tmp_path, roadside)
    assert zones.at_end.any()
    assert not zones.at_end.all()
    speed = np.array([10.0, 0.0, 14.0, 0.0, 9.0, 12.0])
    offset = np.array([700.0, 990.0, 300.0, 60.0, 500.0, 820.0])
    link = np.array([0, 0, 1, 1, 2, 3])
    exit_link = np.array([0, 1, 0, 0, 0, 1, 0, 0, 0])
    ghosts = exits = 0.0
    for seed in range(20):
        fused, plain = np.random.default_rng(seed), np.random.default_rng(seed)
        got = read_zones(zones, link, offset, speed, fused, exit_link)
        want = _numpy_reading(zones, link, offset, speed, plain, exit_link)
        for name, column in want.items():
            assert np.array_equal(getattr(got, name), column), name
        assert fused.bit_generator.state == plain.bit_generator.state
        ghosts += float(got.count.sum() - got.stopped.sum())
        exits += float(got.exits.sum())
    # the case exercises both draws: ghosts were placed and leavers were counted
    assert ghosts > 0.0
    assert exits > 0.0
