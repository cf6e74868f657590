"""Scenario comparisons: several scenarios on common seeds, paired against the first.

What `compare` does for policies on one scenario, done for whole scenarios (the build
phases, a network before and after a change, two device layouts): every scenario runs
on the same replication seeds, each with its own ``control.policy``; the table gives
every metric's mean with its 95 % interval and the paired difference against the
baseline scenario (the first, unless named), in the same ``comparison.csv`` /
``comparison.json`` a policy comparison writes, so the report draws the same figures.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

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
from v2x_sim.scenario.loader import load_scenario
from v2x_sim.scenario.presets import resolve_scenario_path
from v2x_sim.scenario.schema import Scenario

ScenarioLike = Scenario | str | Path
"""A validated scenario, a bundled scenario's name or a YAML path."""


def _loaded(item: ScenarioLike, overrides: list[str]) -> tuple[Scenario, Path | None]:
    """The scenario and its YAML file (None for a `Scenario` object)."""
    if isinstance(item, Scenario):
        if overrides:
            from v2x_sim.scenario.loader import override_scenario

            return override_scenario(item, overrides), None
        return item, None
    if not isinstance(item, str | Path):
        raise ScenarioError("scenarios", item, "expected Scenario objects, bundled "
                            "scenario names or YAML paths")
    source = resolve_scenario_path(item)
    try:
        return load_scenario(source, overrides), source
    except ScenarioError as exc:  # say which of the files holds the bad field
        raise ScenarioError(f"{item}: {exc.path}", exc.value, exc.reason) from None


def scenario_arms(scenarios: Sequence[ScenarioLike],
                  overrides: Iterable[str] = ()) -> list[Arm]:
    """One arm per scenario, named by its ``name`` (by its file's stem where two share it).

    ``overrides`` (``path=value``) apply to every scenario, as ``--set`` does.

    Raises:
        ScenarioError: fewer than two scenarios, one that does not load (the message
            names its file), or two arms that cannot be told apart.
    """
    if len(scenarios) < 2:
        raise ScenarioError("scenarios", [str(s) for s in scenarios],
                            "expected at least two scenarios to compare")
    loaded = [_loaded(item, list(overrides)) for item in scenarios]
    names = [scenario.name for scenario, _ in loaded]
    arms = []
    for (scenario, source), name in zip(loaded, names, strict=True):
        if names.count(name) > 1 and source is not None:
            name = source.stem
        arms.append(Arm(name, scenario=scenario, source=source))
    labels = [arm.name for arm in arms]
    twice = sorted({n for n in labels if labels.count(n) > 1})
    if twice:
        files = [arm.label for arm in arms if arm.name in twice]
        raise ScenarioError("scenarios", files, f"more than one is named {twice[0]!r}; "
                            "give them different name: fields (or file names)")
    return arms


def compare_scenarios(scenarios: Sequence[ScenarioLike], *, replications: int = 10,
                      seeds: list[int] | None = None, baseline: str | None = None,
                      overrides: Iterable[str] = (), out_dir: str | Path | None = None,
                      jobs: int | None = None, dask: str | None = None,
                      progress: Progress | bool | None = None,
                      metrics: Iterable[str] | None = None,
                      finish: Finish | None = None) -> Table:
    """Every scenario on the same seeds; means, intervals, paired differences.

    The seeds count up from the first scenario's ``simulation.seed`` (or are
    ``seeds``); each scenario keeps everything else, its policy included. Differences
    are paired by seed against ``baseline`` (an arm's name; default the first
    scenario). Checked, written and resumed like `v2x_sim.compare`: every scenario's
    world is built before anything is written, and an error names the scenario's file.

    Args:
        scenarios: two or more `Scenario` objects, bundled names or YAML paths.
        replications: runs per scenario.
        seeds: the seeds instead.
        baseline: the arm the others are paired with (default: the first).
        overrides: ``path=value`` overrides applied to every scenario.
        out_dir: the study folder; None keeps nothing on disk.
        jobs: worker processes (default: the CPUs this process may use).
        dask: a Dask scheduler address, or ``local``.
        progress: True for a tqdm bar over the runs, or ``progress(done, total,
            skipped)``.
        metrics: the metrics to tabulate (default: the headline ones).
        finish: called on the new study folder before it is swapped in (the report).

    Returns:
        Columns ``metric, arm, n, mean, ci_low, ci_high`` and ``diff_vs_<baseline>``,
        ``…_ci_low``, ``…_ci_high``, ``…_unclear``; the arms are the scenarios' names.
    """
    arms = scenario_arms(scenarios, overrides)
    names = [arm.name for arm in arms]
    base = names[0] if baseline is None else baseline
    if base not in names:
        raise ScenarioError("baseline", base, f"must be one of the compared scenarios "
                            f"({', '.join(names)})")
    first = arms[0].scenario
    assert first is not None  # scenario_arms gives every arm its scenario
    chosen = replication_seeds(first, replications, seeds)
    title = " vs ".join(names)
    with study_place(out_dir, progress, f"{title}: compare") as (out, callback):
        study = run_study(first, arms, chosen, out_dir=out, jobs=jobs, dask=dask,
                          progress=callback, source=arms[0].source)
        table = study_table(study, baselines=[base], metrics=metrics)
        _write(table, out, "comparison",
               {"scenario": title, "scenarios": names,
                "scenario_files": [os.path.abspath(arm.source) if arm.source else None
                                   for arm in arms],
                "policies": [arm.base(first).control.policy for arm in arms],
                "baseline": [base], "seeds": chosen, "replications": len(chosen),
                "confidence": CONFIDENCE, "skipped_runs": study.skipped},
               finish if out_dir is not None else None)
    return table
