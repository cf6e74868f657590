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

import contextlib
import hashlib
import json
import logging
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from v2x_sim._core.atomic import write_text_atomic
from v2x_sim._core.errors import InputFileError, ScenarioError, V2XSimError
from v2x_sim._core.staged import staged_folder
from v2x_sim._core.version import __version__
from v2x_sim.experiment.executors import default_jobs, open_executor
from v2x_sim.experiment.output import FolderKind, check_output_folder, scenario_input_files
from v2x_sim.experiment.store import ensure_folder, write_json_atomic
from v2x_sim.scenario.loader import apply_overrides, scenario_from_dict
from v2x_sim.scenario.schema import Scenario

log = logging.getLogger(__name__)

Progress = Callable[[int, int, int], None]
"""``progress(done, total, skipped)`` after every finished (or skipped) run."""


@dataclass(frozen=True)
class Arm:
    """One variant of the scenario: a name and the overrides that make it.

    An arm of a scenario comparison brings its own ``scenario`` (and the YAML it came
    from, ``source``) instead of starting from the study's.
    """

    name: str
    overrides: tuple[str, ...] = ()
    scenario: Scenario | None = field(default=None, compare=False, hash=False)
    source: Path | None = field(default=None, compare=False, hash=False)

    def base(self, study: Scenario) -> Scenario:
        """The scenario this arm starts from: its own, or the study's."""
        return self.scenario if self.scenario is not None else study

    @property
    def label(self) -> str:
        """How errors name the arm: its scenario file, else its name."""
        return str(self.source) if self.source is not None else self.name

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
    world_log = logging.getLogger("v2x_sim.world")
    level = world_log.level
    world_log.setLevel(logging.ERROR)  # its warnings were shown once, by validate_arms
    try:
        result = run(scenario, task.seed)
    finally:
        world_log.setLevel(level)
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


PER_ARM = "per-arm"
"""The manifest's ``scenario_hash`` when every arm brings its own scenario."""


def _hashes(scenario: Scenario, arms: list[Arm]) -> dict[str, Any]:
    """The manifest's hash entries: the scenario's, or one per arm.

    When the arms bring their own scenarios (a scenario comparison) each gets its hash
    in ``arm_hashes``, so a folder may gain arms but never mixes two versions of one
    arm's scenario.
    """
    if all(arm.scenario is None for arm in arms):
        return {"scenario_hash": scenario_hash(scenario)}
    return {"scenario_hash": PER_ARM,
            "arm_hashes": {arm.name: scenario_hash(arm.base(scenario)) for arm in arms}}


def _has_runs(out: Path) -> bool:
    runs = out / "runs"
    return runs.is_dir() and any(runs.glob("*/seed-*/summary.json"))


