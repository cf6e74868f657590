"""Studies of many runs: common random numbers, honest intervals, resumable folders.

Every study here is tiny (a 3x3 grid or quickstart, 300 s, ~0.2 s per run); the
interval tests are pure statistics against theory (STYLE habit 12) with a fixed-seed
generator, so they cannot flake, and each shows a wrong quantile would be caught.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from v2x_sim._core.errors import V2XSimError
from v2x_sim.cli import main
from v2x_sim.experiment import compare, replicate, run_study
from v2x_sim.experiment import study as study_module
from v2x_sim.experiment.study import Arm, RunTask
from v2x_sim.metrics.summary import paired_difference_interval, student_t_interval
from v2x_sim.scenario import Scenario, scenario_from_dict
from v2x_sim.scenario.loader import apply_overrides
from v2x_sim.world import build_world

PLAN_COLUMNS = ("depart_s", "origin", "destination", "kind", "connected")
BASE_COLUMNS = ["metric", "arm", "n", "mean", "ci_low", "ci_high"]
SEED = 11


def tiny_data(rate_vph: float = 1500, seed: int = SEED) -> dict[str, Any]:
    """3x3 grid, 300 s, V2X on (one small edge node); link 4 fully closed, so the
    rerouting policies really change the traffic (and only the traffic).
    """
    return {
        "name": "tiny",
        "simulation": {"horizon_s": 300, "seed": seed},
        "road": {"generator": "grid", "grid": {"rows": 3, "cols": 3, "spacing_m": 300}},
        "demand": {"random": {"rate_vph": rate_vph}},
        "incidents": [{"link": 4, "start_s": 0, "end_s": 300, "lanes_closed": 2}],
        "control": {"period_s": 30},
        "edge": {"nodes": 1, "cores": 2},
    }


def tiny(**kwargs: Any) -> Scenario:
    return scenario_from_dict(tiny_data(**kwargs))


TINY_YAML = """\
name: tiny
simulation: {horizon_s: 300, seed: 11}
road:
  generator: grid
  grid: {rows: 3, cols: 3, spacing_m: 300}
demand:
  random: {rate_vph: 1500}
edge: {nodes: 1, cores: 2}
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a stray default ``results/<name>-compare`` folder lands in tmp_path, never the repo
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def task_log(monkeypatch: pytest.MonkeyPatch) -> list[RunTask]:
    """Every task run_study hands to the executor (jobs=1 runs them in this process)."""
    seen: list[RunTask] = []
    original = study_module.run_task

    def counting(task: RunTask) -> dict[str, float]:
        seen.append(task)
        return original(task)

    monkeypatch.setattr(study_module, "run_task", counting)
    return seen


def summary_of(out: Path, arm: str, seed: int) -> dict[str, Any]:
    return json.loads((out / "runs" / Arm(arm).slug / f"seed-{seed}" / "summary.json").read_text())


def assert_tables_equal(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> None:
    """Same columns in the same order, every value equal (NaN equals NaN)."""
    assert list(first) == list(second)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)


def rows_of(table: dict[str, np.ndarray], metric: str) -> dict[str, int]:
    """Row index per arm for one metric."""
    return {str(arm): i for i, (m, arm) in enumerate(zip(table["metric"], table["arm"],
                                                         strict=True)) if m == metric}


def one_error_line(code: int, out: str, err: str, *expected: str) -> str:
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("v2x-sim: error: "), lines[0]
    for text in expected:
        assert text in lines[0], f"{text!r} missing from: {lines[0]}"
    return lines[0]


