"""``none``: every vehicle keeps the route it chose at departure (free-flow shortest path)."""

from __future__ import annotations

from v2x_sim.control.policy import PolicyView, RouteAdvice


class NoRerouting:
    """The baseline: no advice, ever."""

    name = "none"
    periodic = False
    on_departure = False
    on_hazard = False
    uses_truth = False

    def decide(self, view: PolicyView) -> RouteAdvice:
        """No advice."""
        return RouteAdvice()
