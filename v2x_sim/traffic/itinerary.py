"""Turn an origin, stops and a destination into a link route with dwell points."""

from __future__ import annotations

from collections.abc import Sequence

from v2x_sim.road.movements import TurnRules
from v2x_sim.road.routing import RouteTables


def itinerary(tables: RouteTables, origin: int, stops: Sequence[int], destination: int,
              dwell_s: float, turns: TurnRules | None = None,
              ) -> tuple[list[int], dict[int, float]]:
    """Shortest-path route through ``stops`` in order, and where the vehicle dwells.

    With ``turns``, a leg after a stop does not start with a U-turn the rules forbid
    (`TurnRules.leg`); without, each leg is the plain shortest path.

    Returns:
        ``(route, dwell)``: link indices, and dwell seconds keyed by the route position
        of the link entered *after* the stop. An empty route means unreachable.
    """
    route: list[int] = []
    dwell: dict[int, float] = {}
    here = origin
    for target in (*stops, destination):
        if target == here:
            continue
        leg = (turns.leg(tables, route[-1], here, target) if turns and route
               else tables.path(here, target))
        if not leg:
            return [], {}
        if route and dwell_s > 0.0:
            dwell[len(route)] = dwell_s  # at a stop: dwell before the next leg
        route.extend(leg)
        here = target
    return route, dwell


def itinerary_cost(tables: RouteTables, origin: int, stops: Sequence[int],
                   destination: int) -> float:
    """Shortest cost from ``origin`` through ``stops`` in order to ``destination``.

    With free-flow tables this is the O–D shortest free-flow time the trip's delay and
    detour are measured against: sum over legs of ``dist(here, target)`` (inf if a leg
    is unreachable).
    """
    total = 0.0
    here = origin
    for target in (*stops, destination):
        if target != here:
            total += tables.distance(here, target)
            here = target
    return total
