"""Transit priority requests under fault windows, in the scenario of `test_shuttle_priority`.

The shuttle's one request at node 1 leaves at 0 s (it enters link 0 then) and, without
faults, wins a 7 s extension: the shuttle leaves link 0 at 35 s instead of the next
green at 60 s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_shuttle_priority import _exits, _scenario

from v2x_sim.scenario.loader import scenario_from_dict
from v2x_sim.world import World, build_world

PRIORITY = {"enabled": True, "max_extension_s": 10, "margin_s": 2}


def _world(folder: Path, **sections: Any) -> World:
    data = _scenario(folder, **PRIORITY).to_plain()
    data.update(sections)
    return build_world(scenario_from_dict(data, base_dir=folder))


def _first_request(world: World) -> dict[str, Any]:
    table = world.priority.table()  # type: ignore[union-attr]
    first = int(np.argmin(table["sent_s"]))
    return {name: values[first] for name, values in table.items()}


def test_an_rsu_outage_loses_the_request_and_the_shuttle_waits_for_green(
        tmp_path: Path) -> None:
    """Every RSU out over [0, 100) s: the request reaches a silent RSU (outcome
    ``outage``), nothing is granted, the shuttle leaves at the next green, 60 s."""
    world = _world(tmp_path, faults=[{"kind": "rsu_outage", "start_s": 0, "end_s": 100,
                                      "share": 1.0}])
    world.run()
    assert _first_request(world)["outcome"] == "outage"
    assert _exits(world, 0)[0] == pytest.approx(60.0)


def test_an_outage_after_the_request_changes_nothing(tmp_path: Path) -> None:
    """The same outage over [100, 150) s, after the request: the grant stands (35 s)."""
    world = _world(tmp_path, faults=[{"kind": "rsu_outage", "start_s": 100, "end_s": 150,
                                      "share": 1.0}])
    world.run()
    assert _first_request(world)["outcome"] == "extension"
    assert _exits(world, 0)[0] == pytest.approx(35.0)


def test_an_edge_node_down_without_failover_loses_the_request(tmp_path: Path) -> None:
    world = _world(tmp_path, edge={"nodes": 1, "failover": "none"},
                   faults=[{"kind": "edge_down", "start_s": 0, "end_s": 100,
                            "targets": [0]}])
    world.run()
    assert _first_request(world)["outcome"] == "outage"
    assert _exits(world, 0)[0] == pytest.approx(60.0)


def test_a_request_to_a_failed_node_is_decided_by_its_neighbour_later(
        tmp_path: Path) -> None:
    """Its edge node down with failover to the neighbour: the request is decided there
    and the grant comes back the same longer way, so its latency grows by twice the
    failover's extra one-way delay; the extension still comes in time (35 s)."""
    plain = _world(tmp_path, edge={"nodes": 2})
    plain.run()
    before = _first_request(plain)
    world = _world(tmp_path, edge={"nodes": 2},
                   faults=[{"kind": "edge_down", "start_s": 0, "end_s": 100,
                            "targets": [int(before["edge"])]}])
    world.run()
    after = _first_request(world)
    faults = world.priority.flows.faults  # type: ignore[union-attr]
    _, extra, _ = faults.route_edge(np.array([int(before["edge"])]),
                                    np.array([float(before["edge_arrival_s"])]), 0.0, 100.0)
    assert extra[0] > 0.0
    assert after["outcome"] == "extension"
    assert after["latency_s"] == pytest.approx(before["latency_s"] + 2 * extra[0])
    assert _exits(world, 0)[0] == pytest.approx(35.0)
