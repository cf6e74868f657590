"""Run one scenario and write its results folder."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from v2x_sim._core.errors import InputFileError, ScenarioError
from v2x_sim._core.staged import staged_folder
from v2x_sim.experiment.files import write_run_tables
from v2x_sim.experiment.output import (
    RESOLVED_HEADER,
    FolderKind,
    check_output_folder,
    scenario_input_files,
)
from v2x_sim.experiment.progress import RunBar, resolve_progress
from v2x_sim.experiment.store import write_json_atomic, write_text_atomic
from v2x_sim.result import RunResult
from v2x_sim.scenario.loader import Overrides, anchor_paths, load_scenario, override_scenario
from v2x_sim.scenario.scale import applied_scale
from v2x_sim.scenario.schema import Scenario
from v2x_sim.world import ProgressCallback, build_world

log = logging.getLogger(__name__)

RESULT_FILES = ("scenario.yaml", "summary.json", "trips.csv", "links.csv", "events.csv")


def prepare_scenario(scenario: Scenario | str | Path, *, policy: str | type | None = None,
                     params: dict[str, Any] | None = None,
                     overrides: Overrides | None = None) -> Scenario:
    """The scenario a Python call asks for: loaded by name or path, with its overrides.

    ``policy`` (a name, ``package.module:Class`` or a class) replaces
    ``control.policy`` and starts from ``params`` (default: the policy's defaults), as
    ``--policy`` does; ``params`` alone replaces ``control.params``.
    """
    if not isinstance(scenario, Scenario):
        if not isinstance(scenario, str | Path):
            raise ScenarioError("scenario", scenario, "expected a Scenario, a bundled "
                                "scenario's name or the path of a YAML file")
        scenario = load_scenario(scenario, overrides)
    elif overrides:
        scenario = override_scenario(scenario, overrides)
    control: dict[str, Any] = {}
    if policy is not None:
        if not (isinstance(policy, str) and policy.strip()) and not inspect.isclass(policy):
            raise ScenarioError("policy", policy, "expected a policy name, "
                                "'package.module:Class' or a policy class")
        control = {"control.policy": policy, "control.params": dict(params or {})}
    elif params is not None:
        control = {"control.params": dict(params)}
    return override_scenario(scenario, control) if control else scenario


def run(scenario: Scenario | str | Path, seed: int | None = None, *,
        policy: str | type | None = None, params: dict[str, Any] | None = None,
        overrides: Overrides | None = None,
        progress: ProgressCallback | bool | None = None) -> RunResult:
    """Build and run one simulation; nothing is written to disk.

    Example::

        result = v2x_sim.run("quickstart", seed=3, policy=MyPolicy, progress=True,
                             overrides={"simulation.horizon_s": 900})

    Args:
        scenario: a validated scenario (see `v2x_sim.load_scenario`), or a bundled
            scenario's name or a YAML path.
        seed: master seed (a non-negative integer); defaults to
            ``scenario.simulation.seed``.
        policy: rerouting policy replacing ``control.policy``: a built-in name,
            ``package.module:Class`` or a policy class (see `prepare_scenario`).
        params: the policy's ``control.params``.
        overrides: ``["a.b=1"]`` or ``{"a.b": 1}``, as `v2x_sim.load_scenario` takes.
        progress: True for a progress bar (tqdm.auto: a widget in notebooks), or a
            ``progress(sim_time_s, horizon_s)`` callback.

    Returns:
        The `RunResult` with summary, trip, link and event tables.

    Raises:
        ScenarioError: an argument or field is invalid (named).
        MissingExtraError: ``progress=True`` without tqdm.
    """
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)
                             or seed < 0):
        raise ScenarioError("seed", seed, "expected a non-negative integer (or None: the "
                            "scenario's simulation.seed)")
    scenario = prepare_scenario(scenario, policy=policy, params=params, overrides=overrides)
    callback, close = resolve_progress(progress, lambda: RunBar(scenario.name))
    try:
        world = build_world(scenario, None if seed is None else int(seed))
        log.info("built %s: %d nodes, %d links, %d planned trips", scenario.name,
                 world.network.n_nodes, world.network.n_links, len(world.plan))
        result = world.run(callback)
    finally:
        close()
    log.info("ran %s in %.2f s wall", scenario.name, result.wall_s)
    return result


def resolved_scenario_yaml(result: RunResult) -> str:
    """The scenario as run: every field with its value, the seed and the package version."""
    scenario = result.scenario
    data = scenario.to_plain()
    data["simulation"]["seed"] = result.seed
    data["v2x_sim_version"] = result.version
    # file references become absolute so the copy in the results folder still runs
    anchor_paths(data, scenario.base_dir)
    header = (f"{RESOLVED_HEADER} {result.version}; seed {result.seed}\n"
              f"# rerun: v2x-sim run scenario.yaml\n")
    factor = applied_scale(scenario)
    if factor != 1.0:
        header += (f"# scale {factor:g} applied: demand rates, device counts and the zone "
                   "below are the scaled values (so scale: 1)\n")
    body = yaml.safe_dump(data, sort_keys=False)
    return header + body


def write_results(result: RunResult, folder: str | Path, *,
                  finish: Callable[[Path], object] | None = None,
                  source: Path | None = None) -> Path:
    """Write the results folder, all or nothing: scenario.yaml, summary.json, the CSVs.

    Everything is written into a hidden sibling folder that replaces ``folder`` only
    when complete (`v2x_sim._core.staged`): if the process dies at any moment, ``folder``
    holds the previous results or the new ones, never a mix, and no file of an older
    run survives beside the new ones.

    Args:
        result: a finished run.
        folder: the results folder (created, or replaced as a whole).
        finish: called with the complete new folder before it takes ``folder``'s place
            (the CLI builds figures and ``report.html`` there).
        source: the scenario's YAML file, if any, for the check that ``folder`` holds
            none of the scenario's input files.

    Raises:
        ScenarioError: ``folder`` is not one a run may replace (see
            `check_output_folder`).
        InputFileError: writing failed (disk full, ...); ``folder`` is unchanged.
    """
    target = check_output_folder(folder, kind=FolderKind.RUN, label="output folder",
                                 inputs=scenario_input_files(result.scenario, source))
    try:
        with staged_folder(target) as out:
            _write_files(result, out, finish)
    except OSError as exc:
        raise InputFileError(folder, f"cannot write the results: {exc.strerror or exc}; "
                                     "the folder was left as it was") from exc
    return Path(folder)


def _write_files(result: RunResult, out: Path,
                 finish: Callable[[Path], object] | None) -> None:
    write_run_tables(result, out)
    write_text_atomic(out / "scenario.yaml", resolved_scenario_yaml(result))
    write_json_atomic(out / "summary.json", result.summary)
    if finish is not None:
        finish(out)
