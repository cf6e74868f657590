"""Many runs of one scenario: arms (policies, sweep points) x replication seeds.

Each run is a task executed locally or on Dask; its folder
``<out>/runs/<arm>/seed-<seed>/`` gets ``summary.json`` (written last, atomically), so a
folder is complete or absent and re-running the same study skips what is done. A
``manifest.json`` records the scenario's hash, the arms, the seeds and the package
version; adding results from a changed scenario to the same folder is refused.

Common random numbers: every arm runs on the same seeds, and every component draws from
its own named stream, so demand and channel draws are identical across arms wherever
the arm does not change them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from v2x_sim._core.errors import V2XSimError
from v2x_sim._core.version import __version__
from v2x_sim.experiment.executors import default_jobs, execute
from v2x_sim.experiment.store import ensure_folder, write_json_atomic
from v2x_sim.scenario.loader import apply_overrides, scenario_from_dict
from v2x_sim.scenario.schema import Scenario

log = logging.getLogger(__name__)

Progress = Callable[[int, int, int], None]
"""``progress(done, total, skipped)`` after every finished (or skipped) run."""


@dataclass(frozen=True)
class Arm:
    """One variant of the scenario: a name and the overrides that make it."""

    name: str
    overrides: tuple[str, ...] = ()

    @property
    def slug(self) -> str:
        """A folder-safe, unique version of the name (readable part plus a short hash).

        Two names that sanitise alike ("a b", "a_b") or share a long prefix still get
        different folders, so a resumed study never reuses another arm's runs.
        """
        readable = re.sub(r"[^A-Za-z0-9_.=-]+", "_", self.name)[:80] or "arm"
        return f"{readable}-{hashlib.sha1(self.name.encode('utf-8')).hexdigest()[:8]}"


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs for one run (plain data: picklable for any executor)."""

    scenario: dict[str, Any]
    base_dir: str
    arm: Arm
    seed: int
    folder: str


@dataclass
class StudyResult:
    """Flattened metrics of every run: ``metrics[arm][seed] = {metric: value}``."""

    arms: list[Arm]
    seeds: list[int]
    metrics: dict[str, dict[int, dict[str, float]]] = field(default_factory=dict)
    skipped: int = 0


def flatten(summary: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a summary as dotted keys (``latency.bsm.p99_s``), lists left out."""
    out: dict[str, float] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            out[name] = float(value)
        elif value is None:
            out[name] = math.nan
        elif isinstance(value, dict) and key not in ("by_hazard", "lost_by_reason"):
            out.update(flatten(value, f"{name}."))
    return out


def run_task(task: RunTask) -> dict[str, float]:
    """Run one (arm, seed) and store its summary; the worker-side function."""
    from v2x_sim.experiment.run import run

    data = apply_overrides(task.scenario, list(task.arm.overrides))
    scenario = scenario_from_dict(data, base_dir=Path(task.base_dir))
    result = run(scenario, task.seed)
    folder = ensure_folder(Path(task.folder))
    write_json_atomic(folder / "summary.json", result.summary)
    return flatten(result.summary)


def scenario_hash(scenario: Scenario) -> str:
    """A stable hash of everything that defines the scenario (seed excluded)."""
    data = scenario.to_plain()
    data["simulation"].pop("seed", None)
    data.pop("output", None)
    text = json.dumps(data, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _check_manifest(out: Path, manifest: dict[str, Any]) -> None:
    path = out / "manifest.json"
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise V2XSimError(f"{path}: unreadable manifest; use another output folder"
                              ) from None
        if old.get("scenario_hash") != manifest["scenario_hash"]:
            raise V2XSimError(
                f"{out} holds results of a different scenario (hash {old.get('scenario_hash')}"
                f", now {manifest['scenario_hash']}); mixing them into one table would be "
                "wrong: choose another output folder or delete this one")
        arms = sorted({*old.get("arms", []), *manifest["arms"]})
        seeds = sorted({*old.get("seeds", []), *manifest["seeds"]})
        manifest = {**manifest, "arms": arms, "seeds": seeds}
    write_json_atomic(path, manifest)


def _stored(folder: Path) -> dict[str, float] | None:
    path = folder / "summary.json"
    if not path.exists():
        return None
    try:
        return flatten(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None  # a damaged file is redone


def run_study(scenario: Scenario, arms: list[Arm], seeds: list[int], *, out_dir: str | Path,
              jobs: int | None = None, dask: str | None = None,
              progress: Progress | None = None) -> StudyResult:
    """Run every arm on every seed (replication is the outer loop), resuming what is done.

    Raises:
        V2XSimError: the output folder holds results of a different scenario.
    """
    names = [a.name for a in arms]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise V2XSimError(f"arms must differ: {', '.join(twice)} listed more than once")
    out = ensure_folder(Path(out_dir))
    manifest = {"scenario": scenario.name, "scenario_hash": scenario_hash(scenario),
                "arms": [a.name for a in arms], "seeds": seeds, "version": __version__}
    _check_manifest(out, manifest)
    data = scenario.to_plain()
    result = StudyResult(arms=arms, seeds=seeds, metrics={a.name: {} for a in arms})
    tasks = []
    for seed in seeds:  # replication outer: every arm sees the same seeds
        for arm in arms:
            folder = out / "runs" / arm.slug / f"seed-{seed}"
            done = _stored(folder)
            if done is not None:
                result.metrics[arm.name][seed] = done
                result.skipped += 1
            else:
                tasks.append(RunTask(data, str(scenario.base_dir), arm, seed, str(folder)))
    total = len(tasks) + result.skipped
    if result.skipped:
        log.info("%d of %d runs already complete in %s: skipped", result.skipped, total, out)
    if progress is not None:
        progress(result.skipped, total, result.skipped)
    finished = result.skipped
    results: Iterator[tuple[RunTask, dict[str, float]]] = execute(
        run_task, tasks, jobs=jobs or default_jobs(), dask=dask)
    for task, metrics in results:
        result.metrics[task.arm.name][task.seed] = metrics
        finished += 1
        if progress is not None:
            progress(finished, total, result.skipped)
    return result
