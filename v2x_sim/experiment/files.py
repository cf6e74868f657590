"""A run's tables on disk: written as CSV or Parquet with GeoJSON beside, read back whole.

`write_run_tables` writes every table of a `RunResult` in the scenario's
``output.format`` (``network.csv`` and ``signals.csv`` stay CSV: they are input formats
too) and the GeoJSON layers for GIS tools. `load_results` reads a results folder back
into the `RunResult` it came from: the summary, the scenario, every table with its
column types, the events.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from v2x_sim._core.atomic import write_text_atomic
from v2x_sim._core.errors import InputFileError, ScenarioError
from v2x_sim.metrics.records import Event
from v2x_sim.result import RunResult, Table
from v2x_sim.scenario.loader import scenario_from_dict
from v2x_sim.scenario.schema import Scenario
from v2x_sim.tables import (
    RUN_TABLES,
    GeoReference,
    TableFormat,
    devices_geojson,
    edge_regions_geojson,
    find_table,
    network_geojson,
    read_table,
    write_table,
)
from v2x_sim.tables.schema import EXACT

INPUT_TABLES = frozenset({"network", "signals"})
"""Tables that are also input formats (``road.file.network``, signal plan files): CSV."""
GEOJSON_FILES = ("network.geojson", "devices.geojson", "edge_regions.geojson")


def georeference(scenario: Scenario) -> GeoReference | None:
    """Where an imported network lies: the ``import.json`` beside its files, if any."""
    files = scenario.road.file
    if scenario.road.generator != "file" or files is None:
        return None
    named = files.network or files.nodes
    if not named:
        return None
    meta = scenario.resolve_path(named).parent / "import.json"
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
        crs = str(data["crs"])
        offset = data.get("offset_m") or (0.0, 0.0)
        if not crs.upper().startswith("EPSG:"):
            return None
        return GeoReference(crs=crs, offset_m=(float(offset[0]), float(offset[1])))
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None  # no usable reference: the layers keep the simulator's metres


def write_run_tables(result: RunResult, out: Path) -> None:
    """Every table in ``output.format`` and the three GeoJSON layers, into ``out``."""
    fmt = TableFormat(str(result.scenario.output.format))
    for stem, table in result.all_tables().items():
        chosen = TableFormat.CSV if stem in INPUT_TABLES else fmt
        write_table(out, stem, table, chosen, exact=stem in EXACT)
    network, devices, rsus = (result.tables.get(k) for k in ("network", "devices", "rsus"))
    georef = georeference(result.scenario)
    layers: dict[str, dict[str, Any]] = {}
    if network:
        layers["network.geojson"] = network_geojson(network, result.links, georef)
    if devices:
        layers["devices.geojson"] = devices_geojson(devices, georef)
    if rsus and rsus["rsu"].size:
        layers["edge_regions.geojson"] = edge_regions_geojson(rsus, georef)
    for name, layer in layers.items():
        write_text_atomic(out / name, json.dumps(layer, allow_nan=False) + "\n")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InputFileError(path, "required file is missing: not a run's results folder"
                             ) from None
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise InputFileError(path, "expected a JSON object")
    return data


def _read_scenario(path: Path) -> Scenario:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputFileError(path, "required file is missing: not a run's results folder"
                             ) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputFileError(path, f"cannot read the scenario: {exc}") from None
    if not isinstance(data, dict):
        raise InputFileError(path, "expected a YAML mapping of scenario sections")
    try:
        return scenario_from_dict(data, base_dir=path.parent)
    except ScenarioError as exc:
        raise InputFileError(path, f"the scenario no longer validates ({exc}); written by "
                                   f"v2x-sim {data.get('v2x_sim_version', '?')}") from None


def _events(table: Table) -> list[Event]:
    vehicle = table.get("vehicle", np.full(table["time_s"].size, -1))
    return [Event(float(t), str(k), str(link), None if int(v) < 0 else int(v), str(d))
            for t, k, link, v, d in zip(table["time_s"].tolist(), table["kind"].tolist(),
                                        table["link"].tolist(), vehicle.tolist(),
                                        table["detail"].tolist(), strict=True)]


def load_results(folder: str | Path) -> RunResult:
    """Read a run's results folder back into a `RunResult`.

    The summary, the resolved scenario (``scenario.yaml``), the seed, the version that
    wrote it, every table (CSV or Parquet, typed as when the run made it: ids as text,
    flags as booleans, "none" as -1 in integer columns) and the events. Floats in CSV
    files were rounded to 6 decimals (``network.csv`` and ``latency_hist.csv``: full
    precision); Parquet keeps them exactly. The wall-clock time is not on disk (NaN).

    Args:
        folder: a run's folder (``v2x-sim run -o DIR``, `v2x_sim.write_results`).

    Raises:
        InputFileError: a required file (``summary.json``, ``scenario.yaml``,
            ``trips``, ``links``) is missing or a file is malformed (named).
    """
    path = Path(folder)
    if not path.is_dir():
        raise InputFileError(path, "no such results folder")
    summary = _read_json(path / "summary.json")
    scenario = _read_scenario(path / "scenario.yaml")
    tables: dict[str, Table] = {}
    for stem in RUN_TABLES:
        file = find_table(path, stem)
        if file is None:
            if stem in ("trips", "links"):
                raise InputFileError(path / f"{stem}.csv", "required file is missing")
            continue
        tables[stem] = read_table(file, stem=stem)
    events = _events(tables.pop("events")) if "events" in tables else []
    simulation = summary.get("simulation") or {}
    seed = simulation.get("seed", scenario.simulation.seed)
    version = summary.get("v2x_sim_version") or scenario.v2x_sim_version or "unknown"
    return RunResult(scenario=scenario, seed=int(seed), summary=summary,
                     trips=tables.pop("trips"), links=tables.pop("links"), events=events,
                     wall_s=math.nan, version=str(version), tables=tables)
