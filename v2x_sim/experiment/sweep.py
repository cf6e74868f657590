"""Parameter sweeps: every point of a grid (or a list) on the same replication seeds.

A point is a set of ``path=value`` overrides; each is validated before anything runs
(a bad path or value fails with the field named, not halfway through a study). The
table has one row per point and metric with the mean and its 95 % interval, the swept
parameters as leading columns (``sweep.csv``).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from v2x_sim._core.errors import ScenarioError
from v2x_sim.experiment.compare import (
    CONFIDENCE,
    Finish,
    Table,
    _write,
    replication_seeds,
    study_place,
    study_table,
)
from v2x_sim.experiment.study import Arm, Progress, run_study
from v2x_sim.scenario.loader import apply_overrides, scenario_from_dict
from v2x_sim.scenario.schema import Scenario


def _override(path: str, value: Any) -> str:
    """``path=value`` with the value in YAML flow style, so types survive the round trip."""
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    return f"{path}={text.removesuffix('...').strip()}"


def sweep_points(scenario: Scenario) -> list[dict[str, Any]]:
    """The points of the scenario's ``sweep`` block, in order (grid: last path fastest)."""
    spec = scenario.sweep
    if spec is None:
        raise ScenarioError("sweep", None, "the scenario has no sweep: block "
                            "(sweep: {parameters: {path: [values]}, replications: 5})")
    if spec.mode == "points":
        return [dict(p) for p in spec.points]
    names = list(spec.parameters)
    return [dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(spec.parameters[n] for n in names))]


def _arms(scenario: Scenario, points: list[dict[str, Any]]) -> list[Arm]:
    data = scenario.to_plain()
    data["sweep"] = None
    arms = []
    for i, point in enumerate(points):
        overrides = tuple(_override(path, value) for path, value in point.items())
        try:
            scenario_from_dict(apply_overrides(data, list(overrides)))
        except ScenarioError as exc:
            raise ScenarioError(f"sweep point {i} ({', '.join(overrides)}): {exc.path}",
                                exc.value, exc.reason) from None
        name = ",".join(f"{path}={value}" for path, value in point.items())
        arms.append(Arm(name, overrides))
    return arms


def sweep(scenario: Scenario, *, replications: int | None = None,
          seeds: list[int] | None = None, out_dir: str | Path | None = None,
          jobs: int | None = None, dask: str | None = None,
          progress: Progress | bool | None = None, finish: Finish | None = None,
          source: Path | None = None) -> Table:
    """Run the scenario's sweep; return the per-point table (written to ``out_dir``).

    Without ``out_dir`` the runs go to a temporary folder deleted afterwards; with it,
    ``sweep.csv`` and ``sweep.json`` are written there (see `compare`).

    Returns:
        Columns: one per swept parameter (its value at the point, as text), then
        ``metric, n, mean, ci_low, ci_high``.
    """
    points = sweep_points(scenario)
    arms = _arms(scenario, points)
    assert scenario.sweep is not None  # sweep_points checked it
    n = replications or scenario.sweep.replications
    chosen = replication_seeds(scenario, n, seeds)
    base = scenario.model_copy(update={"sweep": None}).with_base_dir(scenario.base_dir)
    with study_place(out_dir, progress, f"{scenario.name}: sweep") as (folder, callback):
        study = run_study(base, arms, chosen, out_dir=folder, jobs=jobs, dask=dask,
                          progress=callback, source=source)
        table = study_table(study)
        by_name = {arm.name: point for arm, point in zip(arms, points, strict=True)}
        params = list(points[0]) if points else []
        out: Table = {p: np.array([str(by_name[a].get(p, "")) for a in table["arm"]])
                      for p in params}
        out.update({k: v for k, v in table.items() if k != "arm"})
        _write(out, folder, "sweep",
               {"scenario": scenario.name, "parameters": params, "points": len(points),
                "seeds": chosen, "replications": len(chosen), "confidence": CONFIDENCE,
                "skipped_runs": study.skipped}, finish if out_dir is not None else None)
    return out
