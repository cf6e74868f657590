"""A custom rerouting policy, loaded by dotted path: ``AvoidSlowLinks``.

Any class with the attributes ``name``, ``periodic``, ``on_departure``, ``on_hazard``,
``uses_truth`` and a method ``decide(view) -> RouteAdvice`` is a policy (see
`v2x_sim.control.Policy`). It reads only the `v2x_sim.control.PolicyView` it is handed:
the cloud's belief, the connected vehicles on the road, routing helpers and its own
random generator; never the true road state.

Use it from a scenario YAML (``params`` are passed to the constructor as keywords)::

    control:
      policy: "examples.custom_policy:AvoidSlowLinks"
      params: {slowdown: 1.5}

or from the command line, run from the repository root so that ``examples`` is
importable (otherwise put its parent folder on ``PYTHONPATH``)::

    v2x-sim run scenarios/incident_reroute.yaml --policy examples.custom_policy:AvoidSlowLinks

A module or class that cannot be found, a class lacking one of the attributes above, or
constructor arguments it refuses (an unknown keyword, ``slowdown`` below 1) are reported
as a one-line error naming ``control.policy`` or ``control.params``.
"""

from __future__ import annotations

import numpy as np

from v2x_sim.control import PolicyView, RouteAdvice


class AvoidSlowLinks:
    """Reroute vehicles heading into links the cloud believes are slow.

    Every control period, a link is *slow* when its believed travel time exceeds
    ``slowdown`` times its free-flow travel time. Each connected vehicle whose remaining
    route (the links after the one it is on) crosses a slow link is advised the belief's
    shortest path from its next node, provided that path differs from its current route
    and is believed to be strictly faster. Vehicles whose routes avoid slow links are
    left alone, so small fluctuations move nobody.

    Args:
        slowdown: travel-time ratio to free flow above which a link counts as slow
            (at least 1; 2.0 means "twice as slow as at free flow").

    Raises:
        ValueError: ``slowdown`` is below 1 or not finite.
        TypeError: ``slowdown`` is not a number.
    """

    name = "avoid_slow_links"
    periodic = True
    on_departure = False
    on_hazard = False
    uses_truth = False

    def __init__(self, slowdown: float = 2.0) -> None:
        if isinstance(slowdown, bool) or not isinstance(slowdown, int | float):
            raise TypeError(f"slowdown must be a number, got {slowdown!r}")
        if not (np.isfinite(slowdown) and slowdown >= 1.0):
            raise ValueError(f"slowdown must be a finite number >= 1, got {slowdown}")
        self.slowdown = float(slowdown)

    def slow_links(self, view: PolicyView) -> set[int]:
        """Links whose believed travel time exceeds ``slowdown`` x free flow."""
        belief = view.belief
        slow = belief.travel_time_s > self.slowdown * belief.free_flow_s
        return set(np.flatnonzero(slow).tolist())

    def decide(self, view: PolicyView) -> RouteAdvice:
        """The belief's shortest path for vehicles whose remaining route crosses a slow link."""
        slow = self.slow_links(view)
        vehicles = view.vehicles
        if not slow or len(vehicles) == 0:
            return RouteAdvice()
        tables = view.routes()  # shortest paths on the belief's travel times
        tables.prepare(np.unique(vehicles.destination))
        chosen: list[int] = []
        routes: list[list[int]] = []
        for i in range(len(vehicles)):
            remaining = vehicles.remaining[i]
            if slow.isdisjoint(remaining):
                continue
            path = tables.path(int(vehicles.next_node[i]), int(vehicles.destination[i]))
            if not path or path == remaining:
                continue
            if view.route_cost(path) < view.route_cost(remaining):
                chosen.append(i)
                routes.append(path)
        return RouteAdvice(vehicles.ids[np.asarray(chosen, dtype=np.int64)], routes)
