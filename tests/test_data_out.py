"""Data out: results folders read back whole, DataFrames, Parquet, GeoJSON, the Python API.

One small run (a 3x3 grid, an incident, a rerouting policy) is written as CSV and as
Parquet and read back; GeoJSON is checked on hand-made tables whose answers are worked
out here; the Python API is driven as a notebook would drive it.
"""

from __future__ import annotations

import importlib
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import v2x_sim
from v2x_sim._core.errors import MissingExtraError, ScenarioError
from v2x_sim.control.policy import RouteAdvice
from v2x_sim.metrics.histogram import LogHistogram
from v2x_sim.report import build_report
from v2x_sim.result import RunResult
from v2x_sim.scenario import load_scenario, override_scenario, scenario_from_dict
from v2x_sim.tables import (
    GeoReference,
    edge_regions_geojson,
    network_geojson,
    worst_bin,
)
from v2x_sim.tables import geojson as geo

GRID: dict[str, Any] = {
    "name": "data-out",
    "simulation": {"horizon_s": 300, "seed": 4},
    "road": {"generator": "grid", "grid": {"rows": 3, "cols": 3, "spacing_m": 300}},
    "demand": {"random": {"rate_vph": 2500}},
    "incidents": [{"link": 4, "start_s": 60, "end_s": 240, "lanes_closed": 2}],
    "edge": {"nodes": 2, "cores": 2},
    "control": {"policy": "dynamic_shortest", "period_s": 30},
    "output": {"link_bin_s": 60},
}


@pytest.fixture(scope="module")
def result() -> RunResult:
    return v2x_sim.run(scenario_from_dict(GRID))


def written(result: RunResult, folder: Path, fmt: str) -> Path:
    scenario = override_scenario(result.scenario, {"output.format": fmt})
    copy = RunResult(scenario=scenario, seed=result.seed, summary=result.summary,
                     trips=result.trips, links=result.links, events=result.events,
                     tables=result.tables)
    v2x_sim.write_results(copy, folder)
    return folder


def assert_same_tables(a: RunResult, b: RunResult, atol: float) -> None:
    first, second = a.all_tables(), b.all_tables()
    assert list(first) == list(second)
    for name, table in first.items():
        assert list(table) == list(second[name]), name
        for column, values in table.items():
            x, y = np.asarray(values), second[name][column]
            where = f"{name}.{column}"
            if x.dtype.kind in "OU":  # ids and names come back as text
                assert y.dtype.kind == "U", where
                assert x.astype(str).tolist() == y.tolist(), where
            elif x.dtype.kind == "f":
                assert y.dtype.kind == "f", where
                np.testing.assert_allclose(y, x, rtol=0, atol=atol, err_msg=where)
            else:  # ints (with -1 for "none") and flags keep their dtype and values
                assert y.dtype == x.dtype, where
                assert np.array_equal(x, y), where


def test_a_csv_folder_reads_back_as_the_run(result: RunResult, tmp_path: Path) -> None:
    back = v2x_sim.load_results(written(result, tmp_path / "csv", "csv"))
    assert back.summary == result.summary
    assert back.seed == 4
    assert back.version == v2x_sim.__version__
    assert back.scenario.to_plain() == {**result.scenario.to_plain(), "v2x_sim_version":
                                        v2x_sim.__version__, "simulation": {
                                            **result.scenario.to_plain()["simulation"],
                                            "seed": 4}}
    assert_same_tables(result, back, atol=5.1e-7)  # CSV rounds floats to 6 decimals
    assert [(e.kind, e.link, e.vehicle) for e in back.events] == [
        (e.kind, e.link, e.vehicle) for e in result.events]
    assert math.isnan(back.wall_s)  # not on disk


def test_a_parquet_folder_is_exact(result: RunResult, tmp_path: Path) -> None:
    folder = written(result, tmp_path / "pq", "parquet")
    names = sorted(p.name for p in folder.iterdir())
    assert "trips.parquet" in names
    assert "trips.csv" not in names
    assert "network.csv" in names
    assert "signals.csv" in names
    back = v2x_sim.load_results(folder)
    assert_same_tables(result, back, atol=0.0)
    assert back.events == result.events
    page = build_report(folder).read_text(encoding="utf-8")  # the report reads Parquet
    for figure in ("network_map", "congestion_heatmap", "latency_cdf", "edge_utilisation"):
        assert f'id="{figure}"' in page
    assert "The 10 links with the most time lost" in page


