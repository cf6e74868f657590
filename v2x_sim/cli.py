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

from v2x_sim._core.env import check_environment
from v2x_sim._core.errors import ScenarioError, V2XSimError
from v2x_sim.cli_parser import EXIT_USAGE, build_parser
from v2x_sim.cli_progress import (
    EquilibriumBar,
    RunProgress,
    compile_notice,
    equilibrium_table,
    habitual_routes_first,
    progress_mode,
)
from v2x_sim.cli_studies import _cmd_compare, _cmd_replicate, _cmd_sweep, _report_builder

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


def _cmd_report(args: argparse.Namespace) -> int:
    from v2x_sim._core.errors import InputFileError
    from v2x_sim.report import build_report

    if not args.folder.is_dir():
        raise InputFileError(args.folder, "not a results folder")
    path = build_report(args.folder)
    if not args.quiet:
        print(f"report: {path}")
    return EXIT_OK


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
        check_environment()
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
