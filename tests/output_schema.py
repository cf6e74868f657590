"""Golden output schemas: the columns of every CSV and the keys of every JSON file we write.

Users' scripts read these files, so a renamed column or key must fail a test loudly
(`test_output_schemas.py`) instead of slipping through. A schema is derived from small
sample runs (a run with V2X, an incident and a rerouting policy; a comparison, a
replication and a sweep) and stored in ``tests/schemas/<file>.schema.json``: for a CSV its
columns in order with the type of their values, for JSON every key with its type.
Keys that are data (message kinds, hops, loss reasons, vehicle classes, node names,
hazard causes) appear as ``"*"``. Types: int, float, str, bool, null (NaN or missing),
joined with ``|`` when a column holds several.

When an output changes on purpose::

    python tests/output_schema.py           # show the differences (changes nothing)
    python tests/output_schema.py --write   # rewrite tests/schemas/ after review

and add a line under "Unreleased" in CHANGELOG.md. CI never rewrites the schemas.
"""

from __future__ import annotations

import csv
import difflib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
SUFFIX = ".schema.json"
MAPS = {"latency", "latency.*.hops", "latency.*.lost_by_reason", "by_class", "edges",
        "hazards.by_cause", "rerouting.unanswered_by_reason", "transit.priority.by_outcome"}
"""JSON paths whose keys are data, not names: their entries share one schema."""

RUN = {
    "name": "schema-run",
    "simulation": {"horizon_s": 300, "seed": 2},
    "road": {"generator": "grid", "grid": {"rows": 3, "cols": 3, "spacing_m": 300}},
    "demand": {"random": {"rate_vph": 2500}},
    "incidents": [{"link": 4, "start_s": 60, "end_s": 240, "lanes_closed": 2}],
    # radars (250 m either side) every 150 m: every link watched, so the queue behind the
    # incident is seen and advice flows in this short run
    "roadside": {"sensors": [{"kind": "radar", "placement": {"spacing_m": 150}}]},
    "edge": {"nodes": 2, "cores": 2},
    "control": {"policy": "dynamic_shortest", "period_s": 30},
    "output": {"link_bin_s": 60},
    "vehicles": {"shuttle_lines": [{"name": "loop", "stops": [0, 2, 8, 6], "vehicles": 2,
                                    "headway_s": 100, "dwell_s": 20}],
                 "transit_priority": {"enabled": True, "max_extension_s": 30},
                 "vending": [{"name": "centre", "centre": 4, "radius_m": 400,
                              "hails_per_km_h": 120, "speed_kmh": 30}]},
}
STUDY = {**RUN, "simulation": {"horizon_s": 120, "seed": 2},
         "sweep": {"mode": "grid", "parameters": {"demand.random.rate_vph": [1000, 2000]},
                   "replications": 1}}


# ---------------------------------------------------------------------------- schemas
def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


def merge(a: Any, b: Any) -> Any:
    """The schema of values that follow ``a`` or ``b``."""
    if a is None:
        return b
    if b is None or a == b:
        return a
    if isinstance(a, str) and isinstance(b, str):
        return "|".join(sorted(set(a.split("|")) | set(b.split("|"))))
    if isinstance(a, str) or isinstance(b, str):
        schema, other = (b, a) if isinstance(a, str) else (a, b)
        if other == "null":
            return {**schema, "nullable": True}
        return "mixed"
    if a.get("type") != b.get("type"):
        return "mixed"
    out = dict(a)
    if "nullable" in b:
        out["nullable"] = True
    for part in ("keys",):
        if part in a:
            keys = dict(a[part])
            for key, sub in b[part].items():
                keys[key] = merge(keys.get(key), sub)
            out[part] = dict(sorted(keys.items()))
    for part in ("values", "items"):
        if part in a:
            out[part] = merge(a[part], b[part])
    return out


def json_schema(value: Any, path: str = "") -> Any:
    """Schema of a JSON value; ``path`` names it for `MAPS` (entries of a map are ``*``)."""
    if isinstance(value, dict):
        if path in MAPS:
            values = None
            for item in value.values():
                values = merge(values, json_schema(item, f"{path}.*"))
            return {"type": "map", "values": values}
        keys = {k: json_schema(v, f"{path}.{k}" if path else k) for k, v in value.items()}
        return {"type": "object", "keys": dict(sorted(keys.items()))}
    if isinstance(value, list):
        items = None
        for item in value:
            items = merge(items, json_schema(item, f"{path}[]"))
        return {"type": "list", "items": items}
    return _scalar(value)