def test_none_is_an_empty_cell_and_na_in_frames(result: RunResult, tmp_path: Path) -> None:
    folder = written(result, tmp_path / "csv", "csv")
    rows = (folder / "events.csv").read_text().splitlines()[1:]
    incident = [r for r in rows if ",incident_start," in r]
    assert incident
    assert all(",-1," not in r for r in rows)
    assert incident[0].split(",")[3] == ""  # time_s,kind,link,vehicle,detail
    frames = result.to_pandas()
    events = frames["events"]
    assert str(events["vehicle"].dtype) == "Int64"
    no_vehicle = [e.vehicle is None for e in result.events]
    assert events["vehicle"].isna().tolist() == no_vehicle
    assert any(no_vehicle)
    assert not all(no_vehicle)
    trips = frames["trips"]
    assert len(trips) == result.summary["trips_started"]
    assert trips["connected"].dtype == bool
    assert trips["vehicle_class"].tolist() == trips["class"].tolist()
    polars = result.to_polars()
    assert polars["events"]["vehicle"].null_count() == sum(no_vehicle)
    assert set(polars) == set(frames)


def test_summary_names_version_and_schema(result: RunResult) -> None:
    assert result.summary["v2x_sim_version"] == v2x_sim.__version__
    assert result.summary["schema_version"] == 2
    for record in result.summary["hazards"]["by_hazard"]:  # edge node named as edges.csv
        if record["edge"] is None:
            assert record["edge_node"] is None
        else:
            assert record["edge_node"] == f"edge-{record['edge']}"
            assert record["edge_node"] in set(result.tables["edges"]["node"].tolist())


def test_repr_is_one_short_line(result: RunResult) -> None:
    text = repr(result)
    assert "\n" not in text
    assert len(text) < 400
    assert "'data-out'" in text
    assert f"trips[{result.summary['trips_started']:,}]" in text


def test_the_stored_histograms_give_the_reported_percentiles(result: RunResult) -> None:
    hist, latency = result.tables["latency_hist"], result.tables["latency"]
    for i in np.flatnonzero(latency["hop"] == "total"):
        kind = latency["kind"][i]
        rows = (hist["kind"] == kind) & (hist["hop"] == "total")
        rebuilt = LogHistogram()
        rebuilt.add_binned(np.bincount(hist["bin"][rows], weights=hist["count"][rows],
                                       minlength=rebuilt.counts.size).astype(np.int64),
                           total_s=0.0, max_s=float(latency["max_s"][i]))
        assert rebuilt.count == latency["count"][i]
        assert rebuilt.quantile(0.5) == pytest.approx(latency["p50_s"][i], abs=1e-12)
        assert rebuilt.quantile(0.99) == pytest.approx(latency["p99_s"][i], abs=1e-12)


# --- GeoJSON on hand-made tables -------------------------------------------------------

NETWORK = {"link": np.array(["a", "b"]), "from": np.array(["1", "2"]),
           "to": np.array(["2", "1"]), "x0_m": np.array([0.0, 100.0]),
           "y0_m": np.array([0.0, 0.0]), "x1_m": np.array([100.0, 0.0]),
           "y1_m": np.array([0.0, 0.0]), "length_m": np.array([100.0, 120.0]),
           "lanes": np.array([1, 2]), "shape": np.array(["", "100,0 50,10 0,0"])}
# bin 0: ratios 0.9 and 0.7 (mean 0.8); bin 60: 0.6 and NaN (mean 0.6, the worst)
LINKS = {"link": np.array(["a", "a", "b", "b"]),
         "t_start_s": np.array([0.0, 60.0, 0.0, 60.0]),
         "t_end_s": np.array([60.0, 120.0, 60.0, 120.0]),
         "speed_ratio": np.array([0.9, 0.6, 0.7, np.nan]),
         "vehicles": np.array([1.0, 2.0, 3.0, 0.0]),
         "mean_speed_mps": np.array([9.0, 6.0, 7.0, np.nan]),
         "flow_vph": np.array([60.0, 120.0, 180.0, 0.0]),
         "entered": np.array([1, 2, 3, 0]), "exited": np.array([1, 2, 3, 0])}


