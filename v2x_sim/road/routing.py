"""Batched shortest paths: one Dijkstra per destination gives a next-hop table.

Instead of searching a path per vehicle, we run Dijkstra once per distinct destination
on the reversed graph (``scipy.sparse.csgraph``) and derive, for every node, the link to
take next. A vehicle at node ``u`` heading to ``d`` takes ``next_link[d][u]``. Parallel
links between the same nodes are handled: the next link is the cheapest out-link by
``cost[l] + dist[to[l]]``.

On a network with turn restrictions (a connections file, `turn_table`) the search runs
on the links instead (`turn_routing`): the next link then depends on the link a vehicle
arrived by, and `RouteTables.path` takes it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from v2x_sim.road.network import NO_LINK, Network, cheapest_out_link
from v2x_sim.road.turn_routing import TurnGraph


def distances_to(network: Network, cost_s: NDArray[np.float64],
                 destinations: NDArray[np.int64]) -> NDArray[np.float64]:
    """Shortest cost from every node to each destination: array (n_dest, n_nodes).

    Args:
        network: the road network.
        cost_s: non-negative cost per link (e.g. free-flow time).
        destinations: destination node indices.
    """
    # Reversed graph: an edge to -> from with the link's cost. Duplicate (to, from) pairs
    # would be summed by csr_matrix, so keep only the cheapest of each pair first.
    n = network.n_nodes
    keys = network.to_node * n + network.from_node
    order = np.lexsort((cost_s, keys))
    first = np.ones(len(order), dtype=bool)
    first[1:] = keys[order[1:]] != keys[order[:-1]]
    chosen = order[first]
    # csgraph treats explicit zeros as missing edges: lift zero costs to a tiny epsilon.
    weights = np.maximum(cost_s[chosen], 1e-9)
    graph = csr_matrix(
        (weights, (network.to_node[chosen], network.from_node[chosen])), shape=(n, n)
    )
    return np.atleast_2d(dijkstra(graph, directed=True, indices=destinations))


def next_hop_table(network: Network, cost_s: NDArray[np.float64],
                   dist_to_dest: NDArray[np.float64]) -> NDArray[np.int64]:
    """For one destination's distance vector, the best next link from every node.

    Nodes that cannot reach the destination (and the destination itself) get `NO_LINK`.
    """
    table = cheapest_out_link(network, cost_s + dist_to_dest[network.to_node])
    table[~np.isfinite(dist_to_dest) | (dist_to_dest == 0.0)] = NO_LINK
    return table



class RouteTables:
    """Next-hop tables for a set of destinations under one link cost, built lazily in batches.

    Args:
        network: the road network.
        cost_s: cost per link (free-flow time for departure routing).
    """

    def __init__(self, network: Network, cost_s: NDArray[np.float64]) -> None:
        self.network = network
        self.cost_s = np.asarray(cost_s, dtype=np.float64)
        self._tables: dict[int, NDArray[np.int64]] = {}
        self._dist: dict[int, NDArray[np.float64]] = {}
        self._lists: dict[int, list[int]] = {}  # tables as lists, for scalar walks
        self._to_node: list[int] = network.to_node.tolist()
        self._graph = TurnGraph(network) if network.turns is not None else None
        self._link_dist: dict[int, NDArray[np.float64]] = {}
        self._link_next: dict[int, list[int]] = {}

    def prepare(self, destinations: NDArray[np.int64] | list[int]) -> None:
        """Distances to all these destinations in one batched Dijkstra.

        A destination's next-hop table is derived from its distances when a path to it
        is first asked for (most destinations a policy looks at need only distances).
        """
        todo = np.unique(np.asarray([d for d in np.unique(destinations)
                                     if int(d) not in self._dist], dtype=np.int64))
        if todo.size == 0:
            return
        if self._graph is None:
            dist = distances_to(self.network, self.cost_s, todo)
        else:
            link_dist = self._graph.link_distances(self.cost_s, todo)
            dist = self._graph.node_distances(self.cost_s, link_dist)
            dist[np.arange(len(todo)), todo] = 0.0
            for row, dest in enumerate(todo):
                self._link_dist[int(dest)] = link_dist[row]
        for row, dest in enumerate(todo):
            self._dist[int(dest)] = dist[row]

    def distance(self, origin: int, destination: int) -> float:
        """Shortest cost from ``origin`` to ``destination`` (inf if unreachable)."""
        return float(self.distances_to(destination)[origin])

    def distances_to(self, destination: int) -> NDArray[np.float64]:
        """Shortest cost from every node to ``destination``."""
        if destination not in self._dist:
            self.prepare([destination])
        return self._dist[destination]

    @property
    def turn_graph(self) -> TurnGraph | None:
        """The allowed movements the search runs on (None: no turn restrictions)."""
        return self._graph

    def link_distances_to(self, destination: int) -> NDArray[np.float64]:
        """Least cost from the end of every link to ``destination`` (turn restrictions)."""
        if destination not in self._dist:
            self.prepare([destination])
        return self._link_dist[destination]

    def table(self, destination: int) -> NDArray[np.int64]:
        """Next link from every node towards ``destination``."""
        table = self._tables.get(destination)
        if table is None:
            dist = self.distances_to(destination)
            if self._graph is None:
                table = next_hop_table(self.network, self.cost_s, dist)
            else:  # the best first link of a trip starting at each node
                table = self._graph.first_links(self.cost_s, self._link_dist[destination])
                table[~np.isfinite(dist) | (dist == 0.0)] = NO_LINK
            self._tables[destination] = table
        return table

    def path(self, origin: int, destination: int, arriving: int = NO_LINK) -> list[int]:
        """Link indices of the shortest path; empty if unreachable or origin == destination.

        ``arriving`` is the link the vehicle reached ``origin`` by (it ends there); with
        turn restrictions the path's first movement is then an allowed one from it.
        Without restrictions it is ignored.
        """
        if destination not in self._lists:
            self._lists[destination] = self.table(destination).tolist()
        if origin == destination:
            return []
        if self._graph is not None:
            return self._turning_path(origin, destination, arriving)
        table = self._lists[destination]
        to_node = self._to_node
        links: list[int] = []
        node = origin
        for _ in range(len(table)):
            if node == destination:
                return links
            link = table[node]
            if link == NO_LINK:
                return []
            links.append(link)
            node = to_node[link]
        return []

    def _turning_path(self, origin: int, destination: int, arriving: int) -> list[int]:
        """`path` on the line graph: from the best first link, each best next link."""
        assert self._graph is not None
        nexts = self._link_next.get(destination)
        if nexts is None:
            nexts = self._graph.next_links(self.cost_s, self._link_dist[destination]).tolist()
            self._link_next[destination] = nexts
        link = nexts[arriving] if arriving >= 0 else self._lists[destination][origin]
        to_node = self._to_node
        links: list[int] = []
        for _ in range(len(nexts)):
            if link == NO_LINK:
                return []
            links.append(link)
            if to_node[link] == destination:
                return links
            link = nexts[link]
        return []
