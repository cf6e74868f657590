"""Tutorial 1, quick start: run a bundled scenario, read its numbers, write its report.

Run it from anywhere (the scenario is bundled with the package)::

    python examples/tutorial_quickstart.py              # the 30-minute scenario
    python examples/tutorial_quickstart.py --short      # 5 simulated minutes

The documentation page ``docs/tutorials/quickstart.md`` walks through it section by
section; the test suite runs it with a short horizon.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import v2x_sim


def main(out_dir: str | Path = "results/tutorial-quickstart", *,
         horizon_s: float | None = None) -> v2x_sim.RunResult:
    """Run the quick-start scenario and write its results folder into ``out_dir``."""
    # --8<-- [start:load]
    overrides = [] if horizon_s is None else [f"simulation.horizon_s={horizon_s}"]
    scenario = v2x_sim.load_scenario("quickstart", overrides)
    print(f"{scenario.name}: {scenario.description}")
    print(f"horizon {scenario.simulation.horizon_s:,.0f} s, seed {scenario.simulation.seed}")
    # --8<-- [end:load]

    # --8<-- [start:run]
    result = v2x_sim.run(scenario, seed=1)
    summary = result.summary
    print(f"{summary['trips_completed']:,} of {summary['trips_started']:,} trips completed "
          f"({summary['trips_on_road']:,} still on the road at the horizon)")
    print(f"mean travel time {summary['travel_time_mean_s']:.0f} s, "
          f"mean delay {summary['delay_mean_s']:.0f} s, "
          f"{summary['vehicle_hours']:.1f} vehicle-hours, {summary['vehicle_km']:,.0f} vehicle-km")
    # --8<-- [end:run]

    # --8<-- [start:tables]
    trips = result.trips  # column name -> numpy array, one row per trip
    done = ~np.isnan(trips["arrive_s"])
    for vehicle_class in np.unique(trips["class"][done]):
        delay = trips["delay_s"][done & (trips["class"] == vehicle_class)]
        print(f"  {vehicle_class:<9} {delay.size:5,} trips, delay p50 {np.median(delay):5.0f} s, "
              f"p90 {np.percentile(delay, 90):5.0f} s")

    links = result.links  # one row per link and time bin (output.link_bin_s)
    worst = np.argsort(links["speed_ratio"])[:3]
    for row in worst:
        print(f"  link {links['link'][row]:>3} ({links['from'][row]} -> {links['to'][row]}) "
              f"at {links['t_start_s'][row]:,.0f}-{links['t_end_s'][row]:,.0f} s: "
              f"{links['speed_ratio'][row]:.0%} of free speed")
    # --8<-- [end:tables]

    # --8<-- [start:latency]
    for kind, entry in summary.get("latency", {}).items():
        if entry["p99_s"] is not None:
            print(f"  {kind:<15} p99 {entry['p99_s'] * 1e3:7.2f} ms "
                  f"(deadline {entry['deadline_s'] * 1e3:5.0f} ms), "
                  f"{entry['deadline_miss_ratio']:.2%} missed or lost")
    # --8<-- [end:latency]

    # --8<-- [start:write]
    from v2x_sim.report import build_report

    folder = v2x_sim.write_results(result, out_dir, finish=build_report)
    print(f"results in {folder}/, open {folder / 'report.html'} in a browser")
    # --8<-- [end:write]
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="5 simulated minutes")
    parser.add_argument("-o", "--output", default="results/tutorial-quickstart")
    args = parser.parse_args()
    main(args.output, horizon_s=300 if args.short else None)
