"""Benchmark: the whole road-vehicle-cloud loop at full scale for one simulated hour.

    python benchmarks/bench_loop.py               # 3 repetitions, whole-process numbers

Runs the bundled demo_zone (25,000 trips, ~5,900 connected vehicles, 4,769 roadside
devices, 8 edge nodes, the cloud) with every message flow, each repetition in a fresh
process (numba's compiled kernels come from its on-disk cache after the first run).
Reports whole-process wall time, peak resident memory, messages counted per second and
simpy events per second.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time


def child(scenario: str, sets: list[str]) -> None:
    import v2x_sim

    loaded = v2x_sim.load_scenario(scenario, sets)
    world = v2x_sim.build_world(loaded)
    result = world.run()
    with tempfile.TemporaryDirectory() as out:
        v2x_sim.write_results(result, out)
    scheduled = int(repr(world.env._eid).removeprefix("count(").removesuffix(")"))
    latency = result.summary["latency"]
    print(json.dumps({
        "loop_s": result.wall_s,
        "events": scheduled,
        "messages": sum(k["sent"] for k in latency.values()),
        "by_kind": {kind: k["sent"] for kind, k in latency.items()},
        "p99_ms": {kind: (k["p99_s"] or 0) * 1e3 for kind, k in latency.items()},
        "trips": result.summary["trips_started"],
        "devices": result.summary["roadside"]["devices"],
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="demo_zone")
    parser.add_argument("--set", dest="sets", action="append", default=[])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.scenario, args.sets)
        return
    command = [sys.executable, __file__, "--child", "--scenario", args.scenario]
    for item in args.sets:
        command += ["--set", item]
    for run in range(args.repeat):
        started = time.perf_counter()
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        info = json.loads(out.stdout)
        print(f"run {run + 1}: whole process {wall:.1f} s, peak RSS {peak_mb:.0f} MB, "
              f"loop {info['loop_s']:.1f} s, {info['messages']:,} messages "
              f"({info['messages'] / info['loop_s'] / 1e6:.1f} M/s, "
              f"{info['loop_s'] / info['messages'] * 1e9:.0f} ns each), "
              f"{info['events']:,} events ({info['events'] / info['loop_s']:,.0f}/s), "
              f"{info['trips']:,} trips, {info['devices']:,} devices")
    print("messages by kind:", info["by_kind"])
    print("p99 latency, ms:", {k: round(v, 2) for k, v in info["p99_ms"].items()})


if __name__ == "__main__":
    main()
