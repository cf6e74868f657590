"""Reading results folders from disk: a run's files, or a study's table.

The report works from files only (never from simulation objects), so a folder written
by an older version, copied from another machine or produced by a study still makes a
report. Tables are dicts of column name -> numpy array, as in `v2x_sim.RunResult`,
typed as `v2x_sim.tables.schema` says (ids as text, flags as booleans); other columns
whose cells all read as integers are ``int64``, as numbers ``float64`` (an empty cell
is NaN), anything else text. Each table may be CSV or Parquet (``output.format``).
Optional files may be absent (their table is None);
a missing required file or a malformed one raises `InputFileError` naming the file and,
where it can, the line.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from numpy.typing import NDArray

from v2x_sim._core.errors import InputFileError
from v2x_sim.tables.formats import find_table, read_csv_table, read_table
from v2x_sim.tables.schema import ALWAYS_TEXT, STUDY_TEXT

Table = dict[str, NDArray[Any]]
FolderKind = Literal["run", "comparison", "replication", "sweep"]

STUDY_KINDS: tuple[FolderKind, ...] = ("comparison", "replication", "sweep")
RUN_TABLES = ("trips", "links", "events", "latency", "latency_hist", "edges", "rsus",
              "devices", "warnings", "network", "advice")
# Columns a table must have for the report to use it; newer columns (``reroutes`` in
# trips.csv, say) are optional, and unknown extra columns are kept.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "trips": ("id", "class", "depart_s", "arrive_s", "travel_time_s", "delay_s"),
    "links": ("link", "t_start_s", "t_end_s", "speed_ratio"),
    "events": ("time_s", "kind", "link", "vehicle", "detail"),
    "latency": ("kind", "hop", "count", "lost", "p50_s", "p95_s", "p99_s", "max_s",
                "deadline_s"),
    "edges": ("node", "t_start_s", "utilisation", "queue_mean"),
    "rsus": ("rsu", "x_m", "y_m", "edge"),
    "devices": ("device", "kind", "x_m", "y_m", "edge"),
    "warnings": ("hazard", "delivered", "t_hazard_s", "latency_s", "in_time"),
    "network": ("link", "from", "to", "x0_m", "y0_m", "x1_m", "y1_m"),
    "advice": ("decided_s", "delivered_s", "latency_s", "outcome"),
    "latency_hist": ("kind", "hop", "low_s", "high_s", "count"),
}
STUDY_REQUIRED = ("metric", "n", "mean", "ci_low", "ci_high")
TEXT_COLUMNS = STUDY_TEXT | ALWAYS_TEXT


@dataclass
class RunData:
    """Everything one run folder holds; a table is None when its file is absent.

    Attributes:
        folder: the results folder.
        summary: ``summary.json`` as a dict.
        scenario: ``scenario.yaml`` as a dict (``yaml.safe_load``).
        scenario_text: ``scenario.yaml`` as written (shown verbatim in the report).
    """

    folder: Path
    summary: dict[str, Any]
    scenario: dict[str, Any]
    scenario_text: str
    trips: Table | None = None
    links: Table | None = None
    events: Table | None = None
    latency: Table | None = None
    latency_hist: Table | None = None
    edges: Table | None = None
    rsus: Table | None = None
    devices: Table | None = None
    warnings: Table | None = None
    network: Table | None = None
    advice: Table | None = None


@dataclass
class StudyData:
    """A comparison, replication or sweep folder.

    Attributes:
        folder: the study folder.
        kind: ``comparison``, ``replication`` or ``sweep``.
        meta: the study JSON without its rows (scenario, seeds, baselines, parameters).
        table: one row per metric and arm (or sweep point), columns as in the CSV.
        parameters: the swept parameter columns (sweeps only).
    """

    folder: Path
    kind: FolderKind
    meta: dict[str, Any]
    table: Table
    parameters: list[str] = field(default_factory=list)

    @property
    def scenario_name(self) -> str:
        """The scenario's name as the study recorded it."""
        return str(self.meta.get("scenario", ""))


