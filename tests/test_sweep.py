"""Sweeps: every point on the same seeds, one row per point and metric, errors up front."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from v2x_sim._core.errors import ScenarioError
from v2x_sim.cli import main
from v2x_sim.experiment.sweep import sweep, sweep_points
from v2x_sim.scenario import scenario_from_dict


def tiny(sweep_block: dict) -> dict:
    return {
        "name": "tiny-sweep",
        "simulation": {"horizon_s": 200, "seed": 3},
        "road": {"generator": "grid", "grid": {"rows": 3, "cols": 3, "spacing_m": 300}},
        "demand": {"random": {"rate_vph": 1200}},
        "edge": {"nodes": 1},
        "sweep": sweep_block,
    }


def test_grid_points_are_the_cartesian_product_in_order() -> None:
    scenario = scenario_from_dict(tiny({"parameters": {"edge.cores": [1, 4],
                                                       "channels.uu.profile": ["nr", "lte"]}}))
    assert sweep_points(scenario) == [
        {"edge.cores": 1, "channels.uu.profile": "nr"},
        {"edge.cores": 1, "channels.uu.profile": "lte"},
        {"edge.cores": 4, "channels.uu.profile": "nr"},
        {"edge.cores": 4, "channels.uu.profile": "lte"}]


def test_sweep_table_has_a_row_per_point_and_metric_on_common_seeds(tmp_path: Path) -> None:
    """The swept parameter changes latency, never the demand (same seeds at every point)."""
    scenario = scenario_from_dict(tiny({"parameters": {"channels.uu.profile": ["nr", "lte"]},
                                        "replications": 2}))
    table = sweep(scenario, out_dir=tmp_path, jobs=1)
    assert (tmp_path / "sweep.csv").exists()
    assert (tmp_path / "sweep.json").exists()
    metrics = set(table["metric"])
    for metric in metrics:
        rows = table["metric"] == metric
        assert sorted(table["channels.uu.profile"][rows]) == ["lte", "nr"]
    started = table["metric"] == "trips_started"
    assert np.all(table["n"][started] == 2)
    assert len(set(table["mean"][started])) == 1  # identical demand at both points
    status = table["metric"] == "latency.status.p50_s"
    by_profile = dict(zip(table["channels.uu.profile"][status], table["mean"][status],
                          strict=True))
    assert by_profile["lte"] > 5 * by_profile["nr"]  # 100 ms vs 4 ms uplink


def test_a_bad_point_fails_before_anything_runs(tmp_path: Path) -> None:
    scenario = scenario_from_dict(tiny({"parameters": {"edge.cores": [2, -1]}}))
    with pytest.raises(ScenarioError, match=r"edge\.cores"):
        sweep(scenario, out_dir=tmp_path, jobs=1)
    assert not (tmp_path / "runs").exists()


def test_sweep_without_a_sweep_block_is_a_clear_cli_error(tmp_path: Path, capsys) -> None:
    code = main(["sweep", "quickstart", "-o", str(tmp_path / "o"), "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "sweep" in err
