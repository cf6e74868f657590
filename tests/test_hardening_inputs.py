"""Hostile but realistic inputs (issue 11): each fails fast with one clear line, or works.

YAML that repeats keys, nests or aliases without bound, holds NUL bytes or nothing;
numbers in exponent form; partial overrides of every mapping in the schema; output
sizes; warnings for demand that can never run; numba without a cache folder; and link
speeds that cannot exceed the free speed. Results folders and studies are in
``test_hardening.py``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from v2x_sim._core.errors import InputFileError, ScenarioError, show_value
from v2x_sim.cli import main
from v2x_sim.experiment.run import run
from v2x_sim.scenario import load_scenario, scenario_from_dict
from v2x_sim.scenario.base import is_kind_table
from v2x_sim.scenario.loader import parse_override
from v2x_sim.scenario.schema import Scenario
from v2x_sim.world import build_world

TINY = """\
name: tiny
simulation: {horizon_s: 120, seed: 1}
road: {generator: grid, grid: {rows: 3, cols: 3, spacing_m: 200}}
demand: {random: {rate_vph: 300}}
v2x: {enabled: false}
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def one_line(capsys: pytest.CaptureFixture[str], argv: list[str], *expected: str) -> str:
    """Run the CLI in-process: exit 2 and one ``v2x-sim: error:`` line holding ``expected``."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("v2x-sim: error: ")
    for text in expected:
        assert text in lines[0], f"{text!r} missing from {lines[0]}"
    return lines[0]


def alias_bomb(levels: int, indent: str = "  ") -> str:
    """Nine-fold aliases, ``levels`` deep: 9**levels strings from a few hundred bytes."""
    rows = [f'{indent}- &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for k in range(1, levels):
        rows.append(f"{indent}- &a{k} [" + ", ".join([f"*a{k - 1}"] * 9) + "]")
    return "\n".join(rows) + "\n"


# ------------------------------------------------------------------------------ YAML
def test_duplicate_keys_name_the_key_and_both_lines(capsys, tmp_path):
    """Last-wins duplicates silently dropped a whole section; now they are errors."""
    top = write(tmp_path / "top.yaml", TINY + "simulation: {horizon_s: 60}\n")
    one_line(capsys, ["validate", str(top)], "top.yaml, line 6", "duplicate key 'simulation'",
             "first given on line 2")
    nested = write(tmp_path / "nested.yaml", TINY.replace("seed: 1}", "seed: 1, seed: 2}"))
    one_line(capsys, ["validate", str(nested)], "nested.yaml, line 2", "duplicate key 'seed'",
             "first given on line 2")
    # a merge key (<<) may be overridden: that is what it is for
    merged = write(tmp_path / "merge.yaml", TINY + "vehicles:\n  classes:\n"
                   "    car: &car {share: 0.9, connected_share: 0.5}\n"
                   "    truck: {<<: *car, share: 0.07}\n")
    classes = load_scenario(merged).vehicles.classes
    assert (classes.truck.share, classes.truck.connected_share) == (0.07, 0.5)


def test_alias_bomb_is_refused_before_anything_walks_it(capsys, tmp_path):
    """A ~600-byte bomb (9**9 values) in description ran out of memory in the error
    formatter; in sweep.parameters it validated and then wrote a 19 MB scenario.yaml. Both
    are refused at load, naming the line; a few aliases (a shared road class) still work.
    """
    bomb = write(tmp_path / "bomb.yaml", "name: bomb\ndescription:\n" + alias_bomb(9))
    assert len(bomb.read_bytes()) < 700
    one_line(capsys, ["validate", str(bomb)], "bomb.yaml, line", "aliases expand to more than "
             "10,000 values")
    sweep = write(tmp_path / "sweep.yaml", "name: s\nsweep:\n  parameters:\n    description:\n"
                  + alias_bomb(5, "      "))  # 9**5 = 59,049 values
    one_line(capsys, ["validate", str(sweep)], "aliases expand to more than 10,000")
    fine = write(tmp_path / "fine.yaml", TINY.replace(
        "road: {generator: grid, grid: {rows: 3, cols: 3, spacing_m: 200}}",
        "road:\n  generator: corridor\n  corridor:\n    arterial: &cls {lanes: 1, "
        "free_speed_kmh: 40, capacity_vph_per_lane: 1500}\n    connector: *cls"))
    scenario = load_scenario(fine)
    assert scenario.road.corridor.connector == scenario.road.corridor.arterial
    assert scenario.road.corridor.connector.lanes == 1


def test_an_error_shows_a_short_value_of_a_huge_structure():
    """show_value stops after a few items per level: 9**12 shared leaves cost nothing."""
    leaf: list[Any] = ["lol"] * 9
    for _ in range(12):
        leaf = [leaf] * 9
    error = ScenarioError("description", leaf, "expected text")
    assert len(str(error)) < 160
    # three levels shown, deeper ones elided: rendering stops there instead of walking
    # 9**13 leaves (cutting a full rendering to 80 characters would look the same,
    # after hours)
    assert str(error).startswith("description = [[[[...], [...], [...], [...], ...], ")
    assert len(show_value("x" * 10_000)) == 80


def test_deep_nesting_is_a_clear_error_not_a_recursion_error(capsys, tmp_path):
    deep = write(tmp_path / "deep.yaml", "name: deep\ndescription: " + "[" * 5000 + "]" * 5000)
    one_line(capsys, ["validate", str(deep)], "deep.yaml, line 2", "nested deeper than 64")
    one_line(capsys, ["validate", str(write(tmp_path / "t.yaml", TINY)), "--set",
                      "description=" + "[" * 5000 + "]" * 5000],
             "--set description", "nested deeper than 64")
    # aliases that only nest deep once expanded are caught too (each level 2 deep here)
    chain = "".join(f"a{k}: &a{k} [*a{k - 1}]\n" for k in range(1, 80))
    aliased = write(tmp_path / "chain.yaml", "a0: &a0 [x]\n" + chain)
    one_line(capsys, ["validate", str(aliased)], "aliases nest deeper than 64")


def test_nul_byte_is_reported_with_line_and_column(capsys, tmp_path):
    nul = tmp_path / "nul.yaml"
    nul.write_bytes(b"name: nul\nsimulation:\n  horizon_s: 6\x000\n")
    # line 3, "  horizon_s: 6" is 14 characters, so the NUL byte is column 15
    one_line(capsys, ["validate", str(nul)], "nul.yaml, line 3",
             "character \\x00 (NUL) at column 15")


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"], ids=["empty", "blank",
                                                                          "comment"])
def test_empty_file_is_a_clear_error(capsys, tmp_path, text):
    empty = write(tmp_path / "empty.yaml", text)
    one_line(capsys, ["validate", str(empty)], "empty.yaml", "the file is empty")


@pytest.mark.parametrize(("raw", "expected"), [
    ("1e3", 1000), ("2E+2", 200), ("1.5e3", 1500.0), ("1e-3", 0.001), ("-2.5E-1", -0.25),
    ("1_000e1", 10000), ("e3", "e3"), ("1e", "1e"), ("12", 12), ("0.5", 0.5),
])
def test_numbers_in_exponent_form_are_numbers(raw, expected):
    """YAML 1.1 reads 1e3 as a string; scenarios read it as YAML 1.2 does, as a number
    (an integer when written without a point and with a non-negative exponent).
    """
    _, value = parse_override(f"x={raw}")
    assert value == expected
    assert type(value) is type(expected)


def test_exponent_numbers_work_for_float_and_integer_fields(tmp_path):
    tiny = write(tmp_path / "t.yaml", TINY.replace("rate_vph: 300", "rate_vph: 3e2"))
    scenario = load_scenario(tiny, ["simulation.horizon_s=1.2e2", "road.grid.rows=4e0"])
    assert scenario.demand.random is not None
    assert scenario.demand.random.rate_vph == 300.0
    assert scenario.simulation.horizon_s == 120.0
    assert scenario.road.grid.rows == 4


# ------------------------------------------------------------------- partial overrides
def _mappings(model: BaseModel, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...],
                                                                              BaseModel]]:
    """Every mapping of the default scenario, with its default value, found by walking."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield (*path, name), value
            yield from _mappings(value, (*path, name))
        elif is_kind_table(value):
            for kind, entry in value.items():
                yield (*path, name, kind), entry
                yield from _mappings(entry, (*path, name, kind))


