"""``compare --scenarios``: whole scenarios on common seeds, paired against the first.

Tiny scenarios (a 3x3 grid, 300 s) written as YAML files, as a user would; the paired
interval is recomputed by hand from the runs' summaries on disk (Student t with n - 1
degrees of freedom from scipy, not the function under test).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from v2x_sim import compare_scenarios
from v2x_sim._core.errors import ScenarioError, V2XSimError
from v2x_sim.cli import main
from v2x_sim.experiment import study as study_module
from v2x_sim.experiment.study import Arm, RunTask
from v2x_sim.scenario import scenario_from_dict

BASE = """\
name: {name}
simulation: {{horizon_s: 300, seed: {seed}}}
road:
  generator: grid
  grid: {{rows: 3, cols: 3, spacing_m: 300}}
demand:
  random: {{rate_vph: {rate}}}
edge: {{nodes: 1, cores: {cores}}}
"""


def write(folder: Path, stem: str, *, name: str | None = None, seed: int = 11,
          rate: float = 1500, cores: int = 2, extra: str = "") -> Path:
    path = folder / f"{stem}.yaml"
    path.write_text(BASE.format(name=name or stem, seed=seed, rate=rate, cores=cores)
                    + extra, encoding="utf-8")
    return path


def summary_of(out: Path, arm: str, seed: int) -> dict[str, Any]:
    return json.loads((out / "runs" / Arm(arm).slug / f"seed-{seed}" / "summary.json")
                      .read_text())


def row(table: dict[str, Any], metric: str, arm: str) -> int:
    hits = [i for i in range(table["metric"].size)
            if table["metric"][i] == metric and table["arm"][i] == arm]
    assert len(hits) == 1
    return hits[0]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def task_log(monkeypatch: pytest.MonkeyPatch) -> list[RunTask]:
    """Every task the study runs (jobs=1 runs them in this process)."""
    seen: list[RunTask] = []
    original = study_module.run_task

    def counting(task: RunTask) -> dict[str, float]:
        seen.append(task)
        return original(task)

    monkeypatch.setattr(study_module, "run_task", counting)
    return seen


def test_cli_compare_scenarios_on_common_seeds_with_paired_intervals(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Three scenarios, two seeds: every arm runs seeds 11 and 12 (the first file's seed;
    the second file's seed 99 is not used); paired differences against the first.

    ``more_cores`` changes only the edge's cores: with no rerouting the traffic, and so
    every trip metric, is identical seed by seed (the demand stream does not depend on
    the hardware), so its paired difference is exactly 0. ``busier`` doubles the demand:
    its difference in trips started is the mean of the per-seed differences, with the
    half-width t(0.975, 1) x sd / sqrt(2) = 12.706 x sd / 1.414.
    """
    a = write(tmp_path, "base")
    b = write(tmp_path, "more_cores", seed=99, cores=4)
    c = write(tmp_path, "busier", rate=3000)
    out = tmp_path / "cmp"
    code = main(["compare", "--scenarios", f"{a},{b},{c}", "-n", "2", "-j", "1", "-o",
                 str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "diff_vs_base" in printed
    for arm in ("base", "more_cores", "busier"):
        seeds = sorted(p.name for p in (out / "runs" / Arm(arm).slug).iterdir())
        assert seeds == ["seed-11", "seed-12"]
        assert [summary_of(out, arm, s)["simulation"]["seed"] for s in (11, 12)] == [11, 12]
    meta = json.loads((out / "comparison.json").read_text())
    assert meta["scenarios"] == ["base", "more_cores", "busier"]
    assert meta["baseline"] == ["base"]
    assert meta["seeds"] == [11, 12]
    assert meta["scenario_files"] == [str(a), str(b), str(c)]
    rows = {(r["metric"], r["arm"]): r for r in meta["rows"]}

    same = rows[("travel_time_mean_s", "more_cores")]
    for s in (11, 12):
        assert (summary_of(out, "more_cores", s)["travel_time_mean_s"]
                == summary_of(out, "base", s)["travel_time_mean_s"])
    assert same["diff_vs_base"] == 0.0
    assert same["diff_vs_base_ci_low"] == same["diff_vs_base_ci_high"] == 0.0

    busy = rows[("trips_started", "busier")]
    d = np.array([summary_of(out, "busier", s)["trips_started"]
                  - summary_of(out, "base", s)["trips_started"] for s in (11, 12)], float)
    half = stats.t.ppf(0.975, 1) * d.std(ddof=1) / math.sqrt(2)
    assert busy["diff_vs_base"] == pytest.approx(d.mean(), rel=1e-12)
    assert busy["diff_vs_base_ci_low"] == pytest.approx(d.mean() - half, rel=1e-9)
    assert busy["diff_vs_base_ci_high"] == pytest.approx(d.mean() + half, rel=1e-9)
    # twice the rate: ~150 vs ~75 departures in 300 s, far more than seed noise
    assert d.min() > 30
    assert (out / "report.html").is_file()
    assert (out / "figures" / "comparison_traffic.png").is_file()
    assert "scenarios" in (out / "report.html").read_text()


def test_compare_scenarios_resumes_adds_arms_and_refuses_a_changed_one(
        tmp_path: Path, task_log: list[RunTask]) -> None:
    """The same study again runs nothing; a third scenario adds only its runs; a changed
    file of an arm already in the folder is refused, naming the arm."""
    a, b = write(tmp_path, "base"), write(tmp_path, "busier", rate=3000)
    out = tmp_path / "cmp"
    compare_scenarios([a, b], replications=2, out_dir=out, jobs=1)
    assert len(task_log) == 4
    task_log.clear()
    compare_scenarios([a, b], replications=2, out_dir=out, jobs=1)
    assert task_log == []
    c = write(tmp_path, "quieter", rate=750)
    compare_scenarios([a, b, c], replications=2, out_dir=out, jobs=1)
    assert sorted((t.arm.name, t.seed) for t in task_log) == [("quieter", 11),
                                                             ("quieter", 12)]
    write(tmp_path, "busier", rate=2500)
    with pytest.raises(V2XSimError, match="another version of scenario 'busier'"):
        compare_scenarios([a, b], replications=2, out_dir=out, jobs=1)


@pytest.mark.parametrize(("files", "extra", "expected"), [
    (["base", "bad"], "", ["bad.yaml: demand.random.rate_vph", "-1"]),
    (["base", "nolink"], "", ["nolink.yaml: incidents[0].link", "999"]),
    (["base"], "", ["--scenarios", "at least two"]),
    (["base", "base"], "", ["--scenarios", "twice"]),
    (["base", "busier"], "--policies none", ["--policies", "cannot go with --scenarios"]),
    (["base", "busier"], "--baseline nobody", ["--baseline", "nobody", "base, busier"]),
], ids=["bad-field", "bad-link", "one", "twice", "with-policies", "baseline"])
def test_compare_scenarios_bad_input_is_one_line_naming_the_file(
        tmp_path: Path, files: list[str], extra: str, expected: list[str],
        capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "base")
    write(tmp_path, "busier", rate=3000)
    write(tmp_path, "bad", rate=-1)
    write(tmp_path, "nolink", extra="incidents: [{link: 999, start_s: 0, end_s: 60}]\n")
    out = tmp_path / "cmp"
    listed = ",".join(str(tmp_path / f"{f}.yaml") for f in files)
    code = main(["compare", "--scenarios", listed, "-n", "1", "-j", "1", "-o", str(out),
                 *extra.split()])
    text, err = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in text + err
    assert len(err.splitlines()) == 1
    for part in expected:
        assert part in err
    assert not out.exists()


def test_python_compare_scenarios_names_arms_and_pairs_with_a_chosen_baseline(
        tmp_path: Path) -> None:
    """Scenario objects are arms by name; two of one name (no file to tell them apart)
    are refused; the baseline may be any arm."""
    def scenario(name: str, rate: float) -> Any:
        return scenario_from_dict({"name": name, "simulation": {"horizon_s": 120, "seed": 4},
                                   "road": {"generator": "grid", "grid": {"rows": 3,
                                                                          "cols": 3}},
                                   "demand": {"random": {"rate_vph": rate}},
                                   "v2x": {"enabled": False}})
    low, high = scenario("low", 900), scenario("high", 1800)
    table = compare_scenarios([low, high], replications=1, baseline="high", jobs=1)
    assert "diff_vs_high" in table
    i = row(table, "trips_started", "high")
    assert table["diff_vs_high"][i] == 0.0
    with pytest.raises(ScenarioError, match="more than one is named 'low'"):
        compare_scenarios([low, scenario("low", 1800)], replications=1, jobs=1)


def test_cli_compare_without_faults_pairs_the_scenario_with_its_fault_free_twin(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``compare SCENARIO --without-faults``: arms ``<name>-no-faults`` (the baseline) and
    ``<name>`` on the same seeds. Faults draw from their own streams, so both arms see the
    same demand seed by seed (trips started equal); the fault arm alone loses status
    reports to the outage (Uu at loss 0.9 over the whole run, no rerouting to move
    anyone: the traffic, and so the travel time, is identical too)."""
    path = write(tmp_path, "faulty", extra=(
        "faults:\n  - {kind: cellular_degradation, start_s: 0, end_s: 300, loss: 0.9,"
        " latency_factor: 2}\n"))
    out = tmp_path / "cmp"
    code = main(["compare", str(path), "--without-faults", "-n", "2", "-j", "1", "-o",
                 str(out), "--no-report"])
    assert code == 0
    assert "diff_vs_faulty-no-faults" in capsys.readouterr().out
    meta = json.loads((out / "comparison.json").read_text())
    assert meta["scenarios"] == ["faulty-no-faults", "faulty"]
    assert meta["baseline"] == ["faulty-no-faults"]
    for seed in (11, 12):
        twin, hit = summary_of(out, "faulty-no-faults", seed), summary_of(out, "faulty", seed)
        assert twin["trips_started"] == hit["trips_started"] > 0
        assert twin["travel_time_mean_s"] == hit["travel_time_mean_s"]
        lost = hit["latency"]["status"]["lost_by_reason"].get("outage", 0)
        assert lost > 0.5 * hit["latency"]["status"]["sent"]
        assert twin["latency"]["status"]["lost_by_reason"].get("outage", 0) == 0
    rows = {(r["metric"], r["arm"]): r for r in meta["rows"]}
    same = rows[("trips_started", "faulty")]
    assert same["diff_vs_faulty-no-faults"] == 0.0


@pytest.mark.parametrize(("extra", "flags", "words"), [
    ("", [], ["faults", "no fault windows"]),
    ("faults:\n  - {kind: wan_cut, start_s: 0, end_s: 10}\n", ["--policies", "none"],
     ["--policies", "cannot go with --without-faults"]),
])
def test_compare_without_faults_bad_input_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, flags: list[str],
        words: list[str]) -> None:
    path = write(tmp_path, "plain", extra=extra)
    code = main(["compare", str(path), "--without-faults", *flags, "-n", "1", "-j", "1",
                 "-o", str(tmp_path / "cmp")])
    err = capsys.readouterr().err
    assert code == 2
    assert all(w in err for w in words), err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "cmp").exists()
