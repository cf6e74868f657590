"""Every invalid input: one line on stderr naming path, value and expectation; exit code 2.

The CLI is called in-process (``main([...])``) so each case takes milliseconds; one test
runs ``python -m v2x_sim`` in a subprocess to show that no traceback reaches the user.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from v2x_sim.cli import main

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

NODES_HEADER = "id,x_m,y_m\n"
LINKS_HEADER = "id,from,to,length_m,lanes,free_speed_mps,capacity_vph_per_lane\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A valid 3x3-grid scenario, 120 s, a handful of trips."""
    return write(tmp_path / "tiny.yaml", TINY)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stray default ``results/<name>`` folder must land in tmp_path, never in the repo.
    monkeypatch.chdir(tmp_path)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, out: str, err: str, *expected: str) -> str:
    """Exit 2, exactly one stderr line ``v2x-sim: error: ...`` holding every ``expected``."""
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert err.endswith("\n")
    message = lines[0]
    assert message.startswith("v2x-sim: error: "), message
    for text in expected:
        assert text in message, f"{text!r} missing from: {message}"
    return message


def cmd_args(command: str, scenario: Path | str, tmp_path: Path, *extra: str) -> list[str]:
    args = [command, str(scenario), *extra]
    if command == "run":
        args += ["-q", "-o", str(tmp_path / "out")]
    return args


COMMANDS = pytest.mark.parametrize("command", ["validate", "run"])


# --- invalid fields written in the YAML file -----------------------------------------

FIELD_CASES = [
    pytest.param(
        TINY + "simulatoin: {horizon_s: 60}\n",
        ["simulatoin", "{'horizon_s': 60}", "unknown field"],
        id="unknown-top-level-key",
    ),
    pytest.param(
        TINY.replace("horizon_s: 120", "horizon: 120"),
        ["simulation.horizon", "120", "unknown field"],
        id="unknown-nested-key",
    ),
    pytest.param(
        TINY.replace("rows: 3", 'rows: "five"'),
        ["road.grid.rows", "'five'", "valid integer"],
        id="wrong-type",
    ),
    pytest.param(
        TINY.replace("spacing_m: 200", "spacing_m: -5"),
        ["road.grid.spacing_m", "-5", "greater than 0"],
        id="negative-length",
    ),
    pytest.param(
        TINY + "vehicles:\n  classes:\n    car: {connected_share: 1.5}\n",
        ["vehicles.classes.car.connected_share", "1.5", "less than or equal to 1"],
        id="probability-above-1",
    ),
    pytest.param(
        TINY.replace("link: 0,", "link: 9999,"),
        ["incidents[0].link", "9999", "no link with this id"],
        id="incident-on-missing-link",
    ),
    pytest.param(
        TINY.replace("  random: {rate_vph: 300}\n", "  random: {rate_vph: 300}\n  flows:\n"
                     "    - {origin: 99, destination: 1, rate_vph: 10}\n"),
        ["demand.flows[0].origin", "99", "no node with this id"],
        id="flow-unknown-origin",
    ),
    pytest.param(
        TINY.replace("incidents:", "vehicles:\n  classes:\n    car: {share: 0.5}\nincidents:"),
        ["vehicles.classes", "car.share", "0.5", "must sum to 1", "0.6"],
        id="shares-not-summing-to-1",
    ),
    pytest.param(
        TINY.replace("seed: 1", "seed: 1\n  warmup_s: 120"),
        ["simulation.warmup_s", "120", "shorter than horizon_s (120)"],
        id="warmup-not-inside-horizon",
    ),
    pytest.param(
        TINY.replace("end_s: 60", "end_s: 5"),
        ["incidents[0].end_s", "5", "must be after start_s (10)"],
        id="incident-ends-before-start",
    ),
    pytest.param(
        TINY.replace("lanes_closed: 1", "lanes_closed: 3"),
        ["incidents[0].lanes_closed", "3", "only 2 lanes"],
        id="lanes-closed-above-link-lanes",
    ),
]


@COMMANDS
@pytest.mark.parametrize(("yaml_text", "expected"), FIELD_CASES)
def test_invalid_field_in_yaml(capsys, tmp_path, command, yaml_text, expected):
    path = write(tmp_path / "bad.yaml", yaml_text)
    code, out, err = run_cli(capsys, *cmd_args(command, path, tmp_path))
    assert_one_line_error(code, out, err, *expected)
    assert not (tmp_path / "out").exists()


# --- the same kinds of mistakes given with --set -------------------------------------