def _nested(path: tuple[str, ...], leaf: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = leaf
    for part in reversed(path):
        data = {part: data}
    return data


def _at(scenario: Any, path: tuple[str, ...]) -> Any:
    node = scenario
    for part in path:
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def _candidates(value: Any) -> list[Any]:
    """Values that differ from a default, to try in turn (the schema decides validity)."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, max(value - 1, 0)]
    if isinstance(value, float):
        return [value * 0.5, value * 1.5, value + 1.0]
    if isinstance(value, Enum):
        return [m.value for m in type(value) if m != value]
    return []


def test_every_mapping_merges_a_partial_override_with_its_default():
    """For each mapping of the schema (sections, sub-sections, each kind of the service
    tables), an override naming one field changes that field and keeps every other one
    at its default (the README's promise), and an unknown key is an error naming the
    mapping. Replacing instead of merging loses the siblings: the arterial's speed, or
    cloud.service.aggregate (which used to die mid-run with KeyError: 'aggregate').
    """
    default = Scenario()
    visited = []
    for path, model in _mappings(default):
        visited.append(".".join(path))
        fields = list(type(model).model_fields)
        changed = None
        for name in fields:
            for candidate in _candidates(getattr(model, name)):
                try:
                    scenario = scenario_from_dict(_nested(path, {name: candidate}))
                except ScenarioError:
                    continue
                changed = name, candidate, scenario
                break
            if changed:
                break
        if changed is None:  # nothing can change alone here: naming a default still merges
            name = fields[0]
            changed = name, getattr(model, name), scenario_from_dict(
                _nested(path, {name: getattr(model, name)}))
        name, candidate, scenario = changed
        got = _at(scenario, path)
        assert getattr(got, name) == candidate, (path, name)
        for other in fields:
            if other != name:
                assert getattr(got, other) == getattr(model, other), (path, other)
        if len(path) > 1:  # the mapping's siblings keep their defaults too
            parent, here = _at(scenario, path[:-1]), _at(default, path[:-1])
            siblings = parent if isinstance(parent, dict) else type(parent).model_fields
            for sibling in siblings:
                if sibling != path[-1]:
                    assert _at(parent, (sibling,)) == _at(here, (sibling,)), (path, sibling)
        with pytest.raises(ScenarioError, match="unknown field") as info:
            scenario_from_dict(_nested(path, {"no_such_field": 1}))
        assert info.value.path == ".".join((*path, "no_such_field"))
    # the walk really reached the nested mappings and every kind of the tables
    for expected in ("road.grid.arterial", "road.corridor.connector", "vehicles.classes.delivery",
                     "roadside.rsu.placement", "edge.service.bsm", "edge.service.perception",
                     "cloud.service.status", "cloud.service.aggregate", "messages.bsm",
                     "control.belief", "channels.pc5"):
        assert expected in visited
    assert len(visited) > 30


@pytest.mark.parametrize("table", ["edge.service", "cloud.service"])
def test_unknown_service_kind_is_an_error(capsys, tmp_path, table):
    tiny = write(tmp_path / "t.yaml", TINY)
    one_line(capsys, ["validate", str(tiny), "--set", f"{table}.teleport={{mean_s: 0.001}}"],
             f"{table} = ", "unknown kind 'teleport'", "the kinds are")


def test_partial_cloud_service_runs_to_the_end():
    """Only status named: aggregate keeps its default and the V2X run completes."""
    scenario = load_scenario("quickstart", ["simulation.horizon_s=60",
                                            "cloud.service={status: {mean_s: 0.0004}}"])
    assert scenario.cloud.service["aggregate"].mean_s == 0.002
    assert scenario.cloud.service["status"].mean_s == 0.0004
    result = run(scenario)
    assert result.summary["latency"]["status"]["sent"] > 0


# ------------------------------------------------------------------------ output size
@pytest.mark.parametrize(("overrides", "expected"), [
    (["output.link_bin_s=0.001"], "greater than or equal to 1"),
    (["v2x.enabled=true", "v2x.tick_s=2", "output.link_bin_s=1.5"], "at least v2x.tick_s (2 s)"),
    # 10,001 s / 1 s = 10,001 bins > 10,000
    (["simulation.horizon_s=10001", "output.link_bin_s=1"], "10,001 bins"),
], ids=["below-1s", "below-tick", "too-many-bins"])
def test_link_bins_are_bounded(capsys, tmp_path, overrides, expected):
    tiny = write(tmp_path / "t.yaml", TINY)
    args = [part for o in overrides for part in ("--set", o)]
    one_line(capsys, ["validate", str(tiny), *args], "output.link_bin_s", expected)


def test_link_bins_at_the_limits_are_accepted(tmp_path):
    tiny = write(tmp_path / "t.yaml", TINY)
    # exactly 10,000 bins of exactly 1 s; and a bin equal to the tick
    assert load_scenario(tiny, ["simulation.horizon_s=10000", "output.link_bin_s=1"])
    assert load_scenario(tiny, ["v2x.enabled=true", "v2x.tick_s=2", "output.link_bin_s=2"])


# -------------------------------------------------------------------------- warnings
def test_trips_after_the_horizon_and_no_demand_are_one_line_warnings(tmp_path, caplog):
    tiny = write(tmp_path / "t.yaml", TINY)
    late = load_scenario(tiny, ["demand.random=null", "demand.trips=[{depart_s: 10, origin: 0, "
                                "destination: 8}, {depart_s: 500, origin: 0, destination: 8}, "
                                "{depart_s: 120, origin: 8, destination: 0}]"])
    with caplog.at_level(logging.WARNING, logger="v2x_sim.world"):
        build_world(late)
    # depart 500 and depart 120 (= the horizon) never start; the one at 10 s does
    assert [r.getMessage() for r in caplog.records] == [
        "2 of 3 planned trips depart at or after the horizon (simulation.horizon_s = 120 s) "
        "and will never start"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="v2x_sim.world"):
        build_world(load_scenario(tiny, ["demand.random.rate_vph=0"]))
    assert len(caplog.records) == 1
    assert "plans no trips" in caplog.records[0].getMessage()
    assert "\n" not in caplog.records[0].getMessage()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="v2x_sim.world"):
        build_world(load_scenario(tiny))
    assert caplog.records == []


# ----------------------------------------------------------------------------- numba
def test_numba_without_a_cache_folder_compiles_uncached_with_one_warning(tmp_path):
    """No usable cache location (here: numba may only use the user-wide one, and HOME is a
    file, so ~/.cache cannot exist) used to make the package fail to import. The in-tree
    location (a read-only package folder) cannot be taken away as root, hence the
    NUMBA_CACHE_LOCATOR_CLASSES restriction.
    """
    home = write(tmp_path / "home", "a file, not a folder\n")
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / "cache"),
           "NUMBA_CACHE_LOCATOR_CLASSES": "UserWideCacheLocator"}
    env.pop("NUMBA_CACHE_DIR", None)
    code = ("import numpy as np; from v2x_sim.compute import queueing as q; "
            "print(q._multi_server(np.array([0.0, 1.0, 1.5]), np.array([2.0, 2.0, 2.0]), "
            "np.zeros(2))[1].tolist())")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    # two servers: 0->2, 1->3 on the other, 1.5 waits for the first free one (2) -> 4
    assert proc.stdout.strip() == "[2.0, 3.0, 4.0]"
    warnings = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1, proc.stderr
    assert "NUMBA_CACHE_DIR" in warnings[0]


# ------------------------------------------------------------------------ link speeds
def test_vehicle_still_on_its_link_counts_only_the_distance_it_covered(line_scenario):
    """One car on an empty 1,000 m link at 20 m/s from t = 0, horizon 30 s, 15 s bins:
    by the end it has covered 30 x 20 = 600 m, 300 m per bin; space-mean speed
    300 m / 15 veh-s = 20 m/s, speed ratio 1.0, one vehicle on the link throughout.
    Counting the whole link would give 1,000 / 30 = 33.3 m/s, a ratio of 1.67.
    """
    scenario = line_scenario(
        [{}, {}], simulation={"horizon_s": 30}, v2x={"enabled": False},
        demand={"trips": [{"depart_s": 0, "origin": 0, "destination": 2}]},
        output={"link_bin_s": 15})
    links = run(scenario).links
    first = links["link"].astype(str) == "0"  # external ids are text
    np.testing.assert_allclose(links["mean_speed_mps"][first], [20.0, 20.0], rtol=1e-12)
    np.testing.assert_allclose(links["speed_ratio"][first], [1.0, 1.0], rtol=1e-12)
    np.testing.assert_allclose(links["vehicles"][first], [1.0, 1.0], rtol=1e-12)
    assert links["exited"][first].tolist() == [0, 0]


def test_vehicle_standing_at_the_end_has_covered_the_whole_link(line_scenario):
    """Link 1 is closed (its exit discharges nothing). The car leaves link 0 at
    1,000 / 20 = 50 s, reaches the end of link 1 at 100 s and stands there until the
    horizon at 130 s: on link 1, 1,000 m in 80 veh-s = 12.5 m/s (ratio 0.625) and
    80 / 130 vehicles on average; link 0: 1,000 m in 50 veh-s = 20 m/s.
    """
    scenario = line_scenario(
        [{}, {}], simulation={"horizon_s": 130}, v2x={"enabled": False},
        demand={"trips": [{"depart_s": 0, "origin": 0, "destination": 2}]},
        incidents=[{"link": 1, "start_s": 0, "end_s": 500, "lanes_closed": 1}],
        output={"link_bin_s": 130})
    links = run(scenario).links
    np.testing.assert_allclose(links["mean_speed_mps"], [20.0, 12.5], rtol=1e-12)
    np.testing.assert_allclose(links["speed_ratio"], [1.0, 0.625], rtol=1e-12)
    np.testing.assert_allclose(links["vehicles"], [50 / 130, 80 / 130], rtol=1e-12)
    assert links["exited"].tolist() == [1, 0]


def test_no_link_is_faster_than_free_flow_in_a_short_quickstart():
    """Quickstart for 300 s showed ratios up to 1.47 (57.6 with a 0.5 s horizon)."""
    for horizon in ("300", "0.5"):
        links = run(load_scenario("quickstart", [f"simulation.horizon_s={horizon}",
                                                 "v2x.enabled=false"])).links
        ratio = links["speed_ratio"][np.isfinite(links["speed_ratio"])]
        assert ratio.size > 0
        assert ratio.max() <= 1.0 + 1e-9, horizon


def test_input_file_error_pickles_with_its_line():
    import pickle

    error = InputFileError("links.csv", "bad number", line=7, column="lanes")
    again = pickle.loads(pickle.dumps(error))
    assert (again.file, again.line, again.column, str(again)) == (
        "links.csv", 7, "lanes", "links.csv, line 7, column 'lanes': bad number")
