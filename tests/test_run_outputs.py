"""A run from the command line writes a complete, re-runnable results folder."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from v2x_sim._core.streams import RandomStreams
from v2x_sim.cli import main
from v2x_sim.road.routing import RouteTables
from v2x_sim.scenario import list_presets, load_scenario
from v2x_sim.traffic.demand import build_trip_plan
from v2x_sim.world import build_network_from, build_world

SUMMARY_KEYS = ("trips_started", "trips_completed", "trips_on_road", "travel_time_mean_s",
                "travel_time_p50_s", "travel_time_p95_s", "delay_mean_s", "vehicle_hours",
                "vehicle_km", "moved_on", "v2x_sim_version", "schema_version")
TRIP_COLUMNS = ["id", "class", "connected", "origin", "destination", "depart_s", "arrive_s",
                "travel_time_s", "free_flow_time_s", "delay_s", "distance_m", "links",
                "moved_on", "origin_wait_s", "dwell_s", "reroutes", "vehicle_class",
                "shortest_free_flow_time_s", "detour_s"]
LINK_COLUMNS = ["link", "from", "to", "t_start_s", "t_end_s", "vehicles", "mean_speed_mps",
                "speed_ratio", "flow_vph", "entered", "exited"]


def header(path: Path) -> list[str]:
    with path.open() as handle:
        return next(csv.reader(handle))


def test_run_writes_every_result_file(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code = main(["run", "quickstart", "-o", str(out), "--set", "simulation.horizon_s=600",
                 "--seed", "5"])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "approaches.csv", "devices.csv", "devices.geojson", "edge_regions.geojson",
        "edges.csv", "events.csv", "figures", "kerbside.csv", "latency.csv",
        "latency_hist.csv", "links.csv", "network.csv", "network.geojson", "report.html",
        "rsus.csv", "scenario.yaml", "signals.csv", "stops.csv", "summary.json", "trips.csv",
        "warnings.csv"]
    assert sorted(p.name for p in (out / "figures").iterdir())  # figures were drawn
    summary = json.loads((out / "summary.json").read_text())
    for key in SUMMARY_KEYS:
        assert key in summary
    assert summary["simulation"]["seed"] == 5
    assert header(out / "trips.csv") == TRIP_COLUMNS
    assert header(out / "links.csv") == LINK_COLUMNS
    assert header(out / "events.csv") == ["time_s", "kind", "link", "vehicle", "detail"]
    with (out / "trips.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == summary["trips_started"]
    printed = capsys.readouterr().out
    assert "trips_completed" in printed
    assert str(out) in printed


def test_resolved_scenario_reruns_to_the_same_summary(tmp_path: Path) -> None:
    """scenario.yaml in the results holds seed and version and reproduces the run."""
    first, second = tmp_path / "a", tmp_path / "b"
    assert main(["run", "quickstart", "-q", "--no-report", "-o", str(first), "--seed", "9",
                 "--set", "simulation.horizon_s=600"]) == 0
    resolved = (first / "scenario.yaml").read_text()
    assert "seed: 9" in resolved
    assert "v2x_sim_version:" in resolved
    assert main(["run", str(first / "scenario.yaml"), "-q", "--no-report", "-o",
                 str(second)]) == 0
    assert (first / "summary.json").read_text() == (second / "summary.json").read_text()


@pytest.mark.parametrize("preset", [p.name for p in list_presets()])
def test_every_bundled_scenario_runs_on_a_short_horizon(preset: str) -> None:
    scenario = load_scenario(preset, ["simulation.horizon_s=300", "simulation.warmup_s=0"])
    world = build_world(scenario)
    result = world.run()
    summary = result.summary
    assert summary["trips_started"] > 0
    assert summary["trips_completed"] > 0
    # trips on the road at the horizon, counted by the movement engine's state
    traffic = world.traffic
    present = (sum(traffic.vehicles_on(k) + traffic.waiting_at_origin(k)
                   for k in range(world.network.n_links)) + traffic.dwelling)
    assert summary["trips_on_road"] == present


def test_quickstart_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "v2x-sim run scenarios/quickstart.yaml" in readme


def test_module_entry_point_runs(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "v2x_sim", "run", "quickstart", "-q", "--no-report", "-o",
         str(tmp_path), "--set", "simulation.horizon_s=120"], capture_output=True, text=True,
        check=False)
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "summary.json").exists()


def _described(text: str, unit: str) -> float | None:
    found = re.search(r"~?([\d,]+(?:\.\d+)?) (?:random )?" + unit, text)
    return float(found.group(1).replace(",", "")) if found else None


@pytest.mark.parametrize("preset", [p.name for p in list_presets()])
def test_every_description_matches_what_runs(preset: str) -> None:
    """The trips and kilometres a bundled scenario's description names are what it plans.

    quickstart's said ~1,500 trips when it planned 1,325 (13 % off): 10 % is the bound
    for "~"; kilometres within 2 %.
    """
    scenario = load_scenario(preset)
    network = build_network_from(scenario)
    plan = build_trip_plan(scenario, network, RandomStreams(scenario.simulation.seed).get(
        "demand"), RouteTables(network, network.free_flow_time_s))
    trips = _described(scenario.description, "trips")
    km = _described(scenario.description, "km")
    assert trips is not None, "say how many trips it runs"
    assert len(plan) == pytest.approx(trips, rel=0.10)
    if km is not None:
        assert network.total_length_m / 1000 == pytest.approx(km, rel=0.02)
