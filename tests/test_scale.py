"""The ``scale:`` knob: bounds, what it multiplies (by hand), reruns and sweeps."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from v2x_sim import load_scenario
from v2x_sim.cli import main
from v2x_sim.experiment.sweep import sweep
from v2x_sim.scenario import scenario_from_dict
from v2x_sim.scenario.scale import applied_scale, scaled_scenario
from v2x_sim.world import build_network_from, build_world

# A 3x3 grid (400 m blocks), no signals, 1,200 random trips an hour evenly spaced, ten
# minutes: 1200 veh/h x 600 s / 3600 s/h = 200 trips at scale 1.
SMALL = {
    "name": "small",
    "simulation": {"horizon_s": 600, "deterministic": True, "seed": 3},
    "road": {"generator": "grid", "grid": {"rows": 3, "cols": 3, "spacing_m": 400},
             "signals": {"enabled": False}},
    "demand": {"random": {"rate_vph": 1200}},
    "roadside": {"rsu": {"placement": {"mode": "count", "count": 10}},
                 "sensors": [{"kind": "camera", "placement": {"mode": "spacing",
                                                              "spacing_m": 300}}]},
    "edge": {"nodes": 1},
}


def small(**changes: object) -> dict[str, object]:
    return {**SMALL, **changes}


@pytest.mark.parametrize("value", ["0.2", "4.5", "0", "-1", "x"])
def test_scale_out_of_bounds_is_one_line_naming_it(value: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", "quickstart", "-q", "--set", f"scale={value}"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in out + err
    assert err.count("\n") == 1
    assert err.startswith("v2x-sim: error: scale = ")
    assert value in err


@pytest.mark.parametrize("value", [0.25, 4])
def test_scale_bounds_are_inclusive(value: float) -> None:
    assert load_scenario("quickstart", [f"scale={value}"]).scale == value


@pytest.mark.parametrize(("factor", "trips", "rsus", "cameras"), [
    # trips: 200 x factor (evenly spaced departures)
    # RSUs by count: 10 x 0.25 = 2.5 rounds up to 3; 10 x 2 = 20
    # cameras every 300 m on a fixed network: 12 roads x 400 m = 4,800 m of road;
    # 4800 / 300 = 16; at x0.25 every 1,200 m: 4; at x2 every 150 m: 32
    (1.0, 200, 10, 16), (0.25, 50, 3, 4), (2.0, 400, 20, 32)])
def test_scale_multiplies_trips_and_devices_of_the_built_world(
        factor: float, trips: int, rsus: int, cameras: int) -> None:
    world = build_world(scenario_from_dict(small(scale=factor)))
    assert len(world.plan) == pytest.approx(trips, abs=1)
    counts = world.v2x.devices.counts()
    assert counts["rsu"] == rsus
    assert counts["camera"] == cameras
    assert world.network.n_nodes == 9  # a grid file or generator is not resized
    assert len(world.v2x.edges) == 1  # edge nodes stay


def test_scale_grows_the_zone_generator_network() -> None:
    """demo_zone at x4: rows 7 x 2 = 14, cols 11 x 2 = 22 (each by the square root).

    Grid roads 14 x 21 + 22 x 13 = 580, spine 21, ramps at columns 0, 2, .., 20: 11 x 2
    of 350 m. Both directions: (580 + 21) x 1.4 km + 22 x 0.7 km = 841.4 + 15.4 = 856.8
    km (x1: (136 + 10) x 1.4 + 12 x 0.7 = 212.8 km). Nodes 14 x 22 + 22 = 330.
    """
    scenario = scaled_scenario(load_scenario("phase3_scale", ["scale=4"]))
    network = build_network_from(scenario)
    assert network.n_nodes == 330
    assert network.total_length_m / 1000 == pytest.approx(856.8, rel=1e-9)
    assert scenario.roadside.rsu.placement.count == 2000  # 500 x 4
    assert scenario.demand.random is not None
    assert scenario.demand.random.rate_vph == pytest.approx(4 * 23350)
    assert scenario.edge.nodes == 8


def test_scaled_scenario_is_applied_once_and_rerun_reproduces(tmp_path: Path) -> None:
    """A results folder holds the scaled values with scale 1; running it again gives the
    same summary (scale is not applied a second time)."""
    scenario = load_scenario("quickstart", ["scale=0.5", "simulation.horizon_s=300"])
    once = scaled_scenario(scenario)
    assert once.scale == 1.0
    assert applied_scale(once) == 0.5
    assert scaled_scenario(once) is once
    first, second = tmp_path / "a", tmp_path / "b"
    assert main(["run", "quickstart", "-q", "--no-report", "-o", str(first), "--set",
                 "scale=0.5", "--set", "simulation.horizon_s=300"]) == 0
    resolved = (first / "scenario.yaml").read_text()
    assert "# scale 0.5 applied" in resolved
    assert "rate_vph: 1500.0" in resolved  # 3000 x 0.5
    assert main(["run", str(first / "scenario.yaml"), "-q", "--no-report", "-o",
                 str(second)]) == 0
    assert (first / "summary.json").read_text() == (second / "summary.json").read_text()


def test_scale_warns_about_what_it_leaves_alone(caplog: pytest.LogCaptureFixture) -> None:
    scenario = load_scenario("quickstart", ["scale=2", "simulation.horizon_s=60"])
    with caplog.at_level(logging.WARNING, logger="v2x_sim.world"):
        build_world(scenario)
    assert "scale 2 leaves vehicles.shuttle_lines as they are" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="v2x_sim.world"):
        build_world(load_scenario("quickstart", ["simulation.horizon_s=60"]))
    assert "scale" not in caplog.text


def test_scale_is_sweepable_on_common_seeds(tmp_path: Path) -> None:
    """A sweep over scale: trips started 100 / 200 / 400 at x0.5 / x1 / x2 (every
    departure within the horizon starts: 600 s of evenly spaced departures)."""
    scenario = scenario_from_dict(small(
        sweep={"parameters": {"scale": [0.5, 1, 2]}, "replications": 1},
        v2x={"enabled": False}))
    table = sweep(scenario, out_dir=tmp_path / "study", jobs=1, progress=False)
    rows = {table["scale"][i]: table["mean"][i] for i in range(table["metric"].size)
            if table["metric"][i] == "trips_started"}
    assert rows["0.5"] == pytest.approx(100, abs=1)
    assert rows["1"] == pytest.approx(200, abs=1)
    assert rows["2"] == pytest.approx(400, abs=1)
