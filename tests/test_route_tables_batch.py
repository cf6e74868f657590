"""The batched next-hop tables equal one `next_hop_table` per destination, ties included."""

from __future__ import annotations

import numpy as np
import pytest

from v2x_sim.road.routing import RouteTables, distances_to, next_hop_table
from v2x_sim.scenario import scenario_from_dict
from v2x_sim.world import build_world


@pytest.fixture(scope="module")
def network():  # type: ignore[no-untyped-def]
    scenario = scenario_from_dict({"road": {"generator": "grid",
                                            "grid": {"rows": 4, "cols": 5, "spacing_m": 300}},
                                   "demand": {"random": {"rate_vph": 10}},
                                   "v2x": {"enabled": False}})
    return build_world(scenario).network


@pytest.mark.parametrize("case", ["random", "ties", "blocked"])
def test_batched_tables_equal_one_table_per_destination(network, case: str) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    cost = network.free_flow_time_s * rng.uniform(0.5, 3.0, network.n_links)
    if case == "ties":
        cost = np.full(network.n_links, 20.0)  # every path of equal length ties
    if case == "blocked":
        cost[rng.integers(0, network.n_links, 8)] = np.inf
    tables = RouteTables(network, cost)
    destinations = np.arange(network.n_nodes)
    tables.prepare(destinations)
    dist = distances_to(network, cost, destinations)
    for d in destinations.tolist():
        expected = next_hop_table(network, cost, dist[d])
        assert np.array_equal(tables.table(d), expected), d
    # on equal costs the lowest-numbered of the tied out-links is taken
    if case == "ties":
        u, d = 0, network.n_nodes - 1
        out = np.flatnonzero(network.from_node == u)
        via = cost[out] + dist[d][network.to_node[out]]
        assert tables.table(d)[u] == out[via == via.min()].min()
