"""Shortest paths that respect turn restrictions: Dijkstra on the links (line graph).

With a turn table (`turn_table`) the best way on from a node depends on the link a
vehicle arrived by, so distances are kept per link: ``link_dist[d][a]`` is the least
cost from the end of link ``a`` to node ``d`` using allowed movements only (0 when
``a`` ends at ``d``). They come from one batched Dijkstra per set of destinations on the
reversed line graph: its vertices are the links plus one sink per node, an edge
``b -> a`` of weight ``cost[b]`` for each allowed movement ``(a, b)``, and an edge
``sink(to[a]) -> a`` of weight ``EPS`` for each link (then taken off again). U-turns
away from dead ends are left out even when listed (as `movements` forbids them).

From a node where a trip starts (no arriving link) the cost is the best first link:
``min over b leaving it of cost[b] + link_dist[b]``; that is also the node distance
policies and heuristics read (never more than any arriving link's, so a node search
keeps it as an admissible bound). The graph has ``n_links + n_nodes`` vertices and
``n_movements + n_links`` edges: a few times the node graph.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from v2x_sim.road.network import Network, cheapest_out_link
from v2x_sim.road.route_kernels import cheapest_finite_successor

EPS = 1e-9
"""Weight of the link -> sink edges (csgraph drops explicit zeros); subtracted again."""



class TurnGraph:
    """The reversed line graph of a network with a turn table.

    Args:
        network: the network; ``network.turns`` must be set.
    """

    def __init__(self, network: Network) -> None:
        turns = network.turns
        assert turns is not None
        a, b = turns.from_link, turns.to_link
        u_turn = network.to_node[b] == network.from_node[a]
        if u_turn.any():
            # a U-turn is allowed only where every listed way on from ``a`` turns back
            any_other = np.zeros(network.n_links, dtype=bool)
            any_other[a[~u_turn]] = True
            keep = ~u_turn | ~any_other[a]
            a, b = a[keep], b[keep]
        self.network = network
        self.from_link, self.to_link = a, b
        self.n_links = network.n_links
        order = np.argsort(a, kind="stable")
        self.succ_links = np.ascontiguousarray(b[order], dtype=np.int64)
        """Allowed next links, grouped by the link before them (CSR with `succ_offsets`)."""
        self.succ_offsets = np.concatenate(
            ([0], np.cumsum(np.bincount(a, minlength=self.n_links)))).astype(np.int64)

    def link_distances(self, cost_s: NDArray[np.float64],
                       destinations: NDArray[np.int64]) -> NDArray[np.float64]:
        """``link_dist``: array (n_dest, n_links), inf where the destination is unreachable."""
        net, n = self.network, self.n_links
        size = n + net.n_nodes
        weights = np.concatenate((np.maximum(cost_s[self.to_link], EPS),
                                  np.full(n, EPS)))
        rows = np.concatenate((self.to_link, n + net.to_node))
        cols = np.concatenate((self.from_link, np.arange(n)))
        graph = csr_matrix((weights, (rows, cols)), shape=(size, size))
        dist = np.atleast_2d(dijkstra(graph, directed=True, indices=n + destinations))
        return dist[:, :n] - EPS

    def node_distances(self, cost_s: NDArray[np.float64],
                       link_dist: NDArray[np.float64]) -> NDArray[np.float64]:
        """Cost from each node with no arriving link (n_dest, n_nodes).

        ``min over b leaving it of cost[b] + link_dist[b]``, from ``link_dist``.
        """
        net = self.network
        via = (cost_s[None, :] + link_dist)[:, net.out_links]  # grouped by from node
        starts = net.out_offsets[:-1]
        some = starts < net.out_offsets[1:]  # nodes with a link leaving them
        out = np.full((link_dist.shape[0], net.n_nodes), np.inf)
        out[:, some] = np.minimum.reduceat(via, starts[some], axis=1)
        return out

    def first_links(self, cost_s: NDArray[np.float64], link_dist: NDArray[np.float64]
                    ) -> NDArray[np.int64]:
        """For one destination: the best first link from each node (no arriving link)."""
        return cheapest_out_link(self.network, cost_s + link_dist)

    def next_links(self, cost_s: NDArray[np.float64], link_dist: NDArray[np.float64]
                   ) -> NDArray[np.int64]:
        """For one destination: the best allowed next link after each link.

        `NO_LINK` where no allowed movement leads to the destination.
        """
        return cheapest_finite_successor(  # type: ignore[no-any-return]
            self.succ_links, self.succ_offsets, np.ascontiguousarray(cost_s, np.float64),
            np.ascontiguousarray(link_dist, np.float64))
