"""Tutorial 3, bring your own network: import a SUMO network, edit the stub, run it.

The same steps work for OpenStreetMap (``import_osm``, with ``pip install
'v2x-sim[osm]'``) and GMNS (``import_gmns``). Run it from the repository root (the
default network is the small SUMO grid the tests use), or pass your own ``.net.xml``::

    python examples/tutorial_own_network.py
    python examples/tutorial_own_network.py --net my_city.net.xml -o results/my-city

The documentation page ``docs/tutorials/own-network.md`` walks through it; the test
suite runs it with a short horizon.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import v2x_sim
from v2x_sim.road.importers import import_sumo, write_import

HERE = Path(__file__).resolve().parent
SUMO_GRID = HERE.parent / "tests" / "data" / "sumo" / "grid3.net.xml"

# --8<-- [start:study]
STUDY = """\
extends: network/scenario.yaml    # the stub the import wrote
name: my-city
simulation: {horizon_s: 1800, seed: 1}
demand:
  random: {rate_vph: 900}
incidents:
  # links keep their SUMO ids: B1C1 is the edge from junction B1 to C1
  - {link: B1C1, start_s: 300, end_s: 1200, lanes_closed: 1}
roadside:
  rsu: {placement: {mode: spacing, spacing_m: 150}, range_m: 300}
  sensors:
    - {kind: camera, placement: {mode: list, positions: [{link: B1C1, offset_m: 100}]},
       range_m: 150, detection_probability: 0.9, frame_rate_hz: 10}
edge: {nodes: 1}
control: {policy: dynamic_shortest}
"""
# --8<-- [end:study]


def main(out_dir: str | Path = "results/tutorial-own-network", *,
         net_file: str | Path = SUMO_GRID, horizon_s: float | None = None) -> v2x_sim.RunResult:
    """Import ``net_file`` into ``out_dir/network``, write a study on it, run it."""
    out = Path(out_dir)
    # --8<-- [start:import]
    imported = import_sumo(Path(net_file))
    counts = imported.counts()
    print(f"{counts['nodes']} junctions, {counts['links']} links, "
          f"{counts['network_km']:.1f} km, {counts['signal_nodes']} with traffic lights")
    for note in imported.notes:
        print(f"  note: {note}")
    written = write_import(imported, out / "network", name="my-city")
    print("wrote", ", ".join(path.name for path in written))
    # --8<-- [end:import]

    # --8<-- [start:load]
    study = out / "my-city.yaml"
    study.write_text(STUDY, encoding="utf-8")
    overrides = [] if horizon_s is None else [f"simulation.horizon_s={horizon_s}"]
    scenario = v2x_sim.load_scenario(study, overrides)
    world = v2x_sim.build_world(scenario)  # what `v2x-sim validate` checks
    print(f"{world.network.n_links} links, {len(world.plan):,} planned trips")
    # --8<-- [end:load]

    # --8<-- [start:run]
    result = v2x_sim.run(scenario)
    links = result.links
    slowest = np.argsort(links["speed_ratio"])[:3]
    for row in slowest:
        print(f"  {links['link'][row]:<6} {links['t_start_s'][row]:>6,.0f} s: "
              f"{links['speed_ratio'][row]:.0%} of free speed, {links['flow_vph'][row]:,.0f} veh/h")
    print(f"rerouting: {result.summary['rerouting']['followed']} pieces of advice followed")
    v2x_sim.write_results(result, out / "results")
    # --8<-- [end:run]
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", default=str(SUMO_GRID), help="a SUMO .net.xml file")
    parser.add_argument("-o", "--output", default="results/tutorial-own-network")
    args = parser.parse_args()
    main(args.output, net_file=args.net)
