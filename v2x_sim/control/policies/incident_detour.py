"""``incident_detour``: the edge detours vehicles around a hazard it just confirmed.

Edge-local and event-triggered: when an edge node confirms a hazard, every connected
vehicle whose remaining route crosses the hazard's link gets the shortest path around
it at once, sent from the edge through the RSUs over PC5, without waiting for the cloud
or its control period. Everyone else keeps their route.
"""

from __future__ import annotations

import numpy as np

from v2x_sim.control.policy import PolicyView, RouteAdvice

BLOCKED_S = 1e6


class IncidentDetour:
    """Detours around confirmed hazards, decided at the edge."""

    name = "incident_detour"
    periodic = False
    on_departure = False
    on_hazard = True
    uses_truth = False
    edge_local = True

    def decide(self, view: PolicyView) -> RouteAdvice:
        """Shortest path avoiding hazard links, for vehicles heading through them."""
        if not view.hazard_links:
            return RouteAdvice()
        blocked = set(view.hazard_links)
        cost = view.belief.free_flow_s.copy()
        cost[list(blocked)] = BLOCKED_S
        tables = view.routes(cost)
        vehicles = view.vehicles
        chosen, routes = [], []
        for i in range(len(vehicles)):
            if blocked.isdisjoint(vehicles.remaining[i]):
                continue
            path = tables.path(int(vehicles.next_node[i]), int(vehicles.destination[i]))
            if path and blocked.isdisjoint(path):
                chosen.append(i)
                routes.append(path)
        return RouteAdvice(vehicles.ids[np.asarray(chosen, dtype=np.int64)], routes)
