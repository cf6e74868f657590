"""Tutorial 2, comparing policies with intervals: is rerouting better, and how sure are we?

One run is one draw of the random demand and channels. `v2x_sim.compare` runs every
policy on the same seeds (common random numbers) and reports each policy's mean with a
95 % interval and its *paired* difference from the baseline, with an interval too::

    python examples/tutorial_compare_policies.py            # 10 one-hour replications
    python examples/tutorial_compare_policies.py --short    # 2 replications of 20 minutes

The documentation page ``docs/tutorials/compare-policies.md`` walks through it; the test
suite runs it with two short replications.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import v2x_sim

METRICS = ("travel_time_mean_s", "vehicle_hours", "rerouting.followed")


def main(out_dir: str | Path = "results/tutorial-compare", *, replications: int = 10,
         horizon_s: float | None = None, jobs: int | None = None) -> dict[str, Any]:
    """Compare ``none`` with ``dynamic_shortest`` on ``incident_reroute``; returns the table."""
    # --8<-- [start:load]
    overrides = [] if horizon_s is None else [f"simulation.horizon_s={horizon_s}"]
    scenario = v2x_sim.load_scenario("incident_reroute", overrides)
    # --8<-- [end:load]

    # --8<-- [start:compare]
    table = v2x_sim.compare(scenario, ["none", "dynamic_shortest"],
                            replications=replications, baseline="none",
                            out_dir=out_dir, jobs=jobs)
    # --8<-- [end:compare]

    # --8<-- [start:read]
    print(f"{'metric':<20} {'policy':<17} {'n':>3} {'mean':>9} {'95% interval':>20} "
          f"{'vs none':>9} {'95% interval':>20}")
    for i, metric in enumerate(table["metric"]):
        if metric not in METRICS:
            continue
        interval = f"[{table['ci_low'][i]:,.1f}, {table['ci_high'][i]:,.1f}]"
        line = (f"{metric:<20} {table['arm'][i]:<17} {table['n'][i]:>3} "
                f"{table['mean'][i]:>9,.1f} {interval:>20}")
        if table["arm"][i] != "none":
            diff = (f"[{table['diff_vs_none_ci_low'][i]:+,.1f}, "
                    f"{table['diff_vs_none_ci_high'][i]:+,.1f}]")
            verdict = "  unclear: add replications" if table["diff_vs_none_unclear"][i] else ""
            line += f" {table['diff_vs_none'][i]:>+9,.1f} {diff:>20}{verdict}"
        print(line)
    # --8<-- [end:read]
    print(f"tables in {Path(out_dir) / 'comparison.csv'} and comparison.json")
    return table


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true",
                        help="2 replications of 20 simulated minutes")
    parser.add_argument("-o", "--output", default="results/tutorial-compare")
    args = parser.parse_args()
    if args.short:
        main(args.output, replications=2, horizon_s=1200)
    else:
        main(args.output)
