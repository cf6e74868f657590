"""Opaque string ids everywhere, a run's network.csv read back, and linear-cost geometry."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from v2x_sim._core.errors import InputFileError, ScenarioError
from v2x_sim._core.ids import normalise_id
from v2x_sim.compute.roadside import build_coverage, build_devices, snap_to_links
from v2x_sim.experiment.run import write_results
from v2x_sim.road.generators import demo_zone
from v2x_sim.road.geometry import k_nearest, point_on_link
from v2x_sim.road.network import build_network
from v2x_sim.road.network_table import read_network_table
from v2x_sim.road.shapes import LinkShapes
from v2x_sim.scenario.loader import load_scenario, scenario_from_dict
from v2x_sim.scenario.road_sections import DemoZoneParams
from v2x_sim.world import build_world

ARRAYS = ("node_ids", "x_m", "y_m", "link_ids", "from_node", "to_node", "length_m", "lanes",
          "free_speed_mps", "capacity_vps_per_lane", "jam_density_vpm_per_lane", "road_class",
          "out_offsets", "out_links", "in_offsets", "in_links")

# A square of four junctions with text ids, both directions of every side; "-e#1" and
# "007" look like what SUMO and OSM write (a leading dash, a hash, a leading zero).
NODES = "id,x_m,y_m\nn0,0,0\n007,400,0\nn2,400,400\nn3,0,400\n"
SIDES = [("e#1", "n0", "007"), ("f", "007", "n2"), ("g", "n2", "n3"), ("h", "n3", "n0")]


def square(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["id,from,to,length_m,lanes,free_speed_mps,capacity_vph_per_lane"]
    for link, a, b in SIDES:
        lines.append(f"{link},{a},{b},400,1,10,1200")
        lines.append(f"-{link},{b},{a},400,1,10,1200")
    (folder / "nodes.csv").write_text(NODES, encoding="utf-8")
    (folder / "links.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"nodes": str(folder / "nodes.csv"), "links": str(folder / "links.csv")}


def square_scenario(folder: Path, **sections: object) -> dict[str, object]:
    return {"simulation": {"horizon_s": 900, "seed": 3},
            "road": {"generator": "file", "file": square(folder)},
            "demand": {"random": {"rate_vph": 0.0}}, **sections}


def test_ids_normalise_integers_and_strings_to_one_key() -> None:
    assert normalise_id(7) == normalise_id("7") == "7"
    assert normalise_id(np.int64(12)) == "12"
    assert normalise_id("007") == "007"  # text is kept as written: 007 is not 7
    for bad in (True, 1.0, None):
        with pytest.raises(TypeError):
            normalise_id(bad)


def test_string_ids_work_in_every_yaml_reference(tmp_path: Path) -> None:
    """Flows, explicit trips, incidents, shuttle stops and device positions name text ids;
    outputs show them as written."""
    data = square_scenario(
        tmp_path,
        demand={"random": {"rate_vph": 0.0},
                "flows": [{"origin": "n0", "destination": "n2", "rate_vph": 120}],
                "trips": [{"depart_s": 5, "origin": "007", "destination": "n3"}]},
        incidents=[{"link": "-e#1", "start_s": 100, "end_s": 200, "lanes_closed": 0,
                    "speed_cap_kmh": 10}],
        vehicles={"shuttle_lines": [{"name": "loop", "stops": ["n0", "n2"],
                                     "vehicles": 1}]},
        roadside={"rsu": {"placement": {"mode": "list", "positions": [
            {"link": "f", "offset_m": 100}, {"x_m": 210, "y_m": 390}]}}},
        edge={"nodes": 1})
    world = build_world(scenario_from_dict(data))
    devices = world.v2x.devices
    # RSU 0 on link "f" (007 (400,0) -> n2 (400,400)) 100 m in: (400, 100); RSU 1 snapped
    # from (210, 390) onto the nearest road, g or -g along y = 400, at x = 210
    assert (devices.x_m[0], devices.y_m[0]) == (400.0, 100.0)
    assert (devices.x_m[1], devices.y_m[1]) == (210.0, 400.0)
    result = world.run()
    origins = set(result.trips["origin"].tolist())
    assert {"n0", "007"} <= origins
    at_five = result.trips["depart_s"] == 5.0  # the explicit trip
    assert result.trips["origin"][at_five].tolist() == ["007"]
    assert result.trips["destination"][at_five].tolist() == ["n3"]
    incident = [e for e in result.events if e.kind == "incident_start"]
    assert [e.link for e in incident] == ["-e#1"]
    assert set(result.links["link"].tolist()) == {"e#1", "-e#1", "f", "-f", "g", "-g",
                                                  "h", "-h"}


def test_an_integer_in_yaml_names_the_same_node_as_its_text(tmp_path: Path) -> None:
    folder = tmp_path / "num"
    folder.mkdir()
    (folder / "nodes.csv").write_text("id,x_m,y_m\n7,0,0\n8,300,0\n", encoding="utf-8")
    (folder / "links.csv").write_text(
        "id,from,to,length_m,lanes,free_speed_mps,capacity_vph_per_lane\n"
        "1,7,8,300,1,10,1200\n2,8,7,300,1,10,1200\n", encoding="utf-8")
    data = {"simulation": {"horizon_s": 120},
            "road": {"generator": "file", "file": {"nodes": str(folder / "nodes.csv"),
                                                   "links": str(folder / "links.csv")}},
            "demand": {"random": {"rate_vph": 0.0},
                       "trips": [{"depart_s": 0, "origin": 7, "destination": "8"}]},
            "v2x": {"enabled": False}}
    result = build_world(scenario_from_dict(data)).run()
    assert result.trips["origin"].tolist() == ["7"]
    assert result.trips["destination"].tolist() == ["8"]


@pytest.mark.parametrize(("override", "path", "shown"), [
    ({"incidents": [{"link": "nope", "start_s": 0, "end_s": 9}]}, "incidents[0].link",
     "'nope': no link with this id in the network (it has 8 links)"),
    ({"demand": {"flows": [{"origin": "n9", "destination": "n2", "rate_vph": 1}]}},
     "demand.flows[0].origin", "'n9': no node with this id in the network"),
    ({"demand": {"flows": [{"origin": 1.5, "destination": "n2", "rate_vph": 1}]}},
     "demand.flows[0].origin", "1.5: expected a node or link id"),
])
def test_unknown_or_malformed_ids_name_the_field_and_the_id(
        tmp_path: Path, override: dict[str, object], path: str, shown: str) -> None:
    with pytest.raises(ScenarioError) as info:
        build_world(scenario_from_dict({**square_scenario(tmp_path), **override}))
    assert str(info.value).startswith(f"{path} = ")
    assert shown in str(info.value)


# ------------------------------------------------------------ network.csv round trip
def test_a_runs_network_csv_reads_back_to_the_same_arrays_and_results(tmp_path: Path) -> None:
    """Rule: road.file.network = a run's network.csv rebuilds the network it ran on, so
    the same seed gives the same trips (node order decides random origins)."""
    overrides = ["simulation.horizon_s=600", "v2x.enabled=false",
                 "road.grid.spacing_m=333.3"]
    first = build_world(load_scenario("quickstart", overrides))
    result = first.run()
    out = write_results(result, tmp_path / "first")
    back = read_network_table(out / "network.csv")
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(back, name), getattr(first.network, name),
                                      err_msg=name)
    again = build_world(load_scenario("quickstart", [*overrides, "road.generator=file",
                                                     f"road.file.network={out}/network.csv"]))
    rerun = again.run()
    for column in ("origin", "destination", "depart_s", "arrive_s", "distance_m"):
        np.testing.assert_array_equal(rerun.trips[column], result.trips[column], err_msg=column)


def test_the_imported_real_city_round_trips_with_its_shapes(tmp_path: Path) -> None:
    world = build_world(load_scenario("real_city", ["simulation.horizon_s=60",
                                                    "v2x.enabled=false"]))
    out = write_results(world.run(), tmp_path / "rc")
    back = read_network_table(out / "network.csv")
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(back, name), getattr(world.network, name),
                                      err_msg=name)
    assert world.network.shapes is not None
    assert world.network.shapes.same_as(back.shapes)


def test_a_node_at_two_places_in_network_csv_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "network.csv"
    path.write_text(
        "link,from,to,x0_m,y0_m,x1_m,y1_m,length_m,lanes,free_speed_mps,capacity_vph_per_lane\n"
        "a,1,2,0,0,100,0,100,1,10,1200\n"
        "b,2,1,100,5,0,0,100,1,10,1200\n", encoding="utf-8")
    with pytest.raises(InputFileError) as info:
        read_network_table(path)
    assert (info.value.line, info.value.column) == (3, "y0_m")
    assert "node '2' is at (100.0, 5.0) here but at (100.0, 0.0) on line 2" in str(info.value)


# ------------------------------------------------------------------------- geometry
def l_shaped_network():
    """Link 0 follows (0,0) -> (30,0) -> (30,40): 70 m of shape for a 140 m link; link 1
    is a straight road further away, (100,0) -> (100,40)."""
    shapes = LinkShapes.from_polylines([([0.0, 30.0, 30.0], [0.0, 0.0, 40.0]), None])
    return build_network(x_m=[0.0, 30.0, 100.0, 100.0], y_m=[0.0, 40.0, 0.0, 40.0],
                         from_node=[0, 2], to_node=[1, 3], length_m=[140.0, 40.0],
                         lanes=[1, 1], free_speed_mps=[10.0, 10.0],
                         capacity_vps_per_lane=[0.5, 0.5],
                         jam_density_vpm_per_lane=[0.14, 0.14], road_class=[0, 0],
                         shapes=shapes)


def test_points_along_a_shaped_link_follow_its_polyline() -> None:
    net = l_shaped_network()
    # 40 of 140 link metres = 2/7 of the 70 m shape = 20 m: (20, 0);
    # 100 of 140 = 50 m of shape: 30 m along x, then 20 m up: (30, 20)
    x, y = point_on_link(net, np.array([0, 0, 0, 0, 1]),
                         np.array([0.0, 40.0, 100.0, 140.0, 10.0]))
    np.testing.assert_allclose(x, [0.0, 20.0, 30.0, 30.0, 100.0], atol=1e-12)
    np.testing.assert_allclose(y, [0.0, 0.0, 20.0, 40.0, 10.0], atol=1e-12)


def test_snapping_projects_onto_the_shape_and_scales_to_link_metres() -> None:
    net = l_shaped_network()
    # (35, 20) is 5 m from the shape's second piece at (30, 20): 50 shape metres in,
    # 100 link metres; the straight road at x = 100 is 65 m away
    link, offset = snap_to_links(net, np.array([35.0, 99.0]), np.array([20.0, 30.0]))
    assert link.tolist() == [0, 1]
    np.testing.assert_allclose(offset, [100.0, 30.0], atol=1e-9)


def brute_force(qx, qy, x, y, k, reach):
    d = np.hypot(qx[:, None] - x, qy[:, None] - y)
    d = np.where(d <= reach, d, np.inf)
    order = np.argsort(d, axis=1, kind="stable")[:, :k]  # ties: lower index first
    best = np.take_along_axis(d, order, axis=1)
    return np.where(np.isfinite(best), order, -1), best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_k_nearest_equals_a_stable_brute_force_with_ties_and_ranges(seed: int) -> None:
    """Integer lattice points make many exact ties; two radio ranges make two trees."""
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, 12, 300).astype(float), rng.integers(0, 12, 300).astype(float)
    reach = np.where(rng.random(300) < 0.5, 3.0, 5.0)
    qx, qy = rng.integers(0, 12, 2000).astype(float), rng.integers(0, 12, 2000).astype(float)
    index, dist = k_nearest(qx, qy, x, y, 4, reach_m=reach)
    want_index, want_dist = brute_force(qx, qy, x, y, 4, reach)
    np.testing.assert_array_equal(index, want_index)
    np.testing.assert_array_equal(dist, want_dist)
    # without a range: the nearest point of all, ties to the lower index
    nearest, _ = k_nearest(qx, qy, x, y, 1)
    np.testing.assert_array_equal(nearest[:, 0], brute_force(qx, qy, x, y, 1, np.inf)[0][:, 0])


def test_coverage_of_a_3000_km_network_never_forms_a_cells_by_rsus_matrix() -> None:
    """~3,400 km, 137,000 cells, 8,000 RSUs: a distance matrix would hold 1.1 billion
    floats (8.8 GB) and even the old 4-million-element chunks peaked near 100 MB; the
    k-d tree query stays within a few arrays of (cells x 5)."""
    network = demo_zone(DemoZoneParams(scale=16.0))
    assert network.total_length_m > 3_000_000
    scenario = scenario_from_dict({"roadside": {"rsu": {"placement": {
        "mode": "count", "count": 8000}}, "sensors": []}, "edge": {"nodes": 8}})
    devices = build_devices(network, scenario.roadside, scenario.edge)
    tracemalloc.start()
    coverage = build_coverage(network, devices)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    cells = coverage.nearest.size
    assert cells * devices.n_rsu > 1e9
    assert peak < 64e6, f"peak {peak / 1e6:.0f} MB for {cells} cells"
    assert (coverage.nearest >= 0).mean() > 0.9  # RSUs every ~430 m with 400 m range