SET_CASES = [
    pytest.param("simulation.horizon=60", ["simulation.horizon", "60", "unknown field"],
                 id="unknown-nested-key"),
    pytest.param("foo=1", ["foo", "1", "unknown field"], id="unknown-top-level-field"),
    pytest.param("road.grid.rows=five", ["road.grid.rows", "'five'", "valid integer"],
                 id="wrong-type"),
    pytest.param("road.grid.spacing_m=-5", ["road.grid.spacing_m", "-5", "greater than 0"],
                 id="negative-length"),
    pytest.param("vehicles.classes.car.connected_share=1.5",
                 ["vehicles.classes.car.connected_share", "1.5", "less than or equal to 1"],
                 id="probability-above-1"),
    pytest.param("incidents.0.link=9999", ["incidents[0].link", "9999", "no link"],
                 id="incident-on-missing-link"),
    pytest.param("demand.flows=[{origin: 99, destination: 1, rate_vph: 10}]",
                 ["demand.flows[0].origin", "99", "no node"], id="flow-unknown-origin"),
    pytest.param("incidents.0.lanes_closed=5", ["incidents[0].lanes_closed", "5", "2 lanes"],
                 id="lanes-closed-above-link-lanes"),
    pytest.param("incidents.3.link=1", ["incidents.3", "'3'", "out of range 0..0"],
                 id="list-index-out-of-range"),
]


@COMMANDS
@pytest.mark.parametrize(("override", "expected"), SET_CASES)
def test_invalid_set_override(capsys, tmp_path, tiny, command, override, expected):
    code, out, err = run_cli(capsys, *cmd_args(command, tiny, tmp_path, "--set", override))
    assert_one_line_error(code, out, err, *expected)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("override", "reason"), [
    pytest.param("foo", "expected path.to.field=value", id="no-equals"),
    pytest.param("=1", "expected path.to.field=value", id="no-path"),
    pytest.param(".a=1", "empty component in the dotted path", id="empty-component"),
])
def test_bad_set_syntax(capsys, tiny, override, reason):
    code, out, err = run_cli(capsys, "validate", str(tiny), "--set", override)
    assert_one_line_error(code, out, err, "--set", repr(override), reason)


def test_bool_for_an_integer_is_a_wrong_type(capsys, tmp_path, tiny):
    code, out, err = run_cli(capsys, "validate", str(tiny), "--set", "road.grid.rows=true")
    assert_one_line_error(code, out, err, "road.grid.rows", "True")


@pytest.mark.parametrize("override", ["simulation.horizon_s=.inf",
                                      "demand.random.rate_vph=.inf"])
def test_infinite_value_is_rejected(capsys, tmp_path, tiny, override):
    """Infinite numbers are refused at validation (they once crashed the Poisson draw)."""
    code, out, err = run_cli(capsys, "validate", str(tiny), "--set", override)
    assert_one_line_error(code, out, err, override.split("=")[0], "inf")


# --- files -----------------------------------------------------------------------------

@COMMANDS
def test_missing_scenario_file(capsys, tmp_path, command):
    missing = tmp_path / "nope.yaml"
    code, out, err = run_cli(capsys, *cmd_args(command, missing, tmp_path))
    assert_one_line_error(code, out, err, str(missing), "file not found")


@COMMANDS
@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("a: [1, 2\n", ["line 2", "not valid YAML"], id="not-yaml"),
    pytest.param("simulation:\n\thorizon_s: 5\n", ["line 2", "not valid YAML"], id="tab"),
    pytest.param("- 1\n- 2\n", ["expected a mapping", "got list"], id="top-is-a-list"),
    pytest.param("just text\n", ["expected a mapping", "got str"], id="top-is-a-string"),
])
def test_scenario_file_not_a_yaml_mapping(capsys, tmp_path, command, text, expected):
    path = write(tmp_path / "bad.yaml", text)
    code, out, err = run_cli(capsys, *cmd_args(command, path, tmp_path))
    assert_one_line_error(code, out, err, str(path), *expected)


def test_scenario_file_not_utf8(capsys, tmp_path):
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00bad")
    code, out, err = run_cli(capsys, "validate", str(path))
    assert_one_line_error(code, out, err, str(path), "cannot read")


def test_scenario_path_is_a_directory(capsys, tmp_path):
    code, out, err = run_cli(capsys, "validate", str(tmp_path))
    assert_one_line_error(code, out, err, str(tmp_path), "is a directory")


