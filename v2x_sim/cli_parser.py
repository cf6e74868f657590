"""The command line's arguments: sub-commands, flags, help with defaults and examples.

Kept free of heavy imports (numpy, pydantic, numba, matplotlib load only when a command
runs), so ``v2x-sim --help`` answers at once. Misspelt sub-commands, choices and flags
get a "did you mean" (``v2x-sim rnu`` -> ``run``; ``--sed`` -> ``--seed``).
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from v2x_sim._core.cpus import usable_cpus
from v2x_sim._core.suggest import did_you_mean
from v2x_sim._core.version import __version__

EXIT_USAGE = 2

POLICIES = ("none, at_departure, dynamic_shortest, probabilistic, predictive, "
            "system_optimal, incident_detour, oracle")

EXAMPLES = """\
examples:
  v2x-sim scenarios                              list the bundled scenarios
  v2x-sim run quickstart                         run one (results/quickstart/)
  v2x-sim run quickstart --set demand.random.rate_vph=2000 --seed 7
  v2x-sim compare incident_reroute --policies none,dynamic_shortest -n 10
  v2x-sim compare --scenarios phase1_connect,phase2_optimise -n 5
  v2x-sim import osm town.osm.pbf -o networks/town
  v2x-sim schema -o v2x-sim.schema.json          JSON Schema for editor completion

`v2x-sim COMMAND --help` shows each command's options and examples."""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' line breaks; adds ``(default: X)`` where a default says something.

    Flags whose default is None, False or empty (off, or "decided later") and help that
    already names its default are left as written.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (not action.option_strings or "default" in text or default is argparse.SUPPRESS
                or default is None or default is False or default == []):
            return text
        return f"{text} (default: %(default)s)"


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that reports errors in our one-line style (exit code 2), with suggestions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"v2x-sim: error: {message} (see `{self.prog} --help`)\n")

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is not None and value not in action.choices:
            hint = did_you_mean(str(value), map(str, action.choices))
            choices = ", ".join(map(str, action.choices))
            raise argparse.ArgumentError(
                action, f"invalid choice: {value!r} ({hint + ' ' if hint else ''}"
                        f"choose from {choices})")

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            flags = self._flags_of(getattr(parsed, "command", None))
            hints = [hint for extra in extras if extra.startswith("-")
                     for hint in [did_you_mean(extra.partition("=")[0], flags)] if hint]
            self.error(f"unrecognized arguments: {' '.join(extras)}"
                       + (f"; {hints[0]}" if hints else ""))
        return parsed

    def _flags_of(self, command: str | None) -> list[str]:
        """Option strings of the sub-command ``command`` (and of this parser)."""
        flags = [s for a in self._actions for s in a.option_strings]
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and command in action.choices:
                flags += [s for a in action.choices[command]._actions for s in a.option_strings]
        return flags


def _quiet(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help=what)


def _no_report(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-report", action="store_true",
                        help="skip figures and report.html (rebuild later: v2x-sim report DIR)")


def _scenario_args(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    parser.add_argument("scenario", nargs="?" if optional else None,
                        help="scenario YAML file, or a bundled scenario's name "
                             "(v2x-sim scenarios lists them)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="PATH=VALUE",
                        help="override a field, e.g. --set demand.random.rate_vph=2000 "
                             "(repeatable; lists by index: incidents.0.start_s=600)")


def _study_args(parser: argparse.ArgumentParser, default_out: str) -> None:
    parser.add_argument("-o", "--output", type=Path, default=None, metavar="DIR",
                        help=f"study folder (default: results/<name>-{default_out})")
    parser.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                        help=f"worker processes (default: {usable_cpus()}, the CPUs this "
                             "process may use)")
    parser.add_argument("--dask", default=None, metavar="ADDRESS",
                        help="run on a Dask scheduler (tcp://host:8786) or 'local'")
    _quiet(parser, "no progress, no table")
    _no_report(parser)


