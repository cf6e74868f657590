"""Loading scenarios: ``--set`` overrides, partial sections, ``extends:``, relative paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from v2x_sim._core.errors import InputFileError, ScenarioError
from v2x_sim.cli import main
from v2x_sim.scenario.loader import apply_overrides, load_scenario, parse_override
from v2x_sim.world import build_world

TINY = """\
name: tiny
simulation:
  horizon_s: 120
  seed: 1
road:
  generator: grid
  grid: {rows: 3, cols: 3, spacing_m: 200}
demand:
  random: {rate_vph: 300}
incidents:
  - {link: 0, start_s: 10, end_s: 60, lanes_closed: 1}
"""

TRIPS_CSV = "depart_s,origin,destination,class\n1,0,8,car\n5,8,0,truck\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write(tmp_path / "tiny.yaml", TINY)


def assert_one_line_error(capsys: pytest.CaptureFixture[str], code: int, *expected: str) -> str:
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("v2x-sim: error: ")
    for text in expected:
        assert text in lines[0], f"{text!r} missing from: {lines[0]}"
    return lines[0]


# --- --set -------------------------------------------------------------------------------

def test_parse_override_parses_value_as_yaml():
    assert parse_override("a.b.0.c=1.5") == (["a", "b", "0", "c"], 1.5)
    assert parse_override("name=hello world") == (["name"], "hello world")
    assert parse_override("x=[1, 2]") == (["x"], [1, 2])
    assert parse_override("x=") == (["x"], None)


def test_apply_overrides_does_not_mutate_input():
    data = {"incidents": [{"link": 1, "start_s": 0}]}
    result = apply_overrides(data, ["incidents.0.start_s=100"])
    assert result["incidents"][0] == {"link": 1, "start_s": 100}
    assert data["incidents"][0]["start_s"] == 0


def test_set_with_list_index(tiny):
    scenario = load_scenario(tiny, ["incidents.0.start_s=40"])
    incident = scenario.incidents[0]
    assert incident.start_s == 40
    assert (incident.link, incident.end_s, incident.lanes_closed) == (0, 60, 1)


def test_set_with_list_index_through_cli(capsys, tiny):
    assert main(["validate", str(tiny), "--set", "incidents.0.end_s=100"]) == 0
    assert "valid" in capsys.readouterr().out


def test_set_list_index_on_quickstart():
    scenario = load_scenario("quickstart", ["incidents.0.start_s=100"])
    assert scenario.incidents[0].start_s == 100
    assert scenario.incidents[0].link == 44
    assert scenario.incidents[0].end_s == 1200


def test_set_creates_missing_sections(tiny):
    scenario = load_scenario(tiny, ["output.link_bin_s=60", "road.signals.cycle_s=60"])
    assert scenario.output.link_bin_s == 60
    assert scenario.road.signals.cycle_s == 60
    assert scenario.road.signals.amber_s == 4  # sibling default kept


def test_set_later_override_wins(tiny):
    scenario = load_scenario(tiny, ["simulation.seed=3", "simulation.seed=4"])
    assert scenario.simulation.seed == 4


def test_set_index_out_of_range_is_a_scenario_error(tiny):
    with pytest.raises(ScenarioError) as info:
        load_scenario(tiny, ["incidents.2.start_s=1"])
    assert info.value.path == "incidents.2"


# --- partial nested sections keep their siblings' defaults ------------------------------

def test_partial_road_class_keeps_sibling_defaults(tiny):
    scenario = load_scenario(tiny, ["road.grid.arterial.lanes=3"])
    arterial = scenario.road.grid.arterial
    assert arterial.lanes == 3
    assert arterial.free_speed_kmh == 50
    assert arterial.capacity_vph_per_lane == 1800
    assert scenario.road.grid.spacing_m == 200  # the YAML's own value kept too


def test_partial_road_class_in_yaml_keeps_sibling_defaults(tmp_path):
    path = write(tmp_path / "s.yaml",
                 TINY.replace("spacing_m: 200}", "spacing_m: 200, arterial: {lanes: 3}}"))
    arterial = load_scenario(path).road.grid.arterial
    assert (arterial.lanes, arterial.free_speed_kmh, arterial.capacity_vph_per_lane) == (
        3, 50, 1800)


def test_partial_vehicle_class_keeps_sibling_defaults(tiny):
    scenario = load_scenario(tiny, ["vehicles.classes.car.share=0.8",
                                    "vehicles.classes.truck.share=0.17"])
    classes = scenario.vehicles.classes
    assert classes.car.share == 0.8
    assert classes.car.connected_share == 0.23
    assert classes.car.pce == 1.0
    assert classes.truck.share == 0.17
    assert classes.truck.pce == 2.0
    assert classes.delivery.share == 0.03


# --- extends: ------------------------------------------------------------------------------

def test_extends_merges_parent(tmp_path):
    write(tmp_path / "base" / "parent.yaml", TINY)
    child = write(tmp_path / "child.yaml",
                  "extends: base/parent.yaml\n"
                  "name: child\n"
                  "simulation: {seed: 9}\n"
                  "road: {grid: {cols: 4}}\n")
    scenario = load_scenario(child)
    assert scenario.name == "child"
    assert scenario.simulation.seed == 9  # overridden
    assert scenario.simulation.horizon_s == 120  # inherited from the same section
    assert (scenario.road.grid.rows, scenario.road.grid.cols) == (3, 4)  # deep merge
    assert scenario.road.grid.spacing_m == 200
    assert scenario.demand.random is not None
    assert scenario.demand.random.rate_vph == 300
    assert len(scenario.incidents) == 1


def test_extends_chain_and_overrides(tmp_path):
    write(tmp_path / "a.yaml", TINY)
    write(tmp_path / "b.yaml", "extends: a.yaml\nsimulation: {seed: 2}\n")
    c = write(tmp_path / "c.yaml", "extends: b.yaml\nname: c\n")
    scenario = load_scenario(c, ["simulation.horizon_s=90"])
    assert (scenario.name, scenario.simulation.seed, scenario.simulation.horizon_s) == (
        "c", 2, 90)


@pytest.mark.parametrize("files", [
    pytest.param({"a.yaml": "extends: b.yaml\n", "b.yaml": "extends: a.yaml\n"}, id="a-b-a"),
    pytest.param({"a.yaml": "extends: a.yaml\n"}, id="self"),
    pytest.param({"a.yaml": "extends: sub/b.yaml\n", "sub/b.yaml": "extends: ../a.yaml\n"},
                 id="across-folders"),
])
def test_extends_cycle_is_reported(capsys, tmp_path, files):
    for name, text in files.items():
        write(tmp_path / name, text)
    with pytest.raises(InputFileError, match="cycle"):
        load_scenario(tmp_path / "a.yaml")
    assert_one_line_error(capsys, main(["validate", str(tmp_path / "a.yaml")]),
                          "extends", "cycle", "a.yaml")


def test_extends_missing_parent(capsys, tmp_path):
    child = write(tmp_path / "child.yaml", "extends: nowhere.yaml\n")
    assert_one_line_error(capsys, main(["validate", str(child)]),
                          "nowhere.yaml", "file not found")


def test_extends_not_a_string(capsys, tmp_path):
    child = write(tmp_path / "child.yaml", "extends: [a.yaml]\n")
    assert_one_line_error(capsys, main(["validate", str(child)]),
                          "extends", "['a.yaml']", "expected the path")


# --- relative paths -------------------------------------------------------------------------

def test_relative_trips_file_resolves_against_yaml_folder(tmp_path, monkeypatch):
    folder = tmp_path / "scen"
    write(folder / "trips.csv", TRIPS_CSV)
    write(folder / "s.yaml", TINY.replace("  random: {rate_vph: 300}\n",
                                          "  trips_file: trips.csv\n"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    scenario = load_scenario(Path("..") / "scen" / "s.yaml")
    assert scenario.resolve_path(scenario.demand.trips_file).resolve() == (
        folder / "trips.csv").resolve()
    assert len(build_world(scenario).plan) == 2


def test_relative_trips_file_through_cli(capsys, tmp_path, monkeypatch):
    folder = tmp_path / "scen"
    write(folder / "trips.csv", TRIPS_CSV)
    path = write(folder / "s.yaml", TINY.replace("  random: {rate_vph: 300}\n",
                                                 "  trips_file: trips.csv\n"))
    monkeypatch.chdir(tmp_path / "..")
    assert main(["validate", str(path)]) == 0
    assert "2 planned trips" in capsys.readouterr().out


def test_extends_relative_path_resolves_against_parent_folder(tmp_path):
    write(tmp_path / "parent" / "trips.csv", TRIPS_CSV)
    write(tmp_path / "parent" / "p.yaml", TINY.replace("  random: {rate_vph: 300}\n",
                                                       "  trips_file: trips.csv\n"))
    child = write(tmp_path / "child" / "c.yaml", "extends: ../parent/p.yaml\nname: kid\n")
    assert len(build_world(load_scenario(child)).plan) == 2


# --- bundled scenarios ------------------------------------------------------------------------

def test_bundled_scenario_by_bare_name():
    scenario = load_scenario("quickstart")
    assert scenario.name == "quickstart"
    assert scenario.simulation.horizon_s == 1800
    assert (scenario.road.grid.rows, scenario.road.grid.cols) == (5, 5)
    assert scenario.incidents[0].link == 44
    assert scenario.base_dir.name == "presets"


def test_bundled_scenario_validates_through_cli(capsys):
    assert main(["validate", "quickstart"]) == 0
    assert "quickstart: valid (25 nodes, 80 links" in capsys.readouterr().out


def test_unknown_bare_name_is_file_not_found(capsys):
    assert_one_line_error(capsys, main(["validate", "no_such_preset"]),
                          "no_such_preset", "file not found")


def test_empty_mapping_is_the_default_scenario(tmp_path):
    # an empty *file* is an error (tests/test_hardening.py); ``{}`` asks for the defaults
    scenario = load_scenario(write(tmp_path / "empty.yaml", "{}\n"))
    assert scenario.name == "scenario"
    assert scenario.road.generator == "grid"


# --- results folders ---------------------------------------------------------------------------

def test_resolved_scenario_yaml_can_be_rerun(capsys, tmp_path, tiny):
    # The results folder's scenario.yaml says "rerun: v2x-sim run scenario.yaml".
    out = tmp_path / "out"
    assert main(["run", str(tiny), "-q", "-o", str(out)]) == 0
    capsys.readouterr()
    rerun = load_scenario(out / "scenario.yaml")
    assert rerun.name == "tiny"
    assert rerun.simulation.horizon_s == 120
    assert main(["validate", str(out / "scenario.yaml")]) == 0
