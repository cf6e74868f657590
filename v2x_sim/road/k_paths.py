"""The k shortest loopless paths between two nodes (Yen's algorithm), for route choice.

Yen (1971): the first path is the shortest; each next one is the cheapest *deviation*
of a path already found, which follows that path's first ``i`` links (the root), then
leaves it at node ``i`` (the spur node) by a link no earlier path with the same root
took, and reaches the destination without revisiting a root node. Each spur path is
one A* search on the link graph with some links and nodes banned; its heuristic is the
exact distance to the destination on the full graph (one batched Dijkstra, already
computed by `RouteTables`), which stays a lower bound when links are banned, so the
search expands little more than the path itself. The search is a compiled kernel: a
control period asks for paths for hundreds of (node, destination) pairs.

On a network with turn restrictions (a connections file) the spur search runs on the
links (`_spur_search_turns`): its first link must be an allowed movement from the root's
last link, and each next one from the link before it (`turn_routing.TurnGraph`); the
heuristic is then per link, the exact cost on from its end (`RouteTables`), and stays a
lower bound with bans. So no
path in the set takes a forbidden movement, and none is dropped for taking one.
"""

from __future__ import annotations

import heapq

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.jit import njit
from v2x_sim.road.routing import RouteTables

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@njit(cache=True)
def _spur_search(out_offsets: IntArray, out_links: IntArray, from_node: IntArray,
                 to_node: IntArray, cost: FloatArray, heuristic: FloatArray, source: int,
                 target: int, banned_link: NDArray[np.bool_], banned_node: NDArray[np.bool_]
                 ) -> IntArray:  # pragma: no cover - compiled
    """Links of the cheapest path source -> target avoiding banned links and nodes.

    A* with ``heuristic`` (a lower bound of the cost to ``target``); empty when the
    target cannot be reached.
    """
    n = heuristic.size
    dist = np.full(n, np.inf)
    pred = np.full(n, -1, dtype=np.int64)
    done = np.zeros(n, dtype=np.bool_)
    dist[source] = 0.0
    heap = [(heuristic[source], source)]
    while len(heap) > 0:
        _, node = heapq.heappop(heap)
        if done[node]:
            continue
        done[node] = True
        if node == target:
            break
        for j in range(out_offsets[node], out_offsets[node + 1]):
            link = out_links[j]
            nxt = to_node[link]
            if (banned_link[link] or banned_node[nxt] or done[nxt]
                    or not np.isfinite(heuristic[nxt])):
                continue
            d = dist[node] + cost[link]
            if d < dist[nxt]:
                dist[nxt] = d
                pred[nxt] = link
                heapq.heappush(heap, (d + heuristic[nxt], nxt))
    if not done[target]:
        return np.zeros(0, dtype=np.int64)
    count = 0
    node = target
    while node != source:
        count += 1
        node = from_node[pred[node]]
    path = np.empty(count, dtype=np.int64)
    node = target
    for i in range(count - 1, -1, -1):
        path[i] = pred[node]
        node = from_node[pred[node]]
    return path


@njit(cache=True)
def _spur_search_turns(succ_offsets: IntArray, succ_links: IntArray, out_offsets: IntArray,
                       out_links: IntArray, to_node: IntArray, cost: FloatArray,
                       heuristic: FloatArray, source: int, arriving: int, target: int,
                       banned_link: NDArray[np.bool_], banned_node: NDArray[np.bool_]
                       ) -> IntArray:  # pragma: no cover - compiled
    """Links of the cheapest allowed path from ``source`` to ``target``: A* on the links.

    ``source`` is reached by ``arriving`` (-1: none, any first link); banned links and
    nodes are avoided. ``heuristic`` is per link: the exact cost from its end to
    ``target`` on the full graph with its allowed movements (consistent, and a lower
    bound with bans).
    """
    n = cost.size
    dist = np.full(n, np.inf)
    pred = np.full(n, -1, dtype=np.int64)
    done = np.zeros(n, dtype=np.bool_)
    heap = [(0.0, np.int64(0))]
    heap.pop()
    if arriving < 0:
        lo, hi, firsts = out_offsets[source], out_offsets[source + 1], out_links
    else:
        lo, hi, firsts = succ_offsets[arriving], succ_offsets[arriving + 1], succ_links
    for j in range(lo, hi):
        link = firsts[j]
        nxt = to_node[link]
        if banned_link[link] or banned_node[nxt] or not np.isfinite(heuristic[link]):
            continue
        if cost[link] < dist[link]:
            dist[link] = cost[link]
            heapq.heappush(heap, (cost[link] + heuristic[link], link))
    best = -1
    while len(heap) > 0:
        _, link = heapq.heappop(heap)
        if done[link]:
            continue
        done[link] = True
        if to_node[link] == target:
            best = int(link)
            break
        for j in range(succ_offsets[link], succ_offsets[link + 1]):
            b = succ_links[j]
            nxt = to_node[b]
            if (banned_link[b] or banned_node[nxt] or done[b]
                    or not np.isfinite(heuristic[b])):
                continue
            d = dist[link] + cost[b]
            if d < dist[b]:
                dist[b] = d
                pred[b] = link
                heapq.heappush(heap, (d + heuristic[b], b))
    if best < 0:
        return np.zeros(0, dtype=np.int64)
    count = 0
    link = best
    while link >= 0:
        count += 1
        link = pred[link]
    path = np.empty(count, dtype=np.int64)
    link = best
    for i in range(count - 1, -1, -1):
        path[i] = link
        link = pred[link]
    return path