@COMMANDS
@pytest.mark.parametrize(("nodes", "links", "empty_file"), [
    pytest.param(NODES_HEADER, LINKS_HEADER, "nodes.csv", id="no-nodes-no-links"),
    pytest.param(NODES_HEADER + "0,0,0\n1,100,0\n", LINKS_HEADER, "links.csv",
                 id="nodes-but-no-links"),
])
def test_empty_network(capsys, tmp_path, command, nodes, links, empty_file):
    write(tmp_path / "net" / "nodes.csv", nodes)
    write(tmp_path / "net" / "links.csv", links)
    path = write(tmp_path / "empty.yaml",
                 "simulation: {horizon_s: 120}\n"
                 "road:\n  generator: file\n"
                 "  file: {nodes: net/nodes.csv, links: net/links.csv}\n")
    code, out, err = run_cli(capsys, *cmd_args(command, path, tmp_path))
    message = assert_one_line_error(code, out, err, empty_file)
    assert "no data rows" in message or "empty" in message


# --- flags -----------------------------------------------------------------------------

def test_negative_seed(capsys, tmp_path, tiny):
    code, out, err = run_cli(capsys, "run", str(tiny), "-q", "-o", str(tmp_path / "out"),
                             "--seed", "-1")
    assert_one_line_error(code, out, err, "--seed", "-1", "non-negative")
    assert not (tmp_path / "out").exists()


def test_output_path_is_an_existing_file(capsys, tmp_path, tiny):
    # a relative path (the working directory is tmp_path): error messages shorten values
    # past 80 characters, and temporary folders can be that long (macOS)
    target = write(tmp_path / "results.txt", "keep me\n")
    code, out, err = run_cli(capsys, "run", str(tiny), "-q", "-o", "results.txt")
    assert_one_line_error(code, out, err, "--output", "results.txt", "not a folder")
    assert target.read_text(encoding="utf-8") == "keep me\n"


def test_output_path_below_an_existing_file(capsys, tmp_path, tiny):
    target = write(tmp_path / "results.txt", "keep me\n")
    sub = str(Path("results.txt") / "sub")
    code, out, err = run_cli(capsys, "run", str(tiny), "-q", "-o", sub)
    assert_one_line_error(code, out, err, sub, "cannot create")
    assert target.read_text(encoding="utf-8") == "keep me\n"


# --- good paths --------------------------------------------------------------------------

def test_validate_good_scenario_returns_0(capsys, tiny):
    code, out, err = run_cli(capsys, "validate", str(tiny))
    assert code == 0, err
    assert "valid (9 nodes, 24 links" in out
    assert err == ""


def test_validate_bad_scenario_returns_2(capsys, tiny):
    code, out, err = run_cli(capsys, "validate", str(tiny), "--set", "incidents.0.link=9999")
    assert_one_line_error(code, out, err, "incidents[0].link", "9999")
    assert out == ""


def test_scenarios_lists_quickstart(capsys):
    code, out, err = run_cli(capsys, "scenarios")
    assert code == 0, err
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert "quickstart" in names


# --- a failed run destroys nothing ---------------------------------------------------------

def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every entry (hidden ones too) with its bytes and modification time."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("failing", [
    pytest.param(["--set", "incidents.0.link=9999"], id="missing-link"),
    pytest.param(["--set", "simulation.horizon=60"], id="unknown-key"),
    pytest.param(["--set", "demand.flows=[{origin: 99, destination: 1, rate_vph: 10}]"],
                 id="unknown-node"),
    pytest.param(["--seed", "-1"], id="negative-seed"),
])
def test_failed_run_leaves_previous_results_untouched(capsys, tmp_path, failing):
    out_dir = tmp_path / "out"
    code, _, err = run_cli(capsys, "run", "quickstart", "-q", "--no-report", "-o",
                           str(out_dir), "--set", "simulation.horizon_s=120")
    assert code == 0, err
    before = snapshot(out_dir)
    assert {"scenario.yaml", "summary.json", "trips.csv", "links.csv",
            "events.csv"} <= set(before)

    code, out, err = run_cli(capsys, "run", "quickstart", "-q", "--no-report", "-o",
                             str(out_dir), "--set", "simulation.horizon_s=120", *failing)
    assert_one_line_error(code, out, err)
    after = snapshot(out_dir)
    assert after == before  # same names (no stray temp files), bytes and mtimes
    assert not list(tmp_path.rglob("*.tmp"))


# --- the real command line ------------------------------------------------------------------

def test_subprocess_error_has_no_traceback(tmp_path, tiny):
    proc = subprocess.run(
        [sys.executable, "-m", "v2x_sim", "run", str(tiny), "-q", "-o", str(tmp_path / "out"),
         "--set", "incidents.0.link=9999"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [
        "v2x-sim: error: incidents[0].link = 9999: no link with this id in the network "
        "(it has 24 links)"
    ]
    assert proc.stdout == ""
    assert not (tmp_path / "out").exists()
