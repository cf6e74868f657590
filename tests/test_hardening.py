"""Results folders that are all-or-nothing, and studies that fail cleanly (issue 11).

A run's folder is written beside the old one and swapped in whole: killed at any moment,
the folder holds exactly the old results or exactly the new. Output folders are checked
(writable, not the inputs' folder, not someone else's files) before the simulation
starts; studies check every arm, the folder and Dask before creating anything, and a
worker's error reaches the user as the same one line in every executor. Input hardening
(YAML, schema, warnings, numba, link speeds) is in ``test_hardening_inputs.py``.
"""

from __future__ import annotations

import importlib
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from v2x_sim._core import staged
from v2x_sim._core.errors import InputFileError, PolicyError, ScenarioError, V2XSimError
from v2x_sim._core.faults import KILL_AT_ENV
from v2x_sim.cli import main
from v2x_sim.experiment import executors
from v2x_sim.experiment.output import safe_folder_name
from v2x_sim.world import World

TINY = """\
name: tiny
simulation: {horizon_s: 120, seed: 1}
road: {generator: grid, grid: {rows: 3, cols: 3, spacing_m: 200}}
demand: {random: {rate_vph: 600}}
v2x: {enabled: false}
"""

POLICIES = '''\
class Boom:
    name, periodic, on_departure, on_hazard, uses_truth = "boom", True, False, False, False

    def decide(self, view):
        raise RuntimeError("no route for you")


class BadInit(Boom):
    def __init__(self):
        raise KeyError("threshold")
'''

# Runs the CLI in a fresh process; argv[1] == "0" turns the atomic exchange off, to
# exercise the portable fallback (two renames) the way a system without it would.
DRIVER = ("import sys; from v2x_sim._core import staged; staged.use_exchange = "
          "sys.argv[1] == '1'; from v2x_sim.cli import main; sys.exit(main(sys.argv[2:]))")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "boompol.py").write_text(POLICIES, encoding="utf-8")


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (hidden ones too) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    """Hidden siblings a writer of ``folder`` made (stages, set-aside folders)."""
    return sorted(p.name for p in folder.parent.iterdir()
                  if p.name.startswith(f".{folder.name}."))


def one_line(capsys: pytest.CaptureFixture[str], argv: list[str], *expected: str) -> str:
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


