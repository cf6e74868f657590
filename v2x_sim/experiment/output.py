"""Where results go, and the checks made before anything is written there.

A run (or a study's tables) replaces its whole output folder at the end (see
`v2x_sim._core.staged`), so before the simulation starts the folder must be one the
run may replace: new, empty, or holding results of the same kind; never the working
directory, never a folder holding the scenario's own input files, and somewhere the
process can write. All of this is checked up front, so a bad ``-o`` fails in
milliseconds instead of after the simulation.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

from v2x_sim._core.errors import ScenarioError
from v2x_sim.scenario.schema import Scenario

RESULTS_ROOT = Path("results")
"""Default results area, relative to the working directory."""
RESOLVED_HEADER = "# resolved by v2x-sim"
"""First line of a results folder's ``scenario.yaml``."""


class FolderKind(StrEnum):
    """What an output folder holds."""

    RUN = "run"
    STUDY = "study"


def safe_folder_name(name: str) -> str:
    """A scenario name made into one plain folder name (no separators, no leading dot).

    ``../../x`` becomes ``x``-like text inside the results area, never a path out of it.
    """
    text = re.sub(r"[^A-Za-z0-9_.=-]+", "_", name).strip("._")[:100]
    return text or "scenario"


def default_run_folder(scenario: Scenario) -> Path:
    """``output.dir`` (relative to the scenario's folder), else ``results/<safe name>``."""
    if scenario.output.dir:
        return scenario.resolve_path(scenario.output.dir)
    return RESULTS_ROOT / safe_folder_name(scenario.name)


def default_study_folder(scenario: Scenario, kind: str) -> Path:
    """``results/<safe name>-<kind>`` (kind: compare, replicate, sweep)."""
    return RESULTS_ROOT / f"{safe_folder_name(scenario.name)}-{kind}"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def scenario_input_files(scenario: Scenario, source: Path | None = None) -> list[Path]:
    """Existing files the scenario reads: its YAML and every field naming a file.

    Any text field that resolves (against the scenario's folder) to an existing file
    counts, so file fields added later are covered without a list to maintain.
    """
    found = [Path(os.path.realpath(source))] if source is not None else []
    for text in sorted(set(_strings(scenario.to_plain()))):  # trip lists repeat "car"
        if not text or len(text) > 1024 or "\0" in text:
            continue
        path = scenario.resolve_path(text)
        try:
            if path.is_file():
                found.append(Path(os.path.realpath(path)))
        except OSError:
            continue
    return found


def _folder_kind(folder: Path) -> FolderKind | None:
    if (folder / "manifest.json").is_file():
        return FolderKind.STUDY
    if (folder / "summary.json").is_file():
        return FolderKind.RUN
    try:
        with (folder / "scenario.yaml").open(encoding="utf-8") as handle:
            if handle.readline().startswith(RESOLVED_HEADER):
                return FolderKind.RUN
    except (OSError, UnicodeDecodeError):
        pass
    return None


def _probe_writable(folder: Path, label: str, shown: str) -> None:
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise ScenarioError(label, shown, f"cannot create the folder: {existing} is a file")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".v2x-sim-probe-", dir=existing))
    except OSError as exc:
        raise ScenarioError(label, shown, f"cannot write in {existing}: "
                            f"{exc.strerror or exc}") from None


def check_output_folder(target: str | Path, *, kind: FolderKind,
                        inputs: Iterable[Path] = (), label: str = "--output") -> Path:
    """Check that a run or study may replace ``target``; return its real path.

    Raises:
        ScenarioError: ``target`` is a file, the working directory (or holds it), a
            non-empty folder without results of this kind, a folder holding one of
            ``inputs`` (other than its own ``scenario.yaml``), or not writable.
    """
    shown = str(target)
    path = Path(os.path.realpath(target))
    if path.exists() and not path.is_dir():
        raise ScenarioError(label, shown, "exists and is not a folder")
    here = Path.cwd().resolve()
    if path == here or path in here.parents:
        raise ScenarioError(label, shown, "is the working directory or contains it; the "
                            "output folder is replaced as a whole: choose a folder below it")
    if path.is_dir():
        for source in inputs:
            if path in source.parents and source != path / "scenario.yaml":
                raise ScenarioError(label, shown, f"holds the scenario's input file "
                                    f"{source.relative_to(path)}; the output folder is "
                                    "replaced as a whole: choose another folder")
        found = _folder_kind(path)
        if found is None and any(path.iterdir()):
            raise ScenarioError(label, shown, "is not empty and holds no v2x-sim results; "
                                "the output folder is replaced as a whole: choose a new "
                                "or empty folder")
        if found is not None and found != kind:
            what = "a study (manifest.json)" if found == FolderKind.STUDY else "a run's results"
            raise ScenarioError(label, shown, f"holds {what}; a {kind.value} would replace "
                                "it: choose another folder")
        _probe_writable(path, label, shown)
    _probe_writable(path.parent, label, shown)
    return path