def _merged_manifest(out: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest to write, or an error if ``out`` holds runs of another scenario.

    A manifest beside no finished run (a study that failed before its first run
    finished) holds nothing to mix up, so it is replaced: the corrected command is not
    refused.
    """
    path = out / "manifest.json"
    if not path.exists() or not _has_runs(out):
        return manifest
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise V2XSimError(f"{path}: unreadable manifest; use another output folder") from None
    if old.get("scenario_hash") != manifest["scenario_hash"]:
        raise V2XSimError(
            f"{out} holds results of a different scenario (hash {old.get('scenario_hash')}"
            f", now {manifest['scenario_hash']}); mixing them into one table would be "
            "wrong: choose another output folder or delete this one")
    old_arms, new_arms = old.get("arm_hashes") or {}, manifest.get("arm_hashes") or {}
    changed = sorted(a for a in new_arms if a in old_arms and old_arms[a] != new_arms[a])
    if changed:
        raise V2XSimError(
            f"{out} holds results of another version of scenario {changed[0]!r} (hash "
            f"{old_arms[changed[0]]}, now {new_arms[changed[0]]}); mixing them into one "
            "table would be wrong: choose another output folder or delete this one")
    arms = sorted({*old.get("arms", []), *manifest["arms"]})
    seeds = sorted({*old.get("seeds", []), *manifest["seeds"]})
    merged = {**manifest, "arms": arms, "seeds": seeds}
    if new_arms:
        merged["arm_hashes"] = {**old_arms, **new_arms}
    return merged


def _stored(folder: Path) -> dict[str, float] | None:
    path = folder / "summary.json"
    if not path.exists():
        return None
    try:
        return flatten(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None  # a damaged file is redone


def validate_arms(scenario: Scenario, arms: list[Arm], seed: int) -> None:
    """Build every arm's world once (not run): any input error surfaces now, named.

    This is what `v2x-sim validate` checks (fields, files, links, nodes, paths, the
    policy), for each arm, before a study creates anything on disk.
    """
    from v2x_sim.world import build_world

    names = [a.name for a in arms]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise V2XSimError(f"arms must differ: {', '.join(twice)} listed more than once")
    for arm in arms:
        base = arm.base(scenario)
        try:
            arm_scenario = scenario_from_dict(
                apply_overrides(base.to_plain(), list(arm.overrides)), base_dir=base.base_dir)
            build_world(arm_scenario, seed)
        except ScenarioError as exc:
            # name the arm when it changes more than the policy (a sweep point, a
            # scenario of its own)
            if arm.scenario is None and all(o.startswith("control.") for o in arm.overrides):
                raise
            raise ScenarioError(f"{arm.label}: {exc.path}", exc.value, exc.reason) from None


def _plain_arm(arm: Arm) -> Arm:
    """The arm as a worker needs it: its scenario already travels in the task."""
    return Arm(arm.name, arm.overrides) if arm.scenario is not None else arm


def run_study(scenario: Scenario, arms: list[Arm], seeds: list[int], *, out_dir: str | Path,
              jobs: int | None = None, dask: str | None = None,
              progress: Progress | None = None, source: Path | None = None) -> StudyResult:
    """Run every arm on every seed (replication is the outer loop), resuming what is done.

    Everything is checked before anything is created on disk: every arm (its world is
    built), the output folder, the Dask scheduler. Each run's ``summary.json`` is
    written as it finishes (atomically), so a killed study keeps its finished runs.

    Raises:
        ScenarioError, InputFileError: an arm is invalid, or the output folder is not one
            a study may use (see `check_output_folder`).
        V2XSimError: the output folder holds results of a different scenario, or Dask
            cannot be reached.
    """
    validate_arms(scenario, arms, seeds[0] if seeds else scenario.simulation.seed)
    inputs = scenario_input_files(scenario, source)
    for arm in arms:
        if arm.scenario is not None:
            inputs += scenario_input_files(arm.scenario, arm.source)
    out = check_output_folder(out_dir, kind=FolderKind.STUDY, inputs=inputs)
    manifest = _merged_manifest(out, {
        "scenario": scenario.name, **_hashes(scenario, arms),
        "arms": [a.name for a in arms], "seeds": seeds, "version": __version__})
    plain = {arm.name: arm.base(scenario).to_plain() for arm in arms}
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
                tasks.append(RunTask(plain[arm.name], str(arm.base(scenario).base_dir),
                                     _plain_arm(arm), seed, str(folder)))
    total = len(tasks) + result.skipped
    with contextlib.ExitStack() as stack:
        mapper = stack.enter_context(open_executor(jobs=jobs or default_jobs(), dask=dask)
                                     ) if tasks else None
        write_json_atomic(ensure_folder(out) / "manifest.json", manifest)
        if result.skipped:
            log.info("%d of %d runs already complete in %s: skipped", result.skipped, total,
                     out)
        if progress is not None:
            progress(result.skipped, total, result.skipped)
        finished = result.skipped
        results: Iterator[tuple[RunTask, dict[str, float]]] = (
            mapper(run_task, tasks) if mapper is not None else iter(()))
        for task, metrics in results:
            result.metrics[task.arm.name][task.seed] = metrics
            finished += 1
            if progress is not None:
                progress(finished, total, result.skipped)
    return result


def publish_study(out: str | Path, files: dict[str, str],
                  finish: Callable[[Path], object] | None = None) -> Path:
    """Replace a study folder's tables (and report) as a whole, keeping its runs.

    The new folder gets the finished runs and the manifest (hard links, no copying),
    the tables in ``files`` (name -> text) and whatever ``finish`` adds (the report);
    then it takes the folder's place in one step (`v2x_sim._core.staged`), so tables,
    figures and report always belong together.
    """
    def keep(folder: Path) -> list[str]:
        return [name for name in ("runs", "manifest.json") if (folder / name).exists()]

    try:
        with staged_folder(Path(out), carry=keep) as stage:
            for name, text in files.items():
                write_text_atomic(stage / name, text)
            if finish is not None:
                finish(stage)
    except OSError as exc:
        raise InputFileError(out, f"cannot write the study's tables: {exc.strerror or exc}; "
                                  "the folder was left as it was") from exc
    return Path(out)