# ----------------------------------------------------------------------- all-or-nothing
def test_killed_run_leaves_the_old_results_or_the_new_never_a_mix(tmp_path, tiny):
    """The old folder (V2X on: latency.csv, edges.csv, ...; no report) is re-run
    with V2X off and another seed, in a subprocess killed (SIGKILL) while it writes data
    files, while it draws figures, right after the atomic exchange, between the fallback's
    two renames, and at a random moment. Each time the folder is exactly the old results
    or exactly the new, byte for byte; the fallback's gap is closed by `recover`.
    """
    pristine, reference = tmp_path / "pristine", tmp_path / "reference"
    assert main(["run", str(tiny), "-q", "--no-report", "-o", str(pristine), "--set",
                 "v2x.enabled=true"]) == 0
    new_args = ["run", str(tiny), "-q", "--seed", "2"]
    assert main([*new_args, "-o", str(reference)]) == 0
    old, new = snapshot(pristine), snapshot(reference)
    assert "latency.csv" in old
    assert "latency.csv" not in new  # a stale copy would survive a file-by-file rewrite
    assert old.keys() & new.keys()

    target = tmp_path / "out"

    def attempt(kill_at: str | None, *, exchange: bool = True,
                after_s: float | None = None) -> tuple[int, dict[str, bytes] | None]:
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(pristine, target)
        env = {k: v for k, v in os.environ.items() if k != KILL_AT_ENV}
        if kill_at is not None:
            env[KILL_AT_ENV] = kill_at
        proc = subprocess.Popen([sys.executable, "-c", DRIVER, "1" if exchange else "0",
                                 *new_args, "-o", str(target)], env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if after_s is not None:
            time.sleep(after_s)
            proc.kill()
        _, err = proc.communicate(timeout=300)
        assert b"Traceback" not in err, err.decode()
        return proc.returncode, (snapshot(target) if target.exists() else None)

    for stage, expected in (("write:links.csv", old), ("write:congestion_heatmap.png", old),
                            ("swap:exchanged", new)):
        started = time.perf_counter()
        code, got = attempt(stage)
        duration_s = time.perf_counter() - started  # the last: nearly a whole run
        assert code == -signal.SIGKILL, stage  # the step was reached, and died there
        assert got == expected, stage
        staged.recover(target)
        assert leftovers(target) == [], stage

    code, got = attempt("swap:set-aside", exchange=False)
    assert code == -signal.SIGKILL
    assert got is None  # the one gap of the fallback: old contents set aside beside it
    staged.recover(target)
    assert snapshot(target) == old
    assert leftovers(target) == []

    delay = float(np.random.default_rng(11).uniform(0.2, 1.0)) * duration_s
    code, got = attempt(None, after_s=delay)
    staged.recover(target)
    assert got in (old, new), f"killed after {delay:.2f} s (exit {code})"
    assert leftovers(target) == []


def _fail_midway(target: Path) -> None:
    with staged.staged_folder(target) as stage:
        (stage / "keep.csv").write_text("new\n")
        raise RuntimeError("a write failed midway")


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
def test_staged_folder_replaces_whole_or_not_at_all(tmp_path, monkeypatch, exchange):
    monkeypatch.setattr(staged, "use_exchange", exchange)
    target = tmp_path / "out"
    target.mkdir()
    (target / "stale.csv").write_text("old\n")
    (target / "keep.csv").write_text("old\n")
    with pytest.raises(RuntimeError, match="midway"):
        _fail_midway(target)
    assert snapshot(target) == {"stale.csv": b"old\n", "keep.csv": b"old\n"}
    assert leftovers(target) == []
    with staged.staged_folder(target) as stage:
        (stage / "keep.csv").write_text("new\n")
    assert snapshot(target) == {"keep.csv": b"new\n"}
    assert leftovers(target) == []


def test_recover_restores_a_set_aside_folder_and_drops_dead_stages(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: its pid names no live process
    pid = proc.pid
    target = tmp_path / "out"
    old = tmp_path / f".out.old-{pid}-abcd"
    old.mkdir()
    (old / "summary.json").write_text("{}")
    (tmp_path / f".out.new-{pid}-ef01").mkdir()
    mine = tmp_path / f".out.new-{os.getpid()}-2345"  # a live writer's stage stays
    mine.mkdir()
    staged.recover(target)
    assert snapshot(target) == {"summary.json": b"{}"}
    assert leftovers(target) == [mine.name]


def test_rerun_leaves_no_file_of_an_older_run(capsys, tmp_path, tiny):
    """A V2X run with rerouting wrote advice.csv, latency.csv, ...; a plain re-run into
    the same folder holds exactly what the same plain run writes into a new folder.
    """
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    assert main(["run", str(tiny), "-q", "--no-report", "-o", str(out), "--set",
                 "v2x.enabled=true", "--policy", "dynamic_shortest"]) == 0
    assert (out / "advice.csv").exists()
    assert main(["run", str(tiny), "-q", "--no-report", "-o", str(out)]) == 0
    assert main(["run", str(tiny), "-q", "--no-report", "-o", str(fresh)]) == 0
    assert snapshot(out) == snapshot(fresh)


def test_write_interrupted_midway_keeps_previous_results(capsys, tmp_path, tiny, monkeypatch):
    """The disk fills up after trips.csv: one line naming the folder, the old results
    untouched, no temporary folder left behind.
    """
    out = tmp_path / "out"
    assert main(["run", str(tiny), "-q", "--no-report", "-o", str(out)]) == 0
    before = snapshot(out)

    files_module = importlib.import_module("v2x_sim.experiment.files")
    real_write = files_module.write_table

    def disk_full(folder, stem, *args, **kwargs):  # type: ignore[no-untyped-def]
        if stem == "events":  # events.csv, the 3rd file
            raise OSError(28, "No space left on device")
        return real_write(folder, stem, *args, **kwargs)

    monkeypatch.setattr(files_module, "write_table", disk_full)
    one_line(capsys, ["run", str(tiny), "-q", "--no-report", "-o", str(out), "--seed", "5"],
             str(out), "cannot write the results", "No space left on device")
    assert snapshot(out) == before
    assert leftovers(out) == []


# ------------------------------------------------------------------------ output folder
@pytest.mark.parametrize(("name", "folder"), [
    ("../../x", "x"), ("/etc/evil", "etc_evil"), ("..", "scenario"), ("a b/../c", "a_b_.._c"),
])
def test_default_output_folder_is_a_sanitised_name_inside_results(capsys, tmp_path, tiny,
                                                                  name, folder):
    assert safe_folder_name(name) == folder
    tiny.write_text(TINY.replace("name: tiny", f"name: {name!r}"))
    before = set(os.listdir(tmp_path))
    assert main(["run", str(tiny), "-q", "--no-report"]) == 0
    assert set(os.listdir(tmp_path)) - before == {"results"}
    assert os.listdir(tmp_path / "results") == [folder]
    assert (tmp_path / "results" / folder / "summary.json").is_file()


def test_output_folder_holding_the_scenarios_inputs_is_refused(capsys, tmp_path,
                                                               monkeypatch):
    """``-o .`` beside links.csv and trips.csv once overwrote them with results."""
    net = tmp_path / "net"
    net.mkdir()
    (net / "nodes.csv").write_text("id,x_m,y_m\n0,0,0\n1,1000,0\n")
    (net / "links.csv").write_text("id,from,to,length_m,lanes,free_speed_mps,"
                                   "capacity_vph_per_lane\n0,0,1,1000,1,20,1800\n")
    (net / "trips.csv").write_text("depart_s,origin,destination,class\n0,0,1,car\n")
    (net / "s.yaml").write_text("name: s\nsimulation: {horizon_s: 60}\nroad: {generator: file, "
                                "file: {nodes: nodes.csv, links: links.csv}, signals: "
                                "{enabled: false}}\ndemand: {trips_file: trips.csv}\n"
                                "v2x: {enabled: false}\n")
    before = snapshot(net)
    one_line(capsys, ["run", "net/s.yaml", "-q", "-o", "net"], "--output = 'net'",
             "holds the scenario's input file")
    monkeypatch.chdir(net)
    one_line(capsys, ["run", "s.yaml", "-q", "-o", "."], "is the working directory")
    assert snapshot(net) == before
    # a results folder re-run from its own scenario.yaml replaces itself (as documented)
    assert main(["run", "s.yaml", "-q", "--no-report", "-o", str(tmp_path / "res")]) == 0
    assert main(["run", str(tmp_path / "res" / "scenario.yaml"), "-q", "--no-report",
                 "-o", str(tmp_path / "res")]) == 0


def test_folder_of_other_files_or_another_kind_is_refused(capsys, tmp_path, tiny):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("mine\n")
    one_line(capsys, ["run", str(tiny), "-q", "-o", str(docs)], "holds no v2x-sim results")
    assert snapshot(docs) == {"notes.txt": b"mine\n"}
    run_dir, study_dir = tmp_path / "run", tmp_path / "study"
    assert main(["run", str(tiny), "-q", "--no-report", "-o", str(run_dir)]) == 0
    assert main(["replicate", str(tiny), "-n", "1", "-j", "1", "-q", "--no-report",
                 "-o", str(study_dir)]) == 0
    capsys.readouterr()
    one_line(capsys, ["run", str(tiny), "-q", "-o", str(study_dir)], "holds a study")
    one_line(capsys, ["replicate", str(tiny), "-n", "1", "-q", "-o", str(run_dir)],
             "holds a run's results; a study would replace it")


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs a folder nobody may write")
def test_unwritable_output_is_found_before_the_simulation(capsys, tiny, monkeypatch):
    def must_not_run(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the simulation ran before the output folder was checked")

    monkeypatch.setattr(World, "run", must_not_run)
    one_line(capsys, ["run", str(tiny), "-q", "-o", "/sys/v2x-sim-out"], "--output",
             "cannot write in /sys")


# ------------------------------------------------------------------------------ studies
def test_study_checks_everything_before_creating_anything(capsys, tmp_path, tiny,
                                                          monkeypatch):
    """A bad sweep point (found only when its world is built), an unreachable Dask
    scheduler and an unwritable folder each fail in one line with no folder created;
    the corrected command then runs in that very folder (it used to be refused as
    "a different scenario" because the failed attempt had written its manifest).
    """
    out = tmp_path / "study"
    tiny.write_text(TINY + "incidents: [{link: 0, start_s: 10, end_s: 50}]\n"
                    "sweep: {parameters: {incidents.0.link: [0, 999]}, replications: 1}\n")
    one_line(capsys, ["sweep", str(tiny), "-j", "2", "-q", "-o", str(out)],
             "incidents.0.link=999: incidents[0].link = 999", "no link with this id")
    assert not out.exists()
    monkeypatch.setattr(executors, "_DASK_TIMEOUT_S", 1)
    one_line(capsys, ["replicate", str(tiny), "-n", "1", "-q", "-o", str(out), "--dask",
                      "tcp://127.0.0.1:1"], "--dask tcp://127.0.0.1:1", "cannot reach")
    assert not out.exists()
    if Path("/sys").is_dir():
        one_line(capsys, ["replicate", str(tiny), "-n", "1", "-q", "-o", "/sys/v2x-study"],
                 "cannot write in /sys")
    assert main(["sweep", str(tiny), "-j", "1", "-q", "--no-report", "-o", str(out), "--set",
                 "sweep.parameters={incidents.0.link: [0, 1]}"]) == 0
    assert (out / "sweep.csv").is_file()


def test_failed_study_does_not_block_its_fix(capsys, tmp_path):
    """Every run of the first attempt fails (the policy raises): the manifest beside no
    finished run holds nothing to mix up, so a changed scenario may use the folder.
    """
    out = tmp_path / "study"
    one_line(capsys, ["compare", "quickstart", "--policies", "boompol:Boom", "--baseline",
                      "boompol:Boom", "-n", "1", "-j", "1", "-q", "-o", str(out),
                      "--set", "simulation.horizon_s=130"], "boompol:Boom")
    assert (out / "manifest.json").is_file()
    assert main(["compare", "quickstart", "--policies", "none", "-n", "1", "-j", "1", "-q",
                 "--no-report", "-o", str(out), "--set", "simulation.horizon_s=60"]) == 0
    assert (out / "comparison.csv").is_file()


@pytest.mark.parametrize("executor", [["-j", "1"], ["-j", "2"], ["--dask", "local"]],
                         ids=["inline", "processes", "dask"])
def test_worker_error_is_the_same_one_line_in_every_executor(capfd, tmp_path, executor):
    """A policy raising inside a worker came back as a 36-line BrokenProcessPool
    traceback: now the error pickles intact and the user reads the -j 1 line.
    """
    if executor[0] == "--dask":
        pytest.importorskip("distributed")
    code = main(["compare", "quickstart", "--policies", "none,boompol:Boom", "-n", "2", "-q",
                 "-o", str(tmp_path / "study"), "--set", "simulation.horizon_s=130",
                 *executor])
    _, err = capfd.readouterr()
    assert code == 2
    assert err.splitlines() == [
        "v2x-sim: error: control.policy = 'boompol:Boom': the policy raised RuntimeError: "
        "no route for you in decide() (run with --debug for the traceback)"]


def test_errors_cross_process_boundaries_intact():
    """Pickled (to and from workers) and re-made from args (as simpy does for a failed
    process): same type, same message, same attributes.
    """
    huge = list(range(10**5))
    errors = [ScenarioError("incidents[0].link", 999, "no link"),
              ScenarioError("description", huge, "expected text"),
              InputFileError("links.csv", "bad number", line=3, column="lanes"),
              PolicyError("pkg:Cls", "decide", "KeyError: 'x'"), V2XSimError("plain")]
    for error in errors:
        for again in (pickle.loads(pickle.dumps(error)), type(error)(*error.args)):
            assert type(again) is type(error)
            assert str(again) == str(error)
    sent = pickle.loads(pickle.dumps(errors[1]))
    assert len(pickle.dumps(errors[1])) < 1000  # the value travels as its short text
    assert sent.path == "description"


# ------------------------------------------------------------------------ user policies
def test_policy_exception_is_one_line_and_debug_shows_the_traceback(capsys):
    argv = ["run", "quickstart", "-q", "--no-report", "-o", "out", "--set",
            "simulation.horizon_s=130", "--policy", "boompol:Boom"]
    one_line(capsys, argv, "control.policy = 'boompol:Boom'", "RuntimeError: no route for you",
             "in decide()")
    assert not Path("out").exists()
    assert main(["--debug", *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert 'raise RuntimeError("no route for you")' in err  # the user's own line
    assert err.splitlines()[-1].startswith("v2x-sim: error: control.policy")
    one_line(capsys, ["validate", "quickstart", "--set", "control.policy=boompol:BadInit"],
             "control.policy = 'boompol:BadInit'", "KeyError: 'threshold' in __init__()")
