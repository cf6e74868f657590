"""The command line as planners meet it: fast help, -q everywhere, defaults and examples
in help, progress by phase, "did you mean", -j from the CPUs we may use, extends: by
bundled name, the scenario JSON Schema, and the first-run compilation notice."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from v2x_sim._core import cpus
from v2x_sim._core.suggest import closest, did_you_mean
from v2x_sim.cli import build_parser, main
from v2x_sim.cli_progress import Mode, RunProgress, RunsBar, progress_mode

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("numpy", "scipy", "pydantic", "numba", "matplotlib", "simpy", "yaml", "pandas")

TINY = """\
name: tiny
simulation: {horizon_s: 120, seed: 1}
road: {generator: grid, grid: {rows: 3, cols: 3, spacing_m: 200}}
demand: {random: {rate_vph: 300}}
v2x: {enabled: false}
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # default results/ folders land here, never in the repo


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors exit
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ---------------------------------------------------------------------------- fast help
def test_help_loads_no_heavy_library() -> None:
    """`v2x-sim --help` and every command's help import none of the numeric stack.

    Measured: 2.7 s before lazy imports (numpy, scipy, pydantic, numba, matplotlib at
    import), ~0.1 s after; the check is on what is imported, not on a timing.
    """
    code = textwrap.dedent(f"""
        import sys
        from v2x_sim.cli import main
        for argv in (["--help"], ["run", "--help"], ["compare", "--help"], ["--version"]):
            try:
                main(argv)
            except SystemExit:
                pass
        print("LOADED", sorted(m for m in {HEAVY!r} if m in sys.modules))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert proc.stdout.splitlines()[-1] == "LOADED []"


def test_public_api_is_loaded_on_first_use() -> None:
    code = ("import sys, v2x_sim; before = 'numpy' in sys.modules; v2x_sim.load_scenario; "
            "print(before, 'pydantic' in sys.modules, 'load_scenario' in dir(v2x_sim))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert proc.stdout.split() == ["False", "True", "True"]


# ---------------------------------------------------------------------- help and -q
def test_every_command_takes_quiet_and_shows_examples() -> None:
    commands = _subcommands()
    assert {"run", "validate", "routes", "scenarios", "schema", "report", "compare",
            "replicate", "sweep", "import"} <= set(commands)
    for name, parser in commands.items():
        flags = {s for a in parser._actions for s in a.option_strings}
        assert {"-q", "--quiet"} <= flags, name
        text = parser.format_help()
        assert "examples:\n  v2x-sim " + name in text, name


def test_help_shows_defaults() -> None:
    commands = _subcommands()
    compare = " ".join(commands["compare"].format_help().split())
    assert "seeds per policy or scenario (default: 10)" in compare
    assert "paired with (default: the policy 'none', or the first of --scenarios)" in compare
    assert f"worker processes (default: {cpus.usable_cpus()}, the CPUs" in compare
    # flags that are off by default say nothing about a default
    assert "(default: False)" not in compare
    assert "(default: None)" not in compare


def test_quiet_validate_run_and_scenarios(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY, encoding="utf-8")
    assert main(["validate", str(scenario), "-q"]) == 0
    assert capsys.readouterr() == ("", "")
    assert main(["run", str(scenario), "-q", "--no-report", "-o", "out"]) == 0
    assert capsys.readouterr() == ("", "")
    assert main(["scenarios", "-q"]) == 0
    names = capsys.readouterr().out.split()
    assert "quickstart" in names
    assert all(" " not in n for n in names)


# ------------------------------------------------------------------------- progress
class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_mode() -> None:
    assert progress_mode(_Terminal(), quiet=False) is Mode.LIVE
    assert progress_mode(io.StringIO(), quiet=False) is Mode.PLAIN
    assert progress_mode(_Terminal(), quiet=True) is Mode.OFF


def test_run_prints_plain_phase_lines_when_not_on_a_terminal(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY, encoding="utf-8")
    assert main(["run", str(scenario), "-o", "out"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    phases = [line.split()[1] for line in lines if " done in " in line]
    assert phases == ["build", "run", "write", "report"]
    assert lines[0].startswith("tiny: build done in ")
    assert "(9 nodes, 24 links" in lines[0]
    # 120 s horizon in 100 steps: one line per tenth, 10 % .. 90 %
    tenths = [line for line in lines if line.startswith("tiny: run ") and "%" in line]
    assert [t.split()[2] for t in tenths] == [f"{10 * k}%" for k in range(1, 10)]
    # report -q rebuilds the report silently
    (tmp_path / "out" / "report.html").unlink()
    assert main(["report", "out", "-q"]) == 0
    assert capsys.readouterr() == ("", "")
    assert (tmp_path / "out" / "report.html").is_file()


def test_live_progress_redraws_one_line_and_sums_up_phases() -> None:
    screen = _Terminal()
    progress = RunProgress(screen, mode=Mode.LIVE, label="x")
    progress.begin("build")
    progress.end(" (3 links)")
    progress.begin("run")
    progress(30.0, 120.0)
    progress.note("compiling")
    progress(120.0, 120.0)
    progress.close()
    text = screen.getvalue()
    assert text.endswith("\n")
    assert text.count("\n") == 2
    assert "x: compiling\n" in text
    assert " 25%  t=30/120 s" in text
    last = text.rstrip("\n").rsplit("\r", 1)[-1].strip()
    assert last.startswith("x: build ")
    assert ", run " in last


def test_runs_bar_plain_lines() -> None:
    stream = io.StringIO()
    bar = RunsBar(stream, mode=Mode.PLAIN)
    bar(1, 4, 0)
    bar(4, 4, 1)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("runs 1/4 (0 already done)")
    assert "left" in lines[0]
    assert lines[1].startswith("runs 4/4 (1 already done)")
    assert "left" not in lines[1]


# -------------------------------------------------------------------------- -j default
def test_default_jobs_follow_the_affinity_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    from v2x_sim.experiment.executors import default_jobs

    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 5}, raising=False)
    assert cpus.usable_cpus() == 3  # 3 CPUs in the mask, not the node's 64
    assert default_jobs() == 3
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # not Linux
    assert cpus.usable_cpus() == 64


# ---------------------------------------------------------------------- did you mean
def test_closest_names() -> None:
    assert closest("rat_vph", ["rate_vph", "origins", "destinations"]) == "rate_vph"
    assert closest("Quickstart", ["demo_zone", "quickstart"]) == "quickstart"
    assert closest("xyz", ["rate_vph", "origins"]) is None
    # on a tie the earlier choice wins: own fields are listed before nested ones
    assert closest("lanes", ["a.lanes", "b.lanes"], key=lambda c: c[2:]) == "a.lanes"
    assert did_you_mean("run", ["run"]) == ""


@pytest.mark.parametrize(("argv", "expected"), [
    (["rnu", "quickstart"], "did you mean 'run'?"),
    (["run", "quickstart", "--sed", "3"], "unrecognized arguments: --sed 3; did you mean "
                                          "'--seed'?"),
    (["import", "sumoo", "x.net.xml"], "did you mean 'sumo'?"),
    (["run", "quikstart"], "quikstart: file not found, and no bundled scenario of that "
                           "name; did you mean 'quickstart'?"),
    (["validate", "quickstart", "--set", "demand.random.rat_vph=10"],
     "demand.random.rat_vph = 10: unknown field; did you mean 'rate_vph'?"),
    (["validate", "quickstart", "--set", "roadside.rsu.spacng_m=10"],
     "unknown field; did you mean 'placement.spacing_m'?"),
    (["validate", "quickstart", "--set", "incidents.0.lanes_closd=1"],
     "incidents[0].lanes_closd = 1: unknown field; did you mean 'lanes_closed'?"),
    (["validate", "quickstart", "--set", "road.generator=gird"], "did you mean 'grid'?"),
    (["validate", "quickstart", "--set", "cloud.service.statsu.mean_s=1"],
     "unknown kind 'statsu' (the kinds are status, aggregate, hazard_report, decision, "
     "advice); did you mean 'status'?"),
    (["run", "quickstart", "--policy", "dynamic_shortst"], "did you mean 'dynamic_shortest'?"),
    (["validate", "quickstart", "--set", "control.policy=examples.custom_policy:AvoidSlow"],
     "has no class 'AvoidSlow'; did you mean 'AvoidSlowLinks'?"),
])
def test_did_you_mean(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                      argv: list[str], expected: str) -> None:
    monkeypatch.chdir(REPO)  # examples.custom_policy is importable from here
    assert expected in one_error_line(capsys, argv)


def test_no_suggestion_when_nothing_is_close(capsys: pytest.CaptureFixture[str]) -> None:
    line = one_error_line(capsys, ["validate", "quickstart", "--set", "zzz.q=1"])
    assert "did you mean" not in line
    assert "unknown field" in line
    line = one_error_line(capsys, ["run", "qqqqq"])
    assert "did you mean" not in line
    assert "(bundled: demo_zone, " in line


def test_missing_file_suggests_a_sibling(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    (tmp_path / "study.yaml").write_text(TINY, encoding="utf-8")
    line = one_error_line(capsys, ["validate", str(tmp_path / "studdy.yaml")])
    assert f"file not found; did you mean '{tmp_path / 'study.yaml'}'?" in line


# ------------------------------------------------------------------- extends: by name
def test_extends_a_bundled_scenario_by_name(tmp_path: Path) -> None:
    from v2x_sim.scenario import load_scenario

    child = tmp_path / "mine.yaml"
    child.write_text("extends: real_city\nname: mine\nsimulation: {horizon_s: 600}\n",
                     encoding="utf-8")
    scenario = load_scenario(child)
    assert scenario.name == "mine"
    assert scenario.simulation.horizon_s == 600
    # inherited fields, and the preset's network files found beside the preset
    assert scenario.demand.random is not None
    assert scenario.demand.random.rate_vph == 1500
    nodes = scenario.resolve_path(scenario.road.file.nodes)
    assert nodes.is_file()
    assert nodes.parent.name == "real_city"
    # a file of that name beside the child wins over the bundled scenario
    (tmp_path / "real_city").write_text("name: local\n", encoding="utf-8")
    assert load_scenario(child).road.generator == "grid"


# --------------------------------------------------------------------------- schema
@pytest.fixture(scope="module")
def validator():  # type: ignore[no-untyped-def]
    jsonschema = pytest.importorskip("jsonschema")
    from v2x_sim.scenario.json_schema import scenario_json_schema

    schema = scenario_json_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_schema_command_prints_and_writes_it(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["$schema"] == "http://json-schema.org/draft-07/schema#"  # VS Code's
    assert "$defs" not in json.dumps(printed)  # draft-07 names them "definitions"
    assert {"extends", "road", "demand", "incidents"} <= set(printed["properties"])
    assert main(["schema", "-o", "sub/v2x.schema.json", "-q"]) == 0
    assert capsys.readouterr() == ("", "")
    assert json.loads((tmp_path / "sub" / "v2x.schema.json").read_text()) == printed


def test_schema_accepts_every_bundled_scenario_and_resolved_ones(validator) -> None:  # type: ignore[no-untyped-def]
    from v2x_sim.scenario import list_presets, load_scenario

    presets = list_presets()
    assert len(presets) >= 5
    for preset in presets:
        raw = yaml.safe_load(preset.path.read_text(encoding="utf-8"))
        assert list(validator.iter_errors(raw)) == [], preset.name
        resolved = load_scenario(preset.path).to_plain()  # what results/x/scenario.yaml holds
        assert list(validator.iter_errors(resolved)) == [], preset.name


@pytest.mark.parametrize(("text", "valid"), [
    ("road: {grid: {arterial: {lanes: 3}}}", True),  # partial sub-section: rest default
    ("cloud: {service: {status: {mean_s: 0.001}}}", True),  # partial kind table
    ("extends: quickstart\nincidents: []", True),
    ("incidents: [{link: '-12#0', start_s: 0, end_s: 60}]", True),  # text ids
    ("demand: {random: {rat_vph: 3}}", False),  # typo
    ("cloud: {service: {statsu: {mean_s: 1}}}", False),  # unknown kind
    ("road: {generator: gird}", False),
    ("incidents: [{start_s: 3}]", False),  # an incident needs its link and end
    ("simulation: {horizon_s: -5}", False),
])
def test_schema_agrees_with_the_loader(validator, text: str, valid: bool) -> None:  # type: ignore[no-untyped-def]
    from v2x_sim._core.errors import V2XSimError
    from v2x_sim.scenario import scenario_from_dict

    data = yaml.safe_load(text)
    assert (not list(validator.iter_errors(data))) is valid
    without_extends = {k: v for k, v in data.items() if k != "extends"}
    try:
        scenario_from_dict(without_extends)
        loads = True
    except V2XSimError:
        loads = False
    assert loads is valid


# ----------------------------------------------------------- first-run compilation
def test_compilation_is_announced_only_when_numba_compiles(tmp_path: Path) -> None:
    """A kernel compiled for the first time is announced; one loaded from the cache is not."""
    module = tmp_path / "kernel_mod.py"
    module.write_text(textwrap.dedent("""
        from v2x_sim._core.jit import njit

        @njit(cache=True)
        def twice(x):
            return 2 * x
    """), encoding="utf-8")
    code = textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[1])
        from v2x_sim._core.jit import compile_notices
        from v2x_sim.cli_progress import compile_notice
        said = []
        with compile_notices(compile_notice(said.append)):
            import kernel_mod
            kernel_mod.twice(2.0)
            kernel_mod.twice(3)  # a second signature compiles too: still one notice
        print(said)
    """)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}

    def run() -> list[str]:
        proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env,
                              capture_output=True, text=True, timeout=300, check=True)
        return eval(proc.stdout.strip().splitlines()[-1])

    first = run()
    assert len(first) == 1
    assert "first run only" in first[0]
    assert run() == []  # warm cache: nothing compiles, nothing to say