# ---------------------------------------------------------------------------- 1. CRN
def test_every_policy_sees_the_same_demand_on_each_seed(tmp_path: Path,
                                                        task_log: list[RunTask]) -> None:
    """Common random numbers: on a given replication seed every arm gets the identical
    trip plan (departure times, origins, destinations, kinds, connectivity), although
    the arms route, and so move, differently; a different seed gives a different plan.
    """
    out = tmp_path / "crn"
    table = compare(tiny(), ["none", "dynamic_shortest"], replications=2, out_dir=out,
                    jobs=1)
    assert not any(c.startswith("diff_vs_at_departure") for c in table)
    assert len(task_log) == 4
    by_seed: dict[int, dict[str, Any]] = defaultdict(dict)
    for task in task_log:  # rebuild exactly what the worker built
        data = apply_overrides(task.scenario, list(task.arm.overrides))
        scenario = scenario_from_dict(data, base_dir=Path(task.base_dir))
        assert scenario.control.policy == task.arm.name
        by_seed[task.seed][task.arm.name] = build_world(scenario, task.seed).plan
    assert sorted(by_seed) == [SEED, SEED + 1]
    for seed, plans in by_seed.items():
        assert len(plans["none"]) > 50
        for name in PLAN_COLUMNS:
            np.testing.assert_array_equal(getattr(plans["none"], name),
                                          getattr(plans["dynamic_shortest"], name),
                                          err_msg=f"seed {seed}: {name}")
    assert not np.array_equal(by_seed[SEED]["none"].depart_s[:50],
                              by_seed[SEED + 1]["none"].depart_s[:50])

    moved_differently = False
    for seed in (SEED, SEED + 1):
        base, other = (summary_of(out, arm, seed) for arm in ("none", "dynamic_shortest"))
        assert base["trips_started"] == other["trips_started"] > 0
        moved_differently |= base["travel_time_mean_s"] != other["travel_time_mean_s"]
    assert moved_differently, "the arms do not differ at all: the test proves nothing"


# ---------------------------------------------------------------------------- 2. intervals
def coverage_band(truth: float, experiments: int) -> float:
    """Half-width of the 99 % binomial band around the theoretical coverage."""
    return float(stats.norm.ppf(0.995)) * math.sqrt(truth * (1 - truth) / experiments)


EXPERIMENTS = 2000


@pytest.mark.parametrize(("n", "confidence"), [(2, 0.95), (5, 0.95), (10, 0.95), (10, 0.90)])
def test_student_t_interval_covers_the_true_mean_at_its_confidence(n: int,
                                                                   confidence: float) -> None:
    """2,000 experiments of n normal samples: the t interval holds the true mean in a
    share of experiments whose 99 % binomial band contains the nominal confidence; the
    same samples with z instead of t (n <= 5), or n instead of n - 1 degrees of freedom
    (n = 2), cover less, as theory says, and fall outside that band (the test has teeth).
    """
    rng = np.random.default_rng(20_240_601 + n)
    mu, sigma = 3.0, 2.0
    samples = rng.normal(mu, sigma, size=(EXPERIMENTS, n))
    hits = 0
    for row in samples:
        mean, low, high = student_t_interval(row, confidence)
        assert low < mean < high
        hits += low <= mu <= high
    coverage = hits / EXPERIMENTS
    band = coverage_band(confidence, EXPERIMENTS)
    assert abs(coverage - confidence) <= band, (coverage, confidence, band)
    assert abs(coverage - confidence) <= 0.02

    # wrong quantiles on the same samples: z, and t with n (not n - 1) degrees of freedom;
    # each covers what theory says, and where that is far below the nominal confidence
    # (z for n <= 5, the off-by-one for n = 2) the band above would have failed it
    means = samples.mean(axis=1)
    half = samples.std(axis=1, ddof=1) / math.sqrt(n)
    upper = 0.5 + confidence / 2
    for quantile, caught in ((stats.norm.ppf(upper), n <= 5), (stats.t.ppf(upper, n), n == 2)):
        wrong = float(np.mean(np.abs(means - mu) <= quantile * half))
        expected = 2 * stats.t.cdf(quantile, n - 1) - 1  # its true coverage
        assert abs(wrong - expected) <= coverage_band(expected, EXPERIMENTS)
        if caught:
            assert confidence - wrong > band, (quantile, wrong)


