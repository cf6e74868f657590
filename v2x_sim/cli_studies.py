"""Command line, the study commands: ``compare``, ``replicate`` and ``sweep``.

Each runs many seeds (and arms) through `v2x_sim.experiment`, with a progress bar over
the runs, a study folder that is resumable and swapped in whole, and a table printed at
the end. `v2x_sim.cli` holds the parser's dispatch and the single-run commands.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from v2x_sim._core.errors import ScenarioError
from v2x_sim.cli_progress import (
    RunProgress,
    RunsBar,
    compile_notice,
    habitual_routes_first,
    progress_mode,
)

EXIT_OK = 0


def _check_study_numbers(args: argparse.Namespace) -> None:
    if args.replications is not None and args.replications < 1:
        raise ScenarioError("--replications", args.replications, "expected at least 1")
    if args.jobs is not None and args.jobs < 1:
        raise ScenarioError("--jobs", args.jobs, "expected at least 1")


def _study_setup(args: argparse.Namespace, kind: str) -> tuple[Any, Path, RunsBar, dict[str, Any]]:
    """The scenario, output folder, progress bar and keyword arguments of a study."""
    from v2x_sim.experiment.output import default_study_folder
    from v2x_sim.scenario.loader import load_scenario
    from v2x_sim.scenario.presets import resolve_scenario_path

    _check_study_numbers(args)
    source = resolve_scenario_path(args.scenario)
    scenario = load_scenario(source, args.overrides)
    out = args.output or default_study_folder(scenario, kind)
    habitual_routes_first(scenario, quiet=args.quiet)
    bar = RunsBar(sys.stderr, mode=progress_mode(sys.stderr, quiet=args.quiet))
    options = {"out_dir": out, "jobs": args.jobs, "dask": args.dask, "progress": bar,
               "finish": _report_builder(args, bar), "source": source}
    return scenario, out, bar, options


def _report_builder(args: argparse.Namespace, progress: Any = None) -> Any:
    """What builds figures and report.html in a new results folder (None: --no-report).

    With a progress display, building the report is shown (a run's last phase).
    """
    if getattr(args, "no_report", False):
        return None
    from v2x_sim.report import build_report

    if progress is None:
        return build_report

    def build(folder: Path) -> object:
        if isinstance(progress, RunProgress):
            progress.begin("report")
        else:
            progress.note("building figures and report.html ...")
        return build_report(folder)

    return build


def _finish_study(out: Path, args: argparse.Namespace, stem: str) -> int:
    """Say what a resumed study skipped, build its report, name its tables."""
    import json

    if not args.quiet:
        try:
            meta = json.loads((out / f"{stem}.json").read_text(encoding="utf-8"))
            skipped = int(meta["skipped_runs"])
        except (OSError, ValueError, KeyError):
            skipped = 0
        if skipped:
            print(f"{skipped} runs were already complete in {out}/runs and were not redone")
        if not args.no_report:
            print(f"report: {out / 'report.html'}")
        print(f"{stem} in {out}/{stem}.csv and {stem}.json")
    return EXIT_OK


def _print_table(table: dict[str, Any], columns: list[str]) -> None:
    wanted = ("travel_time_mean_s", "delay_mean_s", "vehicle_hours", "rerouting.followed",
              "latency.bsm.p99_s", "latency.hazard_warning.p99_s")
    print(f"{'metric':<30} {'arm':<20} {'n':>3} {'mean':>12} {'95% interval':>25}"
          + "".join(f" {c:>26}" for c in columns))
    for i, metric in enumerate(table["metric"]):
        if metric not in wanted:
            continue
        interval = f"[{table['ci_low'][i]:,.3g}, {table['ci_high'][i]:,.3g}]"
        extra = ""
        for c in columns:
            mark = " (unclear)" if table[f"{c}_unclear"][i] else ""
            extra += f" {table[c][i]:>+16,.3g}{mark:>10}"
        print(f"{metric:<30} {table['arm'][i]:<20} {table['n'][i]:>3} "
              f"{table['mean'][i]:>12,.4g} {interval:>25}{extra}")


def _compile_notices(bar: RunsBar) -> Any:
    """Say when this process compiles the kernels (runs here with -j 1, not in workers)."""
    from v2x_sim._core.jit import compile_notices

    return compile_notices(compile_notice(bar.note))


def _compare_mode(args: argparse.Namespace) -> str:
    """``policies`` or ``scenarios``: which comparison the flags ask for (else an error)."""
    if args.scenarios is not None and args.policies is not None:
        raise ScenarioError("--policies", args.policies, "cannot go with --scenarios: "
                            "compare policies on one scenario (SCENARIO --policies) or "
                            "scenarios with their own control.policy (--scenarios); for one "
                            "policy in every scenario add --set control.policy=NAME")
    if getattr(args, "without_faults", False):
        if args.scenarios is not None or args.policies is not None:
            flag = "--scenarios" if args.scenarios is not None else "--policies"
            raise ScenarioError(flag, args.scenarios or args.policies, "cannot go with "
                                "--without-faults: it compares SCENARIO with its faults "
                                "against the same scenario without them")
        if args.scenario is None:
            raise ScenarioError("SCENARIO", "(missing)", "--without-faults needs the "
                                "scenario whose faults: section to compare against none")
        return "faults"
    if args.scenarios is not None:
        if args.scenario is not None:
            raise ScenarioError("SCENARIO", args.scenario, "cannot go with --scenarios: "
                                "list every scenario in --scenarios (the first is the "
                                "baseline)")
        return "scenarios"
    if args.scenario is None:
        raise ScenarioError("SCENARIO", "(missing)", "expected SCENARIO --policies LIST "
                            "(policies on one scenario) or --scenarios LIST (scenarios)")
    if args.policies is None:
        raise ScenarioError("--policies", "(missing)", "expected SCENARIO --policies LIST "
                            "(policies on one scenario) or --scenarios LIST (scenarios)")
    return "policies"


def _comma_list(flag: str, text: str) -> list[str]:
    """Items of a comma-separated flag, each once."""
    items = [p.strip() for p in text.split(",") if p.strip()]
    if not items:
        raise ScenarioError(flag, text, "expected a comma-separated list")
    twice = sorted({p for p in items if items.count(p) > 1})
    if twice:
        raise ScenarioError(flag, text, f"lists {', '.join(twice)} twice")
    return items


def _cmd_compare(args: argparse.Namespace) -> int:
    from v2x_sim.control.registry import resolve_policy_class
    from v2x_sim.experiment.compare import compare

    mode = _compare_mode(args)
    if mode == "scenarios":
        return _compare_scenarios(args)
    if mode == "faults":
        return _compare_without_faults(args)
    policies = _comma_list("--policies", args.policies)
    baseline = "none" if args.baseline is None else args.baseline
    if baseline not in policies:
        raise ScenarioError("--baseline", baseline,
                            f"must be one of the compared policies ({', '.join(policies)})")
    for policy in policies:
        resolve_policy_class(policy, field_path="--policies")
    scenario, out, bar, options = _study_setup(args, "compare")
    try:
        with _compile_notices(bar):
            table = compare(scenario, policies, replications=args.replications,
                            baseline=baseline, **options)
    finally:
        bar.close()
    _print_comparison(args, table, baseline, "policies")
    return _finish_study(out, args, "comparison")


def _compare_scenarios(args: argparse.Namespace) -> int:
    """``compare --scenarios a,b,...``: whole scenarios on common seeds."""
    from v2x_sim.experiment.scenarios import scenario_arms

    _check_study_numbers(args)
    files = _comma_list("--scenarios", args.scenarios)
    if len(files) < 2:
        raise ScenarioError("--scenarios", args.scenarios, "expected at least two scenarios")
    arms = scenario_arms(files, args.overrides)
    items: list[Any] = [arm.source or arm.scenario for arm in arms]
    return _run_scenario_comparison(args, items, [arm.name for arm in arms],
                                    [arm.scenario for arm in arms], args.overrides)


def _compare_without_faults(args: argparse.Namespace) -> int:
    """``compare SCENARIO --without-faults``: the scenario against its fault-free twin.

    The twin is the same scenario with ``faults: []`` (named ``<name>-no-faults``, the
    baseline): on common seeds every other stream, the demand above all, is the same
    (faults draw from their own streams), so the paired differences are what the fault
    windows cost: vehicle-hours, delay, warnings in time, latency.
    """
    from v2x_sim.scenario.loader import load_scenario
    from v2x_sim.scenario.presets import resolve_scenario_path

    _check_study_numbers(args)
    scenario = load_scenario(resolve_scenario_path(args.scenario), args.overrides)
    if not scenario.faults:
        raise ScenarioError("faults", "[]", f"{args.scenario} has no fault windows: "
                            "nothing to compare --without-faults against")
    twin = scenario.model_copy(update={"faults": [], "name": f"{scenario.name}-no-faults"})
    return _run_scenario_comparison(args, [twin, scenario], [twin.name, scenario.name],
                                    [twin, scenario], [])


def _run_scenario_comparison(args: argparse.Namespace, items: list[Any], names: list[str],
                             scenarios: list[Any], overrides: list[str]) -> int:
    """Run a comparison of whole scenarios (the first is the default baseline), print it."""
    from v2x_sim.experiment.output import default_study_folder
    from v2x_sim.experiment.scenarios import compare_scenarios

    baseline = names[0] if args.baseline is None else args.baseline
    if baseline not in names:
        raise ScenarioError("--baseline", baseline,
                            f"must be one of the compared scenarios ({', '.join(names)})")
    first = scenarios[0]
    assert first is not None  # scenario_arms loads every one
    out = args.output or default_study_folder(first.model_copy(
        update={"name": "-vs-".join(names)[:120]}), "compare")
    for scenario in scenarios:
        habitual_routes_first(scenario, quiet=args.quiet)
    bar = RunsBar(sys.stderr, mode=progress_mode(sys.stderr, quiet=args.quiet))
    try:
        with _compile_notices(bar):
            table = compare_scenarios(
                items, replications=args.replications, baseline=baseline,
                overrides=overrides, out_dir=out, jobs=args.jobs, dask=args.dask,
                progress=bar, finish=_report_builder(args, bar))
    finally:
        bar.close()
    _print_comparison(args, table, baseline, "scenarios")
    return _finish_study(out, args, "comparison")


def _print_comparison(args: argparse.Namespace, table: dict[str, Any], baseline: str,
                      what: str) -> None:
    """The headline rows and a warning about differences the replications cannot tell."""
    if args.quiet:
        return
    columns = [c for c in table if c.startswith("diff_vs_") and c.count("_ci_") == 0
               and not c.endswith("_unclear")]
    _print_table(table, columns)
    unclear = sum(bool(table[f"{c}_unclear"][i]) for c in columns
                  for i in range(len(table["metric"])) if table["arm"][i] != baseline)
    if unclear:
        print(f"warning: {unclear} paired differences have intervals wider than the "
              f"difference (they include zero) with n = {args.replications}: add "
              f"replications to tell those {what} apart")


def _cmd_replicate(args: argparse.Namespace) -> int:
    from v2x_sim.experiment.compare import replicate

    scenario, out, bar, options = _study_setup(args, "replicate")
    try:
        with _compile_notices(bar):
            table = replicate(scenario, args.replications, **options)
    finally:
        bar.close()
    if not args.quiet:
        _print_table(table, [])
    return _finish_study(out, args, "replication")


def _cmd_sweep(args: argparse.Namespace) -> int:
    from v2x_sim.experiment.sweep import sweep, sweep_points

    scenario, out, bar, options = _study_setup(args, "sweep")
    points = sweep_points(scenario)
    try:
        with _compile_notices(bar):
            table = sweep(scenario, replications=args.replications, **options)
    finally:
        bar.close()
    if not args.quiet:
        params = [c for c in table if c not in ("metric", "n", "mean", "ci_low", "ci_high")]
        for metric in ("travel_time_mean_s", "latency.bsm.p99_s", "latency.perception.p99_s"):
            rows = [i for i, m in enumerate(table["metric"]) if m == metric]
            for i in rows:
                point = ", ".join(f"{p}={table[p][i]}" for p in params)
                print(f"{metric:<28} {point:<40} {table['mean'][i]:>12,.4g} "
                      f"[{table['ci_low'][i]:,.3g}, {table['ci_high'][i]:,.3g}] n={table['n'][i]}")
        print(f"{len(points)} points")
    return _finish_study(out, args, "sweep")
