"""``incident_detour``: the edge spreads vehicles over detours around a hazard it confirmed.

Edge-local and event-triggered: when an edge node confirms a hazard, every connected
vehicle whose remaining route crosses a hazard link gets a detour at once, sent from the
edge through the RSUs over PC5, without waiting for the cloud or its control period.
Everyone else keeps their route.

Sending every detoured vehicle down the single best alternative moves the jam there, so
the detours are spread: per (next node, destination), the ``k`` cheapest loopless paths
under the belief that avoid every hazard link (Yen) are the candidates; those costing at
most ``(1 + spread)`` times the cheapest are used, each for a share of the vehicles
proportional to its bottleneck capacity (the smallest lanes x capacity per lane along
it: what it can absorb), rounded by largest remainder so the counts add up, and the
vehicles are dealt out interleaved (smooth weighted round robin), so the first vehicles
to reach the split do not all take one path.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from v2x_sim.control.policy import PolicyView, RouteAdvice
from v2x_sim.road.k_paths import k_shortest_paths
from v2x_sim.road.routing import RouteTables

BLOCKED_S = 1e6
"""Cost given to hazard links: no detour uses one while any other path exists."""


def largest_remainder(total: int, weights: NDArray[np.float64]) -> NDArray[np.int64]:
    """``total`` split in proportion to ``weights``: floors, then +1 to the largest remainders."""
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    short = total - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


def interleave(counts: NDArray[np.int64]) -> list[int]:
    """Smooth weighted round robin: index i appears ``counts[i]`` times, evenly spread."""
    total = int(counts.sum())
    current = np.zeros(len(counts), dtype=np.int64)
    sequence = []
    for _ in range(total):
        current += counts
        pick = int(np.argmax(current))
        current[pick] -= total
        sequence.append(pick)
    return sequence


class IncidentDetour:
    """Detours around confirmed hazards, spread over the best alternatives, at the edge.

    Args:
        k: alternatives considered per (node, destination) (an integer >= 1; 1 sends
            everyone down the single best detour).
        spread: relative extra cost of the cheapest detour an alternative may have to be
            used (>= 0; 0.25: up to 25 % dearer).
    """

    name = "incident_detour"
    periodic = False
    on_departure = False
    on_hazard = True
    uses_truth = False
    edge_local = True

    def __init__(self, k: int = 3, spread: float = 0.25) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be an integer >= 1, got {k!r}")
        if isinstance(spread, bool) or not isinstance(spread, int | float) or not (
                np.isfinite(spread) and spread >= 0):
            raise ValueError(f"spread must be a finite number >= 0, got {spread!r}")
        self.k, self.spread = k, float(spread)

    def detours(self, view: PolicyView, tables: RouteTables, start: int, goal: int
                ) -> tuple[list[list[int]], NDArray[np.float64]]:
        """The detours used from ``start`` to ``goal`` and each one's share of vehicles.

        ``tables`` are shortest paths under the belief with hazard links at `BLOCKED_S`.
        """
        blocked = set(view.hazard_links)
        paths = [p for p in k_shortest_paths(tables, start, goal, self.k)
                 if blocked.isdisjoint(p)]
        if not paths:
            return [], np.zeros(0)
        costs = np.array([tables.cost_s[p].sum() for p in paths])
        keep = costs <= (1.0 + self.spread) * costs.min() + 1e-9
        paths = [p for p, k in zip(paths, keep, strict=True) if k]
        net = view.network
        flow = net.capacity_vps_per_lane * net.lanes
        capacity = np.array([flow[p].min() for p in paths], dtype=np.float64)
        return paths, capacity / capacity.sum()

    def decide(self, view: PolicyView) -> RouteAdvice:
        """Spread vehicles heading through hazard links over the detours around them."""
        if not view.hazard_links:
            return RouteAdvice()
        blocked = set(view.hazard_links)
        vehicles = view.vehicles
        groups: dict[tuple[int, int], list[int]] = {}
        for i in range(len(vehicles)):
            if not blocked.isdisjoint(vehicles.remaining[i]):
                key = (int(vehicles.next_node[i]), int(vehicles.destination[i]))
                groups.setdefault(key, []).append(i)
        if not groups:
            return RouteAdvice()
        cost = view.belief.travel_time_s.copy()
        cost[list(blocked)] = BLOCKED_S
        tables = view.routes(cost)
        chosen, routes = [], []
        for (start, goal), members in groups.items():
            paths, share = self.detours(view, tables, start, goal)
            if not paths:
                continue  # every way round is blocked: nobody is sent onto another hazard
            order = interleave(largest_remainder(len(members), share))
            for i, pick in zip(members, order, strict=True):
                chosen.append(i)
                routes.append(paths[pick])
        return RouteAdvice(vehicles.ids[np.asarray(chosen, dtype=np.int64)], routes)
