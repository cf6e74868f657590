"""What a warned connected vehicle does: the edge's local detour, or slowing down.

A connected vehicle that receives a hazard warning while its route still leads onto the
hazard link reacts at once:

* its driver complies (the driver's own compliance, drawn once per trip, the same draw
  route advice uses) and the hazard blocks the way (lanes closed, or a standing queue):
  it takes a **local detour** at its next node, if the edge finds one cheaper than
  staying: from that node back onto the route right after the hazard link, on the
  **edge node's own estimates** of its region's links (its sensors' last aggregate; the
  map's free-flow times where it has none), with fully closed hazard links it knows of
  barred. Staying costs the route's links up to the end of the hazard link (infinite
  through a full closure). The route change uses the same mechanism as route advice
  (`LinkTraffic.reroute`: switch at the next node, a blocked head vehicle wakes its link);
* otherwise it **slows** on the hazard link: it drives it at ``v2x.warning_speed_factor``
  times the speed it would have had (from its next entry onto that link).

A vehicle already on the hazard link when the warning arrives, or whose route no longer
leads onto it, does not react. The model counts the time either reaction costs or saves;
the safety benefit of slowing (fewer secondary collisions) is not modelled.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from v2x_sim.road.movements import TurnRules
from v2x_sim.road.network import Network
from v2x_sim.road.routing import RouteTables
from v2x_sim.road.state import BLOCKED_S  # a fully closed link's cost: never taken

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

class Reaction(StrEnum):
    """What a warned vehicle did about one hazard."""

    NONE = "none"
    DETOUR = "detour"
    SLOW = "slow"


@dataclass(frozen=True)
class VehicleHooks:
    """The traffic side as the warning loop may use it (injected by the wiring).

    Attributes:
        locate: the link a vehicle is on (-1 when it is on none).
        ahead: the links of its route after its current link.
        compliant: whether its driver follows advice (drawn once per trip).
        reroute: switch it to a new route tail from its current link's end; False if it
            cannot (arrived, stops ahead, a forbidden U-turn).
        slow: ``slow(vehicle, link, factor)``: drive ``link`` at ``factor`` x its speed.
        queue_offsets: distance from its link's start of each given standing vehicle
            (what its BSM says: the queue ahead of it, packed at jam density).
    """

    locate: Callable[[int], int]
    ahead: Callable[[int], list[int]]
    compliant: Callable[[int], bool]
    reroute: Callable[[int, list[int]], bool]
    slow: Callable[[int, int, float], None]
    queue_offsets: Callable[[IntArray], FloatArray]


class WarningReaction:
    """Decides and applies the reaction of warned vehicles (module doc).

    Args:
        network: the road network (the map the edge knows).
        hooks: the traffic side.
        estimate: the edge node's latest travel-time estimate per link (NaN where it has
            none), or None when it has no estimates at all; with the readings it came from
            (the cache key).
        turns: the U-turn rules the detour must respect.
        speed_factor: speed share of a vehicle that slows.
    """

    def __init__(self, network: Network, hooks: VehicleHooks,
                 estimate: Callable[[int], tuple[object, FloatArray] | None],
                 turns: TurnRules, speed_factor: float) -> None:
        self.network, self.hooks, self.estimate = network, hooks, estimate
        self.turns, self.speed_factor = turns, speed_factor
        self._to_node = network.to_node.tolist()
        self._tables: dict[tuple[int, int, tuple[int, ...]], tuple[object, RouteTables]] = {}

    def react(self, *, hazard: int, link: int, edge: int, blocking: bool, closed: bool,
              vehicle: int, closed_links: list[int]) -> Reaction:
        """The reaction of ``vehicle`` to a warning about ``hazard`` on ``link``, applied.

        ``blocking``: lanes closed or a standing queue; ``closed``: every lane closed;
        ``closed_links``: every fully closed hazard link the edge knows of now.
        """
        hooks = self.hooks
        here = hooks.locate(vehicle)
        if here < 0 or here == link:
            return Reaction.NONE
        ahead = hooks.ahead(vehicle)
        if link not in ahead:
            return Reaction.NONE
        if blocking and hooks.compliant(vehicle):
            tail = self.detour(hazard=hazard, link=link, edge=edge, closed=closed,
                               here=here, ahead=ahead, closed_links=closed_links)
            if tail is not None and hooks.reroute(vehicle, tail):
                return Reaction.DETOUR
        if self.speed_factor < 1.0:
            hooks.slow(vehicle, link, self.speed_factor)
            return Reaction.SLOW
        return Reaction.NONE

    def detour(self, *, hazard: int, link: int, edge: int, closed: bool, here: int,
               ahead: list[int], closed_links: list[int]) -> list[int] | None:
        """The new route tail from the end of ``here`` around ``link``, or None.

        None when no path avoids the hazard link or the detour costs no less than
        staying, both on the edge's estimates.
        """
        tables = self._edge_tables(hazard, edge, closed_links)
        cost = tables.cost_s
        at = ahead.index(link)
        stay = math.inf if closed else float(cost[ahead[:at + 1]].sum())
        rejoin = self._to_node[link]
        leg = self.turns.leg(tables, here, self._to_node[here], rejoin)
        if not leg or link in leg or (cost[leg] >= BLOCKED_S).any():
            return None
        if float(cost[leg].sum()) >= stay:
            return None
        return leg + ahead[at + 1:]

    def _edge_tables(self, hazard: int, edge: int, closed_links: list[int]) -> RouteTables:
        """Shortest paths on the edge's estimates, cached per hazard and aggregate."""
        latest = self.estimate(edge)
        stamp = latest[0] if latest is not None else None
        key = (hazard, edge, tuple(closed_links))
        cached = self._tables.get(key)
        if cached is not None and cached[0] is stamp:
            return cached[1]
        cost = self.network.free_flow_time_s.astype(np.float64).copy()
        if latest is not None:
            known = np.isfinite(latest[1])
            cost[known] = latest[1][known]
        cost[closed_links] = BLOCKED_S
        tables = RouteTables(self.network, cost)
        self._tables[key] = (stamp, tables)
        return tables
