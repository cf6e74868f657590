"""``system_optimal``: route by marginal cost, the delay a vehicle adds to everyone.

With BPR travel time t = t0 [1 + 0.15 x^4] (x = volume / capacity), the marginal cost of
one more vehicle is d(x t)/dx = t0 [1 + 0.75 x^4] = t0 + 5 (t - t0): it needs only the
free-flow and the believed travel time per link. Routing everyone on marginal cost
leads towards the system optimum instead of the user equilibrium (Pigou: price of
anarchy 4/3).
"""

from __future__ import annotations

import numpy as np

from v2x_sim.control.policies.dynamic_shortest import DynamicShortest
from v2x_sim.control.policy import PolicyView


class SystemOptimal(DynamicShortest):
    """dynamic_shortest on BPR marginal costs."""

    name = "system_optimal"

    def costs(self, view: PolicyView) -> np.ndarray:
        """t0 + 5 (t - t0) per link, never below free flow."""
        free = view.belief.free_flow_s
        extra = np.maximum(view.belief.travel_time_s - free, 0.0)
        return free + 5.0 * extra
