"""Benchmark: how building and running grow with the zone and with the horizon.

    python benchmarks/bench_scale.py                   # x0.5, x1, x2, x4 for 1 h; x1 for 4 h
    python benchmarks/bench_scale.py --scales 0.5,1 --hours 1 --repeat 1

Runs `phase3_scale` (the full zone with every flow: BSMs, sensor frames, status
reports, aggregates, hazards, the cloud rerouting every minute) with 1 s flow windows
at each `scale:` (vehicles, roadside devices and the road network together; the edge
nodes scaled with it, 8 per unit, so every size is run at the same edge load), each in
a fresh process, after one short unrecorded run (`--warmup`: the first process pays
numba's kernel loading and a cold file cache). Prints one row per run: build and run
wall time, whole process, peak resident memory, messages counted and per second,
vehicle-hours, and the costs per vehicle-hour and per message, then a Markdown table
for the README.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

SCENARIO = "phase3_scale"


def child(scale: float, hours: float) -> dict[str, Any]:
    """Build and run one size in this process; measurements as a dict."""
    started = time.perf_counter()
    import v2x_sim

    imported = time.perf_counter()
    sets = [f"scale={scale:g}", "v2x.tick_s=1.0", f"simulation.horizon_s={hours * 3600:g}",
            f"simulation.warmup_s={min(600.0, hours * 3600 / 4):g}",
            f"edge.nodes={max(1, round(8 * scale))}"]
    world = v2x_sim.build_world(v2x_sim.load_scenario(SCENARIO, sets))
    built = time.perf_counter()
    result = world.run()
    ran = time.perf_counter()
    s = result.summary
    return {
        "import_s": imported - started,
        "build_s": built - imported,
        "run_s": ran - built,
        "messages": sum(k["sent"] for k in s["latency"].values()),
        "vehicle_hours": s["vehicle_hours"],
        "trips": s["trips_started"],
        "km": float(result.tables["network"]["length_m"].sum()) / 1000.0
        if "network" in result.tables else float("nan"),
        "devices": s["roadside"]["devices"],
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure(scale: float, hours: float) -> dict[str, Any]:
    """One fresh process: its own figures plus the whole-process wall time."""
    command = [sys.executable, __file__, "--child", "--scales", f"{scale:g}",
               "--hours", f"{hours:g}"]
    started = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    info.update(scale=scale, hours=hours, whole_s=time.perf_counter() - started)
    return info


def row(info: dict[str, Any]) -> str:
    """One Markdown table row."""
    msg, vh = info["messages"], info["vehicle_hours"]
    return (f"| x{info['scale']:g} | {info['hours']:g} h | {info['km']:,.0f} km | "
            f"{info['devices']:,} | {info['trips']:,} | {info['build_s']:.2f} s | "
            f"{info['run_s']:.1f} s | {info['whole_s']:.1f} s | {info['peak_mb']:.0f} MB | "
            f"{msg / 1e6:,.1f} M | {msg / info['run_s'] / 1e6:.1f} M/s | "
            f"{info['run_s'] / vh * 1e3:.2f} ms | {info['run_s'] / msg * 1e9:.0f} ns |")


HEADER = ("| scale | horizon | network | devices | trips | build | run | whole process | "
          "peak memory | messages | per second | run per vehicle-hour | run per message |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="0.5,1,2,4", help="zone sizes, comma-separated")
    parser.add_argument("--hours", default="1", help="horizon at every scale (hours)")
    parser.add_argument("--long", type=float, default=4.0,
                        help="also run x1 for this many hours (0: skip)")
    parser.add_argument("--repeat", type=int, default=1, help="fresh processes per size")
    parser.add_argument("--warmup", type=int, default=1,
                        help="unrecorded short runs first (0: none), see below")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    scales = [float(s) for s in args.scales.split(",")]
    hours = float(args.hours)
    if args.child:
        print(json.dumps(child(scales[0], hours)))
        return
    plan = [(s, hours) for s in scales] + ([(1.0, args.long)] if args.long else [])
    # the first process after an install or an edit compiles or loads numba's kernels and
    # reads the package from a cold file cache: seconds that belong to no size (they made
    # the first row, x0.5, look out of line), so a short run at the first size goes first
    for _ in range(args.warmup):
        measure(scales[0], 0.05)
    rows = []
    for scale, h in plan:
        for _ in range(args.repeat):
            info = measure(scale, h)
            rows.append(row(info))
            print(f"x{scale:g} {h:g} h: build {info['build_s']:.2f} s, run {info['run_s']:.1f} s, "
                  f"whole {info['whole_s']:.1f} s, peak {info['peak_mb']:.0f} MB, "
                  f"{info['messages']:,} messages, {info['vehicle_hours']:,.0f} veh-h",
                  flush=True)
    print("\n" + HEADER)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
