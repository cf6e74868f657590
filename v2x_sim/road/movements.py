"""Turns at nodes: which link leaving a node is a U-turn, and routes that avoid them.

A U-turn takes a vehicle arriving on link ``a`` (from ``u`` to ``v``) onto a link from
``v`` back to ``u``. By default (``road.u_turns: dead_ends``) vehicles make one only at
a dead end, where every link leaving ``v`` goes back to ``u``. Shortest paths never
contain one (going back is never shorter); they arise where routes are joined: a
delivery leg after a stop, a new route from the end of the link a vehicle is on.

On a network with turn restrictions (a connections file, `turn_table`), a movement it
does not list is forbidden too, wherever U-turns are allowed.
"""

from __future__ import annotations

import numpy as np

from v2x_sim.road.network import Network
from v2x_sim.road.routing import RouteTables

MAX_DETOUR_LINKS = 8
"""Links a U-turn-free leg may take before it follows the shortest path regardless."""


class TurnRules:
    """Whether a turn is allowed, for one network and U-turn policy.

    Args:
        network: the road network.
        u_turns_anywhere: allow U-turns at every node (the rules then forbid nothing).
    """

    def __init__(self, network: Network, *, u_turns_anywhere: bool = False) -> None:
        self.network = network
        self.anywhere = u_turns_anywhere
        self._from: list[int] = network.from_node.tolist()
        self._to: list[int] = network.to_node.tolist()
        self._turns = network.turns

    def is_u_turn(self, arriving: int, leaving: int) -> bool:
        """Whether ``leaving`` goes from ``arriving``'s end straight back to its start."""
        return (self._from[leaving] == self._to[arriving]
                and self._to[leaving] == self._from[arriving])

    def dead_end(self, arriving: int) -> bool:
        """Whether every link leaving ``arriving``'s end goes back to its start."""
        back = self._from[arriving]
        return all(self._to[out] == back
                   for out in self.network.outgoing(self._to[arriving]).tolist())

    def forbidden(self, arriving: int, leaving: int) -> bool:
        """A U-turn away from a dead end (unless allowed anywhere), or an unlisted turn."""
        if arriving < 0:
            return False
        if self._turns is not None and not self._turns.allows(arriving, leaving):
            return True
        return (not self.anywhere and self.is_u_turn(arriving, leaving)
                and not self.dead_end(arriving))

    def route_allowed(self, arriving: int, tail: list[int]) -> bool:
        """Whether a vehicle on ``arriving`` may drive ``tail`` (advice, a new route).

        Its first turn must not be forbidden, and every movement along it must be one
        the turn table lists (if the network has one).
        """
        if not tail or self.forbidden(arriving, tail[0]):
            return False
        return self._turns is None or self._turns.route_allowed(tail)

    def leg(self, tables: RouteTables, arriving: int, origin: int,
            destination: int) -> list[int]:
        """Shortest path without a forbidden U-turn, arriving at ``origin`` on ``arriving``.

        ``arriving`` is -1 for a vehicle that starts at ``origin``. Where the shortest
        path would start with a forbidden U-turn, the vehicle takes the cheapest other
        link leaving the node (its cost plus the shortest cost on from its end) and looks
        again from there, for up to `MAX_DETOUR_LINKS` links. Empty when the destination
        cannot be reached.
        """
        route: list[int] = []
        here, prev = origin, arriving
        for _ in range(MAX_DETOUR_LINKS):
            rest = tables.path(here, destination, prev)
            if not rest or not self.forbidden(prev, rest[0]):
                return route + rest
            dist = tables.distances_to(destination)
            best, best_cost = -1, np.inf
            for out in self.network.outgoing(here).tolist():
                cost = float(tables.cost_s[out] + dist[self._to[out]])
                if out != rest[0] and cost < best_cost and not (
                        self._turns is not None and prev >= 0
                        and not self._turns.allows(prev, out)):
                    best, best_cost = out, cost
            if best < 0 or not np.isfinite(best_cost):
                return route + rest  # the U-turn is the only way on
            route.append(best)
            here, prev = self._to[best], best
            if here == destination:
                return route
        return route + tables.path(here, destination, prev)