def test_student_t_interval_edge_cases() -> None:
    """Empty: all NaN; one value: the mean with NaN bounds; constant values: zero width."""
    assert all(math.isnan(v) for v in student_t_interval([]))
    mean, low, high = student_t_interval([4.0])
    assert mean == 4.0
    assert math.isnan(low)
    assert math.isnan(high)
    assert student_t_interval([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)


def test_paired_difference_interval_covers_the_true_difference() -> None:
    """Correlated pairs (a shared replication effect, sd 10, plus own noise, sd 1): the
    paired interval holds the true difference in ~95 % of 2,000 experiments and is far
    narrower than the interval of the same values paired at random (which ignores the
    shared effect and is honest but useless).
    """
    rng = np.random.default_rng(7_000_001)
    n, delta = 8, 1.5
    shared = rng.normal(50.0, 10.0, size=(EXPERIMENTS, n))
    baseline = shared + rng.normal(0.0, 1.0, size=(EXPERIMENTS, n))
    values = shared + delta + rng.normal(0.0, 1.0, size=(EXPERIMENTS, n))
    hits, widths, unpaired_widths = 0, [], []
    for a, b in zip(values, baseline, strict=True):
        d, low, high = paired_difference_interval(a, b)
        assert d == pytest.approx(a.mean() - b.mean(), rel=1e-12)
        hits += low <= delta <= high
        widths.append(high - low)
        _, low_u, high_u = paired_difference_interval(a, rng.permutation(b))
        unpaired_widths.append(high_u - low_u)
    coverage = hits / EXPERIMENTS
    assert abs(coverage - 0.95) <= coverage_band(0.95, EXPERIMENTS), coverage
    assert np.median(unpaired_widths) > 5 * np.median(widths)


def test_paired_difference_drops_incomplete_pairs() -> None:
    """A replication missing in either arm (NaN) is left out of both, pair by pair."""
    got = paired_difference_interval([1.0, math.nan, 4.0, 6.0], [0.0, 5.0, math.inf, 3.0])
    assert got == student_t_interval([1.0, 3.0])


# ---------------------------------------------------------------------------- 3. resume
def test_interrupted_study_resumes_without_redoing_runs(tmp_path: Path,
                                                        task_log: list[RunTask]) -> None:
    """A study stopped after its first seed finishes on re-run with only the missing runs,
    and its table (and comparison.csv) equals that of the uninterrupted study; a run whose
    summary.json is gone or damaged is redone, and nothing else.
    """
    scenario, policies = tiny(), ["none", "dynamic_shortest"]
    seeds = [SEED, SEED + 1, SEED + 2]
    full_dir, resumed_dir = tmp_path / "full", tmp_path / "resumed"
    full = compare(scenario, policies, seeds=seeds, out_dir=full_dir, jobs=1)
    assert len(task_log) == 6

    task_log.clear()
    compare(scenario, policies, seeds=seeds[:1], out_dir=resumed_dir, jobs=1)  # "interrupted"
    assert [(t.arm.name, t.seed) for t in task_log] == [("none", SEED),
                                                        ("dynamic_shortest", SEED)]
    task_log.clear()
    resumed = compare(scenario, policies, seeds=seeds, out_dir=resumed_dir, jobs=1)
    assert sorted((t.seed, t.arm.name) for t in task_log) == sorted(
        (s, p) for s in seeds[1:] for p in policies)
    assert json.loads((resumed_dir / "comparison.json").read_text())["skipped_runs"] == 2
    manifest = json.loads((resumed_dir / "manifest.json").read_text())
    assert manifest["seeds"] == seeds
    assert manifest["arms"] == sorted(policies)

    assert_tables_equal(full, resumed)
    assert ((full_dir / "comparison.csv").read_text()
            == (resumed_dir / "comparison.csv").read_text())
    rows = rows_of(full, "travel_time_mean_s")
    assert {int(full["n"][i]) for i in rows.values()} == {3}

    # a lost and a half-written summary are redone; the rest is read back from disk
    (full_dir / "runs" / Arm("none").slug / f"seed-{SEED + 1}" / "summary.json").unlink()
    (full_dir / "runs" / Arm("dynamic_shortest").slug / f"seed-{SEED}"
     / "summary.json").write_text('{"tr')
    task_log.clear()
    study = run_study(scenario, [Arm(p, (f"control.policy={p}", "control.params={}"))
                                 for p in policies], seeds, out_dir=full_dir, jobs=1)
    assert study.skipped == 4
    assert sorted((t.arm.name, t.seed) for t in task_log) == [("dynamic_shortest", SEED),
                                                              ("none", SEED + 1)]
    task_log.clear()
    again = compare(scenario, policies, seeds=seeds, out_dir=full_dir, jobs=1)
    assert task_log == []
    assert_tables_equal(full, again)


def test_progress_counts_skipped_runs(tmp_path: Path) -> None:
    """progress(done, total, skipped) starts at the skipped count and ends at the total."""
    calls: list[tuple[int, int, int]] = []
    replicate(tiny(), 2, out_dir=tmp_path / "rep", jobs=1)
    replicate(tiny(), 3, out_dir=tmp_path / "rep", jobs=1,
              progress=lambda *args: calls.append(args))
    assert calls == [(2, 3, 2), (3, 3, 2)]


# ---------------------------------------------------------------------------- 4. manifest
def test_changed_scenario_into_same_folder_is_refused(tmp_path: Path) -> None:
    """Results of a different scenario (another demand rate) never join a folder's table:
    V2XSimError naming the folder, and the stored runs and manifest stay as they were.
    Another seed is the same scenario and is welcome.
    """
    out = tmp_path / "study"
    compare(tiny(), ["none"], replications=1, out_dir=out, jobs=1)
    summary = out / "runs" / Arm("none").slug / f"seed-{SEED}" / "summary.json"
    before = summary.read_text(), (out / "manifest.json").read_text()
    with pytest.raises(V2XSimError, match="different scenario") as info:
        compare(tiny(rate_vph=2000), ["none"], replications=1, out_dir=out, jobs=1)
    assert str(out) in str(info.value)
    assert "another output folder" in str(info.value)
    assert (summary.read_text(), (out / "manifest.json").read_text()) == before

    compare(tiny(seed=SEED + 1), ["none"], replications=1, out_dir=out, jobs=1)
    assert json.loads((out / "manifest.json").read_text())["seeds"] == [SEED, SEED + 1]


def test_changed_scenario_via_cli_is_one_line_exit_2(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI turns the refusal into exit code 2 and one line on stderr."""
    scen = tmp_path / "tiny.yaml"
    scen.write_text(TINY_YAML)
    out = tmp_path / "study"
    args = ["compare", str(scen), "--policies", "none", "-n", "1", "-j", "1", "-q",
            "-o", str(out)]
    assert main(args) == 0
    capsys.readouterr()
    code = main([*args, "--set", "demand.random.rate_vph=2000"])
    out_text, err = capsys.readouterr()
    one_error_line(code, out_text, err, "different scenario", str(out))


# ---------------------------------------------------------------------------- 5. dask
def test_dask_local_cluster_gives_the_process_pool_table(tmp_path: Path) -> None:
    """The same seeds on a local Dask cluster and on two worker processes: equal tables."""
    pytest.importorskip("distributed")
    scenario, policies = tiny(), ["none", "dynamic_shortest"]
    pool = compare(scenario, policies, replications=2, out_dir=tmp_path / "pool", jobs=2)
    on_dask = compare(scenario, policies, replications=2, out_dir=tmp_path / "dask",
                      dask="local")
    assert_tables_equal(pool, on_dask)
    for arm in policies:
        for seed in (SEED, SEED + 1):
            assert summary_of(tmp_path / "dask", arm, seed) == summary_of(tmp_path / "pool",
                                                                          arm, seed)


# ---------------------------------------------------------------------------- 6. CLI
def compare_args(out: Path, *extra: str) -> list[str]:
    return ["compare", "quickstart", "--policies", "none,dynamic_shortest", "-n", "2",
            "-j", "1", "-o", str(out), "--set", "simulation.horizon_s=300", *extra]


def test_cli_compare_writes_tables_and_resumes(tmp_path: Path, task_log: list[RunTask],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """compare writes comparison.csv/json with n, mean, interval and paired-difference
    columns for every (metric, arm); the same command again computes nothing new.
    """
    out = tmp_path / "cmp"
    assert main(compare_args(out)) == 0
    assert len(task_log) == 4
    printed = capsys.readouterr().out
    assert "travel_time_mean_s" in printed
    assert f"{out}/comparison.csv" in printed
    columns = [*BASE_COLUMNS, "diff_vs_none", "diff_vs_none_ci_low", "diff_vs_none_ci_high",
               "diff_vs_none_unclear"]
    csv_text = (out / "comparison.csv").read_text()
    assert csv_text.splitlines()[0] == ",".join(columns)
    report = json.loads((out / "comparison.json").read_text())
    assert report["seeds"] == [1, 2]
    assert report["replications"] == 2
    assert report["skipped_runs"] == 0
    assert report["baseline"] == ["none"]
    rows = report["rows"]
    assert all(list(row) == columns for row in rows)
    travel = [row for row in rows if row["metric"] == "travel_time_mean_s"]
    assert sorted(row["arm"] for row in travel) == ["dynamic_shortest", "none"]
    assert all(row["n"] == 2 for row in travel)
    for row in travel:
        values = [summary_of(out, row["arm"], s)["travel_time_mean_s"] for s in (1, 2)]
        assert row["mean"] == pytest.approx(np.mean(values), rel=1e-12)
        assert row["ci_low"] <= row["mean"] <= row["ci_high"]

    task_log.clear()
    assert main(compare_args(out)) == 0
    assert task_log == []
    assert json.loads((out / "comparison.json").read_text())["skipped_runs"] == 4
    assert (out / "comparison.csv").read_text() == csv_text


def test_cli_replicate_writes_replication_csv(tmp_path: Path) -> None:
    """replicate -n 2: one arm (the scenario's policy), n == 2, no difference columns."""
    out = tmp_path / "rep"
    assert main(["replicate", "quickstart", "-n", "2", "-j", "1", "-q", "-o", str(out),
                 "--set", "simulation.horizon_s=300"]) == 0
    lines = (out / "replication.csv").read_text().splitlines()
    assert lines[0] == ",".join(BASE_COLUMNS)
    travel = [line.split(",") for line in lines[1:] if line.startswith("travel_time_mean_s,")]
    assert len(travel) == 1
    assert travel[0][1:3] == ["none", "2"]
    seeds = sorted(p.name for p in (out / "runs" / Arm("none").slug).iterdir())
    assert seeds == ["seed-1", "seed-2"]


@pytest.mark.parametrize(("change", "expected"), [
    (["--baseline", "at_departure"], ["--baseline", "'at_departure'", "none, dynamic_shortest"]),
    (["-n", "0"], ["--replications", "0", "at least 1"]),
    (["--policies", "none,teleport"], ["--policies", "teleport"]),
    (["-j", "0"], ["--jobs", "0", "at least 1"]),
], ids=["baseline-not-compared", "zero-replications", "unknown-policy", "zero-jobs"])
def test_cli_compare_bad_input_is_one_line_exit_2(tmp_path: Path, change: list[str],
                                                  expected: list[str],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Bad flags fail before anything runs: exit 2, one line, no output folder."""
    out = tmp_path / "cmp"
    code = main([*compare_args(out), *change])
    out_text, err = capsys.readouterr()
    one_error_line(code, out_text, err, *expected)
    assert not out.exists()


# ---------------------------------------------------------------------------- 7. at_departure
def test_differences_against_at_departure_when_compared(tmp_path: Path,
                                                        task_log: list[RunTask]) -> None:
    """With at_departure among the policies, every arm is also paired with it (columns
    diff_vs_at_departure*), computed replication by replication from the stored runs;
    "unclear" means the interval contains zero. With at_departure as the baseline the
    columns are not doubled.
    """
    out = tmp_path / "three"
    policies = ["none", "at_departure", "dynamic_shortest"]
    table = compare(tiny(), policies, replications=2, out_dir=out, jobs=1)
    for base in ("none", "at_departure"):
        for suffix in ("", "_ci_low", "_ci_high", "_unclear"):
            assert f"diff_vs_{base}{suffix}" in table
    report = json.loads((out / "comparison.json").read_text())
    assert report["baseline"] == ["none", "at_departure"]

    seeds = (SEED, SEED + 1)
    for metric in ("travel_time_mean_s", "delay_mean_s", "rerouting.followed"):
        rows = rows_of(table, metric)
        assert sorted(rows) == sorted(policies)
        for base in ("none", "at_departure"):
            col = f"diff_vs_{base}"
            key = metric.split(".")
            stored = {arm: np.array([_dig(summary_of(out, arm, s), key) for s in seeds])
                      for arm in policies}
            for arm, i in rows.items():
                if arm == base:
                    assert (table[col][i], table[f"{col}_ci_low"][i],
                            table[f"{col}_ci_high"][i]) == (0.0, 0.0, 0.0)
                    assert not table[f"{col}_unclear"][i]
                    continue
                d, low, high = paired_difference_interval(stored[arm], stored[base])
                np.testing.assert_array_equal(
                    [table[col][i], table[f"{col}_ci_low"][i], table[f"{col}_ci_high"][i]],
                    [d, low, high], err_msg=f"{metric} {arm} vs {base}")
                assert bool(table[f"{col}_unclear"][i]) == (not (low > 0 or high < 0))
    travel = rows_of(table, "travel_time_mean_s")
    assert table["diff_vs_at_departure"][travel["none"]] != 0.0  # the arms really differ

    task_log.clear()
    only = compare(tiny(), policies, replications=2, baseline="at_departure", out_dir=out,
                   jobs=1)
    assert task_log == []
    assert [c for c in only if c.startswith("diff_vs_")] == [
        "diff_vs_at_departure", "diff_vs_at_departure_ci_low", "diff_vs_at_departure_ci_high",
        "diff_vs_at_departure_unclear"]
    for name in ("diff_vs_at_departure", "diff_vs_at_departure_ci_low"):
        np.testing.assert_array_equal(only[name], table[name], err_msg=name)


def _dig(summary: dict[str, Any], key: list[str]) -> float:
    value: Any = summary
    for part in key:
        value = value[part]
    return math.nan if value is None else float(value)
