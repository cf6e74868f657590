"""Command line: ``v2x-sim run | validate | routes | scenarios | import | ...``.

The only module that prints or exits. Every user error (`V2XSimError`, including one
raised by a user's policy) becomes one line on stderr and exit code 2, without a
traceback (``--debug`` adds it). Inputs, policies and the output folder are checked
before a run starts; results already on disk are replaced only, as a whole, once the new
ones are complete.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from v2x_sim._core.errors import ScenarioError, V2XSimError
from v2x_sim.cli_parser import EXIT_USAGE, build_parser
from v2x_sim.cli_progress import (
    EquilibriumBar,
    RunProgress,
    RunsBar,
    compile_notice,
    equilibrium_table,
    habitual_routes_first,
    progress_mode,
)

__all__ = ["build_parser", "main"]

EXIT_OK = 0


def _headline(summary: dict[str, object]) -> str:
    keys = ("trips_started", "trips_completed", "trips_on_road", "travel_time_mean_s",
            "travel_time_p95_s", "delay_mean_s", "vehicle_hours", "vehicle_km", "moved_on")
    lines = []
    for key in keys:
        value = summary.get(key)
        text = f"{value:,.1f}" if isinstance(value, float) else str(value)
        lines.append(f"  {key:<20} {text}")
    rerouting = summary.get("rerouting")
    if isinstance(rerouting, dict) and rerouting.get("policy") not in (None, "none"):
        lines.append(f"  {'rerouting':<20} {rerouting['policy']}: "
                     f"{rerouting.get('advised', 0):,} advised, "
                     f"{rerouting.get('followed', 0):,} followed, "
                     f"{rerouting.get('flapping_vehicles', 0):,} flapping")
    latency = summary.get("latency")
    if isinstance(latency, dict) and latency:
        lines.append(f"  {'latency':<20} {'sent':>12} {'p50 ms':>8} {'p99 ms':>8} {'missed':>8}")
        for kind, entry in latency.items():
            p50, p99 = entry.get("p50_s"), entry.get("p99_s")
            miss = entry.get("deadline_miss_ratio")
            lines.append(
                f"  {kind:<20} {entry['sent']:>12,} "
                f"{'-' if p50 is None else f'{p50 * 1e3:8.2f}':>8} "
                f"{'-' if p99 is None else f'{p99 * 1e3:8.2f}':>8} "
                f"{'-' if miss is None else f'{miss:8.2%}':>8}")
    return "\n".join(lines)


def _cmd_routes(args: argparse.Namespace) -> int:
    from v2x_sim.equilibrium import export_routes
    from v2x_sim.experiment.store import ensure_folder
    from v2x_sim.scenario.loader import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    out = args.output or Path("results") / f"{scenario.name}-routes"
    if out.exists() and not out.is_dir():
        raise ScenarioError("--output", str(out), "exists and is not a folder")
    bar = EquilibriumBar(sys.stderr, mode=progress_mode(sys.stderr, quiet=args.quiet))
    try:
        routes, report = export_routes(scenario, ensure_folder(out), progress=bar)
    finally:
        bar.close()
    if not args.quiet:
        print(equilibrium_table(report))
        print(f"{len(routes.cells):,} origin-destination-interval cells, {len(routes.paths):,} "
              f"paths ({report['cache']}); route files in {out}/")
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from v2x_sim._core.jit import compile_notices
    from v2x_sim.experiment.output import (
        FolderKind,
        check_output_folder,
        default_run_folder,
        scenario_input_files,
    )
    from v2x_sim.experiment.run import write_results
    from v2x_sim.scenario.loader import load_scenario
    from v2x_sim.scenario.presets import resolve_scenario_path
    from v2x_sim.world import build_world

    if args.seed is not None and args.seed < 0:
        raise ScenarioError("--seed", args.seed, "expected a non-negative integer")
    overrides = list(args.overrides)
    if args.policy is not None:
        if not args.policy.strip():
            raise ScenarioError("--policy", args.policy, "expected a policy name")
        # the scenario's params belong to its own policy: start the new one from its
        # defaults unless --set control.params... says otherwise (applied after)
        overrides = [f"control.policy={args.policy}", "control.params={}", *overrides]
    source = resolve_scenario_path(args.scenario)
    scenario = load_scenario(source, overrides)
    if args.policy is not None:  # fail before running if the policy cannot be loaded
        from v2x_sim.control.registry import make_policy

        make_policy(scenario.control.policy, scenario.control.params)
    output = args.output or default_run_folder(scenario)
    # the folder must be one the run may replace, and writable: know it before running
    check_output_folder(output, kind=FolderKind.RUN,
                        inputs=scenario_input_files(scenario, source))
    habitual_routes_first(scenario, quiet=args.quiet)
    progress = RunProgress(sys.stderr, mode=progress_mode(sys.stderr, quiet=args.quiet),
                           label=scenario.name)
    completed = False
    try:
        with compile_notices(compile_notice(progress.note)):
            progress.begin("build")
            world = build_world(scenario, args.seed)
            network = world.network
            progress.end(f" ({network.n_nodes:,} nodes, {network.n_links:,} links, "
                         f"{len(world.plan):,} planned trips)")
            progress.begin("run")
            result = world.run(progress)
            progress.end(f" ({result.summary.get('trips_completed', 0):,} trips completed)")
            progress.begin("write")
            folder = write_results(result, output, source=source,
                                   finish=_report_builder(args, progress))
        completed = True
    finally:
        progress.close(completed=completed)
    if not args.quiet:
        print(f"{scenario.name}: seed {result.seed}, {result.wall_s:.2f} s wall")
        print(_headline(result.summary))
        if not args.no_report:
            print(f"report: {folder / 'report.html'}")
        print(f"results in {folder}/")
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    from v2x_sim.scenario.loader import load_scenario
    from v2x_sim.world import build_world

    scenario = load_scenario(args.scenario, args.overrides)
    habitual_routes_first(scenario, quiet=args.quiet)
    world = build_world(scenario)  # cross-checks links, nodes, paths and files
    if not args.quiet:
        print(f"{args.scenario}: valid ({world.network.n_nodes} nodes, "
              f"{world.network.n_links} links, {world.network.total_length_m / 1000:.1f} km, "
              f"{len(world.plan)} planned trips)")
    return EXIT_OK


def _cmd_scenarios(args: argparse.Namespace) -> int:
    from v2x_sim.scenario.presets import list_presets

    presets = list_presets()
    width = max((len(p.name) for p in presets), default=0)
    for preset in presets:
        print(preset.name if args.quiet else f"{preset.name:<{width}}  {preset.description}")
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace) -> int:
    import json

    from v2x_sim._core.atomic import write_text_atomic
    from v2x_sim._core.errors import InputFileError
    from v2x_sim.scenario.json_schema import scenario_json_schema

    text = json.dumps(scenario_json_schema(), indent=2) + "\n"
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    if args.output.is_dir():
        raise ScenarioError("--output", str(args.output), "is a folder; expected a file name "
                            "such as v2x-sim.schema.json")
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.output, text)
    except OSError as exc:
        raise InputFileError(args.output, f"cannot write: {exc.strerror or exc}") from None
    if not args.quiet:
        print(f"scenario schema in {args.output} (first line of a scenario, for VS Code's "
              f"YAML extension: # yaml-language-server: $schema=<path to it>)")
    return EXIT_OK


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


def _cmd_report(args: argparse.Namespace) -> int:
    from v2x_sim._core.errors import InputFileError
    from v2x_sim.report import build_report

    if not args.folder.is_dir():
        raise InputFileError(args.folder, "not a results folder")
    path = build_report(args.folder)
    if not args.quiet:
        print(f"report: {path}")
    return EXIT_OK


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


def _cmd_import(args: argparse.Namespace) -> int:
    from v2x_sim.road.importers import import_gmns, import_osm, import_sumo, write_import
    from v2x_sim.road.importers.common import keep_largest_part

    source: Path = args.source
    if args.format == "osm":
        imported = import_osm(source, all_parts=args.parts == "all")
    else:
        imported = import_sumo(source) if args.format == "sumo" else import_gmns(source)
        if args.parts == "largest":
            imported = keep_largest_part(imported)
    stem = source.name.split(".")[0] or "network"
    out = args.output or Path("networks") / stem
    written = write_import(imported, out, name=stem)
    if not args.quiet:
        counts = imported.counts()
        print(f"{source} -> {out}/: {counts['nodes']:,} nodes, {counts['links']:,} links, "
              f"{counts['network_km']:,.1f} km, {counts['connections']:,} movements, "
              f"{counts['signal_nodes']:,} signalised junctions")
        for note in imported.notes:
            print(f"  note: {note}")
        print(f"  wrote {', '.join(p.name for p in written)}")
        print(f"  next: v2x-sim validate {out / 'scenario.yaml'}")
    return EXIT_OK


COMMANDS = {"run": _cmd_run, "validate": _cmd_validate, "routes": _cmd_routes,
            "scenarios": _cmd_scenarios, "schema": _cmd_schema,
            "compare": _cmd_compare, "replicate": _cmd_replicate, "sweep": _cmd_sweep,
            "report": _cmd_report, "import": _cmd_import}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``v2x-sim`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    root = logging.getLogger()
    if not root.handlers:  # as logging.basicConfig, but the handler itself shows only
        handler = logging.StreamHandler()  # warnings: Dask lowers its own loggers' levels
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.WARNING)
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
    try:
        return COMMANDS[args.command](args)
    except V2XSimError as exc:
        if args.debug:
            traceback.print_exception(exc, file=sys.stderr)
        print(f"v2x-sim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("v2x-sim: interrupted; results folder left as it was", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