def folder_kind(folder: str | Path) -> FolderKind:
    """What a results folder holds, from the files in it.

    Raises:
        InputFileError: the folder does not exist or holds no known results.
    """
    path = Path(folder)
    if not path.is_dir():
        raise InputFileError(path, "no such results folder")
    for kind in STUDY_KINDS:
        if (path / f"{kind}.json").exists() or (path / f"{kind}.csv").exists():
            return kind
    if any((path / name).exists() for name in ("summary.json", "scenario.yaml", "trips.csv",
                                                 "trips.parquet")):
        return "run"
    raise InputFileError(path, "not a results folder: expected summary.json (a run) or "
                               "comparison.json, replication.json or sweep.json (a study)")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputFileError(path, "required file is missing") from None
    except UnicodeDecodeError:
        raise InputFileError(path, "not UTF-8 text") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot read file: {exc.strerror}") from None


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON file holding an object; errors name the file and the line."""
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    if not isinstance(data, dict):
        raise InputFileError(path, f"expected a JSON object, found {type(data).__name__}")
    return data


def read_yaml_mapping(path: Path) -> tuple[dict[str, Any], str]:
    """A YAML file holding a mapping, and its text; errors name the file and the line."""
    text = _read_text(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputFileError(path, f"not valid YAML: {problem}", line=line) from None
    if not isinstance(data, dict):
        raise InputFileError(path, "expected a YAML mapping of scenario sections")
    return data, text


def load_run(folder: str | Path) -> RunData:
    """Read a run's results folder.

    ``summary.json`` and ``scenario.yaml`` are required; every table is optional (an older
    run, or one with the V2X model off, lacks some), but one that is present must be
    well-formed.

    Raises:
        InputFileError: a required file is missing, or any file is malformed.
    """
    path = Path(folder)
    summary = read_json_object(path / "summary.json")
    scenario, text = read_yaml_mapping(path / "scenario.yaml")
    data = RunData(folder=path, summary=summary, scenario=scenario, scenario_text=text)
    for stem in RUN_TABLES:
        file = find_table(path, stem)
        if file is not None:
            setattr(data, stem, read_table(file, REQUIRED_COLUMNS[stem], stem=stem))
    return data


def _json_column(path: Path, name: str, values: list[Any]) -> NDArray[Any]:
    if name.endswith("_unclear"):
        return np.array([bool(v) for v in values], dtype=bool)
    if all(isinstance(v, bool) for v in values):
        return np.array(values, dtype=bool)
    if name not in TEXT_COLUMNS and all(
            v is None or (isinstance(v, int | float) and not isinstance(v, bool))
            for v in values):
        if all(isinstance(v, int) for v in values):
            return np.array(values, dtype=np.int64)
        return np.array([math.nan if v is None else float(v) for v in values])
    if any(isinstance(v, dict | list) for v in values):
        raise InputFileError(path, f"column {name!r} holds nested values, expected numbers "
                                   "or text", column=name)
    return np.array(["" if v is None else str(v) for v in values], dtype=str)


def _rows_table(path: Path, rows: Any) -> Table:
    """The ``rows`` list of a study JSON as a column table."""
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InputFileError(path, "'rows' must be a list of objects", column="rows")
    names: list[str] = list(rows[0]) if rows else list(STUDY_REQUIRED)
    for i, row in enumerate(rows):
        if list(row) != names:
            raise InputFileError(path, f"row {i} has keys {sorted(row)}, expected "
                                       f"{sorted(names)}", column="rows")
    return {n: _json_column(path, n, [r[n] for r in rows]) for n in names}


def load_study(folder: str | Path) -> StudyData:
    """Read a comparison, replication or sweep folder.

    The study JSON (``comparison.json``, ``replication.json`` or ``sweep.json``) is
    required; its table comes from the CSV beside it when present (the form people
    edit and share), otherwise from the JSON's ``rows``.

    Raises:
        InputFileError: not a study folder, the JSON is missing or malformed, or the
            table lacks the columns a study table has.
    """
    path = Path(folder)
    kind = folder_kind(path)
    if kind == "run":
        raise InputFileError(path, "a run folder, not a study (comparison, replication "
                                   "or sweep)")
    json_path = path / f"{kind}.json"
    document = read_json_object(json_path)
    meta = {k: v for k, v in document.items() if k != "rows"}
    listed = meta.get("parameters") if kind == "sweep" else None
    listed = [str(p) for p in listed] if isinstance(listed, list) else None
    csv_path = path / f"{kind}.csv"
    if csv_path.exists():
        table = read_csv_table(csv_path, STUDY_REQUIRED, text=tuple(listed or ()))
    else:
        if "rows" not in document:
            raise InputFileError(json_path, "no 'rows' and no CSV table beside it",
                                 column="rows")
        table = _rows_table(json_path, document["rows"])
        missing = [c for c in STUDY_REQUIRED if c not in table]
        if missing:
            raise InputFileError(json_path, f"rows lack the columns {', '.join(missing)}",
                                 column=missing[0])
    parameters: list[str] = []
    if kind == "sweep":
        if listed is not None and all(p in table for p in listed):
            parameters = listed
        else:  # the leading columns before ``metric`` are the swept parameters
            names = list(table)
            parameters = names[:names.index("metric")]
        for name in parameters:  # parameters are values as text, whatever they look like
            table[name] = np.array([_plain(v) for v in table[name].tolist()], dtype=str)
    return StudyData(folder=path, kind=kind, meta=meta, table=table, parameters=parameters)


def _plain(value: Any) -> str:
    """A parameter value as text (an integral float read from a CSV shows without .0)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
