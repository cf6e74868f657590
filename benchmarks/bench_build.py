"""Benchmark: building a world as the zone grows from x0.5 to x16 (about 100 to 3,400 km).

    python benchmarks/bench_build.py                 # scales 0.5 1 2 4 8 16, fresh processes
    python benchmarks/bench_build.py --scales 16 --reference

Each scale runs in a fresh process: the bundled ``demo_zone`` with ``road.demo_zone.scale``
set and its 4,769 roadside devices scaled with it (500 RSUs, 2,000 cameras, 1,800
radars, 469 lidars per unit of scale). Reported per scale: network size, coverage cells
and devices; seconds for the network, the devices (placement, sensor -> RSU, RSU -> edge),
the coverage table, the whole ``build_world`` (with demand and routing) and ``v2x-sim
validate``-equivalent; and the process's peak resident memory. ``--reference`` also
times the former brute-force coverage (a cells x RSUs distance matrix in chunks of 4
million) on the same devices, to show what the k-d trees replaced.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np

DEVICES = {"rsu": 500, "camera": 2000, "radar": 1800, "lidar": 469}


def overrides(scale: float) -> list[str]:
    sets = [f"road.demo_zone.scale={scale}", "vehicles.shuttle_lines=[]",
            f"roadside.rsu.placement.count={round(DEVICES['rsu'] * scale)}"]
    for i, kind in enumerate(("camera", "radar", "lidar")):
        sets.append(f"roadside.sensors.{i}.placement.count={round(DEVICES[kind] * scale)}")
    return sets


def brute_coverage(network: Any, devices: Any) -> None:
    """The coverage table as it was built before the k-d trees (for --reference)."""
    from v2x_sim.compute.roadside import CELL_M, MAX_HEARD
    from v2x_sim.road.geometry import point_on_link

    n_cells = np.maximum(1, np.ceil(network.length_m / CELL_M).astype(np.int64))
    first = np.concatenate(([0], np.cumsum(n_cells)[:-1]))
    link = np.repeat(np.arange(network.n_links), n_cells)
    offset = np.minimum((np.arange(len(link)) - first[link] + 0.5) * CELL_M,
                        network.length_m[link])
    cx, cy = point_on_link(network, link, offset)
    n_rsu = devices.n_rsu
    rx, ry, reach = devices.x_m[:n_rsu], devices.y_m[:n_rsu], devices.range_m[:n_rsu]
    for chunk in np.array_split(np.arange(len(link)), max(1, len(link) * n_rsu // 4_000_000)):
        d = np.hypot(cx[chunk, None] - rx, cy[chunk, None] - ry)
        d_masked = np.where(d <= reach, d, np.inf)
        np.argsort(d_masked, axis=1)[:, :min(MAX_HEARD, n_rsu)]


def child(scale: float, reference: bool) -> dict[str, Any]:
    from v2x_sim.compute.roadside import build_coverage, build_devices
    from v2x_sim.scenario.loader import load_scenario
    from v2x_sim.world import build_network_from, build_world

    scenario = load_scenario("demo_zone", overrides(scale))
    t0 = time.perf_counter()
    network = build_network_from(scenario)
    t1 = time.perf_counter()
    devices = build_devices(network, scenario.roadside, scenario.edge)
    t2 = time.perf_counter()
    coverage = build_coverage(network, devices)
    t3 = time.perf_counter()
    world = build_world(scenario)
    t4 = time.perf_counter()
    info = {"scale": scale, "km": network.total_length_m / 1000, "links": network.n_links,
            "cells": int(coverage.nearest.size), "rsus": devices.n_rsu,
            "devices": len(devices.kind), "network_s": t1 - t0, "devices_s": t2 - t1,
            "coverage_s": t3 - t2, "build_world_s": t4 - t3, "trips": len(world.plan)}
    if reference:
        t5 = time.perf_counter()
        brute_coverage(network, devices)
        info["brute_coverage_s"] = time.perf_counter() - t5
    info["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[0.5, 1, 2, 4, 8, 16])
    parser.add_argument("--reference", action="store_true",
                        help="also time the former brute-force coverage")
    parser.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.reference)))
        return
    print("| scale | km | links | cells | devices | network s | devices s | coverage s "
          "| build_world s | whole process s | peak MB |" + (" brute coverage s |"
                                                            if args.reference else ""))
    print("|---" * (11 + args.reference) + "|")
    for scale in args.scales:
        command = [sys.executable, __file__, "--child", str(scale)]
        if args.reference:
            command.append("--reference")
        started = time.perf_counter()
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
        i = json.loads(out.stdout)
        line = (f"| x{scale:g} | {i['km']:,.0f} | {i['links']:,} | {i['cells']:,} | "
                f"{i['devices']:,} | {i['network_s']:.2f} | {i['devices_s']:.2f} | "
                f"{i['coverage_s']:.2f} | {i['build_world_s']:.2f} | {wall:.1f} | "
                f"{i['peak_mb']:.0f} |")
        if args.reference:
            line += f" {i['brute_coverage_s']:.2f} |"
        print(line, flush=True)


if __name__ == "__main__":
    main()
