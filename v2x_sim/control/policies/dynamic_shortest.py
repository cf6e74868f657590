"""``dynamic_shortest``: periodically re-route vehicles whose route got clearly worse.

Every control period, for every connected vehicle the platform compares the belief's
cost of its remaining route with the shortest path from its next node; it advises the
new path when that saves more than ``threshold`` (a share of the remaining cost, so
small noise does not move anybody). ``inertia`` is the share of eligible vehicles left
alone each period, chosen at random (staggered updates: undamped rerouting on fresh
information flaps between alternatives).
"""

from __future__ import annotations

import numpy as np

from v2x_sim.control.policy import PolicyView, RouteAdvice


class DynamicShortest:
    """Shortest paths on the belief, for vehicles that gain enough.

    Args:
        threshold: minimum relative saving of the remaining route's cost to advise.
        inertia: share of would-be rerouted vehicles left alone each period.
        on_hazard: also decide when an edge confirms a hazard.
    """

    name = "dynamic_shortest"
    periodic = True
    on_departure = False
    uses_truth = False

    def __init__(self, threshold: float = 0.1, inertia: float = 0.0,
                 on_hazard: bool = True) -> None:
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f"threshold must be in [0, 1), got {threshold}")
        if not 0.0 <= inertia < 1.0:
            raise ValueError(f"inertia must be in [0, 1), got {inertia}")
        self.threshold, self.inertia, self.on_hazard = threshold, inertia, on_hazard

    def costs(self, view: PolicyView) -> np.ndarray:
        """Link costs the policy routes on: the belief's travel times (override me)."""
        return view.belief.travel_time_s

    def candidates(self, view: PolicyView) -> tuple[list[int], list[list[int]], list[float]]:
        """(vehicle positions in the view, better routes, relative savings)."""
        cost = self.costs(view)
        tables = view.routes(cost)
        vehicles = view.vehicles
        tables.prepare(np.unique(vehicles.destination))
        chosen, routes, savings = [], [], []
        for i in range(len(vehicles)):
            start, goal = int(vehicles.next_node[i]), int(vehicles.destination[i])
            if start == goal:
                continue
            best = tables.distances_to(goal)[start]
            current = view.route_cost(vehicles.remaining[i], cost)
            if not np.isfinite(best) or current <= 0:
                continue
            saving = (current - best) / current
            if saving > self.threshold:
                chosen.append(i)
                routes.append(tables.path(start, goal))
                savings.append(saving)
        return chosen, routes, savings

    def decide(self, view: PolicyView) -> RouteAdvice:
        """Advise the better path to vehicles saving more than the threshold."""
        chosen, routes, _ = self.candidates(view)
        if self.inertia > 0.0 and chosen:
            move = view.rng.random(len(chosen)) >= self.inertia
            chosen = [c for c, m in zip(chosen, move, strict=True) if m]
            routes = [r for r, m in zip(routes, move, strict=True) if m]
        return RouteAdvice(view.vehicles.ids[np.asarray(chosen, dtype=np.int64)], routes)
