"""Benchmark: a 10 x 10 signalised grid, 20,000 trips in an hour, against SUMO's meso model.

    pip install eclipse-sumo            # SUMO's binaries and tools (~280 MB), once
    python benchmarks/bench_sumo.py     # 3 fresh processes each; prints medians and ratios

Each run's wall time and CPU time (user + system of the finished process, from the
operating system); on a shared machine the CPU times are the comparable figures (both
simulators use one core), and the ratios are also given pair by pair.

The same network for both: SUMO's ``netgenerate`` builds the grid (400 m blocks, two
lanes each way, traffic lights guessed at every junction) and ``v2x-sim import sumo``
reads it. Demand: 20,000 trips between random junctions (v2x-sim's ``demand.random``)
and 20,000 random trips for SUMO (``randomTrips.py``, uniform departures over the
hour). Timed, each as a whole process (start-up, build, simulation, writing its
outputs, no report):

* ``sumo --mesosim`` with its rerouting device on every vehicle every 60 s (SUMO
  simulates no message at all);
* v2x-sim with every vehicle connected, the cloud rerouting every vehicle every 60 s
  (``dynamic_shortest``) and every message flow on (BSMs, status reports; no roadside
  devices beyond the importer's defaults);
* v2x-sim traffic alone (``v2x.enabled: false``);
* v2x-sim rerouting as above with ``v2x.background: off`` (status reports, decisions
  and advice through their channels and queues; no BSMs or sensor frames as load).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HORIZON_S = 3600
TRIPS = 20_000


def sumo_tool(name: str) -> str:
    """Path of a SUMO binary or tool from the eclipse-sumo package."""
    import sumo

    tool = Path(sumo.SUMO_HOME) / "tools" / name
    return str(tool) if tool.exists() else str(Path(sys.executable).parent / name)


def prepare(folder: Path) -> dict[str, list[str]]:
    """Network, trips and scenarios in ``folder``; the command line of each contender."""
    net = folder / "grid.net.xml"
    subprocess.run([sumo_tool("netgenerate"), "--grid", "--grid.number", "10",
                    "--grid.length", "400", "--default.lanenumber", "2",
                    "--default.speed", "13.89", "--tls.guess", "true", "--no-turnarounds",
                    "true", "-o", str(net)], check=True, capture_output=True)
    trips = folder / "trips.xml"
    subprocess.run([sys.executable, sumo_tool("randomTrips.py"), "-n", str(net), "-o",
                    str(trips), "-b", "0", "-e", str(HORIZON_S), "-p",
                    f"{HORIZON_S / TRIPS:.4f}", "--seed", "1", "--validate",
                    "--min-distance", "400", "-r", str(folder / "routes.rou.xml")],
                   check=True, capture_output=True, cwd=folder)
    imported = folder / "v2x"
    subprocess.run([sys.executable, "-m", "v2x_sim.cli", "import", "sumo", str(net), "-o",
                    str(imported), "-q"], check=True, capture_output=True)
    scenario = imported / "bench.yaml"
    scenario.write_text(f"""extends: scenario.yaml
name: grid_10x10
simulation: {{horizon_s: {HORIZON_S}, warmup_s: 0, seed: 1}}
demand:
  random: {{rate_vph: {TRIPS}}}
vehicles:
  classes:
    car: {{share: 0.9, connected_share: 1.0}}
    truck: {{share: 0.07, connected_share: 1.0}}
control:
  policy: dynamic_shortest
  period_s: 60
""", encoding="utf-8")
    v2x = [sys.executable, "-m", "v2x_sim.cli", "run", str(scenario), "-q", "--no-report",
           "-o", str(folder / "out-v2x")]
    return {
        "sumo_meso": [sumo_tool("sumo"), "--mesosim", "true", "-n", str(net), "-r",
                      str(trips), "--end", str(HORIZON_S), "--device.rerouting.probability",
                      "1", "--device.rerouting.period", "60", "--no-step-log", "true",
                      "--tripinfo-output", str(folder / "tripinfo.xml"), "--seed", "1"],
        "v2x_messages": v2x,
        "v2x_traffic": [*v2x[:-1], str(folder / "out-traffic"), "--set", "v2x.enabled=false",
                        "--set", "control.policy=none"],
        "v2x_background_off": [*v2x[:-1], str(folder / "out-off"), "--set",
                               "v2x.background=off"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        commands = prepare(Path(tmp))
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):  # interleaved, so drift hits every contender alike
            for name, command in commands.items():
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True)
                walls[name].append(time.perf_counter() - started)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus[name].append(after.ru_utime - before.ru_utime
                                  + after.ru_stime - before.ru_stime)
        for label, times in (("wall", walls), ("CPU", cpus)):
            median = {name: statistics.median(t) for name, t in times.items()}
            for name, t in times.items():
                print(f"{name}: median {median[name]:.2f} s {label}, whole process "
                      f"(runs: {', '.join(f'{x:.2f}' for x in t)})")
            for name in ("v2x_messages", "v2x_traffic", "v2x_background_off"):
                pairs = [a / b for a, b in zip(times[name], times["sumo_meso"], strict=True)]
                print(f"{name} / sumo_meso, {label}: {median[name] / median['sumo_meso']:.2f} "
                      f"(pair by pair: {', '.join(f'{r:.2f}' for r in pairs)})")


if __name__ == "__main__":
    main()