def test_the_worst_bin_has_the_lowest_mean_over_links_with_traffic() -> None:
    assert worst_bin(LINKS) == (60.0, 120.0)
    # counting the empty link as ratio 1 would make bin 60 (0.8) tie bin 0: it must not
    assert worst_bin({**LINKS, "speed_ratio": np.array([0.9, 0.85, 0.7, np.nan])}) == (
        0.0, 60.0)  # bin 0: (0.9 + 0.7) / 2 = 0.8 < 0.85


def test_network_geojson_carries_shapes_and_the_worst_bin() -> None:
    layer = network_geojson(NETWORK, LINKS)
    json.dumps(layer, allow_nan=False)  # strict JSON: no NaN anywhere
    a, b = layer["features"]
    assert a["geometry"]["coordinates"] == [[0.0, 0.0], [100.0, 0.0]]
    assert b["geometry"]["coordinates"] == [[100.0, 0.0], [50.0, 10.0], [0.0, 0.0]]
    assert a["properties"]["speed_ratio"] == 0.6
    assert a["properties"]["vehicles"] == 2.0
    assert b["properties"]["speed_ratio"] is None  # no traffic in the worst bin
    assert (a["properties"]["t_start_s"], a["properties"]["t_end_s"]) == (60.0, 120.0)
    assert a["properties"]["lanes"] == 1
    assert b["properties"]["length_m"] == 120.0
    assert "crs" not in layer  # generated networks have no place on Earth


def test_an_imported_network_is_placed_on_earth(monkeypatch: pytest.MonkeyPatch) -> None:
    georef = GeoReference("EPSG:32635", (500000.0, 6709000.0))
    if importlib.util.find_spec("pyproj") is not None:
        point = network_geojson(NETWORK, None, georef)["features"][0]["geometry"]
        lon, lat = point["coordinates"][0]
        assert lon == pytest.approx(27.0, abs=1e-9)  # easting 500 km: zone 35's meridian
        assert 60.0 < lat < 61.0  # 6,709 km north of the equator
    monkeypatch.setattr(geo.importlib.util, "find_spec", lambda name: None)
    layer = network_geojson(NETWORK, None, georef)
    assert layer["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::32635"
    assert layer["features"][0]["geometry"]["coordinates"][1] == [500100.0, 6709000.0]


def test_edge_regions_reach_pad_beyond_their_rsus() -> None:
    rsus = {"rsu": np.arange(4), "x_m": np.array([0.0, 1000.0, 0.0, 5000.0]),
            "y_m": np.array([0.0, 0.0, 1000.0, 5000.0]),
            "edge": np.array([0, 0, 0, 1]), "sensors": np.array([1, 2, 3, 4])}
    layer = edge_regions_geojson(rsus, pad_m=100.0)
    first, second = layer["features"]
    assert first["properties"] == {"edge_node": "edge-0", "rsus": 3, "sensors": 6}
    ring = np.array(first["geometry"]["coordinates"][0])
    assert ring[0].tolist() == ring[-1].tolist()  # closed
    # octagons whose inscribed circle has radius 100 m: the hull spans -100 .. 1100
    assert ring[:, 0].min() == pytest.approx(-100.0)
    assert ring[:, 0].max() == pytest.approx(
        1100.0)
    assert ring[:, 1].max() == pytest.approx(1100.0)
    lone = np.array(second["geometry"]["coordinates"][0])  # one RSU: an octagon
    assert len(lone) == 9
    assert lone[:, 0].min() == pytest.approx(4900.0)
    assert lone[:, 1].max() == pytest.approx(
        5100.0)


def test_a_run_folder_has_the_three_layers(result: RunResult, tmp_path: Path) -> None:
    folder = written(result, tmp_path / "csv", "csv")
    network = json.loads((folder / "network.geojson").read_text())
    devices = json.loads((folder / "devices.geojson").read_text())
    regions = json.loads((folder / "edge_regions.geojson").read_text())
    assert len(network["features"]) == 24  # 3x3 grid: 12 roads, both directions
    assert len(devices["features"]) == result.tables["devices"]["device"].size
    assert [f["properties"]["edge_node"] for f in regions["features"]] == ["edge-0", "edge-1"]


# --- the Python API ----------------------------------------------------------------------


def test_overrides_as_strings_dicts_and_sections_agree() -> None:
    as_text = load_scenario("quickstart", ["demand.random.rate_vph=2000",
                                           "incidents.0.start_s=600"])
    as_dict = load_scenario("quickstart", {"demand.random.rate_vph": 2000,
                                           "incidents.0.start_s": 600})
    assert as_text.to_plain() == as_dict.to_plain()
    partial = load_scenario("quickstart", simulation={"horizon_s": 600})
    plain = load_scenario("quickstart")
    assert partial.simulation.horizon_s == 600
    assert partial.simulation.seed == plain.simulation.seed  # the rest of the section stays
    assert partial.road == plain.road


def test_errors_name_what_a_python_caller_wrote() -> None:
    with pytest.raises(ScenarioError, match=r"overrides\['simulation\.horizon_s\.x'\]"):
        load_scenario("quickstart", {"simulation.horizon_s.x": 5})
    with pytest.raises(ScenarioError, match="not one string"):
        load_scenario("quickstart", "simulation.horizon_s=5")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match=r"^seed = -1: expected a non-negative integer"):
        v2x_sim.run("quickstart", seed=-1)
    with pytest.raises(ScenarioError, match=r"^policy = 3:"):
        v2x_sim.run("quickstart", policy=3)  # type: ignore[arg-type]