def k_shortest_paths(tables: RouteTables, origin: int, destination: int,
                     k: int) -> list[list[int]]:
    """Up to ``k`` cheapest loopless paths origin -> destination, cheapest first.

    Args:
        tables: shortest-path tables under the cost to rank by (their distances to the
            destination are the search's heuristic, and give the first path).
        origin: start node.
        destination: end node.
        k: how many paths at most (fewer when fewer exist).

    Returns:
        Lists of link indices; ties in cost keep the order in which they were found.
    """
    network = tables.network
    cost = tables.cost_s
    first = tables.path(origin, destination)
    if not first or k < 1:
        return []
    heuristic = tables.distances_to(destination)  # inf where it cannot be reached
    graph = tables.turn_graph
    link_heuristic = tables.link_distances_to(destination) if graph is not None else heuristic
    from_node, to_node = network.from_node, network.to_node
    found: list[list[int]] = [first]
    seen = {tuple(first)}
    candidates: list[tuple[float, int, list[int]]] = []
    banned_link = np.zeros(network.n_links, dtype=np.bool_)
    banned_node = np.zeros(network.n_nodes, dtype=np.bool_)
    pushed = 0
    while len(found) < k:
        last = found[-1]
        nodes = [origin] + [int(to_node[link]) for link in last]
        for i in range(len(last)):
            root = last[:i]
            for path in found:
                if path[:i] == root and len(path) > i:
                    banned_link[path[i]] = True
            banned_node[nodes[:i]] = True
            if graph is None:
                spur = _spur_search(network.out_offsets, network.out_links, from_node,
                                    to_node, cost, heuristic, nodes[i], destination,
                                    banned_link, banned_node)
            else:  # the way on depends on the link arrived by
                spur = _spur_search_turns(graph.succ_offsets, graph.succ_links,
                                          network.out_offsets, network.out_links, to_node,
                                          cost, link_heuristic, nodes[i],
                                          root[-1] if root else -1, destination,
                                          banned_link, banned_node)
            banned_link[:] = False
            banned_node[:] = False
            if spur.size == 0:
                continue
            total = root + spur.tolist()
            key = tuple(total)
            if key not in seen:
                seen.add(key)
                heapq.heappush(candidates, (float(cost[total].sum()), pushed, total))
                pushed += 1
        if not candidates:
            break
        found.append(heapq.heappop(candidates)[2])
    return found


class PathSets:
    """k shortest paths per (origin, destination), computed once per cost (one period).

    Args:
        tables: shortest-path tables under the cost to rank by.
        k: paths per pair.
    """

    def __init__(self, tables: RouteTables, k: int) -> None:
        self.tables, self.k = tables, k
        self._sets: dict[tuple[int, int], tuple[list[list[int]], FloatArray]] = {}

    def get(self, origin: int, destination: int) -> tuple[list[list[int]], FloatArray]:
        """(paths, their costs) from ``origin`` to ``destination``, cheapest first."""
        key = (origin, destination)
        if key not in self._sets:
            paths = k_shortest_paths(self.tables, origin, destination, self.k)
            cost = self.tables.cost_s
            self._sets[key] = (paths, np.array([cost[p].sum() for p in paths], np.float64))
        return self._sets[key]
