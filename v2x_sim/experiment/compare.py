"""Replications and policy comparisons: means with Student-t intervals, paired differences.

Tables are dicts of numpy column arrays (one row per metric and arm), the same shape as
``comparison.csv``. Every interval states the number of replications it rests on; a
paired difference whose interval is wider than the difference itself (the interval
contains zero) is flagged, because one cannot tell the two arms apart with that many
replications.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.classes import class_spec
from v2x_sim._core.errors import ScenarioError
from v2x_sim.experiment.progress import StudyBar, resolve_progress
from v2x_sim.experiment.store import json_text, table_csv_text
from v2x_sim.experiment.study import Arm, Progress, StudyResult, publish_study, run_study
from v2x_sim.metrics.summary import paired_difference_interval, student_t_interval
from v2x_sim.scenario.schema import Scenario

Table = dict[str, NDArray[Any]]
Finish = Callable[[Path], object]
"""Called on a study's complete new folder before it replaces the old (builds the report)."""
CONFIDENCE = 0.95
HEADLINE_PREFIXES = ("trips_", "travel_time_", "delay_", "vehicle_", "throughput_",
                     "moved_on", "congested_link_minutes", "congested_links_max",
                     "rerouting.", "hazards.warned_in_time_share",
                     "hazards.cv_reaching_warned_share", "hazards.warned_reacted",
                     "by_connected.connected.travel_time_mean_s",
                     "by_connected.not_connected.travel_time_mean_s")
LATENCY_KEYS = (".p50_s", ".p95_s", ".p99_s", ".deadline_miss_ratio")


def is_headline(metric: str) -> bool:
    """The metrics a comparison reports by default (traffic, rerouting, latency tails)."""
    if metric.startswith("latency."):
        return metric.count(".") == 2 and metric.endswith(LATENCY_KEYS)
    return metric.startswith(HEADLINE_PREFIXES) and ".belief.samples" not in metric


def _metric_names(study: StudyResult, metrics: Iterable[str] | None) -> list[str]:
    if metrics is not None:
        return list(metrics)
    names: set[str] = set()
    for by_seed in study.metrics.values():
        for values in by_seed.values():
            names.update(values)
    return sorted(n for n in names if is_headline(n))


def _series(study: StudyResult, arm: str, metric: str) -> NDArray[np.float64]:
    by_seed = study.metrics[arm]
    return np.array([by_seed.get(s, {}).get(metric, math.nan) for s in study.seeds])


def study_table(study: StudyResult, *, baselines: list[str] | None = None,
                metrics: Iterable[str] | None = None) -> Table:
    """One row per (metric, arm): n, mean, 95 % interval; paired differences per baseline."""
    baselines = [b for b in (baselines or []) if b in study.metrics]
    rows: dict[str, list[Any]] = {"metric": [], "arm": [], "n": [], "mean": [], "ci_low": [],
                                  "ci_high": []}
    for base in baselines:
        for suffix in ("", "_ci_low", "_ci_high", "_unclear"):
            rows[f"diff_vs_{base}{suffix}"] = []
    for metric in _metric_names(study, metrics):
        for arm in study.arms:
            values = _series(study, arm.name, metric)
            finite = values[np.isfinite(values)]
            mean, low, high = student_t_interval(finite, CONFIDENCE)
            rows["metric"].append(metric)
            rows["arm"].append(arm.name)
            rows["n"].append(int(finite.size))
            rows["mean"].append(mean)
            rows["ci_low"].append(low)
            rows["ci_high"].append(high)
            for base in baselines:
                d, dl, dh = (paired_difference_interval(values, _series(study, base, metric),
                                                        CONFIDENCE)
                             if base != arm.name else (0.0, 0.0, 0.0))
                rows[f"diff_vs_{base}"].append(d)
                rows[f"diff_vs_{base}_ci_low"].append(dl)
                rows[f"diff_vs_{base}_ci_high"].append(dh)
                # the interval is wider than the difference: it contains zero (a
                # difference within rounding of zero is no difference either)
                tiny = 1e-9 * max(1.0, abs(mean)) if math.isfinite(mean) else 0.0
                unclear = base != arm.name and not (dl > tiny or dh < -tiny)
                rows[f"diff_vs_{base}_unclear"].append(bool(unclear))
    return {name: np.asarray(values) for name, values in rows.items()}


def _write(table: Table, out: Path, stem: str, meta: dict[str, Any],
           finish: Finish | None = None) -> None:
    """``<stem>.csv`` and ``<stem>.json`` (plus ``finish``'s report), swapped in at once."""
    rows = [{k: (v.item() if hasattr(v, "item") else v) for k, v in zip(table, row, strict=True)}
            for row in zip(*table.values(), strict=True)]
    clean = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
              for k, v in row.items()} for row in rows]
    files = {f"{stem}.csv": table_csv_text(table),
             f"{stem}.json": json_text({**meta, "rows": clean})}
    publish_study(out, files, finish)


