"""Benchmark: the whole road-vehicle-cloud loop at full scale for one simulated hour.

    python benchmarks/bench_loop.py               # 3 repetitions, whole-process numbers

Runs the bundled demo_zone (25,000 trips, ~5,900 connected vehicles, 4,769 roadside
devices, 8 edge nodes, the cloud) with every message flow, each repetition in a fresh
process (numba's compiled kernels come from its on-disk cache after the first run).
Reports whole-process wall time, peak resident memory, messages counted per second and
simpy events per second.
"""

from __future__ import annotations

import tempfile
from typing import Any

from harness import main, scheduled_events


def child(scenario: str, sets: list[str]) -> dict[str, Any]:
    import v2x_sim

    world = v2x_sim.build_world(v2x_sim.load_scenario(scenario, sets))
    result = world.run()
    with tempfile.TemporaryDirectory() as out:
        v2x_sim.write_results(result, out)
    latency = result.summary["latency"]
    return {
        "loop_s": result.wall_s,
        "events": scheduled_events(world.env),
        "messages": sum(k["sent"] for k in latency.values()),
        "by_kind": {kind: k["sent"] for kind, k in latency.items()},
        "p99_ms": {kind: (k["p99_s"] or 0) * 1e3 for kind, k in latency.items()},
        "trips": result.summary["trips_started"],
        "devices": result.summary["roadside"]["devices"],
    }


def describe(info: dict[str, Any]) -> str:
    return (f"loop {info['loop_s']:.1f} s, {info['messages']:,} messages "
            f"({info['messages'] / info['loop_s'] / 1e6:.1f} M/s, "
            f"{info['loop_s'] / info['messages'] * 1e9:.0f} ns each), "
            f"{info['events']:,} events ({info['events'] / info['loop_s']:,.0f}/s), "
            f"{info['trips']:,} trips, {info['devices']:,} devices")


if __name__ == "__main__":
    last = main(__file__, __doc__, child, describe)
    if last:
        print("messages by kind:", last["by_kind"])
        print("p99 latency, ms:", {k: round(v, 2) for k, v in last["p99_ms"].items()})
