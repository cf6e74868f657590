"""Yen's k shortest loopless paths against hand-worked cases and plain enumeration."""

from __future__ import annotations

import numpy as np
import pytest

from v2x_sim.road.k_paths import PathSets, k_shortest_paths
from v2x_sim.road.network import Network, build_network
from v2x_sim.road.routing import RouteTables


def grid(rows: int, cols: int) -> Network:
    """A rows x cols grid, 100 m apart, a link each way between neighbours."""
    xs = [100.0 * j for i in range(rows) for j in range(cols)]
    ys = [100.0 * i for i in range(rows) for j in range(cols)]
    start, end = [], []
    for i in range(rows):
        for j in range(cols):
            for a, b in ((i, j + 1), (i + 1, j), (i, j - 1), (i - 1, j)):
                if 0 <= a < rows and 0 <= b < cols:
                    start.append(i * cols + j)
                    end.append(a * cols + b)
    n = len(start)
    return build_network(x_m=xs, y_m=ys, from_node=start, to_node=end,
                         length_m=[100.0] * n, lanes=[1] * n, free_speed_mps=[10.0] * n,
                         capacity_vps_per_lane=[0.5] * n,
                         jam_density_vpm_per_lane=[0.14] * n, road_class=[0] * n)


def all_simple_paths(net: Network, cost: np.ndarray, origin: int,
                     goal: int) -> list[float]:
    """Costs of every loopless path, by depth-first enumeration, sorted."""
    found: list[float] = []

    def walk(node: int, visited: set[int], total: float) -> None:
        if node == goal:
            found.append(total)
            return
        for link in net.out_links[net.out_offsets[node]:net.out_offsets[node + 1]]:
            nxt = int(net.to_node[link])
            if nxt not in visited:
                walk(nxt, visited | {nxt}, total + float(cost[link]))

    walk(origin, {origin}, 0.0)
    return sorted(found)


def test_k_paths_by_hand_on_a_square() -> None:
    """Square 0-1-3 / 0-2-3 plus a diagonal 0 -> 3: links 0: 0->1 (10), 1: 1->3 (10),
    2: 0->2 (5), 3: 2->3 (20), 4: 0->3 (22), 5: 1->2 (1). Loopless paths 0 -> 3:
    [0, 1] = 20, [4] = 22, [2, 3] = 25, [0, 5, 3] = 31; k = 3 gives the first three in
    that order, k = 10 all four."""
    net = build_network(x_m=[0, 1, 0, 1], y_m=[0, 0, 1, 1], from_node=[0, 1, 0, 2, 0, 1],
                        to_node=[1, 3, 2, 3, 3, 2], length_m=[100.0] * 6, lanes=[1] * 6,
                        free_speed_mps=[10.0] * 6, capacity_vps_per_lane=[0.5] * 6,
                        jam_density_vpm_per_lane=[0.14] * 6, road_class=[0] * 6)
    tables = RouteTables(net, np.array([10.0, 10.0, 5.0, 20.0, 22.0, 1.0]))
    assert k_shortest_paths(tables, 0, 3, 3) == [[0, 1], [4], [2, 3]]
    assert k_shortest_paths(tables, 0, 3, 10) == [[0, 1], [4], [2, 3], [0, 5, 3]]
    paths, cost = PathSets(tables, 2).get(0, 3)
    assert paths == [[0, 1], [4]]
    np.testing.assert_allclose(cost, [20.0, 22.0])
    assert k_shortest_paths(tables, 3, 0, 3) == []  # no link leaves node 3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_k_paths_equal_the_k_cheapest_of_all_loopless_paths(seed: int) -> None:
    """On a 3 x 4 grid with random costs, the k = 6 paths' costs are the six smallest
    of every loopless path (enumerated), each path distinct, loopless and connected."""
    net = grid(3, 4)
    rng = np.random.default_rng(seed)
    cost = rng.uniform(1.0, 10.0, net.n_links)
    tables = RouteTables(net, cost)
    for origin, goal in rng.choice(net.n_nodes, size=(5, 2), replace=False):
        paths = k_shortest_paths(tables, int(origin), int(goal), 6)
        expected = all_simple_paths(net, cost, int(origin), int(goal))[:6]
        np.testing.assert_allclose([cost[p].sum() for p in paths], expected, rtol=1e-12)
        assert len({tuple(p) for p in paths}) == len(paths)
        for path in paths:
            nodes = [int(origin), *net.to_node[path].tolist()]
            assert len(set(nodes)) == len(nodes)
            assert nodes[-1] == goal
            assert (net.from_node[path[1:]] == net.to_node[path[:-1]]).all()