def test_run_announces_kernel_compilation_on_a_cold_cache(tmp_path: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cold")}
    proc = subprocess.run(
        [sys.executable, "-m", "v2x_sim", "run", "quickstart", "--no-report", "-o",
         str(tmp_path / "out"), "--set", "simulation.horizon_s=10"],
        env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    notices = [line for line in proc.stderr.splitlines() if "compiling" in line]
    assert notices == ["quickstart: compiling the queue kernels (first run only: numba "
                       "caches them) ..."]


def test_extends_keeps_every_input_file_relative_to_its_own_yaml(tmp_path: Path) -> None:
    from v2x_sim.scenario import load_scenario

    parent = tmp_path / "city" / "base.yaml"
    parent.parent.mkdir()
    parent.write_text(textwrap.dedent("""\
        road:
          generator: file
          file: {network: network.csv}
          signals: {plan: file, file: signals.csv}
        demand: {trips_file: trips.csv}
        routing: {background: file, file: {routes: routes.csv, link_times: times.csv}}
    """), encoding="utf-8")
    child = tmp_path / "studies" / "mine.yaml"
    child.parent.mkdir()
    child.write_text("extends: ../city/base.yaml\n", encoding="utf-8")
    scenario = load_scenario(child)
    city = tmp_path / "studies" / ".." / "city"
    assert Path(scenario.road.file.network) == city / "network.csv"
    assert Path(scenario.road.signals.file) == city / "signals.csv"
    assert Path(scenario.demand.trips_file) == city / "trips.csv"
    assert Path(scenario.routing.file.routes) == city / "routes.csv"
    assert Path(scenario.routing.file.link_times) == city / "times.csv"


def test_extends_from_a_relative_path_resolves_the_parents_files_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``load_scenario("sub/child.yaml")`` from the folder above: the parent's file is
    ``sub/real/nodes.csv``, not ``sub/sub/real/nodes.csv`` (the child's folder was joined
    to an already-anchored relative path)."""
    from v2x_sim.scenario import load_scenario

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "base.yaml").write_text(
        "road: {generator: file, file: {nodes: real/nodes.csv, links: real/links.csv}}\n",
        encoding="utf-8")
    (tmp_path / "sub" / "child.yaml").write_text("extends: base.yaml\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    scenario = load_scenario(Path("sub") / "child.yaml")
    resolved = Path(scenario.resolve_path(scenario.road.file.nodes))
    assert resolved == tmp_path / "sub" / "real" / "nodes.csv"