def tiny(**extra: Any) -> dict[str, Any]:
    return {**GRID, "simulation": {"horizon_s": 120, "seed": 1}, "v2x": {"enabled": False},
            "control": {"policy": "none"}, **extra}


def test_a_policy_class_defined_in_a_function_runs() -> None:
    decided: list[float] = []

    class Watcher:  # not importable by name: remembered in this process
        name = "watcher"
        periodic = True
        on_departure = False
        on_hazard = False
        uses_truth = False

        def decide(self, view: Any) -> RouteAdvice:
            decided.append(view.now_s)
            return RouteAdvice()

    scenario = scenario_from_dict({**tiny(), "v2x": {"enabled": True},
                                   "control": {"policy": "none", "period_s": 30}})
    out = v2x_sim.run(scenario, policy=Watcher)
    assert out.summary["rerouting"]["policy"] == "watcher"
    assert decided == [30.0, 60.0, 90.0]  # every 30 s before the 120 s horizon
    assert out.scenario.control.policy.endswith(":test_a_policy_class_defined_in_a_function_"
                                                "runs.<locals>.Watcher")


def test_progress_true_draws_a_tqdm_bar_and_says_when_tqdm_is_missing(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = scenario_from_dict(tiny())
    seen: list[tuple[float, float]] = []
    v2x_sim.run(scenario, progress=lambda t, h: seen.append((t, h)))
    assert seen[-1] == (120.0, 120.0)
    assert len(seen) == 100
    v2x_sim.run(scenario, progress=True)
    assert "120/120" in capsys.readouterr().err  # tqdm's bar reached the horizon
    real = importlib.import_module

    def no_tqdm(name: str, *args: Any) -> Any:
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_tqdm)
    with pytest.raises(MissingExtraError, match=r"v2x-sim\[notebook\]"):
        v2x_sim.run(scenario, progress=True)


def test_studies_write_nothing_unless_asked(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    scenario = scenario_from_dict(tiny())
    table = v2x_sim.replicate(scenario, 2, jobs=1)
    assert table["n"].tolist() == [2] * table["n"].size
    v2x_sim.run(scenario)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("cells", [
    ["0", "12", "007", "-3", "+5"],
    ["1.5", "2", "-0.0", "1e5", "5e-3", "1E2", ".5", "1.", "1.5e+3"],
    ["9223372036854775807", "1"], ["9223372036854775808", "1"],
    ["1", "", "3"], ["nan", "1.0"], ["inf", "-inf"], [" 1", "2 "], ["1,5", "2"],
    ["-", "1"], ["1e", "2"], ["a1", "2"], ["1_0", "2"], ["0x10"], [""], ["-1", "4"],
])
def test_number_columns_read_alike_by_python_and_by_numpy(cells: list[str]) -> None:
    """Plain-number columns are parsed by Python's int/float, the rest by numpy arrays.

    Whatever the cells, the column must be the one the numpy path makes: same dtype and
    same values (NaN where empty), for plain and nullable columns alike.
    """
    from v2x_sim.tables.formats import _typed, _typed_by_numpy

    for stem, name in (("trips", "delay_s"), ("trips", "origin_wait_s"), ("events", "vehicle")):
        fast = _typed(stem, name, cells)
        slow = _typed_by_numpy(stem, name, cells)
        assert fast.dtype == slow.dtype, (stem, name)
        assert fast.tobytes() == slow.tobytes(), (stem, name)