@contextlib.contextmanager
def study_place(out_dir: str | Path | None, progress: Any,
                label: str) -> Iterator[tuple[Path, Progress | None]]:
    """The study's folder and its progress callback (``progress=True``: a tqdm bar).

    Without ``out_dir`` the folder is a temporary one, deleted afterwards.
    """
    callback, close = resolve_progress(progress, lambda: StudyBar(label))
    try:
        if out_dir is None:  # nothing is left on disk unless asked for
            with tempfile.TemporaryDirectory(prefix="v2x-sim-study-") as temp:
                yield Path(temp) / "study", callback
        else:
            yield Path(out_dir), callback
    finally:
        close()


def policy_arm(policy: str | type) -> Arm:
    """The arm of a compared policy: a name (or ``package.module:Class``) or a class."""
    if inspect.isclass(policy):
        spec = class_spec(policy)
        return Arm(policy.__name__, (f"control.policy={spec}", "control.params={}"))
    if not isinstance(policy, str) or not policy.strip():
        raise ScenarioError("policies", policy, "expected policy names or policy classes")
    return Arm(policy, (f"control.policy={policy}", "control.params={}"))


def replication_seeds(scenario: Scenario, n: int, seeds: list[int] | None) -> list[int]:
    """The seeds of ``n`` replications: given, or counting up from the scenario's seed."""
    if seeds is not None:
        return list(seeds)
    first = scenario.simulation.seed
    return list(range(first, first + n))


def compare(scenario: Scenario, policies: Sequence[str | type], *, replications: int = 10,
            seeds: list[int] | None = None, baseline: str | type = "none",
            out_dir: str | Path | None = None, jobs: int | None = None,
            dask: str | None = None, progress: Progress | bool | None = None,
            metrics: Iterable[str] | None = None, finish: Finish | None = None,
            source: Path | None = None) -> Table:
    """Every policy on the same seeds; means, intervals, paired differences.

    Differences are reported against ``baseline`` and, when it is among the policies,
    against ``at_departure`` too. With ``out_dir``, writes ``comparison.csv`` and
    ``comparison.json`` there (runs under ``out_dir/runs``, resumable); without it the
    runs go to a temporary folder that is deleted afterwards. Everything (every policy,
    the folder, Dask) is checked before anything is written; the tables (and the report
    ``finish`` builds) replace the previous ones in one step. ``source``: the scenario's
    YAML, which must not lie in ``out_dir``.

    Args:
        scenario: the scenario every arm starts from.
        policies: names, ``package.module:Class`` specs or policy classes (a class's
            arm is named by the class's name).
        replications: runs per policy (seeds counting up from the scenario's).
        seeds: the seeds instead.
        baseline: the policy (name or class) the others are paired with.
        out_dir: the study folder; None keeps nothing on disk.
        jobs: worker processes (default: the CPUs this process may use).
        dask: a Dask scheduler address, or ``local``.
        progress: True for a tqdm bar over the runs, or ``progress(done, total,
            skipped)``.
        metrics: the metrics to tabulate (default: the headline ones).
        finish: called on the new study folder before it is swapped in (the report).
        source: the scenario's YAML file.

    Returns:
        Columns ``metric, arm, n, mean, ci_low, ci_high`` and per baseline ``b``:
        ``diff_vs_b, diff_vs_b_ci_low, diff_vs_b_ci_high, diff_vs_b_unclear``.
    """
    arms = [policy_arm(p) for p in policies]
    names = [arm.name for arm in arms]
    base = baseline.__name__ if inspect.isclass(baseline) else str(baseline)
    chosen = replication_seeds(scenario, replications, seeds)
    with study_place(out_dir, progress, f"{scenario.name}: compare") as (out, callback):
        study = run_study(scenario, arms, chosen, out_dir=out, jobs=jobs, dask=dask,
                          progress=callback, source=source)
        baselines = [base] + (["at_departure"] if "at_departure" in names
                              and base != "at_departure" else [])
        table = study_table(study, baselines=baselines, metrics=metrics)
        _write(table, out, "comparison",
               {"scenario": scenario.name, "policies": names, "baseline": baselines,
                "seeds": chosen, "replications": len(chosen), "confidence": CONFIDENCE,
                "skipped_runs": study.skipped}, finish if out_dir is not None else None)
    return table


def replicate(scenario: Scenario, replications: int = 10, *, seeds: list[int] | None = None,
              out_dir: str | Path | None = None, jobs: int | None = None,
              dask: str | None = None, progress: Progress | bool | None = None,
              metrics: Iterable[str] | None = None, finish: Finish | None = None,
              source: Path | None = None) -> Table:
    """One scenario on many seeds: mean and 95 % interval per metric (``replication.csv``).

    Checked and written like `compare` (nothing on disk without ``out_dir``).

    Returns:
        Columns ``metric, arm, n, mean, ci_low, ci_high``.
    """
    chosen = replication_seeds(scenario, replications, seeds)
    with study_place(out_dir, progress, f"{scenario.name}: replicate") as (out, callback):
        study = run_study(scenario, [Arm(scenario.control.policy)], chosen, out_dir=out,
                          jobs=jobs, dask=dask, progress=callback, source=source)
        table = study_table(study, metrics=metrics)
        _write(table, out, "replication",
               {"scenario": scenario.name, "seeds": chosen, "replications": len(chosen),
                "confidence": CONFIDENCE, "skipped_runs": study.skipped},
               finish if out_dir is not None else None)
    return table
