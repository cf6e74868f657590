"""Shared benchmark plumbing: run a measurement in fresh processes, report each run.

Each benchmark script defines ``child(scenario, sets) -> dict`` (runs in the fresh
process and returns its measurements) and ``describe(info) -> str``; `main` parses the
common flags, re-invokes the script with ``--child`` per repetition, and adds the
whole-process wall time and the peak resident memory measured from outside.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

Child = Callable[[str, list[str]], dict[str, Any]]


def scheduled_events(env: Any) -> int:
    """Events simpy scheduled so far (its event counter, read without consuming it)."""
    return int(repr(env._eid).removeprefix("count(").removesuffix(")"))


def main(script: str, doc: str, child: Child, describe: Callable[[dict[str, Any]], str], *,
         default_sets: list[str] | None = None) -> dict[str, Any]:
    """Run ``child`` in ``--repeat`` fresh processes and print one line per run."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--scenario", default="demo_zone")
    parser.add_argument("--set", dest="sets", action="append", default=None,
                        help=f"overrides (default: {default_sets or 'none'})")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sets = args.sets if args.sets is not None else list(default_sets or [])
    if args.child:
        print(json.dumps(child(args.scenario, sets)))
        return {}
    command = [sys.executable, script, "--child", "--scenario", args.scenario]
    for item in sets:
        command += ["--set", item]
    info: dict[str, Any] = {}
    for run in range(args.repeat):
        started = time.perf_counter()
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        info = json.loads(out.stdout)
        print(f"run {run + 1}: whole process {wall:.2f} s, peak RSS {peak_mb:.0f} MB, "
              + describe(info))
    return info
