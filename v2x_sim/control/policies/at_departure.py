"""``at_departure``: a connected vehicle asks for a route when it departs, then keeps it.

The platform routes it on its belief at that moment, as a navigation app would. On
comparable work, routing once at departure on current travel times captures most of what
en-route rerouting gains, so comparisons report savings against it too.
"""

from __future__ import annotations

import numpy as np

from v2x_sim.control.policy import PolicyView, RouteAdvice


class AtDeparture:
    """Shortest path on the belief for each departing connected vehicle."""

    name = "at_departure"
    periodic = False
    on_departure = True
    on_hazard = False
    uses_truth = False

    def decide(self, view: PolicyView) -> RouteAdvice:
        """The belief's shortest path from each vehicle's next node."""
        vehicles = view.vehicles
        tables = view.routes()
        routes, chosen = [], []
        for i in range(len(vehicles)):
            path = tables.path(int(vehicles.next_node[i]), int(vehicles.destination[i]))
            if path and path != vehicles.remaining[i]:
                chosen.append(i)
                routes.append(path)
        return RouteAdvice(vehicles.ids[np.asarray(chosen, dtype=np.int64)], routes)
