"""Where a vehicle blocked past ``moved_on_after_s`` may go: a link with space.

A head vehicle blocked for ``moved_on_after_s`` is moved on (like SUMO's teleport) so
that gridlock shows in the results instead of freezing the run, but never into a full
link and never through a full closure:

* behind a full closure (every lane of its link closed) it may only turn back, onto a
  link from its link's end back to its start (the opposite direction): nothing passes
  the zone;
* behind a full next link it may take any other link leaving the node.

Of the candidates with storage left, it takes the one with the least free-flow cost to
its destination, with fully closed links priced `CLOSED_COST_S`, and that path from
there. No candidate (or only ways through a closure): it keeps waiting.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from v2x_sim.road.network import Network
from v2x_sim.road.routing import RouteTables

CLOSED_COST_S = 1e7
"""Cost of a fully closed link in the search for a moved-on vehicle's new route."""


class MoveOn:
    """Detour choices for blocked vehicles, with route tables cached per set of closures.

    Args:
        network: the road network.
    """

    def __init__(self, network: Network) -> None:
        self.network = network
        self.closed: set[int] = set()
        self._tables: dict[frozenset[int], RouteTables] = {}
        self._to_node: list[int] = network.to_node.tolist()
        self._from_node: list[int] = network.from_node.tolist()

    def set_closed(self, link: int, closed: bool) -> None:
        """Record whether every lane of ``link`` is closed now."""
        if closed:
            self.closed.add(link)
        else:
            self.closed.discard(link)

    def _route_tables(self) -> RouteTables:
        key = frozenset(self.closed)
        tables = self._tables.get(key)
        if tables is None:
            cost = np.array(self.network.free_flow_time_s, dtype=np.float64)
            cost[sorted(key)] = CLOSED_COST_S
            tables = self._tables[key] = RouteTables(self.network, cost)
        return tables

    def new_tail(self, link: int, destination: int, blocked_on: int,
                 has_space: Callable[[int], bool]) -> list[int] | None:
        """Links to take after ``link`` instead of the blocked way, or None (wait).

        Args:
            link: the link the vehicle stands at the end of (or behind a closure on).
            destination: its destination node.
            blocked_on: the next link it waits for (ignored behind a closure).
            has_space: whether a link can take the vehicle now.
        """
        behind_closure = link in self.closed
        tables = self._route_tables()
        dist, cost_s = tables.distances_to(destination), tables.cost_s
        start = self._from_node[link]
        best, best_cost = -1, CLOSED_COST_S
        for cand in self.network.outgoing(self._to_node[link]).tolist():
            if behind_closure and self._to_node[cand] != start:
                continue
            if (not behind_closure and cand == blocked_on) or cand in self.closed:
                continue
            cost = float(cost_s[cand] + dist[self._to_node[cand]])
            if cost < best_cost and has_space(cand):
                best, best_cost = cand, cost
        if best < 0:
            return None
        return [best, *tables.path(self._to_node[best], destination, best)]

    def detail(self, link: int, moved_to: int, limit_s: float) -> str:
        """The ``moved_on`` event's text: how long, what the vehicle did, where to."""
        how = ("turned back before the closure" if link in self.closed
               else "moved on to a link with space")
        return (f"blocked {limit_s:g} s at the end of the link, {how} "
                f"({self.network.link_ids[moved_to]})")