def _cell(text: str) -> str:
    if text == "" or text.lower() == "nan":
        return "null"
    if text in ("True", "False"):
        return "bool"
    try:
        int(text)
        return "int"
    except ValueError:
        pass
    try:
        float(text)
        return "float"
    except ValueError:
        return "str"


def csv_schema(path: Path) -> dict[str, Any]:
    """Columns in order as ``name: type`` (``?`` when the file has no rows)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        types: list[str | None] = [None] * len(header)
        for row in reader:
            for i, text in enumerate(row):
                types[i] = merge(types[i], _cell(text))
    return {"columns": [f"{name}: {kind or '?'}" for name, kind in zip(header, types, strict=True)]}


# ---------------------------------------------------------------------------- samples
def sample_outputs(folder: Path) -> dict[str, Any]:
    """Run the samples into ``folder``; the schema of every output file by name."""
    from v2x_sim import build_world
    from v2x_sim.experiment.compare import compare, replicate
    from v2x_sim.experiment.run import write_results
    from v2x_sim.experiment.sweep import sweep
    from v2x_sim.scenario import scenario_from_dict

    run_dir = write_results(build_world(scenario_from_dict(RUN)).run(), folder / "run")
    study = scenario_from_dict(STUDY)
    compare(study, ["none", "dynamic_shortest"], replications=2, baseline="none",
            out_dir=folder / "compare", jobs=1)
    replicate(study, 2, out_dir=folder / "replicate", jobs=1)
    sweep(study, out_dir=folder / "sweep", jobs=1)
    schemas: dict[str, Any] = {}
    for path in sorted(run_dir.glob("*.csv")):
        schemas[path.name] = csv_schema(path)
    schemas["summary.json"] = json_schema(json.loads((run_dir / "summary.json").read_text()))
    for sub, stem in (("compare", "comparison"), ("replicate", "replication"),
                      ("sweep", "sweep")):
        schemas[f"{stem}.csv"] = csv_schema(folder / sub / f"{stem}.csv")
        schemas[f"{stem}.json"] = json_schema(
            json.loads((folder / sub / f"{stem}.json").read_text()))
    schemas["manifest.json"] = json_schema(
        json.loads((folder / "compare" / "manifest.json").read_text()))
    return schemas


def dumps(schema: Any) -> str:
    return json.dumps(schema, indent=1) + "\n"


def differences(current: dict[str, Any],
                stored: dict[str, Any] | None = None) -> dict[str, str]:
    """Per output file whose schema differs: a unified diff (stored -> current).

    ``stored`` defaults to the files in tests/schemas/.
    """
    if stored is None:
        stored = {p.name.removesuffix(SUFFIX): p.read_text(encoding="utf-8")
                  for p in SCHEMA_DIR.glob(f"*{SUFFIX}")}
    else:
        stored = {name: dumps(schema) for name, schema in stored.items()}
    out = {}
    for name in sorted(set(stored) | set(current)):
        new = dumps(current[name]) if name in current else ""
        old = stored.get(name, "")
        if new != old:
            out[name] = "".join(difflib.unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True),
                f"tests/schemas/{name}{SUFFIX} (stored)", f"{name} (written now)"))
    return out


def main(argv: list[str]) -> int:
    """Print the differences; with ``--write`` also rewrite tests/schemas/."""
    with tempfile.TemporaryDirectory() as tmp:
        current = sample_outputs(Path(tmp))
    diff = differences(current)
    for text in diff.values():
        sys.stdout.write(text)
    if not diff:
        print("schemas unchanged")
    elif "--write" in argv:
        SCHEMA_DIR.mkdir(exist_ok=True)
        for name in diff:
            path = SCHEMA_DIR / f"{name}{SUFFIX}"
            if name in current:
                path.write_text(dumps(current[name]), encoding="utf-8")
            else:
                path.unlink()
        print(f"rewrote {len(diff)} schema files; add a line to CHANGELOG.md (Unreleased)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
