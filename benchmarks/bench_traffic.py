"""Benchmark: demo_zone road traffic alone, one simulated hour, ~25,000 trips.

Run by hand (not part of the test suite):

    python benchmarks/bench_traffic.py            # 3 repetitions, whole-process numbers

The communication model is switched off (``v2x.enabled=false``): this times the road
traffic alone. Each repetition is a fresh process that imports v2x_sim, loads the bundled demo_zone
scenario, runs it and writes the results folder, like ``v2x-sim run demo_zone``. The
parent reports wall time of the whole process, its peak resident memory, and the
simpy events processed per second of simulation loop.
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
    started = time.perf_counter()
    import v2x_sim

    loaded = v2x_sim.load_scenario(scenario, sets)
    world = v2x_sim.build_world(loaded)
    result = world.run()
    with tempfile.TemporaryDirectory() as out:
        v2x_sim.write_results(result, out)
    # simpy numbers every scheduled event from one counter; read it without consuming
    scheduled = int(repr(world.env._eid).removeprefix("count(").removesuffix(")"))
    print(json.dumps({
        "in_process_s": time.perf_counter() - started,
        "loop_s": result.wall_s,
        "events": scheduled,
        "trips_started": result.summary["trips_started"],
        "trips_completed": result.summary["trips_completed"],
        "link_traversals": result.summary["simulation"]["link_traversals"],
        "network_km": result.summary["simulation"]["network_km"],
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="demo_zone")
    parser.add_argument("--set", dest="sets", action="append",
                        default=["v2x.enabled=false"], help="overrides (default: traffic only)")
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
        print(f"run {run + 1}: whole process {wall:.2f} s, peak RSS {peak_mb:.0f} MB, "
              f"loop {info['loop_s']:.2f} s, {info['events']:,} events "
              f"({info['events'] / info['loop_s']:,.0f}/s), "
              f"{info['trips_started']:,} trips ({info['trips_completed']:,} completed), "
              f"{info['link_traversals']:,} link traversals, {info['network_km']:.0f} km")


if __name__ == "__main__":
    main()
