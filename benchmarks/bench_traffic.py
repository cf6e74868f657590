"""Benchmark: demo_zone road traffic alone, one simulated hour, ~25,000 trips.

    python benchmarks/bench_traffic.py            # 3 repetitions, whole-process numbers

The communication model is switched off (``v2x.enabled=false``): this times the road
traffic alone. Each repetition is a fresh process that imports v2x_sim, loads the
bundled demo_zone scenario, runs it and writes the results folder, like
``v2x-sim run demo_zone``. Reported: whole-process wall time, peak resident memory,
and simpy events per second of simulation loop.
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
    return {
        "loop_s": result.wall_s,
        "events": scheduled_events(world.env),
        "trips_started": result.summary["trips_started"],
        "trips_completed": result.summary["trips_completed"],
        "link_traversals": result.summary["simulation"]["link_traversals"],
        "network_km": result.summary["simulation"]["network_km"],
    }


def describe(info: dict[str, Any]) -> str:
    return (f"loop {info['loop_s']:.2f} s, {info['events']:,} events "
            f"({info['events'] / info['loop_s']:,.0f}/s), "
            f"{info['trips_started']:,} trips ({info['trips_completed']:,} completed), "
            f"{info['link_traversals']:,} link traversals, {info['network_km']:.0f} km")


if __name__ == "__main__":
    main(__file__, __doc__, child, describe, default_sets=["v2x.enabled=false"])