def _command(sub: Any, name: str, summary: str, examples: str,
             description: str | None = None) -> argparse.ArgumentParser:
    text = description or summary[0].upper() + summary[1:] + "."
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=summary, description=textwrap.fill(text, 88), epilog="examples:\n" + examples)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all sub-commands."""
    parser = _ArgumentParser(
        prog="v2x-sim", epilog=EXAMPLES,
        description="Simulate a connected-vehicle zone: road, vehicles, roadside devices, "
                    "edge and cloud.")
    parser.add_argument("--version", action="version", version=f"v2x-sim {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback behind an error (before its one line)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_ArgumentParser)
    _run_parser(sub)
    _check_parsers(sub)
    _study_parsers(sub)
    _import_parser(sub)
    for command in sub.choices.values():  # --debug also after the command's name
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show the traceback behind an error")
    return parser


def _run_parser(sub: Any) -> None:
    run = _command(sub, "run", "run a scenario and write its results folder", """\
  v2x-sim run quickstart
  v2x-sim run scenarios/my.yaml -o results/try1 --seed 3
  v2x-sim run incident_reroute --policy dynamic_shortest --set control.params.threshold=0.1
  v2x-sim run my.yaml --set simulation.horizon_s=600 -q --no-report""",
        description="Run a scenario and write its results folder: scenario.yaml, "
                    "summary.json, the CSV tables, figures/ and report.html. Progress goes "
                    "to stderr by phase (build, run, write, report): a live line on a "
                    "terminal, plain lines otherwise.")
    _scenario_args(run)
    run.add_argument("-o", "--output", type=Path, default=None, metavar="DIR",
                     help="results folder (default: output.dir or results/<name>)")
    run.add_argument("--seed", type=int, default=None, metavar="N",
                     help="master seed (default: the YAML's simulation.seed)")
    run.add_argument("--policy", default=None, metavar="NAME",
                     help=f"rerouting policy: a built-in name ({POLICIES}) or "
                          "package.module:Class; overrides control.policy and starts from "
                          "its default params")
    _quiet(run, "no progress and no summary")
    _no_report(run)


def _check_parsers(sub: Any) -> None:
    validate = _command(sub, "validate", "check a scenario without running it", """\
  v2x-sim validate my.yaml
  v2x-sim validate quickstart --set incidents.0.link=44""",
        description="Load a scenario and build its world (network, files, demand, "
                    "incidents, signal plan, habitual routes) without running it.")
    _scenario_args(validate)
    _quiet(validate, "print nothing when valid (the exit code says it)")

    routes = _command(sub, "routes", "compute (or load from the cache) a scenario's habitual "
                                     "routes and write them as route files", """\
  v2x-sim routes policy_comparison
  v2x-sim routes my.yaml -o routes/my""")
    _scenario_args(routes)
    routes.add_argument("-o", "--output", type=Path, default=None, metavar="DIR",
                        help="folder for routes.csv, route_times.csv and equilibrium.json "
                             "(default: results/<name>-routes)")
    _quiet(routes, "no progress, no table")

    scenarios = _command(sub, "scenarios", "list the bundled scenarios", """\
  v2x-sim scenarios
  v2x-sim scenarios -q          names only, one per line""")
    _quiet(scenarios, "names only")

    schema = _command(sub, "schema", "print the scenario JSON Schema (editor completion)", """\
  v2x-sim schema > v2x-sim.schema.json
  v2x-sim schema -o .vscode/v2x-sim.schema.json
then, in VS Code with the YAML extension, put this first line in a scenario:
  # yaml-language-server: $schema=.vscode/v2x-sim.schema.json""",
        description="Print the JSON Schema (draft-07) of scenario files: every field "
                    "with its type, default, bounds and description. Editors use it for "
                    "completion, hover help and checks as you type.")
    schema.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                        help="write it to this file instead of printing it")
    _quiet(schema, "with -o, print nothing")

    report = _command(sub, "report", "rebuild figures and report.html from a results folder "
                                     "(run, comparison, replication or sweep)", """\
  v2x-sim report results/quickstart""")
    report.add_argument("folder", type=Path, help="the results folder")
    _quiet(report, "print nothing on success")


