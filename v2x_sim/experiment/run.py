"""Run one scenario and write its results folder."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import yaml

from v2x_sim._core.errors import InputFileError
from v2x_sim._core.staged import staged_folder
from v2x_sim.experiment.files import write_run_tables
from v2x_sim.experiment.output import (
    RESOLVED_HEADER,
    FolderKind,
    check_output_folder,
    scenario_input_files,
)
from v2x_sim.experiment.store import write_json_atomic, write_text_atomic
from v2x_sim.result import RunResult
from v2x_sim.scenario.loader import anchor_paths
from v2x_sim.scenario.schema import Scenario
from v2x_sim.world import ProgressCallback, build_world

log = logging.getLogger(__name__)

RESULT_FILES = ("scenario.yaml", "summary.json", "trips.csv", "links.csv", "events.csv")


def run(scenario: Scenario, seed: int | None = None, *,
        progress: ProgressCallback | None = None) -> RunResult:
    """Build and run one simulation.

    Args:
        scenario: a validated scenario (see `v2x_sim.load_scenario`).
        seed: master seed; defaults to ``scenario.simulation.seed``.
        progress: optional ``progress(sim_time_s, horizon_s)`` callback.

    Returns:
        The `RunResult` with summary, trip, link and event tables.
    """
    world = build_world(scenario, seed)
    log.info("built %s: %d nodes, %d links, %d planned trips", scenario.name,
             world.network.n_nodes, world.network.n_links, len(world.plan))
    result = world.run(progress)
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
