"""Replications and policy comparisons: means with Student-t intervals, paired differences.

Tables are dicts of numpy column arrays (one row per metric and arm), the same shape as
``comparison.csv``. Every interval states the number of replications it rests on; a
paired difference whose interval is wider than the difference itself (the interval
contains zero) is flagged, because one cannot tell the two arms apart with that many
replications.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

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


def replication_seeds(scenario: Scenario, n: int, seeds: list[int] | None) -> list[int]:
    """The seeds of ``n`` replications: given, or counting up from the scenario's seed."""
    if seeds is not None:
        return list(seeds)
    first = scenario.simulation.seed
    return list(range(first, first + n))


def compare(scenario: Scenario, policies: list[str], *, replications: int = 10,
            seeds: list[int] | None = None, baseline: str = "none",
            out_dir: str | Path = "results/compare", jobs: int | None = None,
            dask: str | None = None, progress: Progress | None = None,
            metrics: Iterable[str] | None = None, finish: Finish | None = None,
            source: Path | None = None) -> Table:
    """Every policy on the same seeds; means, intervals, paired differences.

    Differences are reported against ``baseline`` and, when it is among the policies,
    against ``at_departure`` too. Writes ``comparison.csv`` and ``comparison.json`` into
    ``out_dir`` (runs under ``out_dir/runs``, resumable). Everything (every policy, the
    folder, Dask) is checked before anything is written; the tables (and the report
    ``finish`` builds) replace the previous ones in one step. ``source``: the scenario's
    YAML, which must not lie in ``out_dir``.

    Returns:
        Columns ``metric, arm, n, mean, ci_low, ci_high`` and per baseline ``b``:
        ``diff_vs_b, diff_vs_b_ci_low, diff_vs_b_ci_high, diff_vs_b_unclear``.
    """
    arms = [Arm(p, (f"control.policy={p}", "control.params={}")) for p in policies]
    chosen = replication_seeds(scenario, replications, seeds)
    study = run_study(scenario, arms, chosen, out_dir=out_dir, jobs=jobs, dask=dask,
                      progress=progress, source=source)
    baselines = [baseline] + (["at_departure"] if "at_departure" in policies
                              and baseline != "at_departure" else [])
    table = study_table(study, baselines=baselines, metrics=metrics)
    _write(table, Path(out_dir), "comparison",
           {"scenario": scenario.name, "policies": policies, "baseline": baselines,
            "seeds": chosen, "replications": len(chosen), "confidence": CONFIDENCE,
            "skipped_runs": study.skipped}, finish)
    return table


def replicate(scenario: Scenario, replications: int = 10, *, seeds: list[int] | None = None,
              out_dir: str | Path = "results/replicate", jobs: int | None = None,
              dask: str | None = None, progress: Progress | None = None,
              metrics: Iterable[str] | None = None, finish: Finish | None = None,
              source: Path | None = None) -> Table:
    """One scenario on many seeds: mean and 95 % interval per metric (``replication.csv``).

    Checked and written like `compare`.

    Returns:
        Columns ``metric, arm, n, mean, ci_low, ci_high``.
    """
    chosen = replication_seeds(scenario, replications, seeds)
    study = run_study(scenario, [Arm(scenario.control.policy)], chosen, out_dir=out_dir,
                      jobs=jobs, dask=dask, progress=progress, source=source)
    table = study_table(study, metrics=metrics)
    _write(table, Path(out_dir), "replication",
           {"scenario": scenario.name, "seeds": chosen, "replications": len(chosen),
            "confidence": CONFIDENCE, "skipped_runs": study.skipped}, finish)
    return table