def _study_parsers(sub: Any) -> None:
    compare = _command(sub, "compare", "policies (or scenarios) on common seeds, with paired "
                                       "intervals", """\
  v2x-sim compare incident_reroute --policies none,dynamic_shortest,oracle -n 10
  v2x-sim compare my.yaml --policies none,my_policies:Mine --baseline none -j 2
  v2x-sim compare --scenarios phase1_connect,phase2_optimise,phase3_scale -n 5
  v2x-sim compare --scenarios before.yaml,after.yaml --set simulation.horizon_s=1800
  v2x-sim compare edge_outage --without-faults -n 5""",
        description="Compare policies on one scenario (SCENARIO --policies), or whole "
                    "scenarios, each with its own control.policy (--scenarios), on common "
                    "seeds: every arm runs on the same replication seeds, and the table "
                    "gives each metric's mean with its 95 % interval and the paired "
                    "difference against the baseline (the policy 'none', or the first "
                    "scenario). --set applies to every scenario. To run every scenario "
                    "with one policy: --scenarios ... --set control.policy=NAME.")
    _scenario_args(compare, optional=True)
    compare.add_argument("--policies", default=None, metavar="LIST",
                         help="comma-separated policies, e.g. none,dynamic_shortest")
    compare.add_argument("--scenarios", default=None, metavar="LIST",
                         help="comma-separated scenario files or bundled names (instead of "
                              "SCENARIO --policies), e.g. a.yaml,b.yaml; seeds count up "
                              "from the first one's simulation.seed")
    compare.add_argument("--without-faults", action="store_true",
                         help="compare SCENARIO with its faults: windows against the same "
                              "scenario without them (the baseline, <name>-no-faults) on "
                              "common seeds: what the faults cost")
    compare.add_argument("-n", "--replications", type=int, default=10, metavar="N",
                         help="seeds per policy or scenario")
    compare.add_argument("--baseline", default=None, metavar="ARM",
                         help="arm the others are paired with (default: the policy 'none', "
                              "or the first of --scenarios)")
    _study_args(compare, "compare")

    sweep = _command(sub, "sweep", "run the scenario's sweep: block (grid or points)", """\
  v2x-sim sweep edge_sizing
  v2x-sim sweep my.yaml -n 5 -j 2""")
    _scenario_args(sweep)
    sweep.add_argument("-n", "--replications", type=int, default=None, metavar="N",
                       help="replications per point (default: sweep.replications)")
    _study_args(sweep, "sweep")

    replicate = _command(sub, "replicate", "one scenario on many seeds, with intervals", """\
  v2x-sim replicate quickstart -n 20""")
    _scenario_args(replicate)
    replicate.add_argument("-n", "--replications", type=int, default=10, metavar="N",
                           help="seeds")
    _study_args(replicate, "replicate")


def _import_parser(sub: Any) -> None:
    imp = _command(sub, "import", "convert a SUMO, OpenStreetMap or GMNS network into "
                                  "nodes.csv, links.csv (+ movements, signals) and a stub "
                                  "scenario", """\
  v2x-sim import sumo city.net.xml -o networks/city
  v2x-sim import osm town.osm.pbf -o networks/town
  v2x-sim import gmns gmns_folder/ -o networks/region""")
    imp.add_argument("format", choices=("sumo", "osm", "gmns"),
                     help="sumo: a .net.xml file; osm: .osm, .osm.gz, .osm.bz2 or .osm.pbf; "
                          "gmns: a folder with node.csv and link.csv")
    imp.add_argument("source", type=Path, help="the file (or GMNS folder) to read")
    imp.add_argument("-o", "--output", type=Path, default=None, metavar="DIR",
                     help="folder to write (default: networks/<source name>)")
    parts = imp.add_mutually_exclusive_group()
    parts.add_argument("--largest-part", dest="parts", action="store_const", const="largest",
                       help="keep only the largest strongly connected part (default for osm)")
    parts.add_argument("--all-parts", dest="parts", action="store_const", const="all",
                       help="keep every part (default for sumo and gmns)")
    _quiet(imp, "print nothing on success")
